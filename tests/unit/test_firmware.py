"""C array names match `xxd -i` byte for byte."""
import shutil
import subprocess

import pytest

from converter.export.firmware import xxd_name


@pytest.mark.parametrize("name, expected", [
    ("model_int8.tflite", "model_int8_tflite"),
    ("1_my_model.tflite", "__1_my_model_tflite"),
    ("my-model v2.tflite", "my_model_v2_tflite"),
    ("é.tflite", "___tflite"),
])
def test_xxd_names(tmp_path, name, expected):
    assert xxd_name(name) == expected
    if shutil.which("xxd"):  # the real tool, when installed (Debian's xxd package)
        (tmp_path / name).write_bytes(b"\0")
        out = subprocess.run(["xxd", "-i", name], cwd=tmp_path, capture_output=True, text=True).stdout
        assert out.startswith(f"unsigned char {expected}[]")
