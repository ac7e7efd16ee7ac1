"""``mlnb.pytorch.log_epoch``: one line in a plain PyTorch training loop logs it.

A plain loop has no hook to patch, so instead of autologging the loop calls
``mlnb.pytorch.log_epoch({"loss": loss, "accuracy": acc}, params={"lr": lr})`` once per epoch
(or per batch): the metrics go through the buffered writer as points at the next step of the
run, the params are logged once (a param already logged with the same value is not sent
again). A logging failure (a param logged before with another value, a value that is not one
number, a store that cannot be written) is a warning, never a failed training loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.tracking import fluent

_next_step: dict[str, int] = {}  # run id -> the step the next call without step= logs at
_logged_params: dict[str, dict[str, str]] = {}  # run id -> params this helper logged there


def log_epoch(metrics: Mapping[str, Any], step: int | None = None,
              params: Mapping[str, Any] | None = None) -> int | None:
    """Log one epoch's (or batch's) metrics as points at a step of the active run.

    ``for epoch in range(5): ...; mlnb.pytorch.log_epoch({"loss": loss})`` logs ``loss`` at
    steps 0 to 4. With no active run one is started, as :func:`mlnb.log_metrics` does; end it
    with ``mlnb.end_run()`` or run the loop inside ``with mlnb.start_run():``. Values may be
    Python numbers, NumPy scalars or one-element tensors (read with ``float()``, so a tensor on
    a GPU is copied to the CPU). Points are buffered: on disk within a second and at the run's
    end.

    :param metrics: metric name -> value.
    :param step: the step to log at; default one past the last step this helper logged in the
        run (0 at first).
    :param params: hyper-parameters to log once (the first call that names them); logging a
        param again with another value is a warning, as the run keeps its first value.
    :returns: the step the metrics were logged at, or None when no run could be started.
    :raises InvalidParameterError: ``metrics`` or ``params`` is not a mapping, or ``step`` is not
        a non-negative integer (mistakes in the loop's code, found on its first epoch).
    """
    _check(metrics, step, params)
    try:
        run = fluent.active_run() or fluent.start_run()
    except Exception as exc:
        _warn("start a run", exc)
        return None
    if params:
        _log_params(run, params)
    at = _next_step.get(run.run_id, 0) if step is None else step
    _next_step[run.run_id] = max(at + 1, _next_step.get(run.run_id, 0))
    values = _numbers(metrics)
    if values:
        try:
            run.client.log_metrics(run.run_id, values, step=at)
        except Exception as exc:
            _warn("log the metrics", exc)
    return at


def _check(metrics: Any, step: Any, params: Any) -> None:
    """Refuse the argument mistakes a loop would repeat every epoch."""
    if not isinstance(metrics, Mapping):
        raise InvalidParameterError(
            f"mlnb.pytorch.log_epoch takes the metrics as a dict of name -> value, not "
            f"{type(metrics).__name__}; e.g. log_epoch({{'loss': loss}}).")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidParameterError(
            f"mlnb.pytorch.log_epoch: params must be a dict of name -> value, not "
            f"{type(params).__name__}.")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise InvalidParameterError(
            f"mlnb.pytorch.log_epoch: step must be a non-negative integer, not {step!r}.")


def _log_params(run: fluent.ActiveRun, params: Mapping[str, Any]) -> None:
    """Log the params this helper has not yet logged in the run with the same value."""
    done = _logged_params.setdefault(run.run_id, {})
    new = {str(k): str(v) for k, v in params.items() if done.get(str(k)) != str(v)}
    if not new:
        return
    try:
        run.client.log_params(run.run_id, new)
        done.update(new)
    except Exception as exc:
        _warn("log the params", exc)


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The metrics as floats; a value that is not one number is a warning and left out."""
    values: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            # a loss tensor still in the autograd graph: float() of it warns; detach() does not
            values[str(key)] = float(value.detach() if hasattr(value, "detach") else value)
        except (TypeError, ValueError, RuntimeError) as exc:  # a tensor of many elements
            _warn(f"log the metric {key!r} (its value must be one number)", exc)
    return values


def _warn(what: str, exc: BaseException) -> None:
    warnings.warn(f"mlnb.pytorch.log_epoch could not {what}: {type(exc).__name__}: {exc} "
                  "(training goes on)", RuntimeWarning, stacklevel=3)
