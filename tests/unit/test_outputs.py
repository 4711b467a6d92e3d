import pytest

from converter.errors import OutputExistsError
from converter.outputs import atomic_dir, write_bytes


def test_write_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "m.tflite"
    write_bytes(out, b"one")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_bytes(out, b"two")
    assert out.read_bytes() == b"one"
    write_bytes(out, b"two", force=True)
    assert out.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["m.tflite"]


def test_failed_directory_leaves_old_output_and_no_temp(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash in the middle")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_directory_is_replaced_on_success(tmp_path):
    out = tmp_path / "run"
    for text in ("first", "second"):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "a.txt").write_text(text)
    assert (out / "a.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
