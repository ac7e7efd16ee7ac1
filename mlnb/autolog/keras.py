"""``mlnb.keras.MlnbCallback``: MLflow's ``mlflow.keras.MlflowCallback`` for Keras 3 ``fit``.

The callback logs the optimizer's compile-time config as ``optimizer_<name>`` params and the
model summary as ``model_summary.txt`` when training begins, then the epoch metrics (or every
n-th batch's) as steps through the buffered writer, and ``validation_<name>`` metrics when an
evaluation ends. It logs into the active run, or starts one at ``on_train_begin`` and ends it at
``on_train_end``. Every hook is guarded: a logging failure is a warning, never a failed fit.

The class subclasses ``keras.callbacks.Callback``, so it is built on first use (Keras is not
imported by ``import mlnb``) and handed out by this module's ``__getattr__``.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from typing import Any

from mlnb.autolog import _boosting as boosting
from mlnb.autolog import _hooks as hooks
from mlnb.entities import RunStatus
from mlnb.errors import InvalidParameterError
from mlnb.store.validation import MAX_PARAM_VALUE_LENGTH
from mlnb.tracking import fluent

_NAMES = ("MlnbCallback", "MlflowCallback")
_unended: set[str] = set()  # runs a callback started for a fit that has not reached its end


def check_frequency(log_every_epoch: bool, log_every_n_steps: int | None) -> None:
    """Refuse MLflow's contradictory combinations of the two logging frequencies.

    :param log_every_epoch: log the metrics at every epoch's end.
    :param log_every_n_steps: or log them every n training batches.
    :raises InvalidParameterError: both or neither given, or n not a positive integer.
    """
    if log_every_epoch and log_every_n_steps is not None:
        raise InvalidParameterError(
            "MlnbCallback: log_every_n_steps must be None when log_every_epoch=True (got "
            f"log_every_n_steps={log_every_n_steps!r}); pass log_every_epoch=False to log "
            "every n steps.")
    if not log_every_epoch and log_every_n_steps is None:
        raise InvalidParameterError(
            "MlnbCallback: with log_every_epoch=False, give log_every_n_steps (a positive "
            "integer), or keep log_every_epoch=True.")
    if log_every_n_steps is not None and (
            isinstance(log_every_n_steps, bool) or not isinstance(log_every_n_steps, int)
            or log_every_n_steps < 1):
        raise InvalidParameterError(
            f"MlnbCallback: log_every_n_steps must be a positive integer, not "
            f"{log_every_n_steps!r}.")


def numeric(logs: dict[str, Any] | None, prefix: str = "") -> dict[str, float]:
    """The entries of Keras's ``logs`` that are numbers (scalars, 0-d arrays or tensors).

    :param logs: what Keras passes to a hook.
    :param prefix: put before every name (``validation_``).
    """
    kept: dict[str, float] = {}
    for key, value in (logs or {}).items():
        try:
            kept[prefix + str(key)] = float(value)
        except (TypeError, ValueError):  # a non-scalar entry: not a metric point
            continue
    return kept


class _Logging:
    """What the callback does, apart from Keras: the run, the guarded logging calls."""

    def __init__(self, log_every_epoch: bool, log_every_n_steps: int | None) -> None:
        check_frequency(log_every_epoch, log_every_n_steps)
        self.log_every_epoch = log_every_epoch
        self.log_every_n_steps = log_every_n_steps
        self.run: fluent.ActiveRun | None = None
        self.owned = False
        self.epoch = 0

    def warn(self, what: str, exc: BaseException) -> None:
        """A logging failure as a warning naming what failed.

        :param what: what failed ("log the params").
        :param exc: the failure.
        """
        warnings.warn(f"mlnb.keras.MlnbCallback could not {what}: {type(exc).__name__}: {exc} "
                      "(the model is trained anyway)", RuntimeWarning, stacklevel=3)

    def begin(self) -> None:
        """Take the active run, or start one this callback ends at ``on_train_end``.

        Keras calls no hook when ``fit`` raises (or is interrupted), so a run a callback started
        for such a fit is still active here: it is ended as KILLED, and this fit gets its own.
        """
        try:
            active = fluent.active_run()
            if active is not None and active.run_id in _unended:
                _unended.discard(active.run_id)
                fluent.end_run(RunStatus.KILLED, run_id=active.run_id)
                active = fluent.active_run()
            self.owned = active is None
            self.run = fluent.start_run() if active is None else active
            if self.owned:
                _unended.add(self.run.run_id)
        except Exception as exc:
            self.run, self.owned = None, False
            self.warn("start a run", exc)

    def params(self, model: Any) -> None:
        """Log the optimizer's config as ``optimizer_<name>`` params and the model summary.

        :param model: the Keras model being fitted.
        """
        if self.run is None:
            return
        try:
            config = model.optimizer.get_config()
            self.run.log_params({f"optimizer_{k}": str(v)[:MAX_PARAM_VALUE_LENGTH]
                                 for k, v in config.items()})
        except Exception as exc:
            self.warn("log the optimizer params", exc)
        try:
            lines: list[str] = []
            model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
            self.run.client.log_text(self.run.run_id, "\n".join(lines), "model_summary.txt")
        except Exception as exc:
            self.warn("log the model summary", exc)

    def metrics(self, metrics: dict[str, float], step: int) -> None:
        """Log metric points at ``step`` (buffered).

        :param metrics: name -> value.
        :param step: the epoch, or the optimizer's iteration count.
        """
        if self.run is None or not metrics:
            return
        try:
            self.run.client.log_metrics(self.run.run_id, metrics, step=step)
        except Exception as exc:
            self.warn("log the metrics", exc)

    def end(self) -> None:
        """End the run when this callback started it."""
        run, self.run = self.run, None
        if run is not None and self.owned:
            _unended.discard(run.run_id)
            try:
                fluent.end_run(run_id=run.run_id)
            except Exception as exc:
                self.warn("end the run", exc)


def _iterations(model: Any) -> int | None:
    """The optimizer's iteration count (the training step), or None when it has none."""
    try:
        value = model.optimizer.iterations
        return int(value.numpy() if hasattr(value, "numpy") else value)
    except Exception:  # no optimizer, or a backend variable without a value
        return None


