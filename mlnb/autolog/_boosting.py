"""What XGBoost and LightGBM autologging share: the run a training call logs into, per-iteration
metrics, the best iteration under early stopping, feature importance, the model, and patching.

One training call (``xgboost.train``/``lightgbm.train``, or a scikit-learn model's ``fit``, which
calls them) is one :class:`FitRun`: it goes into the active run (a ``%%track`` cell's run), into
a child of it if this integration already logged a fit there, or into a run of its own started
and ended around the call. Only the outermost call of a thread logs. Every logging step is
guarded: a failure is a warning (unless ``silent``), never a failed fit.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mlnb.autolog import _training_data as training_data
from mlnb.autolog import sklearn as sklearn_autolog
from mlnb.entities import Param, RunStatus, RunTag
from mlnb.models.signature import ModelSignature, infer_signature
from mlnb.store.validation import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH
from mlnb.tracking import fluent

INPUT_EXAMPLE_ROWS = 5
MAX_PARAMS = 1000


@dataclass
class Config:
    """One integration's autolog settings (MLflow's ``<flavor>.autolog`` arguments)."""

    flavor: str
    enabled: bool = False
    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_datasets: bool = True
    silent: bool = False
    registered_model_name: str | None = None
    extra_tags: dict[str, Any] = field(default_factory=dict)
    importance_types: tuple[str, ...] = ()
    model_options: dict[str, Any] = field(default_factory=dict)


class FitRun:
    """The run one training call logs into; ``owned`` when autolog started it (and ends it).

    :param config: the integration's settings.
    :param run: the run, or None when none could be started (then nothing is logged).
    :param owned: autolog started the run.
    """

    def __init__(self, config: Config, run: fluent.ActiveRun | None, owned: bool) -> None:
        self.config, self.run, self.owned = config, run, owned
        self.history: list[dict[str, float]] = []  # per iteration, for the best one
        self.reference: Any = None  # the training data's sample, kept with the model

    @classmethod
    def begin(cls, config: Config, logged: set[str]) -> FitRun:
        """The run for a new training call (see the module docstring).

        :param config: the integration's settings.
        :param logged: ids of the runs this integration already logged a fit into.
        """
        tags = {"mlflow.autologging": config.flavor, **config.extra_tags}
        try:
            active = fluent.active_run()
            if active is None:
                return cls(config, fluent.start_run(tags=tags), True)
            if active.run_id in logged:  # a second fit in the same run: a child run
                return cls(config, fluent.start_run(nested=True, tags=tags), True)
            return cls(config, active, False)
        except Exception as exc:
            warn(config, "start a run", exc)
            return cls(config, None, False)

    @property
    def run_id(self) -> str | None:
        """The run's id, or None when there is no run."""
        return self.run.run_id if self.run is not None else None

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Turn a failure inside the block into a warning naming ``what``.

        :param what: what the block does ("log the params").
        """
        try:
            yield
        except Exception as exc:
            warn(self.config, what, exc)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log the training call's params (text, truncated as the store allows) and the tags.

        :param params: name -> value.
        """
        if self.run is None:
            return
        with self.guard("log the params"):
            kept = [Param(k, str(v)[:MAX_PARAM_VALUE_LENGTH]) for k, v in params.items()
                    if len(k) <= MAX_KEY_LENGTH][:MAX_PARAMS]
            tags = [RunTag("mlflow.autologging", self.config.flavor)] if not self.owned else []
            self.run.client.log_batch(self.run.run_id, params=kept, tags=tags)

    def log_training_data(self, found: training_data.TrainingData | None) -> None:
        """Record the training data (unless ``log_datasets=False``): the dataset input of the
        run, and the reference sample :meth:`log_model` keeps with the model.

        :param found: what :func:`mlnb.autolog._training_data.capture` found, or None.
        """
        if self.run is None or found is None or not self.config.log_datasets:
            return
        for what, exc in found.problems:
            warn(self.config, what, exc)
        with self.guard("record the training data as a dataset input"):
            training_data.log_input(self.run.client, self.run.run_id, found)
        self.reference = found.reference

    def log_iteration(self, metrics: dict[str, float], step: int) -> None:
        """Log one iteration's evaluation metrics at ``step`` (buffered: cheap per iteration).

        :param metrics: ``<data>-<metric>`` -> value.
        :param step: the iteration (0-based).
        """
        self.history.append(metrics)
        if self.run is None or not metrics:
            return
        with self.guard("log an iteration's metrics"):
            self.run.client.log_metrics(self.run.run_id, metrics, step=step)

    def log_best(self, best_iteration: int, best_index: int, stopped_iteration: int) -> None:
        """Under early stopping, MLflow's ``stopped_iteration`` and ``best_iteration`` metrics and
        the best iteration's metrics again, one step after the last.

        :param best_iteration: the best iteration as the library numbers it.
        :param best_index: its index in the recorded history.
        :param stopped_iteration: the last iteration run, as the library numbers it.
        """
        if self.run is None:
            return
        with self.guard("log the best iteration"):
            client, run_id = self.run.client, self.run.run_id
            client.log_metrics(run_id, {"stopped_iteration": float(stopped_iteration),
                                        "best_iteration": float(best_iteration)})
            if 0 <= best_index < len(self.history):
                client.log_metrics(run_id, self.history[best_index], step=len(self.history))

    def log_importance(self, importance_type: str, features: list[str], values: list[float]) -> None:
        """Log feature importance as a table (``feature_importance_<type>.json``) and a bar chart
        (``feature_importance_<type>_chart.json``, a Plotly figure mlnb's run view draws).

        :param importance_type: e.g. ``"weight"``, ``"gain"``, ``"split"``.
        :param features: feature names.
        :param values: their importance, in the same order.
        """
        if self.run is None:
            return
        with self.guard(f"log the {importance_type} feature importance"):
            ranked = sorted(zip(features, (float(v) for v in values), strict=True),
                            key=lambda p: p[1], reverse=True)
            client, run_id = self.run.client, self.run.run_id
            client.log_table(run_id, {"feature": [f for f, _ in ranked],
                                      "importance": [v for _, v in ranked]},
                             f"feature_importance_{importance_type}.json")
            client.log_dict(run_id, importance_chart(importance_type, ranked),
                            f"feature_importance_{importance_type}_chart.json")

    def log_model(self, log: Callable[..., Any], model: Any, example: Any,
                  predict: Callable[[Any], Any]) -> None:
        """Log the model with the flavor's ``log_model`` (signature and example as configured).

        :param log: the flavor's ``log_model``.
        :param model: the fitted model.
        :param example: a few training rows, or None.
        :param predict: the model's predict, for the signature's outputs.
        """
        config = self.config
        if self.run is None or not config.log_models:
            return
        with self.guard("log the model"):
            signature = signature_of(example, predict) if config.log_model_signatures else None
            log(model, "model", signature=signature, run_id=self.run.run_id,
                input_example=example if config.log_input_examples else None,
                registered_model_name=config.registered_model_name,
                reference_data=self.reference, **config.model_options)

    def end(self, status: str, logged: set[str]) -> None:
        """End the run if autolog started it; remember it as logged into.

        :param status: FINISHED or FAILED.
        :param logged: the integration's set of logged run ids.
        """
        if self.run is None:
            return
        logged.add(self.run.run_id)
        if self.owned:
            with self.guard("end the run"):
                fluent.end_run(status, run_id=self.run.run_id)


