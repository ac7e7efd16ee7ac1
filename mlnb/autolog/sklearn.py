"""scikit-learn autologging: every estimator's ``fit`` becomes a logged run (as MLflow's).

``autolog()`` wraps ``fit``, ``fit_transform`` and ``fit_predict`` of every loaded estimator
class, and of classes defined later (through ``BaseEstimator.__init_subclass__``). Only the
outermost fit logs: a Pipeline's steps and a search's inner fits run unlogged, so a Pipeline or a
meta-estimator logs once. Per fit, in one write: the estimator's params (deep), training metrics
(classifiers: accuracy, precision, recall, f1, log loss, ROC AUC where they apply; regressors:
MSE, RMSE, MAE, R2; both: ``training_score``), the training data's shape and hash and its dataset
input (MLflow's digest, context ``train``), the model through ``mlnb.models.sklearn.log_model``
when that is installed, with a sample of the training data as its reference data (the default
reference of ``mlnb monitor``), and ``estimator.html`` (the estimator's diagram). Classifiers also
get MLflow's training images (a normalized confusion matrix; for two classes ROC and
precision-recall curves), drawn in a background thread (:mod:`mlnb.autolog._images`) and written
before the run's end can be observed. ``GridSearchCV`` and ``RandomizedSearchCV`` log their own
params shallowly (as MLflow: the seed estimator's untuned params are not the search's), ``best_*``
params, ``best_cv_score``, one child run per candidate with all of the seed estimator's params,
``cv_results.csv`` and the ``best_estimator`` model.

The fit goes into the active run (a ``%%track`` cell's run), into a child of it if autolog already
logged a fit there, or into a run of its own started and ended around the fit. Logging never
breaks ``fit``: any failure becomes a warning and the fitted model is returned.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import threading
import warnings
from dataclasses import dataclass
from types import FrameType
from typing import Any

import mlnb.models as models
from mlnb.autolog import _images, _search
from mlnb.autolog import _training_data as training_data
from mlnb.entities import Metric, Param, RunStatus, RunTag
from mlnb.models import sklearn as flavor
from mlnb.models.signature import infer_signature
from mlnb.store.sql import now_ms
from mlnb.store.validation import MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH
from mlnb.tracking import fluent
from mlnb.tracking.state import state

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
OWN_INTEGRATIONS = ("xgboost", "lightgbm")  # their scikit-learn models: mlnb.autolog.<library>
HASH_MAX_BYTES = 256 * 1024 * 1024
INPUT_EXAMPLE_ROWS = 5


@dataclass
class _Config:
    enabled: bool = False
    log_models: bool = True
    log_input_examples: bool = True
    log_datasets: bool = True
    silent: bool = False
    max_tuning_runs: int | None = 5


_config = _Config()
_depth_lock = threading.Lock()
_depth = 0  # process-wide: joblib threads of a search see the outer fit too
_autologged_runs: set[str] = set()
_original_init_subclass: Any = None


def autolog(log_input_examples: bool = True, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, disable_for_unsupported_versions: bool = False,
            silent: bool = False, max_tuning_runs: int | None = 5, **kwargs: Any) -> None:
    """Turn scikit-learn autologging on (``disable=True``: off), with MLflow's signature.

    :param log_input_examples: log the first rows of the training data as the input example.
    :param log_model_signatures: accepted for MLflow compatibility and ignored.
    :param log_models: log each fitted model (``artifact_path="model"``).
    :param log_datasets: record the training data: a dataset input of the run (MLflow's digest,
        context ``train``), the tags ``mlnb.training_data.shape`` and ``.sha256``, and a seeded
        sample of at most 10,000 rows (with ``y`` as its target column) kept with the logged
        model as its reference data, which ``mlnb monitor`` compares live inputs with.
    :param disable: turn autologging off (and restore the original ``fit`` methods).
    :param exclusive: accepted for MLflow compatibility and ignored.
    :param disable_for_unsupported_versions: accepted for MLflow compatibility and ignored.
    :param silent: suppress autolog's own warnings.
    :param max_tuning_runs: child runs per search, best first (None: every candidate); 5 by
        default, as MLflow's.
    :param kwargs: other MLflow keyword arguments, accepted and ignored.
    """
    _config.log_models, _config.log_input_examples = log_models, log_input_examples
    _config.log_datasets, _config.silent = log_datasets, silent
    _config.max_tuning_runs = max_tuning_runs
    if disable:
        _config.enabled = False
        _unpatch_all()
        return
    _config.enabled = True
    _patch_all()
    warm_up(log_models, log_input_examples)


# What the first logged fit imports: skops alone is most of a second. A user enables autolog a
# cell or more before the first fit, so a background import usually has finished by then.
_WARM_UP_MODULES = ("sklearn.metrics", "mlnb.models.sklearn", "mlnb.models.record",
                    "mlnb.models.signature", "mlnb.models.format", "yaml", "skops.io")
_warm_up_thread: threading.Thread | None = None


def warm_up(log_models: bool = True, log_input_examples: bool = True) -> threading.Thread | None:
    """Import what logging a fit needs in a daemon thread (once per process); returns the thread.

    The thread never raises: a module that cannot be imported is simply left for the fit (which
    reports it as it always did).

    :param log_models: also import the model-writing modules.
    :param log_input_examples: also import pandas.
    """
    global _warm_up_thread
    if _warm_up_thread is not None:
        return _warm_up_thread
    modules = list(_WARM_UP_MODULES if log_models else _WARM_UP_MODULES[:1])
    if log_input_examples:
        modules.insert(1, "pandas")
    _warm_up_thread = threading.Thread(target=_import_quietly, args=(modules,),
                                       name="mlnb-autolog-warm-up", daemon=True)
    _warm_up_thread.start()
    return _warm_up_thread


def _import_quietly(modules: list[str]) -> None:
    for name in modules:
        # (No warnings.catch_warnings here: it swaps process-wide state under the user's feet.)
        try:
            importlib.import_module(name)
        except BaseException:  # a warm-up must never surface anything
            continue


def is_enabled() -> bool:
    """Whether scikit-learn autologging is on."""
    return _config.enabled


def in_logged_fit() -> bool:
    """Whether a scikit-learn fit is being autologged now (another integration's model fitted
    inside it, e.g. in a Pipeline or a search, is logged as part of it, not on its own)."""
    return _config.enabled and _depth > 0


# --- patching -----------------------------------------------------------------------------------


def _patch_all() -> None:
    global _original_init_subclass
    from sklearn.base import BaseEstimator  # scikit-learn: loaded on first use, not by import mlnb

    for cls in _all_subclasses(BaseEstimator):
        _patch_class(cls)
    if _original_init_subclass is None:
        _original_init_subclass = BaseEstimator.__dict__.get("__init_subclass__", False)

        def init_subclass(cls: type, /, **kwargs: Any) -> None:
            if _original_init_subclass:
                _original_init_subclass.__func__(cls, **kwargs)
            else:
                super(BaseEstimator, cls).__init_subclass__(**kwargs)
            if _config.enabled:
                _patch_class(cls)

        BaseEstimator.__init_subclass__ = classmethod(init_subclass)


def _unpatch_all() -> None:
    global _original_init_subclass
    try:
        from sklearn.base import BaseEstimator  # scikit-learn: loaded on first use, not by import mlnb
    except ImportError:
        return
    for cls in _all_subclasses(BaseEstimator):
        for name in FIT_METHODS:
            method = cls.__dict__.get(name)
            original = getattr(method, "_mlnb_original", None)
            if original is not None:
                setattr(cls, name, original)
    if _original_init_subclass is not None:
        if _original_init_subclass:
            BaseEstimator.__init_subclass__ = _original_init_subclass
        else:
            del BaseEstimator.__init_subclass__
        _original_init_subclass = None


def _all_subclasses(base: type) -> list[type]:
    seen: dict[type, None] = {}
    stack = [base]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen[cls] = None
        stack.extend(type.__subclasses__(cls))
    return list(seen)


def _patch_class(cls: type) -> None:
    if cls.__module__.split(".")[0] in OWN_INTEGRATIONS:
        return  # logged by that library's own autolog (as in MLflow), never twice
    for name in FIT_METHODS:
        method = cls.__dict__.get(name)
        if callable(method) and not hasattr(method, "_mlnb_original"):
            setattr(cls, name, _wrap(method))


def _wrap(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _depth
        if not _config.enabled or _depth > 0 or _fit_by_sklearn_itself(self):
            return original(self, *args, **kwargs)
        return _autologged_fit(original, self, args, kwargs)

    fit._mlnb_original = original  # type: ignore[attr-defined]
    return fit


def _fit_by_sklearn_itself(estimator: Any) -> bool:
    """True for a fit scikit-learn makes on its own behalf: the LabelBinarizer that ``log_loss``
    fits, the folds of ``cross_val_score``. Not for the estimator's own methods delegating to its
    fit (``TransformerMixin.fit_transform`` calling ``self.fit``): the user asked for that one.
    """
    frame: FrameType | None = sys._getframe(2)  # the caller of the patched fit
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "sklearn" and not module.startswith("sklearn."):
            return False  # reached the user's code
        owner = frame.f_locals.get("self", frame.f_locals.get("estimator"))
        if owner is not estimator:
            return True
        frame = frame.f_back
    return False


def _autologged_fit(original: Any, estimator: Any, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
    global _depth
    with _depth_lock:
        _depth += 1  # also while logging: the metrics' own fits (LabelBinarizer) stay unlogged
    try:
        session = _Session.begin()
        try:
            result = original(estimator, *args, **kwargs)
        except BaseException:
            session.end(RunStatus.FAILED)
            raise
        session.log(estimator, args, kwargs)
        session.end(RunStatus.FINISHED)
        return result
    finally:
        with _depth_lock:
            _depth -= 1


def _warn(what: str, exc: BaseException) -> None:
    if not _config.silent:
        warnings.warn(f"mlnb autolog: could not {what}: {type(exc).__name__}: {exc} "
                      "(the model was fitted anyway)", RuntimeWarning, stacklevel=4)


# --- one fit's run ------------------------------------------------------------------------------


class _Session:
    """The run a fit logs into; ``owned`` when autolog started it (and must end it)."""

    def __init__(self, run: fluent.ActiveRun | None, owned: bool) -> None:
        self.run, self.owned = run, owned
        self.plots: _images.PlotInputs | None = None

    @classmethod
    def begin(cls) -> _Session:
        try:
            active = fluent.active_run()
            if active is None:
                return cls(fluent.start_run(tags={"mlflow.autologging": "sklearn"}), True)
            if active.run_id in _autologged_runs:  # a second fit in the same run: a child run
                return cls(fluent.start_run(nested=True,
                                            tags={"mlflow.autologging": "sklearn"}), True)
            return cls(active, False)
        except Exception as exc:
            _warn("start a run", exc)
            return cls(None, False)

    def log(self, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.run is None:
            return
        run_id, client = self.run.run_id, self.run.client
        X, y = _training_data(args, kwargs)
        try:
            params = _estimator_params(estimator, deep=not _search.is_search(estimator))
            metrics, self.plots = _training_metrics(estimator, X, y, kwargs.get("sample_weight"))
            tags = _search.estimator_tags(estimator)
            if _config.log_datasets and X is not None:
                tags.update(_data_tags(X))
            t = now_ms()
            client.log_batch(run_id, metrics=[Metric(k, v, t, 0) for k, v in metrics.items()],
                             params=[Param(k, v) for k, v in list(params.items())[:1000]],
                             tags=[RunTag(k, v) for k, v in tags.items()])
            _autologged_runs.add(run_id)
        except Exception as exc:
            _warn("log the fit's params and metrics", exc)
        try:
            client.log_text(run_id, _estimator_html(estimator), "estimator.html")
        except Exception as exc:
            _warn("log estimator.html", exc)
        reference, inputs = None, []
        if _config.log_datasets and X is not None:
            found = training_data.capture(X, y)
            for what, problem in found.problems:
                _warn(what, problem)
            try:
                training_data.log_input(client, run_id, found)
                inputs = training_data.dataset_inputs(found)
            except Exception as exc:
                _warn("record the training data as a dataset input", exc)
            reference = found.reference
        if _search.is_search(estimator) and hasattr(estimator, "cv_results_"):
            try:
                _search.log_search(client, run_id, estimator, _config.max_tuning_runs, inputs)
            except Exception as exc:
                _warn("log the search's candidates", exc)
        if _config.log_models:
            _log_model(estimator, X, reference)
        if self.plots is not None and not _matplotlib_installed():
            self.plots = None

    def end(self, status: str) -> None:
        if self.run is None:
            return
        try:
            if self.plots is None:
                if self.owned:
                    fluent.end_run(status, run_id=self.run.run_id)
                return
            # The images are drawn after fit returns; a run autolog owns is ended by the
            # drawing thread once they are written (reads and exit wait for it meanwhile).
            if self.owned:
                _release(self.run)
            _images.submit(self.run.client, self.run.run_id, self.plots,
                           status if self.owned else None, _config.silent)
        except Exception as exc:
            _warn("end the run", exc)


def _training_data(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    return X, y


def _release(run: fluent.ActiveRun) -> None:
    """Take an autolog-owned run off the active stack without ending it (the drawer ends it)."""
    if run in state.active:
        state.active.remove(run)
    state.last_run_id = run.run_id


_matplotlib_warned = False


def _matplotlib_installed() -> bool:
    """Whether matplotlib can be imported (an optional dependency); warns once when not."""
    global _matplotlib_warned
    try:
        if importlib.util.find_spec("matplotlib") is not None:
            return True
    except ValueError:  # sys.modules["matplotlib"] = None: the import is blocked on purpose
        pass
    if not _matplotlib_warned and not _config.silent:
        _matplotlib_warned = True
        warnings.warn("mlnb autolog: matplotlib is not installed, so the training images "
                      "(confusion matrix, ROC and precision-recall curves) are not logged; "
                      "pip install matplotlib to get them", RuntimeWarning, stacklevel=4)
    return False


def _estimator_html(estimator: Any) -> str:
    """MLflow's ``estimator.html``: scikit-learn's diagram of the estimator in a page."""
    from sklearn.utils import estimator_html_repr  # scikit-learn: loaded on first use

    # The same page as MLflow's (its charset keeps the toggle triangles readable).
    return f"""
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8"/>
  </head>
  <body>
    {estimator_html_repr(estimator)}
  </body>
