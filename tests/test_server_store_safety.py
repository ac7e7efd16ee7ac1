"""The server extension refuses a found store that is not private, as a kernel does (item 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

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