def importance_chart(importance_type: str, ranked: list[tuple[str, float]]) -> dict[str, Any]:
    """A horizontal bar chart as Plotly JSON, built by hand (plotly is not imported to log it).

    :param importance_type: for the title.
    :param ranked: (feature, importance), most important first.
    """
    shown = ranked[:50][::-1]  # Plotly draws the first bar at the bottom
    return {"data": [{"type": "bar", "orientation": "h", "x": [v for _, v in shown],
                      "y": [f for f, _ in shown]}],
            "layout": {"title": {"text": f"Feature importance ({importance_type})"},
                       "xaxis": {"title": {"text": importance_type}},
                       "height": 120 + 22 * len(shown), "margin": {"l": 160}}}


def signature_of(example: Any, predict: Callable[[Any], Any]) -> ModelSignature | None:
    """A signature from a few training rows and the model's output on them, or None.

    :param example: the rows, or None.
    :param predict: the model's predict.
    """
    if example is None:
        return None
    try:
        return infer_signature(example, predict(example))
    except Exception:  # no signature is better than a failed fit
        return None


def head(data: Any) -> Any:
    """The first rows of training data (a DataFrame or array), or None for anything else.

    :param data: what the user trained on.
    """
    if data is None or hasattr(data, "tocsr"):  # sparse matrices make no input example
        return None
    try:
        if hasattr(data, "iloc"):
            return data.iloc[:INPUT_EXAMPLE_ROWS].copy()
        if hasattr(data, "shape") and len(data.shape) == 2:
            return data[:INPUT_EXAMPLE_ROWS].copy()
    except Exception:
        return None
    return None


