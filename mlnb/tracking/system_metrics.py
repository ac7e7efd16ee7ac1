"""System metrics: while a run is active, a daemon thread samples the machine and this process.

Turned on per run by ``start_run(log_system_metrics=True)`` (or ``%%track --system``), for every
run by :func:`enable_system_metrics_logging` or the environment variable
``MLNB_ENABLE_SYSTEM_METRICS_LOGGING=true`` (MLflow's ``MLFLOW_ENABLE_...`` is read too).
Metrics use MLflow's names under ``system/``: ``cpu_utilization_percentage``,
``system_memory_usage_megabytes``, ``system_memory_usage_percentage``, ``disk_usage_percentage``,
``disk_usage_megabytes``, ``disk_available_megabytes``, ``network_receive_megabytes``,
``network_transmit_megabytes`` (since the run started) and, where ``nvidia-ml-py`` finds GPUs
(those ``CUDA_VISIBLE_DEVICES`` names, when it is set), ``gpu_<i>_memory_usage_percentage``,
``gpu_<i>_memory_usage_megabytes``, ``gpu_<i>_utilization_percentage``,
``gpu_<i>_power_usage_watts`` and ``gpu_<i>_power_usage_percentage``. mlnb adds the process's own
``process_cpu_utilization_percentage`` (of the whole machine, 0-100), ``process_memory_rss_megabytes``
and ``process_thread_count``: in a notebook, the kernel is what the user cares about.

Every ``sampling_interval`` seconds (default 10, 1 inside ``%%track``) one sample is taken; every
``samples_before_logging`` samples (default 1) their mean is logged at the next step (0, 1, ...).
When the run ends, the thread stops and one last sample is logged, so a short run still gets a
point. When off, nothing is imported and no thread exists.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.tracking.client import MlnbClient

ENABLE_ENV = ("MLNB_ENABLE_SYSTEM_METRICS_LOGGING", "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING")
INTERVAL_ENV = ("MLNB_SYSTEM_METRICS_SAMPLING_INTERVAL", "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL")
SAMPLES_ENV = ("MLNB_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
               "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING")
DEFAULT_INTERVAL = 10.0
TRACK_INTERVAL = 1.0
MIN_INTERVAL = 0.05
PREFIX = "system/"
_MB = 1e6  # MLflow's megabytes


@dataclass
class _Settings:
    enabled: bool | None = None  # None: the environment decides
    interval: float | None = None  # None: the environment, else the caller's default
    samples: int | None = None


_settings = _Settings()


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run this process starts from now on (MLflow's name)."""
    _settings.enabled = True


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (MLflow's name); a run that
    asks with ``start_run(log_system_metrics=True)`` still gets them."""
    _settings.enabled = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between two samples for runs started from now on (MLflow's name).

    :param interval: seconds (at least 0.05), or None for the default (10 s; 1 s in ``%%track``).
    :raises InvalidParameterError: for a non-positive or non-numeric interval.
    """
    _settings.interval = None if interval is None else _interval(interval, "interval")


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """How many samples are averaged into each logged point (MLflow's name).

    :param samples: a positive count, or None for the default (1).
    :raises InvalidParameterError: for anything but a positive integer.
    """
    _settings.samples = None if samples is None else _samples(samples, "samples")


def is_enabled() -> bool:
    """Whether runs started now log system metrics without being asked."""
    if _settings.enabled is not None:
        return _settings.enabled
    return any(os.environ.get(name, "").strip().lower() in ("true", "1", "yes") for name in ENABLE_ENV)


def sampling_interval(default: float = DEFAULT_INTERVAL) -> float:
    """The interval set by :func:`set_system_metrics_sampling_interval` or the environment, else
    ``default``.

    :param default: the caller's default (``%%track`` passes a short one).
    :raises InvalidParameterError: for an environment value that is not a positive number.
    """
    if _settings.interval is not None:
        return _settings.interval
    for name in INTERVAL_ENV:
        if os.environ.get(name):
            return _interval(os.environ[name], name)
    return default


def samples_before_logging() -> int:
    """The count set by :func:`set_system_metrics_samples_before_logging` or the environment,
    else 1."""
    if _settings.samples is not None:
        return _settings.samples
    for name in SAMPLES_ENV:
        if os.environ.get(name):
            return _samples(os.environ[name], name)
    return 1


def settings(default_interval: float = DEFAULT_INTERVAL) -> tuple[float, int]:
    """(sampling interval, samples before logging) as set now; checked, so that a bad
    environment value is an error before a run is made.

    :param default_interval: the interval when none is set.
    :raises InvalidParameterError: for a bad value.
    """
    return sampling_interval(default_interval), samples_before_logging()


def _interval(value: Any, what: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The system metrics sampling {what} must be a number of seconds, not {value!r}.") from None
    if not seconds >= MIN_INTERVAL:  # also refuses NaN
        raise InvalidParameterError(
            f"The system metrics sampling {what} must be at least {MIN_INTERVAL} s, not {value!r}.")
    return seconds


def _samples(value: Any, what: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1 or str(count) != str(value).strip():
        raise InvalidParameterError(
            f"The system metrics {what} before logging must be a positive whole number, not {value!r}.")
    return count


# --- sampling ---------------------------------------------------------------------------------


class Sampler:
    """Takes one sample of every metric (names without the ``system/`` prefix).

    Needs ``psutil``; GPUs through ``pynvml`` (the ``nvidia-ml-py`` package) when it imports and
    finds devices.
    """

    def __init__(self) -> None:
        import psutil  # psutil: loaded when system metrics are on, never by import mlnb

        self._psutil = psutil
        self._process = psutil.Process()
        self._cpus = psutil.cpu_count() or 1
        psutil.cpu_percent(None)  # the first call only starts the measurement
        self._process.cpu_percent(None)
        net = psutil.net_io_counters()
        self._net0 = (net.bytes_recv, net.bytes_sent) if net is not None else None
        self._gpus = _gpu_handles()

    def sample(self) -> dict[str, float]:
        """One sample: ``name -> value``."""
        ps = self._psutil
        memory = ps.virtual_memory()
        disk = ps.disk_usage(os.sep)
        values = {
            "cpu_utilization_percentage": float(ps.cpu_percent(None)),
            "system_memory_usage_megabytes": memory.used / _MB,
            "system_memory_usage_percentage": memory.used / memory.total * 100,
            "disk_usage_percentage": float(disk.percent),
            "disk_usage_megabytes": disk.used / _MB,
            "disk_available_megabytes": disk.free / _MB,
        }
        net = ps.net_io_counters()
        if net is not None and self._net0 is not None:
            values["network_receive_megabytes"] = (net.bytes_recv - self._net0[0]) / _MB
            values["network_transmit_megabytes"] = (net.bytes_sent - self._net0[1]) / _MB
        with self._process.oneshot():
            values["process_cpu_utilization_percentage"] = self._process.cpu_percent(None) / self._cpus
            values["process_memory_rss_megabytes"] = self._process.memory_info().rss / _MB
            values["process_thread_count"] = float(self._process.num_threads())
        for index, handle in self._gpus:
            values.update(_gpu_sample(index, handle))
        return values


def _gpu_handles() -> list[tuple[int, Any]]:
    """(index, NVML handle) of the GPUs this process may use; none without ``nvidia-ml-py``."""
    try:
        import pynvml  # nvidia-ml-py: optional, only for GPU metrics

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # not installed, no driver, no GPU: no GPU metrics
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    indices = list(range(count))
    if visible is not None:  # only the GPUs this job was given (a shared node's others are not ours)
        indices = [int(p) for p in visible.split(",") if p.strip().isdigit() and int(p) < count]
    return [(i, pynvml.nvmlDeviceGetHandleByIndex(i)) for i in indices]


def _gpu_sample(index: int, handle: Any) -> dict[str, float]:
    import pynvml  # nvidia-ml-py: optional, only for GPU metrics

    values: dict[str, float] = {}
    try:
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        values[f"gpu_{index}_memory_usage_percentage"] = memory.used / memory.total * 100
        values[f"gpu_{index}_memory_usage_megabytes"] = memory.used / _MB
        values[f"gpu_{index}_utilization_percentage"] = float(
            pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        power = pynvml.nvmlDeviceGetPowerUsage(handle)
        values[f"gpu_{index}_power_usage_watts"] = power / 1000
        values[f"gpu_{index}_power_usage_percentage"] = (
            power / pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) * 100)
    except Exception:  # a device that stops answering (or lacks power readings) logs what it gave
        pass
    return values


class Monitor:
    """The sampler thread of one run.

    :param run_id: the run.
    :param client: the client of the run's store.
    :param interval: seconds between samples.
    :param samples: samples averaged into each logged point.
    :param sampler: what takes a sample (default :class:`Sampler`, built here).
    """

    def __init__(self, run_id: str, client: MlnbClient, interval: float, samples: int = 1,
                 sampler: Callable[[], dict[str, float]] | None = None) -> None:
        self.run_id, self.client = run_id, client
        self.interval, self.samples = interval, samples
        self._sample = sampler or Sampler().sample
        self._stop = threading.Event()
        self._pending: list[dict[str, float]] = []
        self._lock = threading.Lock()
        # A resumed run goes on after its last step (one metric's history: its points are few).
        done = client.get_metric_history(run_id, PREFIX + "cpu_utilization_percentage")
        self.step = max((m.step for m in done), default=-1) + 1
        self._failed = False
        self._thread = threading.Thread(target=self._loop, name=f"mlnb-system-metrics-{run_id[:8]}",
                                        daemon=True)  # never keeps the process alive

    def start(self) -> Monitor:
        """Start sampling; returns itself."""
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take(final=False)

    def _take(self, final: bool) -> None:
        with self._lock:
            if self._failed:
                return
            try:
                self._pending.append(self._sample())
                if len(self._pending) >= self.samples or final:
                    self._log()
            except Exception as exc:  # a broken sensor or a closed store: stop, say so once
                self._failed = True
                warnings.warn(f"mlnb: system metrics of run {self.run_id} stopped: "
                              f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)

    def _log(self) -> None:
        pending, self._pending = self._pending, []
        keys = {k for sample in pending for k in sample}
        means = {PREFIX + k: round(sum(s[k] for s in pending if k in s)
                                   / sum(1 for s in pending if k in s), 1) for k in sorted(keys)}
        self.client.log_metrics(self.run_id, means, step=self.step)
        self.step += 1

    def stop(self) -> None:
        """Stop the thread (within one interval at most) and log a last sample: a run shorter
        than the interval still gets one point."""
        self._stop.set()
        self._thread.join(timeout=max(5.0, 2 * self.interval))
        self._take(final=True)


_monitors: dict[str, Monitor] = {}


def start_monitor(run_id: str, client: MlnbClient, interval: float | None = None,
                  samples: int | None = None) -> Monitor | None:
    """Start the system metrics thread of a run (once per run); None, with a warning, when psutil
    cannot be imported.

    :param run_id: the run.
    :param client: the client of the run's store.
    :param interval: seconds between samples; default :func:`sampling_interval`.
    :param samples: samples averaged into a point; default :func:`samples_before_logging`.
    """
    if run_id in _monitors:
        return _monitors[run_id]
    try:
        monitor = Monitor(run_id, client, interval or sampling_interval(),
                          samples or samples_before_logging())
    except ImportError as exc:
        warnings.warn(f"mlnb: system metrics need the psutil package ({exc}); this run logs none. "
                      "Install it with: pip install psutil", RuntimeWarning, stacklevel=3)
        return None
    _monitors[run_id] = monitor.start()
    return monitor


def stop_monitor(run_id: str) -> None:
    """Stop a run's system metrics thread, if it has one (its last sample is logged).

    :param run_id: the run.
    """
    monitor = _monitors.pop(run_id, None)
    if monitor is not None:
        monitor.stop()
