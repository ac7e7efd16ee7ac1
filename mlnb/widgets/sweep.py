"""A sweep's data and charts: a parent run whose child runs are the trials.

Pure: :func:`load_sweep` reads the runs from a store into a :class:`Sweep`; the chart builders
return Plotly figures; :func:`param_importances` computes what each param explains. No widget
here (the view is :mod:`mlnb.widgets.sweep_view`). Any parent with children works: an Optuna study
recorded by ``mlnb.optuna``, a scikit-learn search under autolog, or a hand-made loop of runs
started with ``nested=True``.

Which metric is the objective, and its direction, in this order:

1. the ``metric`` and ``direction`` arguments;
2. the parent's tags ``mlnb.sweep.metric`` and ``mlnb.sweep.direction`` (``mlnb.optuna`` sets them);
3. ``mean_test_score`` (a scikit-learn search: higher is better);
4. the one metric every child has; its direction guessed from its name (loss, error, ... are
   minimised; anything else is maximised), shown as a guess in the view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlnb.entities import Run, RunStatus
from mlnb.errors import InvalidParameterError
from mlnb.store import Store
from mlnb.widgets.charts import parallel_coordinates_figure
from mlnb.widgets.data import lower_is_better
from mlnb.widgets.escape import escape_plotly

if TYPE_CHECKING:
    import plotly.graph_objects as go

STATE_TAG = "optuna.trial_state"
NUMBER_TAG = "optuna.trial_number"
DISTRIBUTION_PREFIX = "optuna.distribution."
MAX_BINS = 10
"""Bins per numeric param in the model-free importance (quantile bins by rank)."""


@dataclass(frozen=True)
class Trial:
    """One child run seen as a trial.

    :param number: its position: Optuna's trial number, else its order by start time.
    :param run: the child run.
    :param state: ``COMPLETE``, ``PRUNED``, ``FAIL`` or ``RUNNING`` (Optuna's names; for other
        sweeps from the run's status).
    :param value: its objective value, or None.
    """

    number: int
    run: Run
    state: str
    value: float | None

    @property
    def params(self) -> dict[str, str]:
        """The trial's params (text, as runs keep them)."""
        return self.run.data.params


@dataclass(frozen=True)
class Sweep:
    """A parent run and its trials.

    :param parent: the parent run.
    :param trials: the child runs as trials, by number.
    :param metric: the objective metric.
    :param direction: ``minimize`` or ``maximize``.
    :param direction_guessed: whether the direction was guessed from the metric's name.
    :param optuna: whether ``mlnb.optuna`` recorded it (then Optuna's evaluator ranks params).
    """

    parent: Run
    trials: list[Trial]
    metric: str
    direction: str
    direction_guessed: bool = False
    optuna: bool = False
    params: list[str] = field(default_factory=list)

    @property
    def complete(self) -> list[Trial]:
        """The trials that completed with a finite value."""
        return [t for t in self.trials
                if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)]

    @property
    def best(self) -> Trial | None:
        """The best complete trial, or None."""
        done = self.complete
        if not done:
            return None
        pick = min if self.direction == "minimize" else max
        return pick(done, key=lambda t: t.value)  # type: ignore[arg-type,return-value]


_STATES = {RunStatus.FINISHED: "COMPLETE", RunStatus.KILLED: "PRUNED", RunStatus.FAILED: "FAIL",
           RunStatus.RUNNING: "RUNNING", RunStatus.SCHEDULED: "RUNNING"}


def load_sweep(store: Store, parent_run_id: str, metric: str | None = None,
               direction: str | None = None) -> Sweep:
    """Read a parent run and its children from the store as a :class:`Sweep`.

    :param store: the store.
    :param parent_run_id: the parent run.
    :param metric: the objective metric; default as the module says.
    :param direction: ``minimize`` or ``maximize``; default as the module says.
    :raises NotFoundError: for a run the store does not have.
    :raises InvalidParameterError: when the run has no children, or the objective cannot be told.
    """
    parent = store.get_run(parent_run_id)
    children = [r for r in store.get_runs(store.child_run_ids(parent_run_id))
                if r.info.lifecycle_stage == "active"]
    if not children:
        raise InvalidParameterError(
            f"Run {parent.info.run_name!r} ({parent_run_id}) has no child runs: show_sweep needs a "
            "parent run whose children are the trials (an Optuna study recorded with "
            "mlnb.optuna.track, a search CV under mlnb.autolog, or runs started with nested=True).")
    if direction is not None and direction not in ("minimize", "maximize"):
        raise InvalidParameterError(f"direction must be 'minimize' or 'maximize', not {direction!r}.")
    tags = parent.data.tags
    metric = metric or tags.get("mlnb.sweep.metric") or _common_metric(parent, children)
    guessed = False
    if direction is None:
        direction = tags.get("mlnb.sweep.direction") if tags.get("mlnb.sweep.metric") == metric else None
        if direction is None and metric.startswith("mean_test_"):
            direction = "maximize"
        if direction is None:
            direction, guessed = ("minimize" if lower_is_better(metric) else "maximize"), True
    optuna = tags.get("mlnb.sweep") == "optuna"
    ordered = sorted(children, key=lambda r: (_number(r), r.info.start_time or 0))
    trials = [Trial(_number(r) if optuna and _number(r) >= 0 else i, r,
                    r.data.tags.get(STATE_TAG) or _STATES.get(r.info.status, r.info.status),
                    r.data.metrics.get(metric))
              for i, r in enumerate(ordered)]
    params = sorted({k for r in children for k in r.data.params})
    return Sweep(parent, trials, metric, direction, guessed, optuna, params)


