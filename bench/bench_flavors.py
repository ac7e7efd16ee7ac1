"""mlnb's XGBoost, LightGBM (and PyTorch) flavors and XGBoost autolog against MLflow's, side by side.

    .venv/bin/python bench/bench_flavors.py [--quick]

Measures, each library in its own temp store (MLflow on its SQLite backend), medians of several
repetitions after one warm-up:

* ``log_model`` + ``load_model`` (by its ``runs:/`` URI) of a fitted ``XGBClassifier`` and
  ``LGBMClassifier`` (50 trees each, breast-cancer data, an input example of 5 rows), and of a
  small ``torch.nn`` MLP when torch is installed; target: mlnb >= 10x faster.
* The time autolog adds to a 50-round ``XGBClassifier`` fit with an evaluation set (params,
  50 iterations of metrics, feature importance, the model): ``mlnb.xgboost.autolog()`` against
  ``mlflow.xgboost.autolog()``, each minus the bare fit; target: mlnb's overhead >= 10x lower.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import render_table


def _median_time(function: Callable[[], Any], repeat: int) -> float:
    function()  # warm-up: imports, schema, first model
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.rename(columns=lambda c: c.replace(" ", "_")), y


def _models() -> dict[str, tuple[str, Any, Any]]:
    """name -> (flavor, fitted model, input example)."""
    import lightgbm
    import xgboost

    X, y = _data()
    found: dict[str, tuple[str, Any, Any]] = {
        "XGBClassifier, 50 trees": ("xgboost", xgboost.XGBClassifier(n_estimators=50).fit(X, y), X[:5]),
        "LGBMClassifier, 50 trees": ("lightgbm", lightgbm.LGBMClassifier(
            n_estimators=50, verbose=-1).fit(X, y), X[:5]),
    }
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(30, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        found["torch MLP 30-64-2"] = ("pytorch", net, X[:5].to_numpy(dtype="float32"))
    return found


def _log_load_mlnb(models: dict[str, tuple[str, Any, Any]], repeat: int, root: Path) -> dict[str, float]:
    import mlnb

    mlnb.set_tracking_uri(root / "mlnb-store")
    times = {}
    with mlnb.start_run():
        for name, (flavor, model, example) in models.items():
            module = getattr(mlnb, flavor)

            def work(module: Any = module, model: Any = model, example: Any = example) -> None:
                info = module.log_model(model, "model", input_example=example)
                module.load_model(info.model_uri)

            times[name] = _median_time(work, repeat)
    return times


def _log_load_mlflow(models: dict[str, tuple[str, Any, Any]], repeat: int, root: Path
                     ) -> dict[str, float] | None:
    try:
        import mlflow
    except ImportError:
        return None
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    times = {}
    with mlflow.start_run():
        for name, (flavor, model, example) in models.items():
            module = getattr(mlflow, flavor)

            def work(module: Any = module, model: Any = model, example: Any = example) -> None:
                info = module.log_model(model, name="model", input_example=example)
                module.load_model(info.model_uri)

            times[name] = _median_time(work, repeat)
    return times


def _fit() -> Any:
    import xgboost

    X, y = _data()
    return xgboost.XGBClassifier(n_estimators=50, eval_metric="logloss").fit(
        X, y, eval_set=[(X, y)], verbose=False)


def _paired_overhead(enable: Callable[[], None], disable: Callable[[], None], repeat: int
                     ) -> tuple[float, float]:
    """(median bare fit, median of the per-pair differences autologged - bare): each pair times
    a bare fit and an autologged one back to back, so that load falls on both alike."""
    enable()
    _fit()  # warm-up: imports, the store, the first model
    disable()
    bare, extra = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        _fit()
        plain = time.perf_counter() - start
        enable()
        start = time.perf_counter()
        _fit()
        logged = time.perf_counter() - start
        disable()
        bare.append(plain)
        extra.append(logged - plain)
    return statistics.median(bare), statistics.median(extra)


def _autolog_times(repeat: int, root: Path) -> tuple[float, float, float | None]:
    """(bare fit, mlnb's overhead, MLflow's overhead or None), medians in seconds."""
    import mlnb

    mlnb.set_tracking_uri(root / "mlnb-autolog")
    bare, ours = _paired_overhead(lambda: mlnb.xgboost.autolog(silent=True),
                                  lambda: mlnb.xgboost.autolog(disable=True), repeat)
    try:
        import mlflow
    except ImportError:
        return bare, ours, None
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow-autolog.db'}")
    _, theirs = _paired_overhead(lambda: mlflow.xgboost.autolog(silent=True),
                                 lambda: mlflow.xgboost.autolog(disable=True), max(2, repeat // 2))
    return bare, ours, theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 7
    warnings.simplefilter("ignore")
    os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    models = _models()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ours = _log_load_mlnb(models, repeat, root)
        theirs = _log_load_mlflow(models, max(2, repeat // 2), root)
        bare, over_ours, over_theirs = _autolog_times(2 * repeat, root)
    rows = []
    for name in models:
        f = theirs[name] if theirs else float("nan")
        rows.append([name, f"{ours[name] * 1000:.1f} ms", f"{f * 1000:.1f} ms", f"{f / ours[name]:.1f}x"])
    print("log_model + load_model (median; target mlnb >= 10x faster)")
    print(render_table(["model", "mlnb", "mlflow", "mlflow / mlnb"], rows))
    theirs_text = f"{over_theirs * 1000:.1f} ms" if over_theirs is not None else "n/a"
    ratio = (f"{over_theirs / over_ours:.1f}x lower" if over_theirs is not None and over_ours > 0
             else "below the fit's own noise" if over_ours <= 0 else "n/a")
    print(f"\nXGBoost autolog, 50-round fit with an eval set (bare fit {bare * 1000:.1f} ms): "
          f"mlnb adds {over_ours * 1000:.1f} ms, mlflow adds {theirs_text}; mlnb's overhead is "
          f"{ratio} (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