</html>
    """


def _estimator_params(estimator: Any, deep: bool = True) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in estimator.get_params(deep=deep).items():
        if len(key) <= MAX_KEY_LENGTH:
            params[key] = str(value)[:MAX_PARAM_VALUE_LENGTH]
    return params


def _training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any
                      ) -> tuple[dict[str, float], _images.PlotInputs | None]:
    """The training metrics, and for a classifier what its training images need."""
    if X is None or y is None or not hasattr(estimator, "predict"):
        return {}, None
    from sklearn.base import (  # scikit-learn: loaded on first use, not by import mlnb
        is_classifier,
        is_regressor,
    )

    try:
        if is_classifier(estimator):
            return _classifier_metrics(estimator, X, y, sample_weight)
        if is_regressor(estimator):
            return _regressor_metrics(estimator, X, y, sample_weight), None
        return {"training_score": float(estimator.score(X, y))}, None
    except Exception as exc:  # e.g. a search with refit=False cannot predict
        _warn("compute training metrics", exc)
        return {}, None


def _classifier_metrics(estimator: Any, X: Any, y: Any, weight: Any
                        ) -> tuple[dict[str, float], _images.PlotInputs | None]:
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from sklearn import metrics  # scikit-learn: loaded on first use, not by import mlnb

    predicted = estimator.predict(X)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y, predicted, average="weighted", sample_weight=weight, zero_division=0)
    accuracy = float(metrics.accuracy_score(y, predicted, sample_weight=weight))
    found = {"training_accuracy_score": accuracy, "training_precision_score": float(precision),
             "training_recall_score": float(recall), "training_f1_score": float(f1),
             "training_score": accuracy}
    labels = getattr(estimator, "classes_", None)
    scores = None
    if hasattr(estimator, "predict_proba"):
        try:
            proba = estimator.predict_proba(X)
            found["training_log_loss"] = float(metrics.log_loss(y, proba, sample_weight=weight,
                                                                labels=labels))
            if proba.shape[1] == 2:
                scores = proba[:, 1]
                found["training_roc_auc"] = float(metrics.roc_auc_score(
                    y, scores, sample_weight=weight))
            else:  # MLflow's choice: one-vs-one, weighted (less sensitive to imbalance)
                found["training_roc_auc"] = float(metrics.roc_auc_score(
                    y, proba, multi_class="ovo", average="weighted", sample_weight=weight,
                    labels=labels))
        except Exception:  # no probabilities, a single class, weights with ovo: left out
            pass
    if scores is None and labels is not None and len(labels) == 2 \
            and hasattr(estimator, "decision_function"):
        try:  # what RocCurveDisplay.from_estimator uses when there are no probabilities
            scores = np.asarray(estimator.decision_function(X))
        except Exception:
            scores = None
    if labels is None:
        return found, None
    plots = _images.PlotInputs(
        y_true=np.array(y, copy=True), y_pred=np.array(predicted, copy=True),
        scores=scores if scores is None or len(np.unique(y)) == 2 else None,
        labels=np.array(labels, copy=True),
        sample_weight=None if weight is None else np.array(weight, copy=True),
        name=type(estimator).__name__)
    return found, plots


def _regressor_metrics(estimator: Any, X: Any, y: Any, weight: Any) -> dict[str, float]:
    from sklearn import metrics  # scikit-learn: loaded on first use, not by import mlnb

    predicted = estimator.predict(X)
    mse = float(metrics.mean_squared_error(y, predicted, sample_weight=weight))
    r2 = float(metrics.r2_score(y, predicted, sample_weight=weight))
    return {"training_mean_squared_error": mse, "training_root_mean_squared_error": mse ** 0.5,
            "training_mean_absolute_error": float(metrics.mean_absolute_error(
                y, predicted, sample_weight=weight)),
            "training_r2_score": r2, "training_score": r2}


def _data_tags(X: Any) -> dict[str, str]:
    shape = getattr(X, "shape", None)
    if shape is None:
        try:
            shape = (len(X),)
        except TypeError:
            shape = ()
    tags = {"mlnb.training_data.shape": "x".join(str(n) for n in shape)}
    try:
        tags["mlnb.training_data.sha256"] = _data_hash(X)
    except Exception:
        pass
    return tags


def _data_hash(X: Any) -> str:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    digest = hashlib.sha256()
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a DataFrame: values, names, index
        import pandas  # pandas: loaded on first use, not by import mlnb

        digest.update(repr(list(X.columns)).encode())
        X = pandas.util.hash_pandas_object(X, index=True).to_numpy()
    elif hasattr(X, "tocsr"):  # scipy sparse
        X = X.tocsr()
        for part in (X.data, X.indices, X.indptr):
            digest.update(np.ascontiguousarray(part).data)
        return digest.hexdigest()
    array = np.asarray(X)
    if array.dtype == object:
        digest.update(repr(array.tolist()).encode())
    else:
        raw = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        digest.update(str(array.shape).encode() + array.dtype.str.encode())
        digest.update(raw[:HASH_MAX_BYTES].data)  # huge data: the first 256 MB and the shape
    return digest.hexdigest()


def _log_model(estimator: Any, X: Any, reference: Any = None) -> None:
    try:
        example = _input_example(X) if _config.log_input_examples else None
        signature = _signature(estimator, example)
        flavor.log_model(estimator, artifact_path="model", input_example=example,
                         signature=signature, reference_data=reference)
        best = getattr(estimator, "best_estimator_", None)
        if best is not None and _search.is_search(estimator):  # MLflow logs the refit best too
            flavor.log_model(best, artifact_path="best_estimator", input_example=example,
                             signature=signature, reference_data=reference)
    except Exception as exc:
        _warn("log the model", exc)


def _input_example(X: Any) -> Any:
    if X is None:
        return None
    if hasattr(X, "iloc"):
        return X.iloc[:INPUT_EXAMPLE_ROWS]
    if hasattr(X, "tocsr"):
        return None
    try:
        return X[:INPUT_EXAMPLE_ROWS]
    except Exception:
        return None


def _signature(estimator: Any, example: Any) -> Any:
    if example is None:
        return None
    try:
        infer: Any = getattr(models, "infer_signature", None)
        if infer is None:
            infer = infer_signature
        return infer(example, estimator.predict(example)) if hasattr(estimator, "predict") \
            else infer(example)
    except Exception:
        return None
