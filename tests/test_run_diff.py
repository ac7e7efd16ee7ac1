"""mlnb.tracking.run_diff over real runs, on both store engines: params, tags, metric deltas, the
cell's source, the kernel histories (from a real IPython shell, and from a real kernel driven as
JupyterLab drives it, with cell ids) and the packages."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from magic_shell import TestingShell

import mlnb
from mlnb.entities import Metric
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store, StoreLocation
from mlnb.tracking.client import current_client
from mlnb.tracking.run_diff import MetricStats, align_histories, diff_runs
from mlnb.tracking.run_record import HistoryEntry, parse_requirements, source_hash

pytestmark = pytest.mark.both_backends
pytest_plugins = ("magic_shell",)


def _run(name: str, experiment: str = "diffs", params: dict[str, Any] | None = None,
         tags: dict[str, str] | None = None, metrics: dict[str, list[float]] | None = None,
         files: dict[str, str] | None = None) -> str:
    mlnb.set_experiment(experiment)
    with mlnb.start_run(run_name=name) as run:
        mlnb.log_params(params or {})
        mlnb.set_tags(tags or {})
        for key, values in (metrics or {}).items():
            for step, value in enumerate(values):
                mlnb.log_metric(key, value, step=step)
        for path, text in (files or {}).items():
            mlnb.log_text(text, path)
    return str(run.info.run_id)


def test_params_tags_and_metrics_of_two_runs_in_different_experiments(tracking: Path) -> None:
    a = _run("base", "exp-one", params={"lr": 0.1, "epochs": 10, "seed": 1},
             tags={"team": "red", "stage": "dev"},
             metrics={"loss": [1.0, 0.5, 0.8, 0.6], "acc": [0.7], "nanny": [math.nan],
                      "system/cpu_utilization_percentage": [50.0]})
    b = _run("tuned", "exp-two", params={"lr": 0.05, "epochs": 10, "batch": 64},
             tags={"team": "blue"},
             metrics={"loss": [0.9, 0.3, 0.4], "f1": [0.5], "nanny": [1.0],
                      "system/cpu_utilization_percentage": [50.0]})
    found = diff_runs(a, mlnb.get_run(b))
    assert (found.a.run_name, found.a.experiment_name, found.b.run_name,
            found.b.experiment_name) == ("base", "exp-one", "tuned", "exp-two")
    assert found.params.added == {"batch": "64"}
    assert found.params.removed == {"seed": "1"}
    assert found.params.changed == {"lr": ("0.1", "0.05")}
    assert found.params.unchanged == {"epochs": "10"}
    assert (found.tags.added, found.tags.removed, found.tags.changed) == (
        {}, {"stage": "dev"}, {"team": ("red", "blue")})
    assert not any(k.startswith(("mlnb.", "mlflow.")) for k in found.tags.unchanged)
    assert "mlflow.runName" not in {**found.system_tags.changed, **found.system_tags.unchanged}
    by_key = {m.key: m for m in found.metrics}
    assert [m.key for m in found.metrics] == ["acc", "f1", "loss", "nanny",
                                              "system/cpu_utilization_percentage"]
    loss = by_key["loss"]
    assert loss.status == "changed" and not loss.system
    assert loss.a is not None and loss.b is not None
    assert (loss.a.last, loss.a.min, loss.a.max, loss.a.points) == (0.6, 0.5, 1.0, 4)
    assert (loss.b.last, loss.b.min, loss.b.max, loss.b.points) == (0.4, 0.3, 0.9, 3)
    assert loss.delta() == pytest.approx(-0.2) and loss.relative() == pytest.approx(-1 / 3)
    assert loss.delta("min") == pytest.approx(-0.2) and loss.delta("max") == pytest.approx(-0.1)
    assert (by_key["acc"].status, by_key["acc"].b, by_key["acc"].delta()) == ("removed", None, None)
    assert (by_key["f1"].status, by_key["f1"].a) == ("added", None)
    nanny = by_key["nanny"]
    assert nanny.a is not None and math.isnan(nanny.a.last) and nanny.a.min is None
    assert nanny.delta() is None and nanny.relative() is None
    assert by_key["system/cpu_utilization_percentage"].system
    assert by_key["system/cpu_utilization_percentage"].status == "same"
    data = found.to_dict()
    json.dumps(data)  # JSON-ready (NaN is a float that the server writes as "NaN")
    assert data["params"]["changed"] == {"lr": {"a": "0.1", "b": "0.05"}}
    assert data["metrics"][2]["delta"]["last"] == pytest.approx(-0.2)


def test_min_and_max_of_long_histories_are_exact(tracking: Path) -> None:
    values = [math.sin(i / 300) * (1 + i / 10_000) for i in range(12_000)]
    values[7_777] = -5.0
    values[9_001] = math.nan
    client = current_client()
    with mlnb.start_run() as a:
        points = [Metric("wave", v, 1000 + i, i) for i, v in enumerate(values)]
        for start in range(0, len(points), 5_000):
            client.log_batch(a.info.run_id, metrics=points[start:start + 5_000])
    with mlnb.start_run() as b:
        mlnb.log_metric("wave", 2.0)
    [wave] = diff_runs(a.info.run_id, b.info.run_id).metrics
    finite = [v for v in values if not math.isnan(v)]
    assert wave.a is not None and wave.b is not None
    assert (wave.a.min, wave.a.max, wave.a.last, wave.a.points) == (
        -5.0, max(finite), values[-1], 12_000)
    assert wave.delta("min") == 7.0 and wave.relative("min") == pytest.approx(7 / 5)


def test_a_missing_run_and_a_wrong_argument_are_named(tracking: Path) -> None:
    a = _run("here")
    with pytest.raises(NotFoundError, match=r"No run with id 'f{32}'"):
        diff_runs(a, "f" * 32)
    with pytest.raises(NotFoundError, match="No run with id 'nope'"):
        diff_runs("nope", a)
    with pytest.raises(InvalidParameterError, match="diff takes run ids, Runs or ActiveRuns, not int"):
        diff_runs(a, 42)
    [same] = [m for m in diff_runs(a, a).metrics] or [None]
    assert same is None  # no metrics: nothing to compare
    with pytest.raises(InvalidParameterError, match="stat must be one of last, min, max"):
        MetricStats(1.0, 1.0, 1.0, 1).value("median")


def test_requirement_files_give_the_environment_diff(tracking: Path) -> None:
    a = _run("old", files={"model/requirements.txt": "numpy==1.26.4\npandas==2.1.0\nscipy>=1.10\n"})
    b = _run("new", files={"requirements.txt": "# pinned\nnumpy==2.0.1\nscikit_learn==1.5.0 ; "
                                               "python_version > '3'\nscipy>=1.10\n"})
    env = diff_runs(a, b).environment
    assert env.compared
    assert env.a.sources == ("model/requirements.txt",) and env.b.sources == ("requirements.txt",)
    assert env.added == {"scikit-learn": "1.5.0"}
    assert env.removed == {"pandas": "2.1.0"}
    assert env.changed == {"numpy": ("1.26.4", "2.0.1")}
    assert env.unchanged == 1
    nothing = _run("bare")
    env = diff_runs(a, nothing).environment
    assert not env.compared and (env.added, env.removed, env.changed) == ({}, {}, {})


@pytest.mark.parametrize(("text", "expected"), [
    ("numpy==1.0\n", {"numpy": "1.0"}),
    ("Scikit_Learn===1.5\n", {"scikit-learn": "1.5"}),
    ("torch[cuda] == 2.1 ; sys_platform == 'linux'  # gpu\n", {"torch": "2.1"}),
    ("pkg @ https://example.com/p.whl\n", {"pkg": "@ https://example.com/p.whl"}),
    ("-r other.txt\n--hash=sha256:00\n# comment\n\nzope.interface>=5\n", {"zope-interface": ">=5"}),
])
def test_requirement_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_requirements(text) == expected


def test_histories_align_by_cell_id_and_flag_edits() -> None:
    def entry(count: int, cell: str | None, source: str) -> HistoryEntry:
        return HistoryEntry(count, cell, source_hash(source))

    a = [entry(1, "load", "%load_ext mlnb"), entry(2, "data", "lr = 0.1"), entry(3, "prep", "x = 1")]
    b = [entry(1, "load", "%load_ext mlnb"), entry(2, "data", "lr = 0.2"), entry(3, "new", "y = 2"),
         entry(4, "prep", "x = 1"), entry(5, "data", "lr = 0.3")]
    rows = align_histories(a, b)
    assert [(r.a and r.a.execution_count, r.b and r.b.execution_count, r.status, r.elsewhere)
            for r in rows] == [(1, 1, "same", None), (2, 2, "edited", None),
                               (None, 3, "only_b", None), (3, 4, "same", None),
                               (None, 5, "only_b", "edited")]
    # Without cell ids (nbclient, a terminal IPython) cells are matched by their source.
    plain = align_histories([entry(1, None, "a = 1"), entry(2, None, "b = 1")],
                            [entry(1, None, "a = 1"), entry(2, None, "b = 2"), entry(3, None, "b = 1")])
    assert [(r.status, r.elsewhere) for r in plain] == [("same", None), ("only_b", None),
                                                        ("same", None)]


def test_runs_started_in_an_ipython_shell_diff_their_cells(ip: TestingShell) -> None:
    ip.run_cell("import mlnb\nlr = 0.1")
    ip.run_cell("with mlnb.start_run(run_name='first') as run_a:\n    mlnb.log_param('lr', lr)")
    ip.run_cell("lr = 0.2")
    ip.run_cell("with mlnb.start_run(run_name='second') as run_b:\n    mlnb.log_param('lr', lr)\n"
                "    mlnb.log_metric('extra', 1.0)")
    a, b = ip.user_ns["run_a"], ip.user_ns["run_b"]
    found = diff_runs(a, b)
    assert found.params.changed == {"lr": ("0.1", "0.2")}
    cell = found.cell
    assert cell.a is not None and cell.b is not None
    assert cell.a.origin == "mlnb.cell.source" and not cell.a.truncated
    assert cell.identical is False
    assert "-with mlnb.start_run(run_name='first') as run_a:\n" in cell.unified
    assert "+with mlnb.start_run(run_name='second') as run_b:\n" in cell.unified
    assert "+    mlnb.log_metric('extra', 1.0)\n" in cell.unified
    assert cell.unified.startswith(f"--- first ({a.info.run_id[:8]})\n+++ second ")
    history = found.history
    assert history.recorded_a and history.recorded_b
    rows = [(r.status, r.a.source if r.a else None, r.b.source if r.b else None)
            for r in history.rows]
    # In both: %load_ext and the first lr cell; then b's kernel also ran run a's own cell (its
    # source known for certain: the hash is the one run a recorded) and the edited lr cell.
    assert [r[0] for r in rows] == ["same", "same", "only_b", "only_b"]
    assert rows[2][2] == "with mlnb.start_run(run_name='first') as run_a:\n    mlnb.log_param('lr', lr)"
    assert [r.b.execution_count for r in history.rows if r.b] == [1, 2, 3, 4]
    env = found.environment
    assert env.a.sources == ("mlnb.packages",) and env.a.python == env.b.python
    assert "mlnb" in env.a.packages and env.compared


# --- a real kernel, cells sent as JupyterLab sends them (with their ids) -----------------------


class Kernel:
    """A real ipykernel; ``run`` sends an execute request with the cell's id in its metadata."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, cell_id: str, code: str) -> None:
        request = self.client.session.msg(
            "execute_request", {"code": code, "silent": False, "store_history": True,
                                "user_expressions": {}, "allow_stdin": False,
                                "stop_on_error": True}, metadata={"cellId": cell_id})
        self.client.shell_channel.send(request)
        while True:
            reply = self.client.get_shell_msg(timeout=120)
            if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
                break
        assert reply["content"]["status"] == "ok", reply["content"]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    from jupyter_client.manager import start_new_kernel

    (tmp_path / "work").mkdir()
    env = {**os.environ, "MLNB_TRACKING_URI": str(tmp_path / "store"),
           "JPY_SESSION_NAME": str(tmp_path / "work" / "train.ipynb")}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path / "work"), env=env)
    try:
        yield Kernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _write_notebook(path: Path, cells: dict[str, str]) -> None:
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None,
         "outputs": [], "source": source.splitlines(keepends=True)}
        for cell_id, source in cells.items()]}), encoding="utf-8")


