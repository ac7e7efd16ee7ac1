"""The server extension refuses a found store that is not private, as a kernel does (item 2),
and its runs route skips a malformed row instead of failing (item 12)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from mlnb.errors import MalformedRowWarning
from mlnb.store import Store, StoreLocation

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # The extension exports MLNB_TRACKING_URI into os.environ; monkeypatch restores it afterwards.
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


@pytest.fixture
def open_to_all(jp_root_dir: Path) -> Path:
    """A store in the server's root that every local user may write (made before the server)."""
    folder = jp_root_dir / ".mlnb"
    store = Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))
    store.create_experiment("exp-a")
    store.close()
    folder.chmod(0o777)
    return folder


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="no POSIX owners and modes")
async def test_server_refuses_a_found_store_others_can_write(open_to_all: Path,
                                                              jp_fetch: Any) -> None:
    for route in ("version", "experiments", "runs"):
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch("mlnb", "api", route)
        assert caught.value.code == 403
        assert caught.value.response is not None
        body = json.loads(caught.value.response.body)
        assert body["message"].startswith(f"mlnb will not use the store {open_to_all}")
        assert "writable by group and others" in body["message"]
    # Its kernels are not told to use the refused store: they meet the same refusal themselves.
    assert "MLNB_TRACKING_URI" not in os.environ


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="no POSIX owners and modes")
async def test_server_claims_the_store_it_hands_to_kernels(jp_root_dir: Path, jp_fetch: Any
                                                            ) -> None:
    """Kernels get the store as an explicit URI (only a warning when it is not private), so the
    server creates it, private, before it hands it out: nobody can plant it in between."""
    response = await jp_fetch("mlnb", "api", "version")
    assert response.code == 200
    folder = jp_root_dir / ".mlnb"
    assert os.environ["MLNB_TRACKING_URI"] == str(folder)
    assert folder.is_dir() and folder.stat().st_uid == os.geteuid()
    assert folder.stat().st_mode & 0o777 == 0o700


@pytest.fixture
def damaged(jp_root_dir: Path) -> dict[str, str]:
    """The server's store with good runs, a RUNNING run whose pid is text and a run whose
    start time is text (made before the server starts)."""
    folder = jp_root_dir / ".mlnb"
    store = Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))
    ids = {name: store.create_run("0", run_name=name).run_id for name in ("good", "pid", "time")}
    store.close()
    with sqlite3.connect(folder / "mlnb.db") as cx:
        cx.execute("UPDATE runs SET pid = 'abc', host = ? WHERE run_id = ?",
                   [socket.gethostname(), ids["pid"]])
        cx.execute("UPDATE runs SET start_time = 'x' WHERE run_id = ?", [ids["time"]])
    return ids


async def test_runs_route_skips_a_malformed_row(damaged: dict[str, str], jp_fetch: Any) -> None:
    with pytest.warns(MalformedRowWarning) as caught:
        response = await jp_fetch("mlnb", "api", "runs", params={"experiment_id": "0"})
    assert response.code == 200
    page = json.loads(response.body)
    assert sorted(r["run_name"] for r in page["runs"]) == ["good", "pid"]
    messages = " ".join(str(w.message) for w in caught)
    assert f"run '{damaged['time']}' of the store: its start_time is 'x'" in messages
    assert f"liveness check of run '{damaged['pid']}' of the store: its pid is 'abc'" in messages
