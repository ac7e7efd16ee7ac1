"""``mlnb.pytorch.MlnbLogger``: a PyTorch Lightning logger that logs into mlnb.

``Trainer(logger=mlnb.pytorch.MlnbLogger())`` logs the module's hyper-parameters
(``save_hyperparameters``) as params and every ``self.log(...)`` as metric points at Lightning's
global step, into the active run (inside ``%%track``, the cell's run) or a run it starts at
first use and ends when training ends (FAILED when it failed). With ``log_model=True`` the
checkpoints Lightning saves are logged as artifacts under ``checkpoints/``. A logging failure
is a warning, never a failed fit. The class subclasses Lightning's ``Logger``, so it is built
on first use (Lightning is not imported by ``import mlnb``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlnb.entities import RunStatus
from mlnb.store.validation import MAX_PARAM_VALUE_LENGTH
from mlnb.tracking import fluent

_NAMES = ("MlnbLogger",)


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested hyper-parameters as flat ``a/b`` keys with text values (MLflow's logger's rule).

    :param params: the hyper-parameters (dicts nest).
    :param prefix: the keys' prefix.
    """
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = str(value)[:MAX_PARAM_VALUE_LENGTH]
    return flat


def numbers(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The entries that are one number (Python, NumPy or a one-element tensor), as floats.

    :param metrics: name -> value.
    :param prefix: prepended to each name.
    """
    kept = {}
    for key, value in metrics.items():
        try:
            kept[f"{prefix}{key}"] = float(value)
        except (TypeError, ValueError, RuntimeError):  # a tensor of many values: not a point
            continue
    return kept


class _Run:
    """The logger's run: the active one, or one it starts and ends."""

    def __init__(self, experiment_name: str | None, run_name: str | None,
                 tags: Mapping[str, Any] | None, run_id: str | None) -> None:
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.given_id = run_id
        self.run: fluent.ActiveRun | None = None
        self.owned = False

    def get(self) -> fluent.ActiveRun | None:
        """The run to log into (started on first use); None when none could be had (warned)."""
        if self.run is not None:
            return self.run
        try:
            active = fluent.active_run()
            if active is not None and self.given_id in (None, active.run_id):
                self.run, self.owned = active, False
            else:
                if self.experiment_name and self.given_id is None:
                    fluent.set_experiment(self.experiment_name)
                self.run = fluent.start_run(run_id=self.given_id, run_name=self.run_name,
                                            tags=self.tags or None, nested=active is not None)
                self.owned = True
        except Exception as exc:
            warn("start a run", exc)
        return self.run

    def end(self, status: str) -> None:
        """End the run when the logger started it. The logger keeps it: what Lightning logs
        after (``trainer.test``) goes to the same run, as MLflow's logger does.

        :param status: Lightning's ``"success"``, ``"failed"`` or ``"finished"``.
        """
        run = self.run
        if run is None or not self.owned:
            return
        self.owned = False  # ended once
        ended = RunStatus.FAILED if status == "failed" else RunStatus.FINISHED
        try:
            fluent.end_run(ended, run_id=run.run_id)
        except Exception as exc:
            warn("end the run", exc)


def warn(what: str, exc: BaseException) -> None:
    """A logging failure as a warning naming what failed.

    :param what: what failed.
    :param exc: the failure.
    """
    warnings.warn(f"mlnb.pytorch.MlnbLogger could not {what}: {type(exc).__name__}: {exc} (the "
                  "model is trained anyway)", RuntimeWarning, stacklevel=3)


@functools.cache
def logger_class() -> type:
    """Build the Lightning logger class (once; Lightning is imported here, not by ``import mlnb``)."""
    # PyTorch Lightning: the logger must subclass its Logger
    from lightning.fabric.loggers.logger import rank_zero_experiment  # Lightning, on first use
    from lightning.pytorch.loggers.logger import Logger  # Lightning, on first use
    from lightning.pytorch.utilities import rank_zero_only  # Lightning, on first use

    class MlnbLogger(Logger):
        """Log a PyTorch Lightning ``Trainer`` to mlnb (MLflow's ``MLFlowLogger`` arguments).

        :param experiment_name: the experiment of a run it starts (default: the current one).
        :param run_name: the name of a run it starts.
        :param tags: tags of a run it starts.
        :param run_id: log into this existing run (resumed) instead.
        :param prefix: put before every metric's name (``"train-"``).
        :param log_model: log the checkpoints Lightning saves as artifacts (``checkpoints/``).
        """

        def __init__(self, experiment_name: str | None = None, run_name: str | None = None,
                     tags: Mapping[str, Any] | None = None, run_id: str | None = None,
                     prefix: str = "", log_model: bool = False) -> None:
            super().__init__()
            self._mlnb = _Run(experiment_name, run_name, tags, run_id)
            self._prefix = f"{prefix}-" if prefix and not prefix.endswith(("-", "/", "_")) \
                else prefix
            self._log_model = log_model

        @property
        def name(self) -> str | None:
            """The experiment's name."""
            run = self._mlnb.get()
            if run is None:
                return self._mlnb.experiment_name
            return run.client.get_experiment(run.info.experiment_id).name

        @property
        def version(self) -> str | None:
            """The run's id."""
            run = self._mlnb.get()
            return run.run_id if run is not None else None

        @property
        def run_id(self) -> str | None:
            """The run's id (MLflow's logger's name for it)."""
            return self.version

        @property
        @rank_zero_experiment
        def experiment(self) -> Any:
            """The :class:`mlnb.MlnbClient` of the run (MLflow's logger gives its client)."""
            run = self._mlnb.get()
            return run.client if run is not None else None

        @rank_zero_only
        def log_hyperparams(self, params: Any) -> None:
            """Log the hyper-parameters (a dict or namespace; nested keys as ``a/b``) once.

            :param params: the hyper-parameters.
            """
            run = self._mlnb.get()
            if run is None:
                return
            values = vars(params) if not isinstance(params, Mapping) else params
            try:
                run.log_params(flatten(values))
            except Exception as exc:
                warn("log the hyper-parameters", exc)

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            """Log one step's metrics (buffered).

            :param metrics: name -> value.
            :param step: Lightning's global step.
            """
            run = self._mlnb.get()
            values = numbers(metrics, self._prefix)
            if run is None or not values:
                return
            try:
                run.client.log_metrics(run.run_id, values, step=int(step or 0))
            except Exception as exc:
                warn("log the metrics", exc)

        @rank_zero_only
        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            """With ``log_model``: log the checkpoint files Lightning kept.

            :param checkpoint_callback: Lightning's ``ModelCheckpoint``.
            """
            run = self._mlnb.get()
            if not self._log_model or run is None:
                return
            paths = {getattr(checkpoint_callback, "best_model_path", ""),
                     getattr(checkpoint_callback, "last_model_path", "")}
            for path in sorted(p for p in paths if p and Path(p).is_file()):
                try:
                    run.client.log_artifact(run.run_id, path, "checkpoints")
                except Exception as exc:
                    warn(f"log the checkpoint {Path(path).name}", exc)

        @rank_zero_only
        def finalize(self, status: str) -> None:
            """End the run if this logger started it (FAILED when training failed).

            :param status: Lightning's ``"success"``, ``"failed"`` or ``"finished"``.
            """
            self._mlnb.end(status)

    MlnbLogger.__module__ = "mlnb.pytorch"
    return MlnbLogger


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return logger_class()
    raise AttributeError(f"module 'mlnb.autolog.lightning' has no attribute {name!r}")


__all__ = ["flatten", "logger_class", "numbers", *_NAMES]