@pytest.mark.e2e
@pytest.mark.sqlite_only
def test_track_cells_in_a_real_kernel(kernel: Kernel, tmp_path: Path) -> None:
    first = "%%track first\nloss = 1 - lr\nepochs = 3"
    second = "%%track second\nloss = 1 - lr * 2\nepochs = 3"
    kernel.run("c-load", "%load_ext mlnb")
    kernel.run("c-data", "lr = 0.1")
    kernel.run("c-train", first)
    kernel.run("c-data", "lr = 0.2")  # the data cell edited and run again
    kernel.run("c-extra", "import idna")
    kernel.run("c-train", second)  # the training cell edited
    # The notebook as saved now: the cells' current sources.
    _write_notebook(tmp_path / "work" / "train.ipynb", {
        "c-load": "%load_ext mlnb", "c-data": "lr = 0.2", "c-extra": "import idna",
        "c-train": second})
    store = Store(StoreLocation(tmp_path / "store" / "mlnb.db", tmp_path / "store" / "artifacts"))
    runs = {r.info.run_name: r for r in store.search_runs(["0"], None, 3, 10, None, 0)}
    client = mlnb.MlnbClient(str(tmp_path / "store"))
    found = diff_runs(runs["first"], runs["second"].info.run_id, client=client)

    assert found.metrics[0].key == "loss" and found.metrics[0].delta() == pytest.approx(-0.3)
    assert found.params.unchanged == {"epochs": "3"}
    cell = found.cell
    assert cell.a is not None and cell.b is not None
    assert (cell.a.origin, cell.a.cell_id, cell.b.cell_id) == ("provenance.json", "c-train", "c-train")
    assert (cell.a.execution_count, cell.b.execution_count) == (3, 6)
    assert cell.unified.splitlines()[2:] == ["@@ -1,3 +1,3 @@", "-%%track first",
                                             "-loss = 1 - lr", "+%%track second",
                                             "+loss = 1 - lr * 2", " epochs = 3"]
    rows = [(r.status, r.elsewhere, r.a and r.a.cell_id, r.b and r.b.cell_id,
             r.b.source if r.b else None) for r in found.history.rows]
    assert rows == [
        # %load_ext ran before mlnb listened to the kernel: its id is unknown, its hash matches
        ("same", None, None, None, "%load_ext mlnb"),
        # run b's kernel ran the first version of the data cell too; the notebook holds the
        # second now, so the first one's source is unknown (only a hash is recorded)
        ("same", None, "c-data", "c-data", None),
        ("only_b", None, None, "c-train", first),  # run a's own cell, known by its hash
        ("only_b", "edited", None, "c-data", "lr = 0.2"),
        ("only_b", None, None, "c-extra", "import idna"),
    ]
    env = found.environment
    assert env.a.sources == env.b.sources == ("provenance.json",)
    assert env.added == {"idna": env.b.packages["idna"]} and not env.removed and not env.changed
    assert found.system_tags.changed["mlnb.cell.execution_count"] == ("3", "6")


