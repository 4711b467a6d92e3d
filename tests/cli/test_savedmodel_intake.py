"""Plain SavedModels (a tf.Module saved with a serving signature; Keras 3's model.export)
convert and validate through their signature; training steps refuse them with a reason; a
graph with file or Python ops is refused before it is loaded."""
import contextlib
import io

import numpy as np
import pytest
from click.testing import CliRunner

from converter import keras_env
from converter.cli import cli


def _module_savedmodel(path):
    """A tf.Module with variables and a named input and output."""
    tf = keras_env.tf()

    class Scorer(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal((64, 10), seed=(1, 2)) * 0.3, name="w")
            self.b = tf.Variable(tf.linspace(-0.5, 0.5, 10), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="image")])
        def __call__(self, x):
            return {"scores": tf.nn.softmax(tf.reshape(x, (-1, 64)) @ self.w + self.b)}

    m = Scorer()
    tf.saved_model.save(m, str(path), signatures=m.__call__)


def _keras3_export(path):
    k3 = keras_env.keras3()
    k3.utils.set_random_seed(0)  # untrained: its agreement depends on the weights
    i = k3.Input((8, 8, 1), name="digit")
    x = k3.layers.Conv2D(4, 3, padding="same", activation="relu")(i)
    model = k3.Model(i, k3.layers.Dense(10, activation="softmax")(k3.layers.Flatten()(x)))
    with contextlib.redirect_stdout(io.StringIO()):  # export prints the signature
        model.export(str(path), format="tf_saved_model")


def _writes_marker(path, marker):
    tf = keras_env.tf()

    class Evil(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
        def __call__(self, x):
            tf.io.write_file(str(marker), "ran")
            return {"y": tf.reshape(x, (-1, 64))[:, :10]}

    m = Evil()
    tf.saved_model.save(m, str(path), signatures=m.__call__)


@pytest.fixture(scope="module")
def savedmodels(tmp_path_factory):
    root = tmp_path_factory.mktemp("savedmodels")
    _module_savedmodel(root / "module")
    _keras3_export(root / "k3_export")
    _writes_marker(root / "evil", root / "marker")
    return root


@pytest.mark.parametrize("name, output", [("module", "scores"), ("k3_export", "output_0")])
def test_plain_savedmodel_converts_and_validates(chain, savedmodels, tmp_path, name, output):
    model, out = str(savedmodels / name), tmp_path / "m.tflite"
    result = CliRunner().invoke(cli, ["convert", model, "--data", str(chain.train_npz), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = __import__("json").loads(result.stdout)
    assert report["sections"]["model"]["kind"] == "signature"
    assert report["sections"]["conversion"]["outputs"] == [output]
    assert report["sections"]["conversion"]["fully_integer"] is True
    result = CliRunner().invoke(cli, ["validate", str(out), "--reference", model, "--data", str(chain.test_npz),
                                      "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    validation = __import__("json").loads(result.stdout)["sections"]["validation"]
    (matched,) = validation["outputs"]
    assert matched["reference"] == matched["candidate"] == output
    assert matched["cosine"] > 0.99 and validation["agreement"] > 0.9


def test_signature_model_predicts_what_the_module_computes(savedmodels):
    from converter.inputs.models import load

    loaded = load(savedmodels / "module")
    root = keras_env.tf().saved_model.load(str(savedmodels / "module"))
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.model.predict(x), root.signatures["serving_default"](image=x)["scores"])
    assert loaded.model.count_params() == 64 * 10 + 10


@pytest.mark.parametrize("command, step", [
    (["prune", "{model}", "-o", "{out}/p.keras"], "pruning"),
    (["qat", "{model}", "-o", "{out}/q.h5"], "QAT"),
    (["distill", "--teacher", "{chain}", "--student", "{model}", "-o", "{out}/s.keras"], "distillation (the student)"),
])
def test_training_steps_say_why_not(chain, savedmodels, tmp_path, command, step):
    args = [a.format(model=savedmodels / "module", out=tmp_path, chain=chain.keras_path) for a in command]
    result = CliRunner().invoke(cli, [*args, "--data", str(chain.train_npz), "--epochs", "1"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == (
        f"Error: {step} needs a Keras model; module is not one here: it is a plain SavedModel "
        "(a TensorFlow program with a serving signature, no Keras layers)")
    assert "convert and validate work on it" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["convert", "{model}", "-o", "{out}/m.tflite"],
                                     ["validate", "{int8}", "--reference", "{model}"]])
def test_graph_that_writes_files_is_refused_unloaded(chain, savedmodels, tmp_path, command):
    args = [a.format(model=savedmodels / "evil", out=tmp_path, int8=chain.int8_tflite) for a in command]
    result = CliRunner().invoke(cli, [*args, "--data", str(chain.train_npz)])
    assert result.exit_code == 3, result.output
    error = result.stderr.splitlines()[0]
    assert error.startswith("Error: evil would act on this machine when loaded or run: op WriteFile "
                            "(node 'WriteFile' in function '__inference___call___")
    assert error.endswith("reads or writes files")
    assert "--trust-model" in result.stderr
    assert not (savedmodels / "marker").exists() and list(tmp_path.iterdir()) == []


def test_checkpoint_ops_only_in_tfs_own_functions(savedmodels):
    """SaveV2 is allowed in the traced save function the top-level saver calls, not once
    another function calls that function (a crafted model could name its own that way), nor in
    a restore function."""
    from converter.inputs.graph_safety import _read, graph_offences

    message = _read(savedmodels / "module" / "saved_model.pb")
    assert graph_offences(message) == []
    library = message.meta_graphs[0].graph_def.library.function
    save = next(f.signature.name for f in library if "traced_save" in f.signature.name)
    caller = next(f for f in library if f.signature.name.startswith("__inference___call__"))
    call = caller.node_def.add(name="sneaky", op="StatefulPartitionedCall")
    call.attr["f"].func.name = save
    assert {(o.op, o.function) for o in graph_offences(message)} >= {("SaveV2", save), ("MergeV2Checkpoints", save)}
    restore = next(f for f in library if "traced_restore" in f.signature.name)
    restore.node_def.add(name="write_instead", op="SaveV2")  # a restore function only restores
    assert ("SaveV2", restore.signature.name) in {(o.op, o.function) for o in graph_offences(message)}
