"""Optuna sweeps: a study gets a parent run, each trial a child run.

``mlnb.optuna.track(study)`` returns a :class:`Sweep`, which is an Optuna callback::

    sweep = mlnb.optuna.track(study)
    sweep.optimize(objective, n_trials=100, n_jobs=2)          # or, equivalently:
    with sweep:
        study.optimize(sweep.objective(objective), n_trials=100, callbacks=[sweep])

What is recorded, per trial (a child run of the study's run, named ``trial-<number>``): the params,
the objective value(s) (metric ``value``, or the names given), the intermediate values reported
with ``trial.report`` as the steps of metric ``intermediate_value``, the trial's start and end
times, its Optuna state as tag ``optuna.trial_state`` and as the run status (``COMPLETE`` ->
FINISHED, ``PRUNED`` -> KILLED, ``FAIL`` -> FAILED, as ``mlflow.optuna.MlflowStorage`` maps them),
each param's distribution (tag ``optuna.distribution.<param>``, Optuna's JSON) and the trial's
user attributes. The study's run gets the directions, the sampler, and after each complete trial
the study's ``best_value`` (step = trial number) and tag ``optuna.best_trial``.

Threads and processes: nothing here uses the fluent API's "active run", so ``n_jobs > 1`` works,
and the parent run's id is kept in the study's own storage (a system attribute per mlnb store), so
several processes sharing one study through an Optuna storage (RDB/SQLite, journal file) attach
their trials to the same parent run, and calling ``track`` again later (another kernel, another
day) continues that run. Two processes attaching at the same moment cannot both create a parent:
the look-up and the creation run under the mlnb store's write lock.

Logging never breaks a study: a failure to record a trial is a warning.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
import warnings
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from mlnb.capture.environment import current_user
from mlnb.entities import Metric, Param, RunStatus, RunTag
from mlnb.errors import InvalidParameterError, MlnbError, NotFoundError
from mlnb.store.sql import now_ms
from mlnb.store.validation import MAX_PARAM_VALUE_LENGTH
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.tracking.context import run_context_tags
from mlnb.tracking.experiment import active_experiment_id
from mlnb.tracking.fluent import ActiveRun

SWEEP_TAG = "mlnb.sweep"
"""Tag of a sweep's parent run naming what ran it (``optuna``)."""
SWEEP_METRIC_TAG = "mlnb.sweep.metric"
"""Tag of a sweep's parent run: the children's objective metric (what ``show_sweep`` plots)."""
SWEEP_DIRECTION_TAG = "mlnb.sweep.direction"
"""Tag of a sweep's parent run: ``minimize`` or ``maximize``."""
STUDY_TAG = "optuna.study_name"
TRIAL_NUMBER_TAG = "optuna.trial_number"
TRIAL_STATE_TAG = "optuna.trial_state"
DISTRIBUTION_TAG_PREFIX = "optuna.distribution."
USER_ATTR_TAG_PREFIX = "optuna.user_attr."
INTERMEDIATE_METRIC = "intermediate_value"
PARENT_ATTR_PREFIX = "mlnb:parent_run_id:"

_STATUS = {"COMPLETE": RunStatus.FINISHED, "PRUNED": RunStatus.KILLED, "FAIL": RunStatus.FAILED}


def track(study: Any, *, metric_name: str | Sequence[str] = "value",
          experiment_name: str | None = None, run_name: str | None = None,
          tracking_uri: str | None = None) -> Sweep:
    """Give an Optuna study a parent run (or re-attach to the one it has) and return the
    :class:`Sweep` that records its trials as child runs.

    :param study: an ``optuna.Study``.
    :param metric_name: the name of the objective's metric, or one name per objective; default
        ``value`` (``value_0``, ``value_1``... for several objectives), as Optuna's MLflowCallback.
    :param experiment_name: the experiment of a new parent run (created if needed); default the
        active experiment. A re-attached study keeps its run's experiment.
    :param run_name: the name of a new parent run; default the study's name.
    :param tracking_uri: the store; default the current one.
    :raises InvalidParameterError: for something that is not an Optuna study, or metric names that
        do not match the study's objectives.
    """
    sweep = Sweep(metric_name=metric_name, experiment_name=experiment_name, run_name=run_name,
                  tracking_uri=tracking_uri)
    sweep.attach(study)
    return sweep


