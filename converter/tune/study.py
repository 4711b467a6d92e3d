"""The Optuna study behind `edgeconv tune`: where it is stored, how a resumed one is checked and
its unfinished trials queued again, and which of its trials count as done.

Storage: a JournalStorage file beside the outputs (DIR/study.log) by default; with a
postgresql:// URL, RDBStorage with heartbeats, so a trial whose `tune` process died (its
heartbeat stops) is failed and queued again by RetryHeartbeatStaleTrialCallback. A trial is
done when it completed, stopped early (PRUNED: it cannot fit a budget) or failed on its own
(a combination the model does not take); a trial that was interrupted or lost its process is
not done: it is queued again with the same parameters, and counted once."""
from __future__ import annotations

import fcntl
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .objectives import DIRECTIONS

STUDY_FILE = "study.log"
LOCK_FILE = ".study.lock"
HEARTBEAT_SECONDS = int(os.environ.get("EDGECONV_TUNE_HEARTBEAT_SECONDS", 10))
GRACE_SECONDS = 3 * HEARTBEAT_SECONDS  # three missed heartbeats: the trial's process is gone
MAX_RETRIES = 3
STARTUP_TRIALS = 10  # random trials before TPE models the space (Optuna's default)


@dataclass
class Tally:
    done: list  # FrozenTrials
    waiting: int
    running: set  # trial numbers


def storage_for(folder: Path, url: str | None):
    import optuna

    if url is None:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    if not re.match(r"postgres(ql)?(\+psycopg)?://", url):
        raise InputError(f"--storage {redacted(url)} is not a PostgreSQL URL",
                         hint="postgresql://USER:PASSWORD@HOST:PORT/DATABASE; without --storage the study is a file "
                              "beside the outputs")
    return _database(re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg://", url), url)


def _database(url: str, given: str):
    import optuna
    import sqlalchemy

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"connect_timeout": 5}, "pool_pre_ping": True},
                heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
    except sqlalchemy.exc.SQLAlchemyError as e:
        reason = str(getattr(e, "orig", e) or e).strip().splitlines()[0]
        raise InputError(f"cannot use the study database {redacted(given)}: {reason}",
                         hint="check that PostgreSQL runs there and the user may create tables in the database "
                              "(see the README: tune on a cluster)") from None


def redacted(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def lock(folder: Path):
    """One `tune` process drives a study file at a time (the journal has no heartbeat: a
    RUNNING trial in it belongs to a process that died only if nobody holds this lock)."""
    handle = open(folder / LOCK_FILE, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise InputError(f"another edgeconv tune is running on {folder}",
                         hint="wait for it, or give another -o") from None
    return handle


def open_study(storage, name: str, fingerprint: dict, seed: int):
    """The study `name`, created or resumed; a resumed one must have been made by the same
    recipe, search, target and budgets."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # each trial's line is ours
    study = optuna.create_study(storage=storage, study_name=name, directions=DIRECTIONS, load_if_exists=True)
    made_by = study.user_attrs.get("edgeconv")
    if made_by is None and study.trials:
        raise InputError(f"the study '{name}' in the storage was not made by edgeconv tune",
                         hint="give another --study name")
    if made_by is None:
        study.set_user_attr("edgeconv", fingerprint)
    elif made_by != fingerprint:
        changed = ", ".join(k for k in fingerprint if made_by.get(k) != fingerprint[k])
        raise InputError(f"the study '{name}' was made with another {changed}; a resumed study keeps its settings",
                         hint="run it as it was made, pass --force to start it over, or give another -o / --study")
    with warnings.catch_warnings():  # multivariate TPE with groups (the variants' own settings) is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), multivariate=True, group=True,
                                             constant_liar=True, n_startup_trials=STARTUP_TRIALS)
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler)


def delete_study(storage, name: str) -> None:
    import optuna

    if name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)


def requeue(study, own_running: bool) -> list[int]:
    """Queue again, with the same parameters, each trial that was interrupted, and (when this
    process alone drives the study: the journal file) each trial a dead process left RUNNING,
    which is marked failed first. Returns their numbers."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    queued = retried(trials)
    again = []
    for t in trials:
        if t.number in queued:
            continue
        if t.state == TrialState.RUNNING and own_running:
            study.tell(t.number, state=TrialState.FAIL)
        elif not (t.state == TrialState.FAIL and t.user_attrs.get("retry")):
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        again.append(t.number)
    return again


def retried(trials) -> set[int]:
    """Numbers of the trials queued again (by requeue, or by Optuna's heartbeat callback)."""
    out = set()
    for t in trials:
        if "retry_of" in t.user_attrs:
            out.add(t.user_attrs["retry_of"])
        out.update(t.system_attrs.get("retry_history", []))
    return out


def tally(study) -> Tally:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    again = retried(trials)
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and not t.user_attrs.get("retry") and t.number not in again)]
    return Tally(done, sum(t.state == TrialState.WAITING for t in trials),
                 {t.number for t in trials if t.state == TrialState.RUNNING})

