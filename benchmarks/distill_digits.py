"""Distillation on the digits: a student trained on 300 labelled digits alone vs the same
student distilled from a teacher 10x+ its size (trained on the full training split), averaged
over 3 seeds, held-back accuracy. Also checks the distilled student converts to full int8.

    python benchmarks/distill_digits.py [--out out/bench/distill.json]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import print_table, write_json  # noqa: E402
from converter.inputs.data import demo_digits  # noqa: E402
from converter.demo import train_cnn  # noqa: E402
from converter.export.tflite import ConvertOptions, convert  # noqa: E402
from converter.optimize.distill import DistillOptions, distill, student_template  # noqa: E402
from converter.optimize.train import TrainOptions, compile_for_labels, fit  # noqa: E402

LABELLED = 300
EPOCHS = 40


def accuracy(model, data) -> float:
    return float(np.mean(model.predict(data.x, verbose=0).argmax(axis=1) == data.y))


def run_seed(seed: int, teacher, train, test) -> dict:
    subset = train.take(np.random.default_rng(seed).choice(len(train), LABELLED, replace=False))
    options = TrainOptions(epochs=EPOCHS, learning_rate=5e-3, seed=seed, patience=0, validation_split=0.0)
    alone = student_template("tiny_cnn", (8, 8, 1), 10, width=0.5)
    compile_for_labels(alone, options, probabilities=False)
    fit(alone, subset, options)
    student = student_template("tiny_cnn", (8, 8, 1), 10, width=0.5)
    distilled = distill(teacher, student, subset, DistillOptions(alpha=0.1, temperature=4.0, train=options)).student
    return {"labels_only": accuracy(alone, test), "distilled": accuracy(distilled, test),
            "distilled_int8_fully_integer": convert(distilled, subset, ConvertOptions(samples=100)).proof.ok}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="out/bench/distill.json")
    args = p.parse_args(argv)
    train, test = demo_digits(0)
    teacher = train_cnn(train, seed=0, epochs=30, width=32)
    seeds = {s: run_seed(s, teacher, train, test) for s in (0, 1, 2)}
    student_params = int(student_template("tiny_cnn", (8, 8, 1), 10, width=0.5).count_params())
    result = {"teacher_accuracy": accuracy(teacher, test), "teacher_parameters": int(teacher.count_params()),
              "student_parameters": student_params, "labelled_samples": LABELLED, "seeds": seeds,
              "mean_labels_only": statistics.mean(r["labels_only"] for r in seeds.values()),
              "mean_distilled": statistics.mean(r["distilled"] for r in seeds.values())}
    rows = [[f"seed {s}", f"{r['labels_only'] * 100:.2f}%", f"{r['distilled'] * 100:.2f}%",
             "yes" if r["distilled_int8_fully_integer"] else "no"] for s, r in seeds.items()]
    rows.append(["mean", f"{result['mean_labels_only'] * 100:.2f}%", f"{result['mean_distilled'] * 100:.2f}%", ""])
    print_table(f"distillation: teacher {result['teacher_parameters']:,} params ({result['teacher_accuracy'] * 100:.2f}%),"
                f" student {student_params:,} params, {LABELLED} labelled digits",
                ["", "student, labels only", "student, distilled", "int8 proven"], rows)
    write_json(args.out, {"distillation": result})
    return result


if __name__ == "__main__":
    main()
