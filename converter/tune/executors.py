"""Where trials run. Local: each trial in a fresh spawned process (TensorFlow is not fork-safe,
and a native crash or a leak ends with the trial, not the study). Cluster: each trial is a
task on a Dask distributed cluster, one trial per worker process; a worker that dies mid-trial
has its task rescheduled by Dask on another worker, under the same trial number."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import uuid

from ..errors import InputError
from .trial import TrialResult, TrialSpec, run_trial

_SPAWN = multiprocessing.get_context("spawn")
_GRACE_SECONDS = 20  # an interrupted trial removes its staging folder, then it is killed


class TrialLost(Exception):
    """The trial's process ended without a result (killed, or interrupted): retried on resume."""


class LocalExecutor:
    slots = 1
    where = "local"

    def __init__(self):
        self._children: set = set()
        self._lock = threading.Lock()

    def run(self, spec: TrialSpec) -> TrialResult:
        receive, send = _SPAWN.Pipe(duplex=False)
        child = _SPAWN.Process(target=_child, args=(spec, send), name=f"edgeconv-trial-{spec.number}")
        with self._lock:
            child.start()
            self._children.add(child)
        send.close()
        try:
            if receive.poll(None):
                return TrialResult(**receive.recv())
        except EOFError:
            pass
        finally:
            child.join()
            with self._lock:
                self._children.discard(child)
        if child.exitcode and child.exitcode < 0 and -child.exitcode not in (signal.SIGINT, signal.SIGTERM):
            return TrialResult(spec.number, "failed", reason=f"the trial's process crashed in native code (killed by "
                                                             f"{signal.Signals(-child.exitcode).name})")
        raise TrialLost(f"trial {spec.number}'s process ended without a result (exit code {child.exitcode})")

    def stop(self) -> None:
        """Interrupt the running trials (they clean up their staging folders), then kill them."""
        with self._lock:
            children = list(self._children)
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGINT)
        for child in children:
            child.join(_GRACE_SECONDS)
            if child.is_alive():
                child.kill()

    def close(self) -> None:
        pass


def _child(spec: TrialSpec, send) -> None:
    os.dup2(2, 1)  # the trial's prints go to stderr: the parent's stdout is its --json document
    try:
        result = run_trial(spec)
    except KeyboardInterrupt:
        return
    send.send(result.to_dict())


class DaskExecutor:
    """Trials as tasks of the cluster at `address` (tcp://host:8786)."""

    def __init__(self, address: str, timeout: float = 5):
        from distributed import Client

        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {address}: {str(e).splitlines()[0]}",
                             hint="start one with `dask scheduler`, and workers with `dask worker "
                                  f"{address} --nworkers 2 --nthreads 1`") from None
        self.where = address
        self._futures: set = set()
        try:
            self._check_workers(timeout)
        except BaseException:
            self.client.close()
            raise

    def _check_workers(self, timeout: float) -> None:
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise InputError(f"the Dask scheduler at {self.where} has no workers",
                             hint=f"start them with `dask worker {self.where} --nworkers 2 --nthreads 1`") from None
        try:  # the nannies start the worker processes; without nannies, the workers' own setting
            methods = set(self.client.run(_start_method, nanny=True).values())
        except Exception:  # noqa: BLE001 - workers started with --no-nanny
            methods = set(self.client.run(_start_method).values())
        if methods - {"spawn"}:
            raise InputError(f"Dask workers at {self.where} start processes by {', '.join(sorted(methods))}; "
                             "TensorFlow is not fork-safe", hint="set DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD="
                                                                 "spawn where the workers start (the default)")

    @property
    def slots(self) -> int:
        """One trial per worker process."""
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def run(self, spec: TrialSpec) -> TrialResult:
        from distributed import KilledWorker

        future = self.client.submit(run_trial_task, spec, key=f"edgeconv-trial-{spec.number}-{uuid.uuid4().hex[:8]}",
                                    pure=False)
        self._futures.add(future)
        try:
            return TrialResult(**future.result())
        except KilledWorker as e:  # the trial killed each worker that ran it (Dask retried it on others)
            return TrialResult(spec.number, "failed", reason=f"the trial killed the workers that ran it ({e})")
        finally:
            self._futures.discard(future)

    def stop(self) -> None:
        self.client.cancel(list(self._futures), force=True)

    def close(self) -> None:
        self.client.close()


def run_trial_task(spec: TrialSpec) -> dict:
    """What a Dask worker runs: one trial at a time per process."""
    from .worker import trial_lock

    with trial_lock():
        return run_trial(spec).to_dict()


def _start_method() -> str:
    import dask

    return dask.config.get("distributed.worker.multiprocessing-method")
