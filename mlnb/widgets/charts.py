"""Chart builders: pure functions from runs and metric histories to Plotly figures.

No widget, no store, no kernel: each takes plain data and returns a ``plotly.graph_objects.Figure``
(imported inside, so importing this module stays cheap). Every user string (run names, param and
metric keys, category values) goes through :func:`escape_plotly` before it reaches a trace name,
tick text, hover text or title, and user strings never appear in a ``hovertemplate``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import Metric, Run
from mlnb.widgets.escape import escape_plotly

if TYPE_CHECKING:
    import plotly.graph_objects as go

X_AXES = {"step": "Step", "time": "Time", "relative": "Seconds since the first point"}
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def ema(values: Sequence[float], smoothing: float) -> list[float]:
    """Exponential moving average: ``s[0] = x[0]``, ``s[t] = a*s[t-1] + (1-a)*x[t]``.

    Non-finite points stay as they are in the output and do not disturb the running average.

    :param values: the series.
    :param smoothing: ``a``, in [0, 1); 0 returns the values unchanged.
    :raises ValueError: for ``smoothing`` outside [0, 1).
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), not {smoothing!r}")
    out: list[float] = []
    state: float | None = None
    for x in values:
        if not math.isfinite(x):
            out.append(x)
            continue
        state = x if state is None else smoothing * state + (1 - smoothing) * x
        out.append(state)
    return out


def _x_values(points: Sequence[Metric], x_axis: str) -> list[Any]:
    if x_axis == "step":
        return [p.step for p in points]
    if x_axis == "relative":
        first = points[0].timestamp if points else 0
        return [(p.timestamp - first) / 1000 for p in points]
    return [dt.datetime.fromtimestamp(p.timestamp / 1000) for p in points]


def metric_history_figure(
    series: Sequence[tuple[str, Sequence[Metric]]],
    key: str,
    x_axis: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
) -> go.Figure:
    """Line chart of one metric's history, one trace per run.

    :param series: ``(label, points)`` per run.
    :param key: the metric's name.
    :param x_axis: ``step``, ``time`` or ``relative`` (seconds since the first point).
    :param smoothing: EMA smoothing in [0, 1); 0 for none.
    :param log_y: a logarithmic y axis.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {sorted(X_AXES)}, not {x_axis!r}")
    traces = []
    for label, points in series:
        values = [p.value for p in points]
        y = ema(values, smoothing) if smoothing else values
        x = _x_values(points, x_axis)
        traces.append(go.Scatter(
            x=np.asarray(x) if x_axis != "time" else x, y=np.asarray(y, dtype=float),
            mode="lines" if len(points) > 1 else "markers", name=escape_plotly(label),
            hovertemplate="%{x}: %{y:.6g}",
        ))
    fig = go.Figure()
    fig.add_traces(traces)
    smoothed = f" (EMA {smoothing:g})" if smoothing else ""
    fig.update_layout(
        title=escape_plotly(key) + smoothed, xaxis_title=X_AXES[x_axis],
        yaxis_title=escape_plotly(key), yaxis_type="log" if log_y else "linear",
        legend_title_text="Run", margin={"t": 50, "l": 60, "r": 20, "b": 50}, height=380,
    )
    return fig


def _as_number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _param_axis(values: Sequence[str | None]) -> dict[str, Any]:
    """A parallel-coordinates dimension: numeric if every value is a number, else categories."""
    numbers = [_as_number(v) for v in values]
    if all(n is not None for n in numbers):
        return {"values": numbers}
    categories = sorted({"(missing)" if v is None else v for v in values})
    index = {c: i for i, c in enumerate(categories)}
    return {
        "values": [index["(missing)" if v is None else v] for v in values],
        "tickvals": list(range(len(categories))),
        "ticktext": [escape_plotly(c) for c in categories],
    }


def parallel_coordinates_figure(
    runs: Sequence[Run], metric: str, params: Sequence[str] | None = None
) -> go.Figure:
    """Parallel coordinates: one axis per param, then the metric; lines coloured by the metric.

    Runs without the metric are left out.

    :param runs: the runs.
    :param metric: the metric's name.
    :param params: the params to show; default every param of those runs.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    chosen = [r for r in runs if metric in r.data.metrics]
    keys = list(params) if params is not None else sorted({k for r in chosen for k in r.data.params})
    scores = [r.data.metrics[metric] for r in chosen]
    dimensions = [
        {"label": escape_plotly(k), **_param_axis([r.data.params.get(k) for r in chosen])}
        for k in keys
    ]
    dimensions.append({"label": escape_plotly(metric), "values": scores})
    fig = go.Figure(go.Parcoords(
        dimensions=dimensions,
        line={"color": scores, "colorscale": "Viridis", "showscale": True,
              "colorbar": {"title": {"text": escape_plotly(metric)}}},
    ))
    fig.update_layout(title=f"Params against {escape_plotly(metric)} ({len(chosen)} runs)",
                      margin={"t": 80, "l": 60, "r": 60, "b": 30}, height=420)
    return fig


