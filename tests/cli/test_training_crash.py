"""A native crash while training (TF 2.21's oneDNN double free, here a layer that kills its
process with SIGABRT when it trains) never reaches the user as a bare signal: the training
step runs in a child process, and the CLI reports which step crashed, with a hint."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import converter
from converter import keras_env
from converter.logs import log_path
from converter.inputs.user_code import import_code

REPO = Path(converter.__file__).resolve().parents[1]
CRASH_LAYERS = textwrap.dedent('''
    import os
    import signal

    import tensorflow as tf
    import tf_keras as keras


    class CrashWhenTraining(keras.layers.Layer):
        def call(self, x, training=None):
            if training:
                tf.py_function(lambda: os.kill(os.getpid(), signal.SIGABRT), [], [])
            return x


    class CrashWhenConverted(keras.layers.Layer):
        def call(self, x, training=None):
            if training is False:  # the converter traces the model for inference
                os.kill(os.getpid(), signal.SIGSEGV)
            return x
''')


@pytest.fixture(scope="module")
def crashing_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    (root / "crash_layers.py").write_text(CRASH_LAYERS)
    layer = import_code([str(root / "crash_layers.py")])["CrashWhenTraining"]
    keras = keras_env.keras()
    i = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(layer(name="crash")(i))
    keras.Model(i, keras.layers.Dense(10, activation="softmax")(x)).save(root / "crash.keras")
    return root


@pytest.mark.parametrize("command, step", [
    (["prune", "{model}", "-o", "{out}"], "pruning"),
    (["distill", "--teacher", "{teacher}", "--student", "{model}", "-o", "{out}"], "distillation"),
])
def test_native_crash_in_training_is_an_error(chain, crashing_model, tmp_path, command, step):
    out = tmp_path / "out.keras"
    args = [a.format(model=crashing_model / "crash.keras", out=out, teacher=chain.keras_path) for a in command]
    proc = subprocess.run([sys.executable, "-c", "from converter.cli.main import main; main()", *args,
                           "--import", str(crashing_model / "crash_layers.py"), "--data", str(chain.train_npz),
                           "--epochs", "1"], env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[-2:] == [
        f"Error: {step} crashed in native code (killed by SIGABRT, no Python error)",
        "Hint: TensorFlow's oneDNN kernels are off unless TF_ENABLE_ONEDNN_OPTS=1 is set (unset it if so); "
        f"try another --batch-size; native log: {log_path()}"]
    assert list(tmp_path.iterdir()) == []


def test_converter_crash_is_an_error(crashing_model, tmp_path):
    """The converter's native crashes (seen: TF's int8 calibrator on recurrent loops, which
    export/recurrent.py now unrolls first) come back as an error, here from a layer that kills
    its process with SIGSEGV when the converter traces it."""
    import numpy as np

    keras = keras_env.keras()
    layer = import_code([str(crashing_model / "crash_layers.py")])["CrashWhenConverted"]
    i = keras.Input((8, 8, 1))
    keras.Model(i, keras.layers.Dense(10)(keras.layers.Flatten()(layer()(i)))).save(tmp_path / "crash.keras")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32))
    out = tmp_path / "crash.tflite"
    proc = subprocess.run([sys.executable, "-c", "from converter.cli.main import main; main()", "convert",
                           str(tmp_path / "crash.keras"), "--data", str(tmp_path / "x.npz"), "-o", str(out),
                           "--import", str(crashing_model / "crash_layers.py")],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[-2] == "Error: conversion crashed in native code (killed by SIGSEGV, no Python error)"
    assert proc.stderr.splitlines()[-1].startswith("Hint: TensorFlow's converter crashed on this model; recurrent")
    assert not out.exists()