class Sweep:
    """An Optuna callback recording each finished trial as a child run of the study's run.

    Use it as ``callbacks=[sweep]`` (it attaches to the study on the first trial if
    :func:`track` did not), as a context manager around ``study.optimize`` (the parent run is
    RUNNING inside, FINISHED after), or call :meth:`optimize`, which does both and also records
    trials that fail with an exception Optuna re-raises (a callback never sees those).

    :param metric_name: as for :func:`track`.
    :param experiment_name: as for :func:`track`.
    :param run_name: as for :func:`track`.
    :param tracking_uri: as for :func:`track`.
    """

    def __init__(self, *, metric_name: str | Sequence[str] = "value",
                 experiment_name: str | None = None, run_name: str | None = None,
                 tracking_uri: str | None = None) -> None:
        if isinstance(metric_name, str):
            self._names: tuple[str, ...] | str = metric_name
        elif isinstance(metric_name, Sequence) and all(isinstance(n, str) for n in metric_name):
            self._names = tuple(metric_name)
        else:
            raise InvalidParameterError(
                f"metric_name must be a name or a list of names, not {metric_name!r}.")
        self._experiment_name = experiment_name
        self._run_name = run_name
        self.client = current_client() if tracking_uri is None else MlnbClient(tracking_uri)
        self.study: Any = None
        self.parent_run_id: str | None = None
        self._runs: dict[int, str] = {}  # trial number -> child run id (trials of this process)
        self._done: set[int] = set()
        self._lock = threading.Lock()
        self._active = 0  # nested ``with`` blocks / optimize calls of this process

    # --- the parent run ----------------------------------------------------------------------

    def attach(self, study: Any) -> str:
        """Find the study's parent run in this store (or create it) and return its id.

        :param study: an ``optuna.Study``.
        :raises InvalidParameterError: when ``study`` is not an Optuna study, or when it is
            another study than the one this sweep is attached to.
        """
        if self.study is not None:
            if study is not self.study and study.study_name != self.study.study_name:
                raise InvalidParameterError(
                    f"This sweep records study {self.study.study_name!r}; make another with "
                    f"mlnb.optuna.track() for study {study.study_name!r}.")
            assert self.parent_run_id is not None
            return self.parent_run_id
        if not all(hasattr(study, a) for a in ("study_name", "directions", "_storage", "_study_id")):
            raise InvalidParameterError(
                f"mlnb.optuna.track needs an optuna.Study, not {type(study).__name__}.")
        directions = [d.name.lower() for d in study.directions]
        names = self._metric_names(len(directions))
        store = self.client.store
        attr = PARENT_ATTR_PREFIX + _store_key(str(store.location.db_path))
        # The store's write lock serialises attaching across processes: the second one to get
        # here reads the id the first one stored in the study and attaches to that run.
        with store.transaction():
            run_id = _existing_parent(self.client, study, attr)
            if run_id is None:
                run_id = self._create_parent(study, directions, names)
                study._storage.set_study_system_attr(study._study_id, attr, run_id)
        self.study, self.parent_run_id = study, run_id
        return run_id

    def _create_parent(self, study: Any, directions: list[str], names: list[str]) -> str:
        if self._experiment_name is not None:
            experiment_id = self.client.get_or_create_experiment(self._experiment_name).experiment_id
        else:
            experiment_id = active_experiment_id()
        tags = {
            **run_context_tags(), SWEEP_TAG: "optuna", STUDY_TAG: study.study_name,
            SWEEP_METRIC_TAG: names[0], SWEEP_DIRECTION_TAG: directions[0],
            "optuna.directions": json.dumps(directions), "mlnb.sweep.metrics": json.dumps(names),
            "optuna.sampler": type(study.sampler).__name__,
            "optuna.pruner": type(study.pruner).__name__,
        }
        info = self.client.store.create_run(experiment_id, self._run_name or study.study_name, tags,
                                            None, current_user())
        if self._active == 0:
            self.client.store.update_run(info.run_id, status=RunStatus.FINISHED)
        return info.run_id

    def _metric_names(self, objectives: int) -> list[str]:
        if isinstance(self._names, str):
            return [self._names] if objectives == 1 else [f"{self._names}_{i}" for i in range(objectives)]
        if len(self._names) != objectives:
            raise InvalidParameterError(
                f"metric_name has {len(self._names)} names but the study has {objectives} "
                "objectives; give one name per objective.")
        return list(self._names)

    def __enter__(self) -> Sweep:
        if self.study is None:
            raise InvalidParameterError(
                "This sweep has no study yet: make it with mlnb.optuna.track(study).")
        with self._lock:
            self._active += 1
        self._own_parent()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            self._active -= 1
            last = self._active == 0
        if not last or self.parent_run_id is None:
            return
        if exc_type is not None:
            status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
        elif _others_running(self.study):
            return  # another process is still optimizing this study: it ends the run
        else:
            status = RunStatus.FINISHED
        try:
            self.client.set_terminated(self.parent_run_id, status)
        except MlnbError as problem:
            warnings.warn(f"mlnb could not end the study's run: {problem}", RuntimeWarning,
                          stacklevel=2)

    def _own_parent(self) -> None:
        """Make the parent RUNNING and owned by this process (if another process's exit, or the
        reaper after it, ended it while this process still optimizes)."""
        assert self.parent_run_id is not None
        info = self.client.get_run_info(self.parent_run_id)
        if info.status != RunStatus.RUNNING:
            self.client.resume_run(self.parent_run_id)
            try:
                self.client.delete_tag(self.parent_run_id, "mlnb.end_reason")
            except NotFoundError:
                pass  # it had not been marked dead

    # --- running a study ---------------------------------------------------------------------

    def optimize(self, func: Callable[[Any], Any], n_trials: int | None = None,
                 timeout: float | None = None, n_jobs: int = 1,
                 catch: tuple[type[Exception], ...] = (),
                 callbacks: Sequence[Callable[[Any, Any], None]] | None = None,
                 gc_after_trial: bool = False, show_progress_bar: bool = False) -> None:
        """``study.optimize`` with every trial recorded; the parent run is RUNNING meanwhile.

        The arguments are ``optuna.Study.optimize``'s.

        :param func: the objective, called with an ``optuna.Trial``.
        :param n_trials: the number of trials (None: until ``timeout`` or a signal).
        :param timeout: stop after this many seconds.
        :param n_jobs: parallel threads (``-1``: one per CPU).
        :param catch: exceptions that fail a trial without stopping the study.
        :param callbacks: more callbacks, called after this sweep's.
        :param gc_after_trial: run the garbage collector after each trial.
        :param show_progress_bar: Optuna's progress bar.
        """
        with self:
            self.study.optimize(self.objective(func), n_trials=n_trials, timeout=timeout,
                                n_jobs=n_jobs, catch=catch, callbacks=[self, *(callbacks or [])],
                                gc_after_trial=gc_after_trial, show_progress_bar=show_progress_bar)

    def objective(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Wrap an objective so that a trial failing with an exception is recorded (FAILED, with
        the error) even when Optuna re-raises it and calls no callback.

        :param func: the objective.
        """

        @functools.wraps(func)
        def recorded(trial: Any) -> Any:
            try:
                return func(trial)
            except BaseException as exc:
                if type(exc).__name__ != "TrialPruned":  # optuna.TrialPruned: its callback runs
                    self._record_failure(trial, exc)
                raise

        return recorded

    def trial_run(self, trial: Any) -> ActiveRun:
        """The child run of a running trial, created now if needed: log to it from the objective
        (``sweep.trial_run(trial).log_metric(...)``, ``mlnb.sklearn.log_model(m, "model",
        run_id=sweep.trial_run(trial).run_id)``). It is not the fluent API's active run, so
        threads do not share it; the sweep ends it when the trial ends.

        :param trial: the ``optuna.Trial`` the objective was called with.
        """
        study = getattr(trial, "study", None)
        if study is None:
            raise InvalidParameterError(
                f"trial_run needs the optuna.Trial the objective was called with, not "
                f"{type(trial).__name__}.")
        self.attach(study)
        return ActiveRun(self._child(trial.number, dt.datetime.now(), None), self.client)

    def _child(self, number: int, start: dt.datetime | None, end_ms: int | None) -> str:
        """The child run of trial ``number``: the one this process made, or a new one."""
        with self._lock:
            run_id = self._runs.get(number)
        if run_id is not None:
            return run_id
        assert self.parent_run_id is not None
        parent = self.client.store.get_run_info(self.parent_run_id)
        tags = {STUDY_TAG: self.study.study_name, TRIAL_NUMBER_TAG: str(number),
                "mlnb.sweep.child": "optuna"}
        start_ms = _ms(start) if start is not None else end_ms
        info = self.client.store.create_run(parent.experiment_id, f"trial-{number}", tags,
                                            self.parent_run_id, parent.user_id, start_ms)
        with self._lock:
            run_id = self._runs.setdefault(number, info.run_id)
        return run_id

    # --- recording trials --------------------------------------------------------------------

    def __call__(self, study: Any, trial: Any) -> None:
        """The Optuna callback: record a finished trial (``study.optimize(callbacks=[sweep])``).

        :param study: the study.
        :param trial: the finished ``optuna.trial.FrozenTrial``.
        """
        try:
            self.attach(study)
            self._record(trial, trial.state.name, None)
        except Exception as problem:  # never fail the user's study for a logging problem
            warnings.warn(f"mlnb could not record trial {trial.number}: {problem}",
                          RuntimeWarning, stacklevel=2)

    def _record_failure(self, trial: Any, exc: BaseException) -> None:
        try:
            self.attach(trial.study)
            frozen = trial.study._storage.get_trial(trial._trial_id)
            self._record(frozen, "FAIL", f"{type(exc).__name__}: {exc}"[:8000])
        except Exception as problem:
            warnings.warn(f"mlnb could not record failed trial {trial.number}: {problem}",
                          RuntimeWarning, stacklevel=3)

    def _record(self, trial: Any, state: str, error: str | None) -> None:
        with self._lock:
            if trial.number in self._done:
                return  # a failure recorded by the objective's wrapper, then Optuna's callback
            self._done.add(trial.number)
        store = self.client.store
        end = _ms(trial.datetime_complete) if trial.datetime_complete is not None else now_ms()
        metrics, params, tags = self._trial_data(trial, state, end, error)
        best = self._best(trial, state, end)  # read from Optuna before taking the store's lock
        with store.transaction():  # one commit per trial
            if self._active:
                self._own_parent()
            run_id = self._child(trial.number, trial.datetime_start, end)
            store.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            store.update_run(run_id, status=_STATUS.get(state, RunStatus.FAILED), end_time=end)
            if best is not None:
                store.log_batch(self.parent_run_id, metrics=best[0], tags=best[1])  # type: ignore[arg-type]
            if not self._active:  # a callback outside ``with``: the run ends with its last trial
                store.update_run(self.parent_run_id, status=RunStatus.FINISHED)  # type: ignore[arg-type]

    def _trial_data(self, trial: Any, state: str, end: int, error: str | None
                    ) -> tuple[list[Metric], list[Param], list[RunTag]]:
        # optuna (a trial's distributions as JSON): loaded when a trial is recorded
        from optuna.distributions import distribution_to_json

        values = trial.values or []
        names = self._metric_names(len(values)) if values else []
        metrics = [Metric(n, float(v), end, 0) for n, v in zip(names, values, strict=True)]
        metrics += [Metric(INTERMEDIATE_METRIC, float(v), end, int(step))
                    for step, v in sorted(trial.intermediate_values.items())]
        params = [Param(k, _text(v)) for k, v in trial.params.items()]
        tags = [RunTag(TRIAL_STATE_TAG, state)]
        tags += [RunTag(DISTRIBUTION_TAG_PREFIX + k, distribution_to_json(d))
                 for k, d in trial.distributions.items()]
        tags += [RunTag(USER_ATTR_TAG_PREFIX + k, _text(v)) for k, v in trial.user_attrs.items()]
        if error is not None:
            tags.append(RunTag("mlnb.error", error))
        return metrics, params, tags

    def _best(self, trial: Any, state: str, end: int) -> tuple[list[Metric], list[RunTag]] | None:
        """The study's best value (a point at the trial's number) and best trial, after a
        complete trial of a single-objective study."""
        if state != "COMPLETE" or len(self.study.directions) != 1:
            return None
        try:
            best = self.study.best_trial
        except ValueError:  # no complete trial yet (another process's trial may not be told)
            return None
        return ([Metric("best_value", float(best.value), end, trial.number)],
                [RunTag("optuna.best_trial", str(best.number))])


def _existing_parent(client: MlnbClient, study: Any, attr: str) -> str | None:
    """The parent run id the study records for this store, if that run is here and not deleted."""
    run_id = study._storage.get_study_system_attrs(study._study_id).get(attr)
    if not isinstance(run_id, str):
        return None
    try:
        client.store.check_writable(run_id)
    except MlnbError:
        return None  # deleted, or a store copied without it: start a new parent run
    return run_id


def _others_running(study: Any) -> bool:
    # optuna (trial states): loaded when a study is recorded
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _store_key(db_path: str) -> str:
    return hashlib.sha256(db_path.encode()).hexdigest()[:16]


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _text(value: Any) -> str:
    # str(), as MLflow's callback logs params: 0.1 -> "0.1", True -> "True", None -> "None"
    return str(value)[:MAX_PARAM_VALUE_LENGTH]
