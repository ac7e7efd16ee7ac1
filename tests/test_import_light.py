"""``import mlnb`` stays light: no notebook, UI, dataframe or ML library is loaded by it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["IPython", "ipywidgets", "jupyter_server", "tornado", "pandas", "plotly", "sklearn",
         "numpy", "sqlite_utils", "matplotlib", "mlflow", "yaml", "xgboost", "lightgbm", "torch",
         "safetensors", "psutil", "optuna", "keras", "scipy", "lightning", "psycopg", "boto3"]

PROBE = """
import json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_import_mlnb_loads_nothing_heavy() -> None:
    assert _loaded("import mlnb") == []


def test_import_mlnb_as_mlflow_and_touch_the_api_loads_nothing_heavy() -> None:
    code = "import mlnb as mlflow; mlflow.MlflowClient; mlflow.start_run; mlflow.exceptions"
    assert _loaded(code) == []


def test_opening_the_store_and_logging_does_not_load_numpy_or_pandas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (f"import mlnb; mlnb.set_tracking_uri({str(tmp_path / 's')!r})\n"
            "with mlnb.start_run():\n"
            "    mlnb.log_metric('m', 1.0); mlnb.log_param('p', 1); mlnb.log_dict({'a': 1}, 'a.json')\n"
            "mlnb.search_runs(output_format='list')")
    assert [m for m in _loaded(code) if m != "sqlite_utils"] == []


def test_cli_module_import_is_light() -> None:
    assert _loaded("import mlnb.cli; mlnb.cli.build_parser()") == []


def test_import_mlnb_skips_the_slow_standard_library_parts() -> None:
    """importlib.metadata (with email and zipfile) and subprocess cost ~15 ms: loaded on use only."""
    code = ("import json, sys; import mlnb; print(json.dumps(sorted(m for m in "
            "('importlib.metadata', 'email', 'zipfile', 'subprocess') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
