"""A process that runs trials: TensorFlow's thread pools fixed before TensorFlow starts, and on a
cluster each thread on a core of its own, so two trials on one machine never share a core
(their latency is timed on a core nobody else runs on). Cores are claimed with flock on a file
per core: the kernel releases a dead process's claim, so a killed worker's cores come back."""
from __future__ import annotations

import fcntl
import os
import sys
import threading
from pathlib import Path

_state: dict = {}  # this process's settings, made once: TensorFlow's pools cannot change later
_one_trial = threading.Lock()  # one trial at a time per process (a worker with several threads)


def prepare_process(threads: int | None, pin: bool) -> str:
    """Fix TensorFlow's threads (first call only) and claim cores; returns the cores used:
    '0,1', or 'shared' when no core of its own could be had (the trial says so)."""
    if "cores" in _state:
        return _state["cores"]
    if threads:
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            os.environ[name] = str(threads)
        if "tensorflow" in sys.modules:  # already running: its pools are fixed (the trial says how many)
            _state["threads_fixed_late"] = True
        else:
            from ..keras_env import tf

            tf().config.threading.set_intra_op_parallelism_threads(threads)
            tf().config.threading.set_inter_op_parallelism_threads(threads)
    _state["cores"] = _claim_cores(threads or 1) if pin else "shared"
    return _state["cores"]


def trial_lock() -> threading.Lock:
    return _one_trial


def _claim_cores(count: int) -> str:
    free = sorted(os.sched_getaffinity(0))
    folder = Path(os.environ.get("EDGECONV_CORE_LOCKS", "/tmp")) / f"edgeconv-cores-{os.getuid()}"  # one per machine
    folder.mkdir(exist_ok=True)
    claimed = []
    for core in free:
        handle = open(folder / f"{core}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _state.setdefault("handles", []).append(handle)  # held for the process's life
        claimed.append(core)
        if len(claimed) == count:
            os.sched_setaffinity(0, claimed)
            return ",".join(map(str, claimed))
    for handle in _state.pop("handles", []):
        handle.close()
    return "shared"
