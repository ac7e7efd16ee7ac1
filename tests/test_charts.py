"""Chart builders checked on the figure data they return (no kernel, no widget)."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from mlnb.entities import Metric, Run, RunData, RunInfo
from mlnb.widgets import charts


def _run(name: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    info = RunInfo(run_id=name * 4, experiment_id="0", run_name=name, status="FINISHED",
                   start_time=0, end_time=1, artifact_uri="")
    return Run(info, RunData(metrics=metrics, params=params))


def _points(key: str, values: list[float], t0: int = 1_000_000) -> list[Metric]:
    return [Metric(key, v, t0 + 500 * i, i) for i, v in enumerate(values)]


def test_ema_follows_the_recurrence() -> None:
    values = [1.0, 3.0, 2.0, 6.0]
    a = 0.5
    expected = [1.0]
    for x in values[1:]:
        expected.append(a * expected[-1] + (1 - a) * x)
    assert expected == charts.ema(values, a)
    assert [1.0, 2.0, 2.0, 4.0] == charts.ema(values, a)


def test_ema_zero_is_identity_and_nan_does_not_spread() -> None:
    assert [1.0, 2.0] == charts.ema([1.0, 2.0], 0.0)
    out = charts.ema([2.0, math.nan, 4.0], 0.5)
    assert out[0] == 2.0 and math.isnan(out[1]) and out[2] == 3.0


def test_ema_rejects_smoothing_of_one() -> None:
    with pytest.raises(ValueError, match="smoothing"):
        charts.ema([1.0], 1.0)


def test_history_has_one_trace_per_run_with_steps_and_values() -> None:
    series = [("run-a", _points("loss", [3.0, 2.0, 1.0])), ("run-b", _points("loss", [4.0, 2.0]))]
    fig = charts.metric_history_figure(series, "loss")
    assert ["run-a", "run-b"] == [t.name for t in fig.data]
    assert [0, 1, 2] == list(fig.data[0].x)
    assert [3.0, 2.0, 1.0] == list(fig.data[0].y)
    assert "linear" == fig.layout.yaxis.type
    assert "Step" == fig.layout.xaxis.title.text


def test_history_smoothing_and_log_axis() -> None:
    series = [("r", _points("loss", [1.0, 3.0, 2.0, 6.0]))]
    fig = charts.metric_history_figure(series, "loss", smoothing=0.5, log_y=True)
    assert [1.0, 2.0, 2.0, 4.0] == list(fig.data[0].y)
    assert "log" == fig.layout.yaxis.type
    assert "EMA 0.5" in fig.layout.title.text


def test_history_over_relative_time_and_wall_time() -> None:
    series = [("r", _points("acc", [0.1, 0.2, 0.3]))]
    rel = charts.metric_history_figure(series, "acc", x_axis="relative")
    assert [0.0, 0.5, 1.0] == list(rel.data[0].x)
    wall = charts.metric_history_figure(series, "acc", x_axis="time")
    assert 3 == len(wall.data[0].x) and "Time" == wall.layout.xaxis.title.text
    with pytest.raises(ValueError, match="x_axis"):
        charts.metric_history_figure(series, "acc", x_axis="epoch")


def test_parallel_coordinates_numeric_and_categorical_axes() -> None:
    runs = [_run("a", {"C": "0.1", "solver": "lbfgs"}, {"acc": 0.8}),
            _run("b", {"C": "1.0", "solver": "saga"}, {"acc": 0.9}),
            _run("c", {"C": "10"}, {"loss": 1.0})]  # no acc: left out
    fig = charts.parallel_coordinates_figure(runs, "acc")
    dims = fig.data[0].dimensions
    assert ["C", "solver", "acc"] == [d.label for d in dims]
    assert [0.1, 1.0] == list(dims[0].values)
    assert ["lbfgs", "saga"] == list(dims[1].ticktext)
    assert [0, 1] == list(dims[1].values)
    assert [0.8, 0.9] == list(dims[2].values)
    assert [0.8, 0.9] == list(fig.data[0].line.color)


def test_scatter_of_param_against_metric() -> None:
    runs = [_run("a", {"C": "0.1"}, {"acc": 0.8}), _run("b", {"C": "1.0"}, {"acc": 0.9}),
            _run("c", {}, {"acc": 0.5})]
    fig = charts.param_scatter_figure(runs, "C", "acc")
    assert [0.1, 1.0] == list(fig.data[0].x)
    assert [0.8, 0.9] == list(fig.data[0].y)
    assert ["a", "b"] == list(fig.data[0].text)
    assert "linear" == fig.layout.xaxis.type
    cat = charts.param_scatter_figure([_run("a", {"opt": "adam"}, {"acc": 1.0})], "opt", "acc")
    assert ["adam"] == list(cat.data[0].x) and "category" == cat.layout.xaxis.type


def test_final_metrics_bar_has_one_trace_per_metric() -> None:
    runs = [_run("a", {}, {"acc": 0.8, "loss": 0.3}), _run("b", {}, {"acc": 0.9})]
    fig = charts.final_metrics_figure(runs)
    assert ["acc", "loss"] == [t.name for t in fig.data]
    assert ["a", "b"] == list(fig.data[0].x)
    assert [0.8, 0.9] == list(fig.data[0].y)
    assert [0.3, None] == list(fig.data[1].y)
    assert "group" == fig.layout.barmode


def test_figure_output_is_a_plotly_display() -> None:
    fig = charts.sparkline_figure(_points("acc", [0.1, 0.2]), "acc")
    out = charts.figure_output(fig)
    spec = out["data"][charts.PLOTLY_MIME]
    assert "display_data" == out["output_type"]
    y = spec["data"][0]["y"]  # numpy arrays travel as plotly.js typed arrays
    assert [0.1, 0.2] == list(np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]))
    assert "acc" == spec["layout"]["title"]["text"]


def test_plotly_text_keeps_quotes_readable_and_tags_inert():
    from mlnb.widgets.escape import escape_plotly

    assert escape_plotly('lr="0.1" it\'s') == 'lr="0.1" it\'s'
    assert escape_plotly("<b onmouseover=x>$\\href{javascript:alert(1)}{x}$") == (
        "&lt;b onmouseover=x&gt;&#36;\\href{javascript:alert(1)}{x}&#36;")