def _number(run: Run) -> int:
    try:
        return int(run.data.tags.get(NUMBER_TAG, "-1"))
    except ValueError:
        return -1


def _common_metric(parent: Run, children: Sequence[Run]) -> str:
    keys = [set(r.data.metrics) for r in children if r.data.metrics]
    if not keys:
        raise InvalidParameterError(
            f"The child runs of {parent.info.run_name!r} have no metrics: nothing to optimise.")
    common = set.intersection(*keys)
    if "mean_test_score" in common:
        return "mean_test_score"
    if len(common) == 1:
        return next(iter(common))
    choices = ", ".join(sorted(common or set.union(*keys)))
    raise InvalidParameterError(
        f"The child runs of {parent.info.run_name!r} have several metrics ({choices}); name the "
        f"objective: mlnb.show_sweep(run, metric='...').")


# --- parameter importance -------------------------------------------------------------------------


def param_importances(sweep: Sweep) -> tuple[dict[str, float], str]:
    """Each param's importance (summing to 1), largest first, and the method's name.

    An Optuna sweep (when Optuna is installed) is rebuilt as an in-memory study from its
    children (params typed by their recorded distributions, values, direction) and ranked by
    ``optuna.importance.get_param_importances`` with Optuna's default evaluator. Any other sweep
    is ranked model-free by :func:`correlation_ratios`.

    :param sweep: the sweep.
    """
    if sweep.optuna:
        try:
            return _optuna_importances(sweep), "Optuna's default evaluator"
        except ImportError:
            pass
        except (ValueError, RuntimeError, KeyError):  # e.g. a dynamic search space
            pass
    return correlation_ratios(sweep), "correlation ratio (η²) of the objective by param"


def _optuna_importances(sweep: Sweep) -> dict[str, float]:
    # optuna: loaded only for an Optuna sweep's importance
    import optuna
    from optuna.distributions import json_to_distribution  # optuna: as above

    study = optuna.create_study(direction="minimize" if sweep.direction == "minimize" else "maximize")
    trials = []
    for t in sweep.complete:
        tags = t.run.data.tags
        distributions = {k: json_to_distribution(tags[DISTRIBUTION_PREFIX + k]) for k in t.params}
        params = {k: _typed(t.params[k], d) for k, d in distributions.items()}
        trials.append(optuna.trial.create_trial(params=params, distributions=distributions,
                                                value=t.value))
    study.add_trials(trials)
    if len(trials) < 2:
        return {}
    return dict(optuna.importance.get_param_importances(study))


def _typed(text: str, distribution: Any) -> Any:
    """A param's recorded text back as the value its distribution gives (str() of a choice)."""
    # optuna (distribution classes): loaded only for an Optuna sweep's importance
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if str(choice) == text:
                return choice
        raise ValueError(f"{text!r} is not one of the recorded choices")
    if isinstance(distribution, IntDistribution):
        return int(text)
    return float(text)


def correlation_ratios(sweep: Sweep) -> dict[str, float]:
    """Model-free importance: per param, the share of the objective's variance between the
    param's groups (the correlation ratio η² = Σ nᵍ(ȳᵍ - ȳ)² / Σ (y - ȳ)²), normalised to sum to 1.

    The groups are the param's values; a numeric param with more than :data:`MAX_BINS` distinct
    values is cut into :data:`MAX_BINS` bins of equal count by rank; a trial without the param is
    its own group. Only complete trials with a finite value count. It sees each param alone (no
    interactions) and needs no model, so it works on any sweep, grids included.

    :param sweep: the sweep.
    """
    done = sweep.complete
    values = [float(t.value or 0.0) for t in done]  # complete: every value is a finite number
    if len(done) < 2:
        return {}
    mean = sum(values) / len(values)
    total = sum((v - mean) ** 2 for v in values)
    raw: dict[str, float] = {}
    for key in sweep.params:
        groups: dict[str, list[float]] = {}
        for label, value in zip(_groups([t.params.get(key) for t in done]), values, strict=True):
            groups.setdefault(label, []).append(value)
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
        raw[key] = between / total if total > 0 else 0.0
    norm = sum(raw.values())
    scores = {k: (v / norm if norm > 0 else 0.0) for k, v in raw.items()}
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


