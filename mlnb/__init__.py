"""mlnb: experiment tracking, models, a registry and reproducible projects, inside Jupyter.

``import mlnb as mlflow`` runs a typical MLflow tracking script unchanged. Importing mlnb loads
neither IPython, ipywidgets, Jupyter Server, pandas nor plotly: the notebook and UI pieces are
imported when first used.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from mlnb._version import __version__
from mlnb.entities import RunStatus, ViewType
from mlnb.errors import MlflowException, MlnbError
from mlnb.tracking.client import MlflowClient, MlnbClient
from mlnb.tracking.context import register_context_provider
from mlnb.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    last_active_run,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from mlnb.tracking.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)

# name -> "module:attribute" (or "module" for a submodule), imported on first use.
_LAZY = {
    "sklearn": "mlnb.sklearn",
    "xgboost": "mlnb.xgboost",
    "lightgbm": "mlnb.lightgbm",
    "pytorch": "mlnb.pytorch",
    "keras": "mlnb.keras",
    "optuna": "mlnb.optuna",
    "pyfunc": "mlnb.pyfunc",
    "models": "mlnb.models",
    "exceptions": "mlnb.exceptions",
    "artifacts": "mlnb.artifacts",
    "data": "mlnb.data",
    "autolog": "mlnb.autolog",  # the package, callable: mlnb.autolog(...) and mlnb.autolog.sklearn
    "register_model": "mlnb.tracking.fluent:register_model",
    "search_logged_models": "mlnb.tracking.logged_models:search_logged_models",
    "get_logged_model": "mlnb.tracking.logged_models:get_logged_model",
    "initialize_logged_model": "mlnb.tracking.logged_models:initialize_logged_model",
    "create_external_model": "mlnb.tracking.logged_models:create_external_model",
    "finalize_logged_model": "mlnb.tracking.logged_models:finalize_logged_model",
    "last_logged_model": "mlnb.tracking.logged_models:last_logged_model",
    "log_model_params": "mlnb.tracking.logged_models:log_model_params",
    "set_logged_model_tags": "mlnb.tracking.logged_models:set_logged_model_tags",
    "delete_logged_model_tag": "mlnb.tracking.logged_models:delete_logged_model_tag",
    "set_active_model": "mlnb.tracking.logged_models:set_active_model",
    "get_active_model_id": "mlnb.tracking.logged_models:get_active_model_id",
    "clear_active_model": "mlnb.tracking.logged_models:clear_active_model",
    "ActiveModel": "mlnb.tracking.logged_models:ActiveModel",
    "use_as_mlflow": "mlnb.mlflow_compat:use_as_mlflow",
    "show_runs": "mlnb.widgets:show_runs",
    "show_run": "mlnb.widgets:show_run",
    "compare": "mlnb.widgets:compare",
    "diff": "mlnb.widgets.run_diff:diff",
    "validate_evaluation_results": "mlnb.models.evaluation:validate_evaluation_results",
    "show_evaluation": "mlnb.widgets:show_evaluation",
    "monitor": "mlnb.monitor",
    "genai": "mlnb.genai",
    "show_sweep": "mlnb.widgets.sweep_view:show_sweep",
    "log_predictions": "mlnb.models.predlog:log_predictions",
    "log_ground_truth": "mlnb.models.predlog:log_ground_truth",
    "load_ipython_extension": "mlnb.notebook.magics:load_ipython_extension",
    "unload_ipython_extension": "mlnb.notebook.magics:unload_ipython_extension",
    # GenAI tracing (mlnb.tracing; its HTML view, mlnb.widgets.trace_view, comes with it)
    "openai": "mlnb.openai",
    "SpanType": "mlnb.tracing:SpanType",
    "trace": "mlnb.tracing:trace",
    "start_span": "mlnb.tracing:start_span",
    "get_current_active_span": "mlnb.tracing:get_current_active_span",
    "get_active_trace_id": "mlnb.tracing:get_active_trace_id",
    "get_last_active_trace_id": "mlnb.tracing:get_last_active_trace_id",
    "update_current_trace": "mlnb.tracing:update_current_trace",
    "get_trace": "mlnb.tracing:get_trace",
    "search_traces": "mlnb.tracing:search_traces",
    "delete_traces": "mlnb.tracing:delete_traces",
    "set_trace_tag": "mlnb.tracing:set_trace_tag",
    "flush_trace_async_logging": "mlnb.tracing:flush_trace_async_logging",
    "show_trace": "mlnb.widgets.trace_view:show_trace",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mlnb' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    if module_name == "mlnb.tracing":  # a Trace shows as HTML in a notebook (_repr_html_)
        importlib.import_module("mlnb.widgets.trace_view")
    if module_name in ("mlnb.tracing", "mlnb.openai") and "IPython" in sys.modules:
        _show_traces_in_kernel()
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def _show_traces_in_kernel() -> None:
    """In a Jupyter kernel, the first use of the tracing API makes each cell show its traces
    under it, as after ``%load_ext mlnb`` (mlnb.notebook.traces; IPython is already loaded)."""
    try:
        importlib.import_module("mlnb.notebook.traces").watch_kernel()
    except Exception as exc:  # the inline view is a convenience: never fail the user's call
        print(f"mlnb: traces will not show under cells ({exc})", file=sys.stderr)


# --- Jupyter entry points (their modules are imported only when Jupyter asks) -----------------


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlnb"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    # jupyter_server and tornado: loaded when Jupyter asks, never by import mlnb
    from mlnb.server import load_jupyter_server_extension

    load_jupyter_server_extension(server_app)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlnb"}]


__all__ = [
    "ActiveModel",
    "ActiveRun",
    "MlflowClient",
    "MlflowException",
    "MlnbClient",
    "MlnbError",
    "RunStatus",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "clear_active_model",
    "compare",
    "create_experiment",
    "create_external_model",
    "delete_experiment",
    "delete_logged_model_tag",
    "delete_run",
    "delete_tag",
    "diff",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "finalize_logged_model",
    "flush",
    "flush_async_logging",
    "get_active_model_id",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "initialize_logged_model",
    "last_active_run",
    "last_logged_model",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_ground_truth",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model_params",
    "log_param",
    "log_params",
    "log_predictions",
    "log_table",
    "log_text",
    "register_context_provider",
    "register_model",
    "restore_run",
    "search_experiments",
    "search_logged_models",
    "search_runs",
    "set_active_model",
    "set_experiment",
    "set_logged_model_tags",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "show_evaluation",
    "show_run",
    "show_runs",
    "show_sweep",
    "start_run",
    "use_as_mlflow",
    "validate_evaluation_results",
]
