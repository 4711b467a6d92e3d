"""The float Keras model as a Session: the reference that candidates are compared with."""
from __future__ import annotations

import numpy as np

from ..inputs.models import output_names
from .base import ClosingSession, Memory


class KerasSession(ClosingSession):
    def __init__(self, model, batch_size: int = 256):
        self.model = model
        self.batch_size = batch_size
        # Subclassed models have no named inputs/outputs; TFLite calls them output_0, ...
        self.input_names = [t.name.split(":")[0] for t in model.inputs or []]
        self.output_names = output_names(model)  # as the converted model names them
        self.failures = []  # Keras raises instead of failing one sample

    def predict(self, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs[0] if len(inputs) == 1 else inputs
        out = self.model.predict(x, batch_size=self.batch_size, verbose=0)
        out = out if isinstance(out, list) else [out]
        names = self.output_names or [f"output_{i}" for i in range(len(out))]
        return {name: np.asarray(o, dtype=np.float32) for name, o in zip(names, out)}

    def memory(self) -> Memory:
        return Memory("Keras (float reference)", parameters=int(self.model.count_params()))

    def close(self) -> None:
        self.model = None
