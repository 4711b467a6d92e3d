"""-o against the user's own files, with --force: every command refuses, before any work, to
write over an input, a folder that holds one, or the working folder; folder outputs replace
only folders edgeconv wrote. The inputs here are not real models, so a refusal that came
after loading would show as a different error."""
import shutil

import pytest
from click.testing import CliRunner

from converter.cli import cli
from converter.pipeline.recipe import resolve

INPUTS = ["m.keras", "m.h5", "s.keras", "c.tflite", "d.npz", "v.npz", "r.yaml"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    for name in INPUTS:
        (tmp_path / name).write_text(f"the user's {name}")
    shutil.copy(resolve("mcu-int8"), tmp_path / "r.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def invoke(args):
    result = CliRunner().invoke(cli, [*args, "--force"])
    assert "Traceback" not in result.output
    return result


OUTPUT_IS_AN_INPUT = [
    (["convert", "m.keras", "--data", "d.npz", "-o", "m.keras"], "input model"),
    (["convert", "m.keras", "--data", "d.npz", "-o", "d.npz"], "input data"),
    (["prune", "m.keras", "--data", "d.npz", "-o", "m.keras"], "input model"),
    (["prune", "m.keras", "--data", "d.npz", "--validation-data", "v.npz", "-o", "v.npz"], "validation data"),
    (["qat", "m.h5", "--data", "d.npz", "-o", "m.h5"], "input model"),
    (["distill", "--teacher", "m.keras", "--student", "tiny_cnn", "--data", "d.npz", "-o", "m.keras"],
     "teacher model"),
    (["distill", "--teacher", "m.keras", "--student", "s.keras", "--data", "d.npz", "-o", "s.keras"],
     "student model"),
    (["validate", "c.tflite", "--reference", "m.keras", "--data", "d.npz", "-o", "c.tflite"], "candidate model"),
    (["validate", "c.tflite", "--reference", "m.keras", "--data", "d.npz", "-o", "m.keras"], "reference model"),
    (["validate", "c.tflite", "--reference", "m.keras", "--data", "d.npz", "-o", "d.npz"], "input data"),
    (["explain", "m.keras", "c.tflite", "--data", "d.npz", "-o", "c.tflite"], "candidate model"),
    (["explain", "m.keras", "c.tflite", "--data", "d.npz", "-o", "m.keras"], "reference model"),
    (["package", "c.tflite", "--format", "c-array", "-o", "c.tflite"], "input model"),
    (["ethosu", "c.tflite", "-o", "c.tflite"], "input model"),
    (["run", "mcu-int8", "--model", "m.keras", "--data", "d.npz", "-o", "m.keras"], "input model"),
    (["run", "mcu-int8", "--model", "m.keras", "--data", "d.npz", "-o", "d.npz"], "input data"),
    (["run", "r.yaml", "-o", "r.yaml"], "recipe"),
]


@pytest.mark.parametrize("args, label", OUTPUT_IS_AN_INPUT, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_output_is_never_an_input(work, args, label):
    before = snapshot(work)
    result = invoke(args)
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == f"Error: -o {args[-1]} is the {label}; choose another output path"
    assert snapshot(work) == before


FOLDER_COMMANDS = [
    ["validate", "c.tflite", "--reference", "m.keras", "--data", "d.npz"],
    ["explain", "m.keras", "c.tflite", "--data", "d.npz"],
    ["package", "c.tflite", "--format", "mobile"],
    ["run", "mcu-int8", "--model", "m.keras", "--data", "d.npz"],
    ["demo"],
    ["tune", "tune-demo", "--trials", "1"],
]


@pytest.mark.parametrize("args", FOLDER_COMMANDS, ids=lambda v: v[0])
def test_folder_output_never_replaces_the_working_folder(work, args):
    before = snapshot(work)
    for out, first_line in [(str(work), f"Error: -o {work} "), (".", "Error: -o . "), ("..", "Error: -o .. ")]:
        result = invoke([*args, "-o", out])
        assert result.exit_code == 3, result.output
        assert result.stderr.splitlines()[0].startswith(first_line), result.stderr
    assert snapshot(work) == before


def test_validate_into_the_working_folder_names_what_it_would_lose(work):
    result = invoke(FOLDER_COMMANDS[0] + ["-o", str(work)])
    assert result.stderr.splitlines()[0] == (f"Error: -o {work} contains the candidate model c.tflite; "
                                             "choose another output path")


@pytest.mark.parametrize("args", FOLDER_COMMANDS, ids=lambda v: v[0])
def test_folder_output_never_turns_a_file_into_a_folder(work, args):
    (work / "notes.txt").write_text("the user's notes")
    before = snapshot(work)
    result = invoke([*args, "-o", "notes.txt"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == ("Error: -o notes.txt is a file, and this command writes a folder; "
                                             "choose another output path")
    assert snapshot(work) == before


@pytest.mark.parametrize("args", FOLDER_COMMANDS, ids=lambda v: v[0])
def test_folder_output_never_replaces_a_users_folder(work, args):
    (work / "reports").mkdir()
    (work / "reports" / "notes.txt").write_text("the user's notes")
    before = snapshot(work)
    result = invoke([*args, "-o", "reports"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[0] == ("Error: -o reports holds files edgeconv did not write (notes.txt); "
                                             "it replaces only empty folders and its own output folders")
    assert snapshot(work) == before


def test_own_output_folder_is_replaced_until_the_user_adds_a_file(chain, tmp_path):
    out = tmp_path / "fw"
    for _ in range(2):
        result = invoke(["package", str(chain.int8_tflite), "--format", "c-array", "-o", str(out)])
        assert result.exit_code == 0, result.output
    (out / "main.c").write_text("int main(void) { return 0; }")
    result = invoke(["package", str(chain.int8_tflite), "--format", "c-array", "-o", str(out)])
    assert result.exit_code == 3 and "did not write (main.c)" in result.stderr
    assert (out / "main.c").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["fw"]
