import pytest

import mlnb
from mlnb.entities import Metric
from mlnb.errors import NotFoundError

pytestmark = pytest.mark.both_backends


def test_mlnb_run_id_env_resumes_that_run_once(tracking, monkeypatch):
    with mlnb.start_run(run_name="launcher") as launcher:
        pass
    monkeypatch.setenv("MLNB_RUN_ID", launcher.run_id)
    with mlnb.start_run() as run:
        mlnb.log_param("from_script", 1)
    assert run.run_id == launcher.run_id
    assert mlnb.get_run(launcher.run_id).data.params == {"from_script": "1"}
    with mlnb.start_run() as second:  # the variable is consumed, as MLflow's MLFLOW_RUN_ID
        pass
    assert second.run_id != launcher.run_id


def test_get_runs_keeps_order_and_names_missing_id(store):
    a, b = store.create_run("0", "a"), store.create_run("0", "b")
    assert [r.info.run_name for r in store.get_runs([b.run_id, a.run_id])] == ["b", "a"]
    with pytest.raises(NotFoundError, match="'f{32}'".replace("f{32}", "f" * 32)):
        store.get_runs([a.run_id, "f" * 32])


def test_runs_can_be_filtered_and_ordered_by_duration(store):
    short = store.create_run("0", "short", start_time=1_000)
    long = store.create_run("0", "long", start_time=1_000)
    store.update_run(short.run_id, status="FINISHED", end_time=2_000)
    store.update_run(long.run_id, status="FINISHED", end_time=9_000)
    runs = store.search_runs(["0"], "attributes.duration > 5000")
    assert [r.info.run_name for r in runs] == ["long"]
    ordered = store.search_runs(["0"], order_by=["attributes.duration ASC"])
    assert [r.info.run_name for r in ordered] == ["short", "long"]


def test_metric_histories_group_points_in_step_order(store):
    run = store.create_run("0")
    store.log_batch(run.run_id, metrics=[Metric("m", float(s), 100 - s, s) for s in (2, 0, 1)])
    history = store.metric_histories([run.run_id])[run.run_id]["m"]
    assert [(p.step, p.value) for p in history] == [(0, 0.0), (1, 1.0), (2, 2.0)]


def test_runs_started_in_an_ipython_shell_get_kernel_provenance(tracking):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("x = 1")
        with mlnb.start_run() as run:  # no %load_ext mlnb
            pass
        tags = mlnb.get_run(run.run_id).data.tags
        assert "mlnb.kernel.history" in tags or "mlnb.cell.source" in tags, sorted(tags)
    finally:
        InteractiveShell.clear_instance()


def test_first_run_in_a_kernel_records_the_frontends_cell_id(tracking):
    from IPython.core.interactiveshell import InteractiveShell

    from mlnb.capture import provenance

    shell = InteractiveShell.instance()
    provenance._kernel.current_cell_id = None  # no %load_ext, no listener has seen a cell yet
    shell.parent_header = {"metadata": {"cellId": "0f3c-first-cell"}}  # as ipykernel sets it
    try:
        with mlnb.start_run() as run:
            pass
        assert mlnb.get_run(run.run_id).data.tags["mlnb.cell.id"] == "0f3c-first-cell"
    finally:
        InteractiveShell.clear_instance()


def test_kernel_run_without_a_known_notebook_does_not_guess_its_source(tracking, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    shell = InteractiveShell.instance()  # as under nbclient: a kernel, no notebook path
    try:
        with mlnb.start_run() as run:
            pass
        tags = mlnb.get_run(run.run_id).data.tags
        assert tags["mlflow.source.type"] == "NOTEBOOK"
        assert "mlflow.source.name" not in tags and "mlnb.notebook.path" not in tags
        shell.user_ns["__session__"] = "/work/nb/train.ipynb"
        with mlnb.start_run() as run:
            pass
        tags = mlnb.get_run(run.run_id).data.tags
        assert tags["mlflow.source.type"] == "NOTEBOOK"
        assert tags["mlflow.source.name"] == "/work/nb/train.ipynb"
    finally:
        InteractiveShell.clear_instance()


def test_script_runs_keep_their_local_source(tracking):
    import subprocess
    import sys

    code = ("import mlnb\nwith mlnb.start_run() as r:\n    pass\n"
            "t = mlnb.get_run(r.info.run_id).data.tags\n"
            "print(t['mlflow.source.type'], t['mlflow.source.name'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["LOCAL", "-c"]