@functools.cache
def callback_class() -> type:
    """Build the Keras callback class (once; Keras is imported here, not by ``import mlnb``)."""
    # Keras 3: the callback must subclass keras.callbacks.Callback
    import keras

    class MlnbCallback(keras.callbacks.Callback):  # type: ignore[misc]
        """Log a Keras 3 ``fit`` to mlnb: MLflow's ``mlflow.keras.MlflowCallback``.

        ``model.fit(X, y, epochs=5, callbacks=[mlnb.keras.MlnbCallback()])`` logs the optimizer's
        config (``optimizer_learning_rate``, ...) as params and ``model_summary.txt`` when
        training begins, and every epoch's metrics (``loss``, ``val_loss``, ...) at step = the
        epoch (0-based), into the active run or a run it starts and ends (a fit that raises
        leaves that run active; the next fit with this callback ends it as KILLED). A logging
        failure is a warning; the fit goes on.

        :param log_every_epoch: log the metrics at the end of every epoch (default).
        :param log_every_n_steps: with ``log_every_epoch=False``: log the batch metrics every n
            training steps, at step = the optimizer's iteration count.
        :raises InvalidParameterError: both or neither frequency given, or n not positive.
        """

        def __init__(self, log_every_epoch: bool = True,
                     log_every_n_steps: int | None = None) -> None:
            super().__init__()
            self._mlnb = _Logging(log_every_epoch, log_every_n_steps)

        @property
        def log_every_epoch(self) -> bool:
            """Log the metrics at every epoch's end."""
            return self._mlnb.log_every_epoch

        @property
        def log_every_n_steps(self) -> int | None:
            """Log the batch metrics every n training steps (or None)."""
            return self._mlnb.log_every_n_steps

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            """Take or start the run; log the optimizer params and the model summary."""
            self._mlnb.begin()
            self._mlnb.params(self.model)

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            """Remember the epoch, the step of the validation metrics."""
            self._mlnb.epoch = epoch

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            """Log the epoch's metrics at step = the epoch."""
            if self._mlnb.log_every_epoch:
                self._mlnb.metrics(numeric(logs), epoch)

        def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            """Log the batch metrics every ``log_every_n_steps`` training steps."""
            every = self._mlnb.log_every_n_steps
            if every is None:
                return
            step = _iterations(self.model)
            if step is not None and step % every == 0:
                self._mlnb.metrics(numeric(logs), step)

        def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
            """Log an evaluation's metrics as ``validation_<name>`` at the current epoch."""
            if self._mlnb.run is None:  # evaluate() outside fit: the active run, if any
                run = fluent.active_run()
                if run is None:
                    return
                self._mlnb.run, self._mlnb.owned = run, False
            self._mlnb.metrics(numeric(logs, "validation_"), self._mlnb.epoch)

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            """End the run if this callback started it."""
            self._mlnb.end()

    MlnbCallback.__module__ = "mlnb.keras"
    return MlnbCallback


# --- autolog: Model.fit with the callback, and the model logged after it -----------------------


class _Config:
    enabled = False
    log_every_epoch = True
    log_every_n_steps: int | None = None
    log_models = True
    registered_model_name: str | None = None
    extra_tags: dict[str, Any] = {}  # noqa: RUF012 - replaced whole by autolog(), never mutated
    silent = False