def param_scatter_figure(
    runs: Sequence[Run], param: str, metric: str, labels: Sequence[str] | None = None
) -> go.Figure:
    """One point per run: a param's value (x) against a metric's latest value (y).

    :param runs: the runs; those without the param or the metric are left out.
    :param param: the param's name.
    :param metric: the metric's name.
    :param labels: hover labels, one per run; default the run names.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    labels = list(labels) if labels is not None else [r.info.run_name for r in runs]
    rows = [(r.data.params[param], r.data.metrics[metric], label)
            for r, label in zip(runs, labels, strict=True)
            if param in r.data.params and metric in r.data.metrics]
    numbers = [_as_number(x) for x, _, _ in rows]
    numeric = all(n is not None for n in numbers)
    x = numbers if numeric else [escape_plotly(v) for v, _, _ in rows]
    fig = go.Figure(go.Scatter(
        x=x, y=[y for _, y, _ in rows], mode="markers", marker={"size": 10},
        text=[escape_plotly(label) for _, _, label in rows], name=escape_plotly(metric),
        hovertemplate="%{text}<br>%{x}: %{y:.6g}<extra></extra>",
    ))
    fig.update_layout(
        title=f"{escape_plotly(metric)} against {escape_plotly(param)}",
        xaxis_title=escape_plotly(param), yaxis_title=escape_plotly(metric),
        xaxis_type="linear" if numeric else "category", height=380,
        margin={"t": 50, "l": 60, "r": 20, "b": 50},
    )
    return fig


def final_metrics_figure(
    runs: Sequence[Run], metrics: Sequence[str] | None = None, labels: Sequence[str] | None = None
) -> go.Figure:
    """Grouped bars of each run's latest metric values, one trace per metric.

    :param runs: the runs.
    :param metrics: the metrics; default every metric of those runs.
    :param labels: the bars' labels, one per run; default the run names.
    """
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    labels = list(labels) if labels is not None else [r.info.run_name for r in runs]
    keys = list(metrics) if metrics is not None else sorted({k for r in runs for k in r.data.metrics})
    x = [escape_plotly(label) for label in labels]
    fig = go.Figure()
    fig.add_traces([
        go.Bar(x=x, y=[r.data.metrics.get(k) for r in runs], name=escape_plotly(k),
               hovertemplate="%{x}: %{y:.6g}")
        for k in keys
    ])
    fig.update_layout(title="Final metric values", barmode="group", height=380,
                      xaxis_type="category", legend_title_text="Metric",
                      margin={"t": 50, "l": 60, "r": 20, "b": 80})
    return fig


def sparkline_figure(points: Sequence[Metric], key: str) -> go.Figure:
    """A small chart of one metric's history, for the run details view.

    :param points: the metric's points.
    :param key: the metric's name.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import plotly.graph_objects as go  # plotly: loaded on first use, not by import mlnb

    fig = go.Figure(go.Scatter(
        x=np.asarray([p.step for p in points]), y=np.asarray([p.value for p in points], dtype=float),
        mode="lines" if len(points) > 1 else "markers", name=escape_plotly(key),
        hovertemplate="step %{x}: %{y:.6g}<extra></extra>",
    ))
    fig.update_layout(title={"text": escape_plotly(key), "font": {"size": 12}}, height=160,
                      width=320, margin={"t": 30, "l": 40, "r": 10, "b": 25}, showlegend=False)
    return fig


def figure_mimebundle(fig: go.Figure) -> dict[str, Any]:
    """The bundle JupyterLab's Plotly renderer draws (no widget, so it also works statically).

    :param fig: a Plotly figure.
    """
    spec: dict[str, Any] = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    return {PLOTLY_MIME: spec, "text/plain": f"<Figure: {len(spec.get('data', []))} traces>"}


def figure_output(fig: go.Figure) -> dict[str, Any]:
    """An nbformat display_data output holding the figure (for ``widgets.Output.outputs``).

    :param fig: a Plotly figure.
    """
    return {"output_type": "display_data", "data": figure_mimebundle(fig), "metadata": {}}


def figure_text_fields(spec: Mapping[str, Any]) -> list[str]:
    """Every string in a figure's JSON (used by tests to check nothing unescaped slips through).

    :param spec: the figure's JSON.
    """
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, Mapping):
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(spec)
    return found
