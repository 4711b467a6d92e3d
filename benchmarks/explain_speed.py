"""LIME throughput: explanations and predictions per second on the demo digits model, float
(Keras) and int8 (host LiteRT), 10 samples at 1000 perturbations each."""
from __future__ import annotations

import time

from converter.inputs.data import demo_digits
from converter.demo import train_cnn
from converter.verify.explain import ExplainOptions, class_probabilities, explain
from converter.export.tflite import ConvertOptions, convert
from converter.targets.host import HostSession
from converter.targets.keras import KerasSession


def run(samples: int = 10, perturbations: int = 1000) -> dict:
    train, test = demo_digits(0)
    model = train_cnn(train, 0, 10)
    sessions = {"float_keras": KerasSession(model),
                "int8_litert": HostSession(convert(model, train, ConvertOptions()).tflite)}
    options = ExplainOptions(samples=samples, num_samples=perturbations)
    out = {}
    for name, session in sessions.items():
        predict = class_probabilities(session)
        start = time.perf_counter()
        for i in range(samples):
            explain(predict, test.x[i], int(test.y[i]), options, seed=i)
        seconds = time.perf_counter() - start
        out[name] = {"explanations_per_s": samples / seconds, "predictions_per_s": samples * perturbations / seconds}
    return out