_config = _Config()
_patches = boosting.Patches()
_depth = threading.local()


def autolog(log_every_epoch: bool = True, log_every_n_steps: int | None = None,
            log_models: bool = True, disable: bool = False, silent: bool = False,
            registered_model_name: str | None = None, extra_tags: dict[str, Any] | None = None,
            **kwargs: Any) -> None:
    """Turn Keras 3 autologging on (``disable=True``: off), with MLflow's arguments.

    Every ``Model.fit`` then logs as :class:`MlnbCallback` does (the optimizer's params, the
    model summary, each epoch's metrics) into the active run or a run it starts and ends, and
    the trained model with ``mlnb.keras.log_model`` (``artifact_path="model"``). A fit given
    its own ``MlnbCallback`` is left to it. Keras is not imported here: a script that imports
    it later is patched then. A logging failure is a warning; the fit goes on.

    :param log_every_epoch: log the metrics at the end of every epoch (default).
    :param log_every_n_steps: with ``log_every_epoch=False``: every n training steps.
    :param log_models: log the trained model.
    :param disable: turn autologging off and restore ``Model.fit``.
    :param silent: no warnings from autologging itself.
    :param registered_model_name: register each logged model under this name.
    :param extra_tags: tags for each run autolog starts.
    :param kwargs: MLflow's other keyword arguments (``log_datasets``, ``save_exported_model``,
        ``checkpoint``...), accepted and ignored.
    """
    if disable:
        _config.enabled = False
        hooks.forget("keras")
        _patches.restore()
        return
    check_frequency(log_every_epoch, log_every_n_steps)
    _config.log_every_epoch, _config.log_every_n_steps = log_every_epoch, log_every_n_steps
    _config.log_models, _config.silent = log_models, silent
    _config.registered_model_name = registered_model_name
    _config.extra_tags = dict(extra_tags or {})
    _config.enabled = True
    hooks.when_imported("keras", _patch)


def is_enabled() -> bool:
    """Whether Keras autologging is on."""
    return _config.enabled


def _patch(keras: Any) -> None:
    try:
        # fit is the backend trainer's (a base of keras.Model): patched where it is defined
        owner = next(cls for cls in keras.Model.__mro__ if "fit" in cls.__dict__)
        _patches.replace(owner, "fit", _wrap_fit)
    except Exception as exc:  # a Keras we cannot patch: say so, never break the import
        if not _config.silent:
            warnings.warn(f"mlnb could not turn on Keras autologging: {exc}", RuntimeWarning,
                          stacklevel=2)


def _wrap_fit(original: Any) -> Any:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _config.enabled or getattr(_depth, "on", False):
            return original(self, *args, **kwargs)
        bound = boosting.bind(original, (self, *args), kwargs)
        if bound is None or any(isinstance(c, callback_class())
                                for c in bound.arguments.get("callbacks") or []):
            return original(self, *args, **kwargs)  # unbindable, or the user's own callback
        _depth.on = True
        try:
            return _logged_fit(original, bound, self)
        finally:
            _depth.on = False

    return fit


def _logged_fit(original: Any, bound: inspect.BoundArguments, model: Any) -> Any:
    started = _start_run()
    callback = callback_class()(_config.log_every_epoch, _config.log_every_n_steps)
    try:
        history = boosting.call_with_callback(original, bound, callback)
    except BaseException:
        if started is not None:
            _quietly("end the run", lambda: fluent.end_run(RunStatus.FAILED, run_id=started))
        raise
    if _config.log_models:
        from mlnb.models import keras as flavor  # the Keras flavor: loaded with Keras

        _quietly("log the model", lambda: flavor.log_model(
            model, "model", registered_model_name=_config.registered_model_name))
    if started is not None:
        _quietly("end the run", lambda: fluent.end_run(run_id=started))
    return history


def _start_run() -> str | None:
    """A run for this fit when none is active (its id), else None (the active run is used)."""
    if fluent.active_run() is not None:
        return None
    try:
        return fluent.start_run(tags=_config.extra_tags or None).run_id
    except Exception as exc:
        _warn("start a run", exc)
        return None


def _quietly(what: str, action: Any) -> None:
    try:
        action()
    except Exception as exc:
        _warn(what, exc)


def _warn(what: str, exc: BaseException) -> None:
    if not _config.silent:
        warnings.warn(f"mlnb Keras autolog could not {what}: {type(exc).__name__}: {exc} (the "
                      "model is trained anyway)", RuntimeWarning, stacklevel=4)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return callback_class()
    raise AttributeError(f"module 'mlnb.autolog.keras' has no attribute {name!r}")


__all__ = ["autolog", "callback_class", "check_frequency", "is_enabled", "numeric", *_NAMES]
