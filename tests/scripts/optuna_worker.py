"""One worker of a shared Optuna study: attach to it through mlnb, wait at the start line, run
N trials. Usage: optuna_worker.py STORAGE_URL STUDY_NAME N_TRIALS BARRIER_DIR NAME"""

from __future__ import annotations

import sys

import optuna
from _barrier import wait_for_go

import mlnb


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    trial.report(x * x, 0)
    return (x - 1) ** 2


def main() -> None:
    url, study_name, n_trials, barrier, name = sys.argv[1:6]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage: object = JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    else:
        storage = url
    study = optuna.create_study(study_name=study_name, storage=storage, load_if_exists=True)
    wait_for_go(barrier, name, timeout=180)  # both workers attach at the same moment
    sweep = mlnb.optuna.track(study)
    sweep.optimize(objective, n_trials=int(n_trials))
    print(sweep.parent_run_id)


if __name__ == "__main__":
    main()
