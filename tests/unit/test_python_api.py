"""docs/python-api.md's example runs as written, and keeps stdout clean."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def _example() -> str:
    return re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)


def test_the_documented_example_runs_and_prints_only_its_own_line(chain, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(f"from pathlib import Path\nMODEL, DATA, OUT = {str(chain.keras_path)!r}, "
                      f"{str(chain.train_npz)!r}, Path({str(tmp_path / 'out')!r})\n" + _example())
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(r"int8 agreement \d+\.\d\d%\n", done.stdout), done.stdout  # nothing from TensorFlow
    assert (tmp_path / "out" / "model_int8.tflite").read_bytes()[4:8] == b"TFL3"
    assert sorted(p.name for p in (tmp_path / "out" / "report").iterdir()) == [
        ".edgeconv-output.json", "report.html", "report.json", "report.md"]


def test_a_bad_setting_names_the_setting():
    import converter as ec
    from converter.settings import SettingError

    with pytest.raises(SettingError, match=r"^prune.block '4y1' is not RxC with positive R and C, e.g. 4x1"):
        ec.prune(None, block="4y1")


def test_load_dataset_takes_no_preprocessing(chain):
    import converter as ec

    assert len(ec.load_dataset(str(chain.train_npz), None)) > 0
