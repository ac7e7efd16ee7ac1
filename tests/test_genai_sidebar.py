"""The sidebar's registry list (a real Jupyter Server) shows models, never prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlnb.store import Store, StoreLocation

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)  # the server finds <root>/.mlnb
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


async def test_sidebar_lists_models_not_prompts(jp_fetch: Any, jp_root_dir: Path) -> None:
    store = Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db", jp_root_dir / ".mlnb" / "artifacts"))
    store.create_registered_model("churn")
    store.create_prompt_version("qa", "Hi {{name}}", {"_mlflow_prompt_type": "text"})
    response = await jp_fetch("mlnb", "api", "models")
    assert [m["name"] for m in json.loads(response.body)["models"]] == ["churn"]