def _groups(texts: Sequence[str | None]) -> list[str]:
    numbers = [_float(t) for t in texts]
    distinct = {n for n in numbers if n is not None}
    if len(distinct) <= MAX_BINS or any(n is None and t is not None for n, t in zip(numbers, texts,
                                                                                      strict=True)):
        return ["\0missing" if t is None else t for t in texts]
    order = sorted(range(len(numbers)), key=lambda i: (numbers[i] is None, numbers[i] or 0.0))
    labels = [""] * len(texts)
    present = [i for i in order if numbers[i] is not None]
    for rank, i in enumerate(present):
        labels[i] = f"bin{rank * MAX_BINS // len(present)}"
    for i in order:
        if numbers[i] is None:
            labels[i] = "\0missing"
    return labels


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


# --- charts ---------------------------------------------------------------------------------------


def best_so_far(sweep: Sweep) -> list[float]:
    """The best value up to each complete trial, in trial order (the history's line; the
    sidebar's sweep view draws the same).

    :param sweep: the sweep.
    """
    pick = min if sweep.direction == "minimize" else max
    best: list[float] = []
    for t in sweep.complete:
        value = float(t.value or 0.0)  # complete: a finite number
        best.append(value if not best else pick(best[-1], value))
    return best


def history_figure(sweep: Sweep) -> go.Figure:
    """Optimisation history: each trial's value by trial number, pruned trials marked, and the
    best-so-far line over complete trials.

    :param sweep: the sweep.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    fig = go.Figure()
    done = sweep.complete
    best = best_so_far(sweep)
    fig.add_trace(go.Scatter(
        x=[t.number for t in done], y=[t.value for t in done], mode="markers", name="complete",
        text=[escape_plotly(t.run.info.run_name) for t in done],
        hovertemplate="%{text}<br>trial %{x}: %{y:.6g}<extra></extra>"))
    pruned = [t for t in sweep.trials if t.state == "PRUNED" and t.value is not None]
    if pruned:
        fig.add_trace(go.Scatter(
            x=[t.number for t in pruned], y=[t.value for t in pruned], mode="markers",
            name="pruned", marker={"symbol": "x", "color": "#8c959f"},
            text=[escape_plotly(t.run.info.run_name) for t in pruned],
            hovertemplate="%{text}<br>trial %{x} (pruned): %{y:.6g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[t.number for t in done], y=best, mode="lines", name="best so far",
                             line={"shape": "hv", "color": "#cf222e"},
                             hovertemplate="best after trial %{x}: %{y:.6g}<extra></extra>"))
    failed = sum(t.state == "FAIL" for t in sweep.trials)
    note = f", {failed} failed" if failed else ""
    fig.update_layout(
        title=f"Optimisation history ({len(done)} complete, {len(pruned)} pruned{note})",
        xaxis_title="Trial", yaxis_title=escape_plotly(sweep.metric), height=380,
        margin={"t": 50, "l": 60, "r": 20, "b": 50})
    return fig


def parallel_figure(sweep: Sweep) -> go.Figure:
    """Parallel coordinates of the complete trials' params, coloured by the objective.

    :param sweep: the sweep.
    """
    return parallel_coordinates_figure([t.run for t in sweep.complete], sweep.metric, sweep.params)


def importance_figure(importances: dict[str, float], method: str) -> go.Figure:
    """Horizontal bars of the params' importances, the most important at the top.

    :param importances: param -> importance.
    :param method: the method's name, shown in the title.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    keys = list(importances)[::-1]
    fig = go.Figure(go.Bar(x=[importances[k] for k in keys], y=[escape_plotly(k) for k in keys],
                           orientation="h", hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(title=f"Parameter importance ({escape_plotly(method)})",
                      xaxis_title="importance", yaxis_type="category",
                      height=max(220, 60 + 30 * len(keys)), margin={"t": 50, "l": 120, "r": 20, "b": 50})
    return fig


def slice_figure(sweep: Sweep) -> go.Figure:
    """One panel per param: the objective of each complete trial against the param's value,
    coloured by trial number.

    :param sweep: the sweep.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb
    from plotly.subplots import make_subplots  # plotly: as above

    keys = sweep.params or [""]
    fig = make_subplots(rows=1, cols=len(keys), shared_yaxes=True,
                        subplot_titles=[escape_plotly(k) for k in keys])
    done = sweep.complete
    for col, key in enumerate(keys, start=1):
        rows = [t for t in done if key in t.params]
        numbers = [_float(t.params[key]) for t in rows]
        numeric = all(n is not None for n in numbers)
        fig.add_trace(go.Scatter(
            x=numbers if numeric else [escape_plotly(t.params[key]) for t in rows],
            y=[t.value for t in rows], mode="markers", showlegend=False,
            marker={"color": [t.number for t in rows], "colorscale": "Viridis", "showscale": col == 1,
                    "colorbar": {"title": {"text": "trial"}}},
            text=[escape_plotly(t.run.info.run_name) for t in rows],
            hovertemplate="%{text}<br>%{x}: %{y:.6g}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="linear" if numeric else "category", row=1, col=col)
    fig.update_yaxes(title_text=escape_plotly(sweep.metric), row=1, col=1)
    fig.update_layout(title="Slices: the objective against each param", height=360,
                      width=max(500, 280 * len(keys)), margin={"t": 70, "l": 60, "r": 20, "b": 50})
    return fig

