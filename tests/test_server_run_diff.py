"""``GET runs/<a>/diff/<b>`` through a real Jupyter Server, on SQLite and on PostgreSQL: the run
diff as JSON (what ``mlnb.diff`` shows), with cell sources recovered from a notebook under the
server's root, and a clear 404 for an unknown run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from test_server_api import fail, get_json, jp_server_config  # noqa: F401  (the server fixture)

import mlnb
from mlnb.tracking.run_record import source_hash

pytestmark = pytest.mark.both_backends

pytest_plugins = ("pytest_jupyter.jupyter_server",)

XSS = '<img src=x onerror="window.__xss=1">'
SETUP = "import numpy as np\nlr = 0.1"


def _provenance(source: str, history: list[str], packages: dict[str, str]) -> dict[str, Any]:
    return {"notebook_path": "work/train.ipynb", "python_version": "3.11.7",
            "cell": {"id": "c-train", "execution_count": len(history) + 1, "source": source,
                     "sha256": source_hash(source)},
            "history": [{"execution_count": i + 1, "id": f"c-{i}", "sha256": source_hash(s)}
                        for i, s in enumerate(history)],
            "packages": packages}


@pytest.fixture
def two_runs(jp_root_dir: Path, backend: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """Two runs in two experiments of the server's store, and the notebook they came from."""
    mlnb.set_tracking_uri(str(jp_root_dir / ".mlnb") if backend == "sqlite"
                          else request.getfixturevalue("store_uri"))
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "train.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "code", "id": "c-0", "source": SETUP.splitlines(keepends=True)},
        {"cell_type": "markdown", "id": "m", "source": "# notes"}]}), encoding="utf-8")
    mlnb.set_experiment("baseline")
    with mlnb.start_run(run_name="base") as a:
        mlnb.log_params({"lr": 0.1, "note": XSS})
        mlnb.log_metric("loss", 0.8)
        mlnb.log_metric("odd", math.nan)
        mlnb.log_dict(_provenance("%%track base\nfit(lr)", [SETUP],
                                  {"numpy": "1.26.4", "pandas": "2.1.0"}), "provenance.json")
    mlnb.set_experiment("tuning")
    with mlnb.start_run(run_name=XSS) as b:
        mlnb.log_params({"lr": 0.05, "note": XSS})
        mlnb.log_metric("loss", 0.6)
        mlnb.log_metric("odd", 1.0)
        mlnb.log_dict(_provenance("%%track tuned\nfit(lr / 2)", [SETUP, "lr = 0.05"],
                                  {"numpy": "2.0.1", "scipy": "1.14"}), "provenance.json")
    return a.info.run_id, b.info.run_id


async def test_the_diff_as_json(jp_fetch: Any, two_runs: tuple[str, str]) -> None:
    a, b = two_runs
    body = await get_json(jp_fetch, "runs", a, "diff", b)
    assert (body["a"]["run_name"], body["a"]["experiment_name"]) == ("base", "baseline")
    assert (body["b"]["run_name"], body["b"]["experiment_name"]) == (XSS, "tuning")
    assert body["params"]["changed"] == {"lr": {"a": "0.1", "b": "0.05"}}
    assert body["params"]["unchanged"] == {"note": XSS}  # data, not HTML: the page escapes it
    metrics = {m["key"]: m for m in body["metrics"]}
    assert metrics["loss"]["delta"]["last"] == pytest.approx(-0.2)
    assert metrics["loss"]["relative"]["last"] == pytest.approx(-0.25)
    assert metrics["odd"]["a"] == {"last": "NaN", "min": None, "max": None, "points": 1}
    assert metrics["odd"]["delta"]["last"] is None
    cell = body["cell"]
    assert cell["identical"] is False and cell["a"]["cell_id"] == "c-train"
    assert "-%%track base\n-fit(lr)\n+%%track tuned\n+fit(lr / 2)\n" in cell["unified"]
    rows = body["history"]["rows"]
    assert [(r["status"], r["a"] and r["a"]["source"], r["b"]["source"]) for r in rows] == [
        ("same", SETUP, SETUP),  # from work/train.ipynb under the server's root, hash checked
        ("only_b", None, None),  # the notebook holds no cell with that source any more
    ]
    env = body["environment"]
    assert (env["added"], env["removed"], env["changed"]) == (
        {"scipy": "1.14"}, {"pandas": "2.1.0"}, {"numpy": {"a": "1.26.4", "b": "2.0.1"}})
    assert env["a"]["sources"] == ["provenance.json"] and env["compared"] is True
    itself = await get_json(jp_fetch, "runs", a, "diff", a)
    assert itself["cell"]["identical"] is True and itself["history"]["identical"] is True
    assert not itself["params"]["changed"] and itself["environment"]["unchanged"] == 2


async def test_an_unknown_run_is_a_clear_404(jp_fetch: Any, two_runs: tuple[str, str]) -> None:
    a, _ = two_runs
    code, error = await fail(jp_fetch, "runs", a, "diff", "f" * 32)
    assert code == 404 and error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert error["message"] == f"No run with id {'f' * 32!r}."
    code, error = await fail(jp_fetch, "runs", "nope", "diff", a)
    assert code == 404 and error["message"] == "No run with id 'nope'."
