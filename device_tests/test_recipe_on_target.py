"""A recipe's validate step runs on this target, as `validate --target` does: the recipe and
the command share the step, its settings and the target registry."""
import json

import pytest
from click.testing import CliRunner

from converter.cli import cli
from converter.targets.registry import timing_label


def test_a_recipe_validates_on_the_target(target, tmp_path, request):
    name = request.config.getoption("--target")
    if name.startswith("ssh://"):
        pytest.skip("an ssh target needs its key and known_hosts in the recipe; tests/integration/test_ssh.py runs it")
    result = CliRunner().invoke(cli, ["run", "mcu-int8", "-o", str(tmp_path / "run"), "--json", "--set", "demo_epochs=3",
                                      "--set", f"stages.validate.target={name}"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    validation = report["sections"]["validation"]
    assert validation["target"] == name and validation["samples"] == 360
    assert validation["agreement"] > 0.95
    assert report["sections"]["latency"]["int8"]["runtime"] == timing_label(name)
    assert [c["name"] for c in report["checks"]][0] == "fully integer" and report["ok"]
