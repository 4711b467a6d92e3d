import json

import numpy as np
from click.testing import CliRunner

from converter.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_prune_then_qat_then_convert(chain, tmp_path):
    pruned, qat_model, tflite = tmp_path / "p.keras", tmp_path / "q.h5", tmp_path / "m.tflite"
    result = run("prune", chain.keras_path, "--data", chain.train_npz, "--sparsity", 0.5, "--epochs", 2,
                 "--layer", "probs=0", "-o", pruned, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert "probs" not in doc["targets"] and all(v >= 0.49 for v in doc["reached"].values())
    result = run("qat", pruned, "--data", chain.train_npz, "--preserve-sparsity", "--epochs", 1, "-o", qat_model)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == f"QAT fine-tuned p.keras -> {qat_model} (whole model annotated)"
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    assert rows[0][0] == "accuracy before / after" and rows[0][1].endswith(" on 144 held-out samples")
    assert rows[1][1].startswith("1 epochs in ") and rows[1][1].endswith(" on the labels, final validation loss "
                                                                         + rows[1][1].split()[-1])
    assert rows[2:] == [["activation ranges", "5 started at the float model's min/max"],
                        ["weights kept", "epoch 1 (lowest validation loss)"],
                        ["Conv2D ×2, MaxPooling2D ×1, Flatten ×1, Dense ×2", "fake-quantized during training"]]
    assert lines[-1] == f"Next: edgeconv convert {qat_model} --data {chain.train_npz} -o model_int8.tflite " \
                        "(the QAT ranges are used)"
    result = run("convert", qat_model, "--data", chain.train_npz, "-o", tflite)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite", "p.keras", "q.h5"]


def test_qat_to_keras_is_refused_before_training(chain, tmp_path):
    result = run("qat", chain.keras_path, "--data", chain.train_npz, "--epochs", 1, "-o", tmp_path / "q.keras")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == "Error: a QAT model saved as q.keras would not load again " \
                                            "(a TFMOT limitation of .keras)"
    assert list(tmp_path.iterdir()) == []


def test_prune_bad_inputs(chain, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 8, 8, 1), np.float32))
    result = run("prune", chain.keras_path, "--data", tmp_path / "x.npy", "-o", tmp_path / "p.keras")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {tmp_path / 'x.npy'} has no labels, which fine-tuning needs"
    for args, message in ((["--structure", "4:2"], "'4:2' is not M:N"), (["--layer", "dense"], "is not REGEX=SPARSITY"),
                          (["--sparsity", "1.5"], "1.5")):
        result = run("prune", chain.keras_path, "--data", chain.train_npz, "-o", tmp_path / "p.keras", *args)
        assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "p.keras").exists()


def test_distill_cli(chain, tmp_path):
    out = tmp_path / "student.keras"
    result = run("distill", "--teacher", chain.keras_path, "--student", "tiny_cnn", "--width", 0.5, "--data",
                 chain.train_npz, "--epochs", 1, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["teacher_outputs"] == "probabilities" and doc["student_parameters"] < doc["teacher_parameters"]
    result = run("convert", out, "--data", chain.train_npz, "-o", tmp_path / "s.tflite")
    assert result.exit_code == 0, result.output


def test_distill_bad_inputs(chain, tmp_path):
    result = run("distill", "--teacher", tmp_path / "none.keras", "--student", "tiny_cnn", "--data", chain.train_npz,
                 "-o", tmp_path / "s.keras")
    assert result.exit_code == 3 and result.stderr.splitlines()[0] == f"Error: model {tmp_path / 'none.keras'} does not exist"
    result = run("distill", "--teacher", chain.keras_path, "--student", "huge_cnn", "--data", chain.train_npz,
                 "-o", tmp_path / "s.keras")
    assert result.exit_code == 3 and result.stderr.splitlines()[0] == \
        "Error: student 'huge_cnn' is neither a model file nor a template"
    assert not (tmp_path / "s.keras").exists()


def test_prune_searches_the_highest_sparsity_within_budget(chain, tmp_path):
    result = run("prune", chain.keras_path, "--data", chain.train_npz, "--validation-data", chain.test_npz,
                 "--max-accuracy-drop", 50, "--epochs", 2, "-o", tmp_path / "p.keras", "--json")
    assert result.exit_code == 0, result.output
    search = json.loads(result.stdout)["search"]
    curve = search["curve"]
    assert [p["sparsity"] for p in curve] == sorted(p["sparsity"] for p in curve) and len(curve) >= 2
    assert search["chosen"] == max(p["sparsity"] for p in curve if p["within_budget"])
    assert all(p["gzip_bytes"] > 0 for p in curve)
    with np.load(chain.train_npz) as f:  # fine-tuning on shuffled labels must cost accuracy at every sparsity
        np.savez(tmp_path / "shuffled.npz", x=f["x"], y=np.random.default_rng(0).permutation(f["y"]))
    result = run("prune", chain.keras_path, "--data", tmp_path / "shuffled.npz", "--validation-data", chain.test_npz,
                 "--max-accuracy-drop", 0, "--epochs", 1, "-o", tmp_path / "q.keras")
    assert result.exit_code == 1, result.output  # nothing within a zero budget: a clear failure, nothing written
    assert result.stderr.startswith("Error: no sparsity from 50% keeps the int8 accuracy drop within 0.00 points")
    assert not (tmp_path / "q.keras").exists()


def test_type_rules_set_sparsity_per_layer_type_under_name_rules(chain, tmp_path):
    result = run("prune", chain.keras_path, "--data", chain.train_npz, "--type", "Dense=0.9", "--type", "Conv2D=0.3",
                 "--layer", "probs=0", "--epochs", 1, "-o", tmp_path / "p.keras", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["targets"] == {"conv1": 0.3, "conv2": 0.3, "dense": 0.9}
