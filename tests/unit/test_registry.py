"""The target registry: one record per target, one way to open any --target."""
import pytest

from converter.errors import InputError
from converter.targets.base import Availability
from converter.targets.registry import TARGETS, listed, open_runtime, target, timing_label


def test_every_record_has_a_description_availability_and_capabilities():
    assert [t.name for t in TARGETS] == ["host", "arm64", "micro", "ssh", "edgetpu", "ethosu"]
    for t in TARGETS:
        assert t.description and "\n" not in t.description, t.name
        status = t.availability()
        assert isinstance(status, Availability) and (status.ok or status.reason and status.install), t.name
        assert t.capabilities.latency in ("measured", "emulated", "not a device prediction", None)
        assert (t.factory is None) == bool(t.instead) == (t.capabilities.latency is None), t.name


def test_edgeconv_targets_lists_all_but_ssh_in_order():
    assert list(listed()) == ["host", "arm64", "micro", "edgetpu", "ethosu"]


def test_latency_labels_are_pinned():
    assert timing_label("host") == "host LiteRT (XNNPACK)"
    assert timing_label("micro") == "tflite-micro on x86-64 host (not a device prediction)"
    assert timing_label("arm64") == "emulated arm64 (qemu), not a hardware prediction"
    assert timing_label("ssh") == "ssh target" and timing_label("other") == "other target"
    assert target("arm64").capabilities.latency == "emulated" and target("micro").capabilities.measures_arena


@pytest.mark.parametrize("spec", ["nope", "ssh", "HOST", ""])
def test_unknown_target_names_the_valid_ones(spec):
    with pytest.raises(InputError, match=f"unknown target '{spec}'") as e:
        open_runtime(spec)
    assert e.value.hint == "targets: host, arm64, micro, ssh://user@host[:port]; see `edgeconv targets`"


@pytest.mark.parametrize("name", ["edgetpu", "ethosu"])
def test_targets_without_sessions_name_their_command(name):
    with pytest.raises(InputError, match=f"target '{name}' opens no sessions") as e:
        open_runtime(name)
    assert e.value.hint == f"use `edgeconv {name} MODEL` instead"


def test_specs_open_their_runtime(tmp_path):
    ssh = open_runtime("ssh://pi@board:2222", kernels="reference", identity=tmp_path / "key", python="python3.11")
    assert (ssh.name, ssh.board.host, ssh.board.port, ssh.kernels, ssh.python) == ("ssh", "board", 2222, "reference",
                                                                                   "python3.11")
    assert (ssh.identity, ssh.known_hosts) == (tmp_path / "key", None)
    host = open_runtime("host", workers=4, kernels="reference")
    assert (host.name, host.workers, host.kernels) == ("host", 4, "reference")
    assert open_runtime("arm64", kernels="reference").kernels == "reference"
    assert open_runtime("micro").name == "micro"
