"""Prompts mlnb registered, read by the real MLflow client through mlnb's MLflow REST server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlflow_servers import client_env, start_mlnb_server

from mlnb.store import Store, StoreLocation

READER = """
import json, mlflow
from mlflow import MlflowClient
prod = mlflow.genai.load_prompt("prompts:/qa@production")
v1 = mlflow.genai.load_prompt("prompts:/qa/1")
chat = mlflow.genai.load_prompt("prompts:/chat/1")
print(json.dumps({
    "prod": [prod.version, prod.template, prod.format(question="2+2?"), prod.commit_message],
    "v1": v1.template,
    "chat": chat.format(style="terse"),
    "prompts": sorted(p.name for p in mlflow.genai.search_prompts()),
    "models": sorted(m.name for m in MlflowClient().search_registered_models()),
}))
"""


def test_mlflow_loads_and_formats_prompts_mlnb_registered(tmp_path: Path) -> None:
    store = Store(StoreLocation(tmp_path / "store" / "mlnb.db", tmp_path / "store" / "artifacts"))
    store.create_prompt_version("qa", "Q: {{question}}", {"_mlflow_prompt_type": "text"}, "first")
    store.create_prompt_version("qa", "Answer {{ question }} briefly.",
                                {"_mlflow_prompt_type": "text"}, "shorter")
    store.set_registered_model_alias("qa", "production", 2)
    store.create_prompt_version("chat", json.dumps([{"role": "system", "content": "Be {{style}}."}]),
                                {"_mlflow_prompt_type": "chat"})
    store.create_registered_model("churn")
    store.close()
    server = start_mlnb_server(tmp_path / "store", tmp_path / "srv")
    try:
        done = subprocess.run([sys.executable, "-c", READER], env=client_env(server.url, server.token),
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["prod"] == [2, "Answer {{ question }} briefly.", "Answer 2+2? briefly.", "shorter"]
    assert got["v1"] == "Q: {{question}}"
    assert got["chat"] == [{"role": "system", "content": "Be terse."}]
    assert got["prompts"] == ["chat", "qa"]
    assert got["models"] == ["churn"]
