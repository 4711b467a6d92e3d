"""Where -o may point: never an input, a folder holding one, the working folder or a parent
of it; a folder only when it is empty or holds nothing but edgeconv's own outputs."""
import os

import pytest

from converter.errors import OutputExistsError, OutputPathError
from converter.output_safety import MARKER, check_model_output, check_output, write_marker


@pytest.fixture
def work(tmp_path, monkeypatch):
    (tmp_path / "model.keras").write_text("model")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.npz").write_text("data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(message, out, force=True, inputs=None, folder=False):
    with pytest.raises(OutputPathError) as e:
        check_output(out, force, inputs, folder)
    assert e.value.message == message
    assert e.value.hint


def test_output_is_an_input(work):
    inputs = {"input model": "model.keras", "input data": "data/x.npz"}
    refused("-o model.keras is the input model; choose another output path", "model.keras", inputs=inputs)
    refused("-o data/../model.keras is the input model; choose another output path", "data/../model.keras",
            inputs=inputs)
    os.symlink(work / "data" / "x.npz", work / "link.npz")
    refused("-o link.npz is the input data; choose another output path", "link.npz", inputs=inputs)
    os.link(work / "model.keras", work / "hard.keras")
    refused("-o hard.keras is the input model; choose another output path", "hard.keras", inputs=inputs)


def test_output_folder_contains_an_input(work):
    refused("-o data contains the input data data/x.npz; choose another output path", "data", folder=True,
            inputs={"input data": "data/x.npz"})


def test_working_folder_and_its_parents(work):
    (work / "sub").mkdir()
    os.chdir(work / "sub")
    refused("-o . is the current folder; choose another output path", ".", folder=True)
    refused(f"-o {work} is a parent of the current folder; choose another output path", work, folder=True)
    refused("-o / is a parent of the current folder; choose another output path", "/", folder=True)


def test_names_that_are_not_paths_are_not_inputs(work):
    check_output("demo", False, {"input data": "demo", "student model": "tiny_cnn", "validation data": None})


def test_folder_edgeconv_did_not_write(work):
    refused("-o data holds files edgeconv did not write (x.npz); it replaces only empty folders and its own output "
            "folders", "data", folder=True)
    (work / "many").mkdir()
    for k in range(7):
        (work / "many" / f"f{k}").write_text("")
    refused("-o many holds files edgeconv did not write (f0, f1, f2, f3, f4, ...); it replaces only empty folders "
            "and its own output folders", "many", folder=True)


def test_own_output_folder_is_replaceable_until_a_file_is_added(work):
    out = work / "reports"
    out.mkdir()
    check_output(out, True, folder=True)  # empty: nothing to lose
    (out / "report.json").write_text("{}")
    write_marker(out)
    check_output(out, True, folder=True)
    with pytest.raises(OutputExistsError):
        check_output(out, False, folder=True)
    (out / "notes.txt").write_text("mine")
    refused("-o reports holds files edgeconv did not write (notes.txt); it replaces only empty folders and its own "
            "output folders", "reports", folder=True)


def test_file_and_folder_do_not_replace_each_other(work):
    refused("-o model.keras is a file, and this command writes a folder; choose another output path",
            "model.keras", folder=True)
    refused("-o data is a folder, and this command writes a file; choose another output path", "data")
    refused(f"-o model.keras/o.tflite is inside {work / 'model.keras'}, which is a file; choose another output path",
            "model.keras/o.tflite")


def test_model_output_may_be_a_file_or_an_own_folder(work):
    check_model_output(work / "model.keras", True)
    (work / "saved").mkdir()
    (work / "saved" / "saved_model.pb").write_text("")
    with pytest.raises(OutputPathError, match="did not write"):
        check_model_output(work / "saved", True)
    write_marker(work / "saved")
    check_model_output(work / "saved", True)
    assert (work / "saved" / MARKER).exists()
