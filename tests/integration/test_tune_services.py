"""`edgeconv tune` on real services started here: a PostgreSQL server (Debian's postgresql) on a
loopback port in a temporary data folder, and a Dask scheduler with two worker processes on
127.0.0.1. A worker killed mid-trial, or a `tune` process killed mid-trial, loses no trial and
runs none twice."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.test_interrupts import REPO, Edgeconv
from tests.integration.test_tune import RECIPE

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/nonexistent"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str | None:
    found = shutil.which(name) or (PG_BIN / name if (PG_BIN / name).exists() else None)
    return str(found) if found else None


@pytest.fixture(scope="module")
def postgres():
    """postgresql://edgeconv@127.0.0.1:PORT/postgres, trust auth on loopback only. PostgreSQL
    refuses to run as root: as root, the server runs as `nobody` in a folder it owns."""
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="edgeconv-pg-"))
    as_user = []
    if os.getuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    subprocess.run([*as_user, initdb, "-D", root / "data", "--auth=trust", "-U", "edgeconv"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", root / "data", "-l", root / "log", "-w", "start", "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1"], check=True, capture_output=True)
    try:
        yield f"postgresql://edgeconv@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", root / "data", "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster():
    """A scheduler and one `dask worker` with two processes of one thread, on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    procs.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nworkers", "2", "--nthreads", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    client = distributed.Client(address, timeout=30)
    try:
        client.wait_for_workers(2, timeout=120)
        yield address, client
    finally:
        client.close()
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)


def rdb(url: str):
    return optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg://"))


def test_a_study_in_postgresql_resumes_from_the_database(postgres, tmp_path):
    from click.testing import CliRunner

    from converter.cli import cli

    (tmp_path / "tiny.yaml").write_text(RECIPE)
    args = ["tune", str(tmp_path / "tiny.yaml"), "--storage", postgres, "-o", str(tmp_path / "study")]
    first = CliRunner().invoke(cli, args + ["--trials", "1"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, args + ["--trials", "1", "--json"])  # resumed from the database: done
    assert second.exit_code == 0 and '"done": 1' in second.stdout, second.output
    study = optuna.load_study(study_name="tiny", storage=rdb(postgres))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
    assert study.user_attrs["edgeconv"]["budgets"]["max_arena_kb"] is None
    assert not (tmp_path / "study" / "study.log").exists()
    assert "postgresql://edgeconv@127.0.0.1" in (tmp_path / "study" / "report.md").read_text()


@pytest.mark.slow
def test_a_dead_tune_process_trial_is_retried_through_the_heartbeat(postgres, tmp_path):
    (tmp_path / "tiny.yaml").write_text(RECIPE)
    out = tmp_path / "study"
    args = ["tune", tmp_path / "tiny.yaml", "--storage", postgres, "--study", "beat", "--trials", "2", "-o", out]
    os.environ["EDGECONV_TUNE_HEARTBEAT_SECONDS"] = "2"  # inherited by the child processes below
    try:
        first = Edgeconv(args, tmp_path / "tmp1")
        first.wait_for(lambda: any((out / "trials").glob(".0000.*.tmp")))
        _kill_tree(first.proc.pid)
        first.proc.wait(30)
        study = optuna.load_study(study_name="beat", storage=rdb(postgres))
        assert [t.state for t in study.trials] == [TrialState.RUNNING]
        second = Edgeconv(args, tmp_path / "tmp2")
        assert second.proc.wait(600) == 0, "".join(second.stderr)
    finally:
        del os.environ["EDGECONV_TUNE_HEARTBEAT_SECONDS"]
    trials = optuna.load_study(study_name="beat", storage=rdb(postgres)).trials
    assert trials[0].state == TrialState.FAIL
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE and retry[0].params == trials[0].params
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2 and len(trials) == 3


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its children (the trial's spawned process), as a crash would."""
    import psutil

    parent = psutil.Process(pid)
    for p in [*parent.children(recursive=True), parent]:
        p.kill()


@pytest.mark.slow
def test_a_worker_killed_mid_trial_loses_no_trial_and_repeats_none(cluster, tmp_path):
    address, client = cluster
    (tmp_path / "tiny.yaml").write_text(RECIPE)
    out = tmp_path / "study"
    run = Edgeconv(["tune", tmp_path / "tiny.yaml", "--cluster", address, "--trials", "4", "--max-arena-kb", "64",
                    "-o", out], tmp_path / "tmp")
    run.wait_for(lambda: len(list((out / "trials").glob(".*.tmp"))) == 2, timeout=300)  # both workers busy
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)
    assert run.proc.wait(900) == 0, "".join(run.stderr)
    study = optuna.load_study(study_name="tiny", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "study.log"))))
    assert [(t.number, t.state) for t in study.trials] == [(n, TrialState.COMPLETE) for n in range(4)]
    assert victim not in {t.user_attrs["pid"] for t in study.trials}  # the killed worker's trial ran again elsewhere
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0000", "0001", "0002", "0003"]
    concurrent = [t for t in study.trials if t.user_attrs["cores"] != "shared"]
    assert concurrent, "cluster trials run on cores of their own"
    assert "measured under load, each trial on cores of its own" in (out / "report.md").read_text()  # a warning
