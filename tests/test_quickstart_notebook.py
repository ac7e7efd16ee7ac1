"""notebooks/quickstart.ipynb runs headless in a real kernel and leaves the runs it promises."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mlnb.store import Store, StoreLocation

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"

pytestmark = pytest.mark.e2e


def test_notebook_is_stored_without_outputs_and_matches_its_generator() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in notebook.cells if c.cell_type == "code")
    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    try:
        from make_quickstart_notebook import build
    finally:
        sys.path.pop(0)
    assert [c.source for c in notebook.cells] == [c.source for c in build().cells]


def test_quickstart_executes_and_fills_the_store(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store_dir = tmp_path / "store"
    monkeypatch.setenv("MLNB_TRACKING_URI", str(store_dir))
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   timeout=120).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []

    store = Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))
    try:
        experiment = store.get_experiment_by_name("quickstart")
        assert experiment is not None
        runs = store.search_runs([experiment.experiment_id], max_results=100)
        names = sorted(r.info.run_name for r in runs)
        assert names == sorted(["lr-0.1", "lr-0.03", "lr-0.01", "cross-validation", "fold-0",
                                "fold-1", "fold-2", "with-artifacts"])
        assert {r.info.status for r in runs} == {"FINISHED"}
        by_name = {r.info.run_name: r for r in runs}
        assert by_name["lr-0.1"].data.params == {"lr": "0.1", "epochs": "20"}
        assert len(store.get_metric_history(by_name["lr-0.01"].info.run_id, "loss")) == 20
        parent = by_name["cross-validation"].info.run_id
        assert sorted(store.get_run(c).info.run_name for c in store.child_run_ids(parent)) == [
            "fold-0", "fold-1", "fold-2"]
        assert by_name["cross-validation"].data.metrics["mean_accuracy"] == pytest.approx(0.85)
        artifacts = {f.path for f in store.list_artifacts(by_name["with-artifacts"].info.run_id)}
        assert artifacts == {"config.json", "notes", "tables"}
        assert not (tmp_path / ".mlnb").exists()  # the kernel used MLNB_TRACKING_URI
    finally:
        store.close()
    # What the notebook showed the reader: the best run first, and the artifact list.
    outputs = {i: "".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                          for o in c.outputs) for i, c in enumerate(notebook.cells)
               if c.cell_type == "code"}
    assert any("lr-0.1" in text and "metrics.accuracy" in text for text in outputs.values())
    assert any("'config.json'" in text for text in outputs.values())