def warn(config: Config, what: str, exc: BaseException) -> None:
    """A logging failure as a warning (never an exception in the user's fit).

    :param config: the integration's settings (``silent`` suppresses it).
    :param what: what failed ("log the model").
    :param exc: the failure.
    """
    if not config.silent:
        warnings.warn(f"mlnb {config.flavor} autolog: could not {what}: {type(exc).__name__}: "
                      f"{exc} (the model was trained anyway)", RuntimeWarning, stacklevel=4)


def text_params(params: Any) -> dict[str, Any]:
    """A library's params mapping (or list of pairs, as XGBoost allows) as a dict.

    :param params: the params argument of a training call.
    """
    if isinstance(params, dict):
        return dict(params)
    try:
        return dict(params or {})
    except (TypeError, ValueError):
        return {"params": json.dumps(params, default=str)}


# --- patching ------------------------------------------------------------------------------------


class Patches:
    """Replaced attributes, restored on disable: (owner, name, original)."""

    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace ``owner.name`` by ``make(original)`` unless already replaced.

        :param owner: a module or class.
        :param name: the attribute.
        :param make: builds the replacement from the original.
        """
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None or getattr(original, "_mlnb_original", None) is not None:
            return
        wrapper = make(original)
        wrapper._mlnb_original = original
        setattr(owner, name, wrapper)
        self.saved.append((owner, name, original))

    def restore(self) -> None:
        """Put every original back."""
        while self.saved:
            owner, name, original = self.saved.pop()
            setattr(owner, name, original)


def with_subclasses(base: type) -> list[type]:
    """``base`` and every class derived from it (a library's scikit-learn models).

    :param base: the base class.
    """
    found = [base]
    derived: list[type] = type.__subclasses__(base)
    for cls in derived:
        found += with_subclasses(cls)
    return found


class Depth(threading.local):
    """Per thread: the fit being logged (an outer scikit-learn ``fit`` or a training call)."""

    current: FitRun | None = None


def skipped(config: Config, depth: Depth) -> bool:
    """Whether a training call goes unlogged: autolog is off, an outer call of this thread logs
    it, or it runs inside an autologged scikit-learn fit (a Pipeline, a search), which logs it.

    :param config: the integration's settings.
    :param depth: the integration's per-thread state.
    """
    return not config.enabled or depth.current is not None or sklearn_autolog.in_logged_fit()


def bind(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
         ) -> inspect.BoundArguments | None:
    """The call's arguments by name, or None when they do not bind (then the call is not logged).

    :param original: the patched function.
    :param args: its positional arguments.
    :param kwargs: its keyword arguments.
    """
    try:
        bound = inspect.signature(original).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    return bound


def call_with_callback(original: Callable[..., Any], bound: inspect.BoundArguments,
                       callback: Any) -> Any:
    """Call ``original`` with ``callback`` appended to its ``callbacks`` (a new list: the user's
    own list is not changed).

    :param original: the training function.
    :param bound: its bound arguments.
    :param callback: the callback to add.
    """
    arguments = dict(bound.arguments)
    arguments["callbacks"] = [*(arguments.get("callbacks") or []), callback]
    rebound = inspect.signature(original).bind(**arguments)
    return original(*rebound.args, **rebound.kwargs)


def wrap_fit(config: Config, depth: Depth, logged: set[str],
             after: Callable[[FitRun, Any, tuple[Any, ...], dict[str, Any]], None]
             ) -> Callable[[Any], Any]:
    """A maker of ``fit`` wrappers for a library's scikit-learn models: the outermost ``fit``
    of a thread opens the :class:`FitRun` (the training call inside logs its iterations into it)
    and ``after(fit_run, model, args, kwargs)`` logs the rest.

    :param config: the integration's settings.
    :param depth: the integration's per-thread state.
    :param logged: the integration's set of logged run ids.
    :param after: logs params, importance and the model after a successful fit.
    """
    def make(original: Any) -> Any:
        @functools.wraps(original)
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            if skipped(config, depth):
                return original(self, *args, **kwargs)
            fit_run = FitRun.begin(config, logged)
            depth.current = fit_run
            try:
                result = original(self, *args, **kwargs)
            except BaseException:
                depth.current = None
                fit_run.end(RunStatus.FAILED, logged)
                raise
            depth.current = None
            with fit_run.guard("log the fit"):
                after(fit_run, self, args, kwargs)
            fit_run.end(RunStatus.FINISHED, logged)
            return result

        return fit

    return make


@dataclass(frozen=True)
class TrainHooks:
    """What differs between libraries in a wrapped ``train`` call."""

    unlogged: frozenset[str]  # train()'s arguments that are not params (data, callbacks...)
    callback: Callable[[FitRun], Any]  # the library's per-iteration callback into a FitRun
    log_results: Callable[[FitRun, Any], None]  # best iteration and importance of the booster
    # The model's input example, taken before training (LightGBM frees the Dataset's rows) ...
    example_before: Callable[[inspect.BoundArguments], Any]
    # ... or after it (XGBoost keeps them on its DMatrix); and the model's predict function.
    model_parts: Callable[[inspect.BoundArguments, Any, Any], tuple[Any, Callable[[Any], Any]]]
    # The training data's dataset record and reference sample, taken before training.
    training_set: Callable[[inspect.BoundArguments], training_data.TrainingData | None]


def wrap_train(config: Config, depth: Depth, logged: set[str], hooks: TrainHooks,
               log_model: Callable[..., Any]) -> Callable[[Any], Any]:
    """A maker of wrappers of a library's ``train`` function: outside a wrapped scikit-learn fit
    it opens a :class:`FitRun`, logs the params, each iteration (through ``hooks.callback``),
    the results and the model; inside one it only adds the callback (the fit logs the rest).

    :param config: the integration's settings.
    :param depth: the integration's per-thread state.
    :param logged: the integration's set of logged run ids.
    :param hooks: the library's parts.
    :param log_model: the flavor's ``log_model``.
    """
    def make(original: Any) -> Any:
        @functools.wraps(original)
        def train(*args: Any, **kwargs: Any) -> Any:
            outer = depth.current
            bound = bind(original, args, kwargs) if config.enabled else None
            if outer is not None and bound is not None:  # inside our scikit-learn fit
                return call_with_callback(original, bound, hooks.callback(outer))
            if bound is None or skipped(config, depth):  # off, or a call we cannot read
                return original(*args, **kwargs)
            fit_run = FitRun.begin(config, logged)
            early = hooks.example_before(bound)
            if config.log_datasets and fit_run.run is not None:
                with fit_run.guard("record the training data"):
                    fit_run.log_training_data(hooks.training_set(bound))
            depth.current = fit_run
            try:
                fit_run.log_params({**text_params(bound.arguments.get("params")),
                                    **{k: v for k, v in bound.arguments.items()
                                       if k not in hooks.unlogged}})
                booster = call_with_callback(original, bound, hooks.callback(fit_run))
            except BaseException:
                depth.current = None
                fit_run.end(RunStatus.FAILED, logged)
                raise
            depth.current = None
            with fit_run.guard("log the training"):
                hooks.log_results(fit_run, booster)
                example, predict = hooks.model_parts(bound, booster, early)
                fit_run.log_model(log_model, booster, example, predict)
            fit_run.end(RunStatus.FINISHED, logged)
            return booster

        return train

    return make
