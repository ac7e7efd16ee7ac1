"""Real kernels (nbclient) executing notebooks/tracking.ipynb and notebooks/autolog.ipynb."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mlnb.store import Store, StoreLocation

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
pytestmark = pytest.mark.e2e


def _execute(nb: Any, folder: Path) -> None:
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(folder)}}).execute()


def _store(store_dir: Path) -> Store:
    return Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLNB_TRACKING_URI", str(tmp_path / "store"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "work" / "tracking.ipynb"))
    (tmp_path / "work").mkdir()
    return tmp_path


def _runs(store: Store) -> dict[str, Any]:
    experiments = [e.experiment_id for e in store.search_experiments(3, None, 1000, None)]
    return {r.info.run_name: r for r in store.search_runs(experiments, "", 3, 1000, None, 0)}


def test_tracking_notebook(kernel_env: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / "tracking.ipynb", as_version=4)
    _execute(nb, kernel_env / "work")
    store = _store(kernel_env / "store")
    runs = _runs(store)
    base = runs["baseline"]
    assert base.info.status == "FINISHED"
    assert base.data.params == {"lr": "0.05", "epochs": "20", "hidden": "32",
                                "activation": "relu"}
    assert set(base.data.metrics) == {"train_loss", "val_accuracy", "loss"}
    assert len(store.get_metric_history(base.info.run_id, "train_loss")) == 20
    tags = base.data.tags
    assert tags["mlnb.notebook.path"] == str(kernel_env / "work" / "tracking.ipynb")
    assert tags["purpose"] == "demo"
    assert tags["mlnb.cell.source"].startswith("%%track baseline")
    paths = {f.path for f in store.list_artifacts(base.info.run_id, "")}
    assert {"files", "provenance.json", "stdout.txt"} <= paths
    assert [f.path for f in store.list_artifacts(base.info.run_id, "files")] == \
        ["files/predictions.csv"]
    figure = runs["with-figure"]
    [plot] = store.list_artifacts(figure.info.run_id, "figures")
    data = json.loads(store.artifact_path(figure.info.run_id, plot.path).read_text())
    assert data["data"][0]["y"] == [3, 1, 2]
    summary = nb.cells[2].outputs[-1]["text"].strip().splitlines()[-1]
    assert summary.startswith(f"mlnb: run baseline ({base.info.run_id}) FINISHED in ")
    assert summary.endswith("4 params, 3 metrics, 3 artifacts")
    live = [o for o in nb.cells[2].outputs if o.get("output_type") == "display_data"]
    assert live and "application/vnd.plotly.v1+json" in live[0]["data"]


def test_failing_cell_stops_the_notebook(kernel_env: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext mlnb"),
                nbformat.v4.new_code_cell("%%track doomed\nlr = 0.1\nraise RuntimeError('diverged')"),
                nbformat.v4.new_code_cell("after = 1\nopen('after.txt', 'w').write('ran')")]
    with pytest.raises(CellExecutionError, match="diverged"):
        _execute(nb, kernel_env / "work")
    assert not (kernel_env / "work" / "after.txt").exists()
    run = _runs(_store(kernel_env / "store"))["doomed"]
    assert run.info.status == "FAILED"
    assert run.data.tags["mlnb.error"] == "RuntimeError: diverged"
    assert "raise RuntimeError('diverged')" in run.data.tags["mlnb.traceback"]


def test_autolog_notebook(kernel_env: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / "autolog.ipynb", as_version=4)
    _execute(nb, kernel_env / "work")
    runs = list(_runs(_store(kernel_env / "store")).values())
    [cell] = [r for r in runs if r.info.run_name == "pipeline-in-cell"]
    assert cell.data.tags["estimator_name"] == "Pipeline"
    assert cell.data.params["logisticregression__max_iter"] == "300"
    assert "training_accuracy_score" in cell.data.metrics
    [search] = [r for r in runs if r.data.tags.get("estimator_name") == "GridSearchCV"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == search.info.run_id]
    assert len(children) == 3
    assert "best_C" in search.data.params
