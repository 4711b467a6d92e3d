"""`edgeconv tune` on one machine, as a user runs it: a study interrupted mid-trial resumes
without repeating a finished trial, the interrupted one runs again with its settings, and the
chosen trial's best.yaml reproduces its model byte for byte with `edgeconv run`."""
import hashlib
import json
import signal
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from converter.cli import cli
from converter.targets.ethosu import vela_path
from tests.integration.test_interrupts import Edgeconv

RECIPE = """description: the demo CNN, searched
model: demo
demo_epochs: 1
stages:
  - prune: {sparsity: 0.5, epochs: 1}
  - convert: {samples: 32}
  - validate: {}
search:
  prune: {sparsity: [0.3, 0.7]}
  convert:
    samples: [16, 64]
    variants: [{calibration: minmax}, {calibration: percentile}]
"""


def load(out: Path, name: str = "tiny"):
    return optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(
        JournalFileBackend(str(out / "study.log"))))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_interrupted_study_resumes_without_repeating_a_trial(tmp_path):
    recipe, out = tmp_path / "tiny.yaml", tmp_path / "study"
    recipe.write_text(RECIPE)
    args = ["tune", recipe, "--trials", "2", "--max-arena-kb", "64", "-o", out]
    first = Edgeconv(args, tmp_path / "tmp1")
    first.wait_for(lambda: (out / "trials" / "0000" / "manifest.json").exists()
                   and any((out / "trials").glob(".0001.*.tmp")))
    assert first.interrupt(signal.SIGINT) == 130, "".join(first.stderr)
    assert first.stderr[-1].startswith(f"Interrupted: the study in {out} keeps its finished trials")
    assert not list((out / "trials").glob(".*.tmp")) and not (out / "trials" / "0001").exists()
    trial_0 = sha(out / "trials" / "0000" / "model_int8.tflite")
    study = load(out)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert study.trials[1].user_attrs["retry"] and study.trials[1].user_attrs["state"] == "interrupted"

    second = CliRunner().invoke(cli, list(map(str, args)) + ["--json"])
    assert second.exit_code == 0, second.output
    study = load(out)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert [t.number for t in complete] == [0, 2] and len(study.trials) == 3  # 0 not run again; 2 is 1 again
    assert study.trials[2].user_attrs["retry_of"] == 1 and study.trials[2].params == study.trials[1].params
    assert study.trials[0].params != study.trials[2].params
    assert sha(out / "trials" / "0000" / "model_int8.tflite") == trial_0
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0000", "0002"]

    summary = json.loads(second.stdout)
    assert summary["trials"] == {"done": 2, "retried": 1, "complete": 2}
    best = summary["best"]
    assert best["feasible"] and best["figures"]["arena_kb"] <= 64
    assert best["figures"]["accuracy"] == max(r["figures"]["accuracy"] for r in summary["all"] if r["state"] == "complete")
    html = (out / "report.html").read_text()
    assert "pareto front" in html.lower() and "data:image/png;base64," in html and "http" not in html.split("<body>")[1]

    rerun = CliRunner().invoke(cli, ["run", str(out / "best.yaml"), "-o", str(tmp_path / "best")])
    assert rerun.exit_code == 0, rerun.output
    assert sha(tmp_path / "best" / "model_int8.tflite") == sha(out / "trials" / f"{best['trial']:04d}" / "model_int8.tflite")

    again = CliRunner().invoke(cli, list(map(str, args)))  # nothing left to do: no trial runs
    assert again.exit_code == 0 and len(load(out).trials) == 3, again.output
    other = CliRunner().invoke(cli, list(map(str, args)) + ["--study", "other"])
    assert other.exit_code == 3 and f"Error: the study in {out} is named tiny, not other" in other.stderr
    changed = CliRunner().invoke(cli, list(map(str, args[:-4])) + ["--max-arena-kb", "32", "-o", str(out)])
    assert changed.exit_code == 3 and "the study 'tiny' was made with another budgets" in changed.stderr


@pytest.mark.skipif(vela_path() is None, reason="ethos-u-vela not installed")
def test_on_ethosu_latency_is_velas_estimate_and_a_slow_structure_stops_before_training(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    fits = CliRunner().invoke(cli, ["tune", str(recipe), "--trials", "1", "--target", "ethosu", "-o",
                                    str(tmp_path / "fits"), "--json"])
    assert fits.exit_code == 0, fits.output
    trial = json.loads(fits.stdout)["all"][0]
    report = json.loads((tmp_path / "fits" / "trials" / "0000" / "report.json").read_text())
    assert trial["state"] == "complete" and trial["figures"]["latency_on"] == "Vela estimate, ethos-u55-128"
    assert trial["figures"]["latency_ms"] == report["sections"]["ethosu"]["inference_time_ms"] > 0
    assert report["sections"]["validation"]["target"] == "host"  # accuracy from the host, latency from Vela

    budget = trial["figures"]["latency_ms"] / 10  # the same structure cannot fit a tenth of its estimate
    slow = CliRunner().invoke(cli, ["tune", str(recipe), "--trials", "1", "--target", "ethosu", "--max-latency-ms",
                                    f"{budget:.6f}", "-o", str(tmp_path / "slow"), "--json"])
    stopped = json.loads(slow.stdout)["all"][0]
    assert stopped["state"] == "stopped", slow.output
    assert stopped["reason"].startswith("before training, the structure misses its budget: latency ")
    assert not (tmp_path / "slow" / "trials" / "0000" / "model_int8.tflite").exists()  # nothing was trained


def test_a_target_without_latency_is_refused_before_any_trial(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    result = CliRunner().invoke(cli, ["tune", str(recipe), "--trials", "1", "--target", "edgetpu",
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 3 and not (tmp_path / "out").exists()
    assert result.stderr.splitlines()[0] == ("Error: tune cannot measure latency on edgetpu: nothing runs it here "
                                             "and nothing estimates it")
