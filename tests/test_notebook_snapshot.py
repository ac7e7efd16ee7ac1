"""The notebook snapshot of a ``%%track`` run: the notebook as it was when the cell ended, with
the executed source of the tracked cell (the file on disk may be older), capped and switchable."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from magic_shell import TestingShell
from test_run_diff import Kernel, _write_notebook

from mlnb.capture.notebook_snapshot import (
    SnapshotError,
    SnapshotRequest,
    build_snapshot,
    read_notebook,
)
from mlnb.notebook import snapshot
from mlnb.store import Store, StoreLocation
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.tracking.run_diff import diff_runs

pytest_plugins = ("magic_shell",)

OLD = "%%track first\nloss = 0.5\n"
RAN = "%%track first\nloss = 0.25\nepochs = 3"


def _notebook(path: Path, cells: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": cells}), encoding="utf-8")


def _code(cell_id: str, source: str, outputs: list[dict[str, Any]] | None = None
          ) -> dict[str, Any]:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": 1,
            "outputs": outputs or [], "source": source.splitlines(keepends=True)}


def _stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _runs(root: Path) -> tuple[Store, dict[str, Any]]:
    store = Store(StoreLocation(root / "mlnb.db", root / "artifacts"))
    runs = store.search_runs(["0"], None, 3, 50, None, 0)
    return store, {r.info.run_name: r for r in runs}


def _snapshots(store: Store, run_id: str) -> list[str]:
    return [p for p, _, _ in store.artifact_files(run_id, "") if p.startswith("notebook/")]


# --- a real kernel, cells sent with their ids as JupyterLab sends them ---------------------------


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    from jupyter_client.manager import start_new_kernel

    (tmp_path / "work").mkdir()
    env = {**os.environ, "MLNB_TRACKING_URI": str(tmp_path / "store"),
           "JPY_SESSION_NAME": str(tmp_path / "work" / "train.ipynb")}
    env.pop("MLNB_ENABLE_NOTEBOOK_SNAPSHOT", None)
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path / "work"), env=env)
    try:
        yield Kernel(client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.e2e
@pytest.mark.sqlite_only
def test_a_real_kernel_keeps_the_notebook_with_the_executed_source(kernel: Kernel,
                                                                     tmp_path: Path) -> None:
    book = tmp_path / "work" / "train.ipynb"
    # The notebook as last saved: the tracked cell still holds an older source and its output.
    _notebook(book, [
        _code("c-load", "%load_ext mlnb"),
        {"cell_type": "markdown", "id": "m-1", "metadata": {}, "source": ["# Training"]},
        _code("c-data", "lr = 0.1", [_stream("data loaded\n")]),
        _code("c-train", OLD, [_stream("an earlier execution's output\n")]),
    ])
    os.utime(book, (1_700_000_000, 1_700_000_000))
    kernel.run("c-load", "%load_ext mlnb")
    kernel.run("c-data", "lr = 0.1")
    kernel.run("c-train", RAN)  # edited in the browser, run without saving
    kernel.run("c-off", "%%track second --no-notebook\nloss = 0.1")
    kernel.run("c-off2", "%%track third --no-capture notebook\nloss = 0.1")
    kernel.run("c-env", "%env MLNB_ENABLE_NOTEBOOK_SNAPSHOT=false")
    kernel.run("c-off3", "%%track fourth\nloss = 0.1")
    kernel.run("c-env", "%env MLNB_ENABLE_NOTEBOOK_SNAPSHOT=true")
    kernel.run("c-cfg", "%config TrackMagics.notebook_snapshot = False")
    kernel.run("c-off4", "%%track fifth\nloss = 0.1")
    kernel.run("c-flush", "import mlnb\nmlnb.flush()")

    store, runs = _runs(tmp_path / "store")
    first = runs["first"].info.run_id
    assert _snapshots(store, first) == ["notebook/train.ipynb"]
    kept = json.loads(store.artifact_path(first, "notebook/train.ipynb").read_bytes())
    meta = kept["metadata"]["mlnb"]["snapshot"]
    assert meta["cell_id"] == "c-train" and meta["cell_found"] is True
    assert meta["source_matched"] is False
    assert meta["from_disk_mtime"] == datetime.fromtimestamp(
        1_700_000_000, timezone.utc).isoformat(timespec="seconds")
    saved = datetime.fromisoformat(meta["saved_at"])
    assert abs((datetime.now(timezone.utc) - saved).total_seconds()) < 120
    assert "outputs_dropped" not in meta
    cells = {c["id"]: c for c in kept["cells"]}
    train = cells["c-train"]
    assert "".join(train["source"]) == RAN
    assert train["metadata"]["mlnb"] == {"executed_source": True, "source_matched": False}
    assert train["outputs"] == []  # the disk's output came from the older source
    assert train["execution_count"] == 3
    assert cells["c-data"]["outputs"] == [_stream("data loaded\n")]  # the rest is as on disk
    assert cells["m-1"]["source"] == ["# Training"] and "mlnb" not in cells["m-1"]["metadata"]
    assert json.loads(book.read_text())["cells"][3]["source"] == OLD.splitlines(True)  # untouched
    for name in ("second", "third", "fourth", "fifth"):
        assert _snapshots(store, runs[name].info.run_id) == [], name

    # The data cell edited after the runs: its source as it ran is recovered from the snapshot.
    _write_notebook(book, {"c-load": "%load_ext mlnb", "c-data": "lr = 0.3", "c-train": RAN})
    found = diff_runs(first, runs["second"].info.run_id,
                      client=MlnbClient(str(tmp_path / "store")), notebook_root=tmp_path / "work")
    sources = {r.b.cell_id: r.b.source for r in found.history.rows if r.b is not None}
    assert sources["c-data"] == "lr = 0.1"


@pytest.mark.e2e
@pytest.mark.sqlite_only
def test_a_huge_notebook_is_kept_without_its_outputs(kernel: Kernel, tmp_path: Path) -> None:
    book = tmp_path / "work" / "train.ipynb"
    big = "x" * 1000 + "\n"
    _notebook(book, [_code("c-load", "%load_ext mlnb"),
                     _code("c-big", "print(...)", [_stream(big * 21_000)]),  # 21 MB of output
                     _code("c-train", RAN)])
    kernel.run("c-load", "%load_ext mlnb")
    kernel.run("c-train", RAN)  # the file already holds this source
    kernel.run("c-flush", "import mlnb\nmlnb.flush()")

    store, runs = _runs(tmp_path / "store")
    run_id = runs["first"].info.run_id
    [(path, size, _)] = [f for f in store.artifact_files(run_id, "notebook")]
    assert path == "notebook/train.ipynb" and size < 20_000_000
    kept = json.loads(store.artifact_path(run_id, path).read_bytes())
    meta = kept["metadata"]["mlnb"]["snapshot"]
    assert meta["source_matched"] is True
    assert "over the 20000000-byte cap: every output was left out" in meta["outputs_dropped"]
    assert [c["outputs"] for c in kept["cells"]] == [[], [], []]
    assert [c["source"] for c in kept["cells"]][1] == ["print(...)"]


# --- in process: the problems are warnings, never the cell's error --------------------------------


def _request(**changes: Any) -> SnapshotRequest:
    values: dict[str, Any] = {"notebook_path": "nb.ipynb", "cwd": Path("."), "cell_id": "c-1",
                              "source": RAN, "execution_count": 4}
    return SnapshotRequest(**{**values, **changes})


def test_an_unknown_cell_adds_nothing() -> None:
    data = json.dumps({"cells": [_code("c-2", OLD, [_stream("out\n")])], "metadata": {},
                       "nbformat": 4}).encode()
    text, meta = build_snapshot(_request(), data, 0.0)
    kept = json.loads(text)
    assert meta["cell_found"] is False and meta["source_matched"] is None
    assert kept["cells"] == [_code("c-2", OLD, [_stream("out\n")])]
    # Without an id only a cell with exactly the executed source is taken for the run's cell.
    text, meta = build_snapshot(_request(cell_id=None), data, 0.0)
    assert meta["cell_found"] is False and json.loads(text)["cells"][0]["outputs"]
    same = json.dumps({"cells": [_code("c-2", RAN)], "nbformat": 4}).encode()
    text, meta = build_snapshot(_request(cell_id=None), same, 0.0)
    assert meta["cell_found"] is True and meta["source_matched"] is True


@pytest.mark.parametrize("data, problem", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (json.dumps({"cells": [_code("c-9", "y" * 5000)]}).encode(), "without its outputs, over"),
])
def test_bad_or_oversized_notebooks_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(SnapshotError, match=problem):
        build_snapshot(_request(max_bytes=1000), data, 0.0)


def test_symlinks_and_special_files_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    link = tmp_path / "nb.ipynb"
    link.symlink_to(secret)
    with pytest.raises(SnapshotError, match="could not be opened"):
        read_notebook(link)
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(SnapshotError, match="not a regular file"):
        read_notebook(fifo)  # and it does not block


@pytest.mark.sqlite_only
def test_a_snapshot_problem_is_a_warning_and_the_cell_succeeds(
        ip: TestingShell, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (tmp_path / "nb.ipynb").symlink_to(secret)
    ip.user_ns["__session__"] = str(tmp_path / "nb.ipynb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ip.run_cell("%%track linked\nloss = 0.5")
        snapshot.wait()
    run = current_client().search_runs(["0"])[0]
    assert run.info.status == "FINISHED" and run.data.metrics["loss"] == 0.5
    assert _snapshots(current_client().store, run.info.run_id) == []
    [message] = [str(w.message) for w in caught if "snapshot" in str(w.message)]
    assert f"no notebook snapshot for run {run.info.run_id}" in message
    assert "could not be opened" in message
    with warnings.catch_warnings(record=True) as again:  # the same problem is told once
        warnings.simplefilter("always")
        ip.run_cell("%%track linked\nloss = 0.5")
        snapshot.wait()
    assert not [w for w in again if "snapshot" in str(w.message)]
    # A regular notebook at the same path: kept, found by the source (no cell id in this shell).
    (tmp_path / "nb.ipynb").unlink()
    _write_notebook(tmp_path / "nb.ipynb", {"c-1": "%%track again\nloss = 0.25"})
    ip.run_cell("%%track again\nloss = 0.25")
    snapshot.wait()
    again = current_client().search_runs(["0"], order_by=["start_time DESC"])[0]
    assert _snapshots(current_client().store, again.info.run_id) == ["notebook/nb.ipynb"]


def test_a_notebook_never_saved_gets_no_snapshot_and_no_warning(
        ip: TestingShell, tmp_path: Path) -> None:
    # nbclient and papermill run notebooks from memory: the kernel's notebook path names no file
    ip.user_ns["__session__"] = str(tmp_path / "in-memory.ipynb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ip.run_cell("%%track unsaved\nloss = 0.5")
        snapshot.wait()
    run = current_client().search_runs(["0"])[0]
    assert run.info.status == "FINISHED"
    assert _snapshots(current_client().store, run.info.run_id) == []
    assert not [w for w in caught if "snapshot" in str(w.message)]
