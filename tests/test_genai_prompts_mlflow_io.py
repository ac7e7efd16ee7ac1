"""Prompts with MLflow 3's model configuration, response format and Jinja2 templates, registered
by the real MLflow client: through mlnb's MLflow REST server, and into an MLflow database that
``mlnb import mlflow`` then copies. Both ways mlnb reads back what MLflow wrote (and MLflow
reads back over REST what it registered)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlflow_servers import client_env, start_mlnb_server

from mlnb.genai import load_prompt
from mlnb.store import Store, StoreLocation
from mlnb.store.location import resolve
from mlnb.store.mlflow_import import import_mlflow, open_reader

WRITER = """
import json, mlflow
from pydantic import BaseModel
from mlflow.entities.model_registry import PromptModelConfig

class Answer(BaseModel):
    answer: str
    score: float

mlflow.genai.register_prompt(
    "qa", "Q: {{ q }}", commit_message="plain",
    response_format=Answer,
    model_config=PromptModelConfig(provider="openai", model_name="gpt-4o", temperature=0.2,
                                   max_tokens=300, stop_sequences=["END"],
                                   extra_params={"seed": 7}))
mlflow.genai.register_prompt(
    "qa", [{"role": "system", "content": "{% if formal %}Dear {{ who }}{% else %}Hi{% endif %}"},
           {"role": "user", "content": "{{ q }}"}],
    response_format={"type": "object", "properties": {"a": {"type": "string"}}},
    model_config={"model_name": "claude", "top_p": 0.9, "custom": {"x": 1}})
v1 = mlflow.genai.load_prompt("prompts:/qa/1")
v2 = mlflow.genai.load_prompt("prompts:/qa/2")
print(json.dumps({
    "v1": [v1.model_config, v1.response_format, v1.format(q="why")],
    "v2": [v2.model_config, v2.response_format, v2.format(formal=True, who="Ann", q="why")],
}))
"""

WANT_V1_CONFIG = {"provider": "openai", "model_name": "gpt-4o", "temperature": 0.2,
                  "max_tokens": 300, "stop_sequences": ["END"], "seed": 7}
WANT_V2_CONFIG = {"model_name": "claude", "top_p": 0.9, "custom": {"x": 1}}
WANT_V2_FORMAT = {"type": "object", "properties": {"a": {"type": "string"}}}
WANT_V2_TEXT = [{"role": "system", "content": "Dear Ann"}, {"role": "user", "content": "why"}]


def _write(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", WRITER], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


def _check_mlnb_reads(store: Store) -> None:
    v1 = load_prompt("prompts:/qa/1", store=store)
    v2 = load_prompt("prompts:/qa/2", store=store)
    assert v1 is not None and v2 is not None
    assert v1.model_config == WANT_V1_CONFIG
    assert v1.response_format is not None
    assert set(v1.response_format["properties"]) == {"answer", "score"}
    assert v1.format(q="why") == "Q: why"
    assert v1.commit_message == "plain" and v1.tags == {}
    assert v2.model_config == WANT_V2_CONFIG and v2.response_format == WANT_V2_FORMAT
    assert v2.format(formal=True, who="Ann", q="why") == WANT_V2_TEXT
    assert v2.variables == {"who", "q"}


def test_mlflow_client_registers_through_mlnb_rest_server(tmp_path: Path) -> None:
    server = start_mlnb_server(tmp_path / "store", tmp_path / "srv")
    try:
        got = _write(client_env(server.url, server.token), tmp_path)
    finally:
        server.stop()
    assert got["v1"][0] == WANT_V1_CONFIG and got["v1"][2] == "Q: why"
    assert set(got["v1"][1]["properties"]) == {"answer", "score"}
    assert got["v2"] == [WANT_V2_CONFIG, WANT_V2_FORMAT, WANT_V2_TEXT]
    store = Store(StoreLocation(tmp_path / "store" / "mlnb.db", tmp_path / "store" / "artifacts"))
    try:
        _check_mlnb_reads(store)
    finally:
        store.close()


def test_prompts_mlflow_registered_import_with_their_settings(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.pop("PYTHONPATH", None)
    env["MLFLOW_TRACKING_URI"] = source
    got = _write(env, tmp_path)
    assert got["v2"] == [WANT_V2_CONFIG, WANT_V2_FORMAT, WANT_V2_TEXT]
    reader = open_reader(source)
    dst = Store(resolve(str(tmp_path / "dst")))
    try:
        summary = import_mlflow(reader, dst)
        assert (summary.models, summary.versions) == (1, 2)
        _check_mlnb_reads(dst)
    finally:
        reader.close()
        dst.close()
