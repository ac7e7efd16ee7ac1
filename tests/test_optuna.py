"""Optuna sweeps: a parent run per study and a child run per trial (params, intermediate values as
steps, final value, state including pruned and failed), with threads, with two processes sharing
one study through Optuna's storages, and re-attached later to the same parent run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlnb
from mlnb.errors import InvalidParameterError

optuna = pytest.importorskip("optuna")

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def quadratic(trial: object) -> float:
    x = trial.suggest_float("x", -5, 5)  # type: ignore[attr-defined]
    kind = trial.suggest_categorical("kind", ["a", "b"])  # type: ignore[attr-defined]
    for step in range(3):
        trial.report(x * x + step, step)  # type: ignore[attr-defined]
        if trial.should_prune():  # type: ignore[attr-defined]
            raise optuna.TrialPruned()
    return (x - 1) ** 2 + (kind == "b")


def study_of(**kwargs: object) -> object:
    return optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0), **kwargs)


def children(parent_id: str) -> dict[int, mlnb.entities.Run]:
    client = mlnb.MlnbClient()
    runs = [client.get_run(r) for r in client.store.child_run_ids(parent_id)]
    return {int(r.data.tags["optuna.trial_number"]): r for r in runs}


def test_each_trial_is_a_child_run_matching_the_study(tracking: Path) -> None:
    study = study_of(pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    sweep = mlnb.optuna.track(study)
    sweep.optimize(quadratic, n_trials=15)

    parent = mlnb.get_run(sweep.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mlnb.sweep"] == "optuna"
    assert parent.data.tags["optuna.study_name"] == study.study_name
    assert parent.data.tags["mlnb.sweep.direction"] == "minimize"
    assert parent.data.metrics["best_value"] == study.best_value
    assert parent.data.tags["optuna.best_trial"] == str(study.best_trial.number)

    kids = children(sweep.parent_run_id)
    frame = study.trials_dataframe()
    assert sorted(kids) == list(frame["number"]) and len(kids) == 15
    states = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}
    for row in frame.itertuples():
        run = kids[row.number]
        assert run.info.run_name == f"trial-{row.number}"
        assert run.data.params == {"x": str(row.params_x), "kind": row.params_kind}
        assert run.data.tags["optuna.trial_state"] == row.state
        assert run.info.status == states[row.state]
        assert run.data.metrics["value"] == row.value
        trial = study.trials[row.number]
        history = mlnb.MlnbClient().get_metric_history(run.info.run_id, "intermediate_value")
        assert [(p.step, p.value) for p in history] == sorted(trial.intermediate_values.items())
        assert run.info.start_time == int(trial.datetime_start.timestamp() * 1000)
        assert run.info.end_time == int(trial.datetime_complete.timestamp() * 1000)
        distribution = json.loads(run.data.tags["optuna.distribution.x"])
        assert distribution["name"] == "FloatDistribution"
    assert "PRUNED" in set(frame["state"])  # the pruner did prune some trials


def test_failed_trials_are_recorded_whether_caught_or_raised(tracking: Path) -> None:
    def objective(trial: object) -> float:
        x = trial.suggest_int("x", 0, 9)  # type: ignore[attr-defined]
        if trial.number == 1:  # type: ignore[attr-defined]
            raise ValueError("caught by optuna")
        if trial.number == 2:  # type: ignore[attr-defined]
            return float("nan")  # optuna fails a NaN objective
        if trial.number == 3:  # type: ignore[attr-defined]
            raise RuntimeError("stops the study")
        return float(x)

    study = study_of()
    sweep = mlnb.optuna.track(study)
    with pytest.raises(RuntimeError, match="stops the study"):
        sweep.optimize(objective, n_trials=10, catch=(ValueError,))

    kids = children(sweep.parent_run_id)
    assert sorted(kids) == [0, 1, 2, 3]
    assert [kids[n].data.tags["optuna.trial_state"] for n in range(4)] == [
        "COMPLETE", "FAIL", "FAIL", "FAIL"]
    assert [kids[n].info.status for n in range(4)] == ["FINISHED", "FAILED", "FAILED", "FAILED"]
    assert kids[1].data.tags["mlnb.error"] == "ValueError: caught by optuna"
    assert kids[3].data.tags["mlnb.error"] == "RuntimeError: stops the study"
    assert kids[3].data.params == {"x": str(study.trials[3].params["x"])}
    assert mlnb.get_run(sweep.parent_run_id).info.status == "FAILED"


def test_threads_attach_every_trial_to_the_parent(tracking: Path) -> None:
    def objective(trial: object) -> float:
        x = trial.suggest_float("x", -1, 1)  # type: ignore[attr-defined]
        run = sweep.trial_run(trial)  # the trial's own run, not a shared "active run"
        run.log_metric("inside", x)
        time.sleep(0.005)
        return x * x

    study = study_of()
    sweep = mlnb.optuna.track(study)
    sweep.optimize(objective, n_trials=20, n_jobs=2)

    kids = children(sweep.parent_run_id)
    assert sorted(kids) == list(range(20))
    for number, run in kids.items():
        x = study.trials[number].params["x"]
        assert run.data.metrics["inside"] == x and run.data.metrics["value"] == x * x
        assert run.info.status == "FINISHED"
    all_runs = mlnb.search_runs(search_all_experiments=True, output_format="list")
    assert len(all_runs) == 21  # the parent and its 20 trials, nothing else


def test_a_plain_callback_records_trials_and_ends_the_parent(tracking: Path) -> None:
    study = study_of()
    sweep = mlnb.optuna.Sweep()
    study.optimize(quadratic, n_trials=4, callbacks=[sweep])

    assert sweep.parent_run_id is not None
    assert mlnb.get_run(sweep.parent_run_id).info.status == "FINISHED"
    assert sorted(children(sweep.parent_run_id)) == [0, 1, 2, 3]


def test_reattaching_continues_the_same_parent_run(tracking: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="reattach", storage=url)
    first = mlnb.optuna.track(study)
    first.optimize(quadratic, n_trials=3)

    # Later, as another kernel would: load the study again and track it.
    again = optuna.load_study(study_name="reattach", storage=url)
    second = mlnb.optuna.track(again)
    assert second.parent_run_id == first.parent_run_id
    second.optimize(quadratic, n_trials=2)

    assert sorted(children(first.parent_run_id)) == [0, 1, 2, 3, 4]
    assert mlnb.get_run(first.parent_run_id).info.status == "FINISHED"
    parents = mlnb.search_runs(search_all_experiments=True, output_format="list",
                               filter_string="tags.mlnb.sweep = 'optuna'")
    assert len(parents) == 1


def test_a_study_recreated_with_the_same_name_gets_a_new_parent(tracking: Path) -> None:
    a = mlnb.optuna.track(optuna.create_study(study_name="same"))
    b = mlnb.optuna.track(optuna.create_study(study_name="same"))
    assert a.parent_run_id != b.parent_run_id


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_two_processes_share_one_study(tracking: Path, tmp_path: Path, kind: str) -> None:
    url = (f"sqlite:///{tmp_path / 'optuna.db'}" if kind == "sqlite"
           else f"journal:{tmp_path / 'optuna.log'}")
    if kind == "sqlite":  # as a user would, before starting the workers (schema made once)
        optuna.create_study(study_name="shared", storage=url)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "MLNB_TRACKING_URI": str(tracking),
           "PYTHONPATH": os.pathsep.join([str(SCRIPTS), *sys.path])}
    procs = [subprocess.Popen(
        [sys.executable, str(SCRIPTS / "optuna_worker.py"), url, "shared", "6", str(barrier), name],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < 2:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (barrier / "go").touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert err.strip() == "", err
        outputs.append(out.strip())

    assert outputs[0] == outputs[1]  # both attached to one parent run
    kids = children(outputs[0])
    assert sorted(kids) == list(range(12))
    assert {r.info.status for r in kids.values()} == {"FINISHED"}
    assert len({r.info.user_id for r in kids.values()}) == 1
    assert mlnb.get_run(outputs[0]).info.status == "FINISHED"


def test_several_objectives_log_one_metric_each(tracking: Path) -> None:
    study = optuna.create_study(directions=["minimize", "maximize"])
    sweep = mlnb.optuna.track(study, metric_name=["loss", "acc"])
    sweep.optimize(lambda t: (t.suggest_float("x", 0, 1), 2.0), n_trials=2)
    for run in children(sweep.parent_run_id).values():
        assert set(run.data.metrics) == {"loss", "acc"} and run.data.metrics["acc"] == 2.0


def test_bad_input_is_refused_with_a_clear_error(tracking: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"needs an optuna\.Study, not dict"):
        mlnb.optuna.track({})
    with pytest.raises(InvalidParameterError, match="2 names but the study has 1 objectives"):
        mlnb.optuna.track(optuna.create_study(), metric_name=["a", "b"])
    assert mlnb.search_runs(search_all_experiments=True, output_format="list") == []


def test_a_logging_failure_warns_and_the_study_goes_on(tracking: Path) -> None:
    study = study_of()
    sweep = mlnb.optuna.track(study)
    mlnb.MlnbClient().delete_run(sweep.parent_run_id)
    sweep.parent_run_id = "0" * 32  # a parent that is gone
    with pytest.warns(RuntimeWarning) as warned:
        study.optimize(quadratic, n_trials=2, callbacks=[sweep])
    assert [str(w.message) for w in warned] == [
        f"mlnb could not record trial {n}: No run with id '{'0' * 32}'." for n in (0, 1)]
    assert len(study.trials) == 2 and not math.isnan(study.best_value)