def test_tags_cut_at_the_size_limit_are_read_as_such(tracking: Path) -> None:
    # What provenance writes when a cell, a history or a package list is longer than a tag holds.
    with mlnb.start_run() as a:
        mlnb.set_tags({"mlnb.cell.source": "x = 1\n" * 3 + "\n... (truncated)",
                       "mlnb.cell.sha256": "0" * 64, "mlnb.cell.id": "c-9",
                       "mlnb.kernel.history": "1:c-a:aaaaaaaaaaaa 2::bbbbbbbbbbbb 3:c-c:cc\n"
                                              "... (truncated)",
                       "mlnb.packages": "numpy==1.0 pandas==2.0\n... (truncated)",
                       "mlnb.python_version": "3.11.7"})
    with mlnb.start_run() as b:
        mlnb.set_tags({"mlnb.cell.source": "x = 2", "mlnb.kernel.history": "",
                       "mlnb.packages": "numpy==1.1"})
    found = diff_runs(a.info.run_id, b.info.run_id)
    assert found.cell.a is not None and found.cell.a.truncated and found.cell.a.cell_id == "c-9"
    assert found.cell.b is not None and not found.cell.b.truncated
    assert [(r.a.execution_count, r.a.cell_id, r.a.sha256) for r in found.history.rows if r.a] == [
        (1, "c-a", "aaaaaaaaaaaa"), (2, None, "bbbbbbbbbbbb"), (3, "c-c", "cc")]
    assert found.history.recorded_b and all(r.status == "only_a" for r in found.history.rows)
    env = found.environment
    assert env.a.truncated and not env.b.truncated and env.a.python == "3.11.7"
    assert env.changed == {"numpy": ("1.0", "1.1")} and env.removed == {"pandas": "2.0"}
    assert "mlnb.cell.id" in found.system_tags.removed  # the rest of the provenance tags
