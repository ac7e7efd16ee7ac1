"""Autolog's training images (MLflow's names), drawn off the fit's critical path.

MLflow draws a classifier's normalized confusion matrix (and, for two classes, its ROC and
precision-recall curves) inside ``fit``, which costs a few hundred milliseconds per fit. Here the
fit only takes a snapshot of what the images need (labels, predictions, scores: arrays the user
cannot change under us) and queues it; one daemon thread draws the PNGs with matplotlib's object
API (no pyplot figure, no global rcParams change, so a user's own plots are untouched) and writes
them to the run. A run autolog started is ended by the same thread once its images are written.

Nothing read through the tracking API can miss them: :func:`wait` is registered with the metric
writer, so every read, ``end_run``, ``mlnb.flush()`` and interpreter exit waits for the queue
first. The queue is bounded, so a loop of many fits waits for the drawing instead of piling up
snapshots in memory.
"""

from __future__ import annotations

import io
import queue
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from mlnb.tracking.client import MlnbClient
from mlnb.tracking.writer import register_background

DPI = 175  # MLflow's savefig.dpi for these images
FONT_SIZE = 8.0
MAX_QUEUED = 8


@dataclass(frozen=True)
class PlotInputs:
    """What a classifier's training images need, copied at the end of the fit.

    :param y_true: the training labels.
    :param y_pred: the fitted model's predictions on the training data.
    :param scores: the positive class's scores (two classes only), else None.
    :param labels: the classifier's classes, in its order.
    :param sample_weight: the fit's sample weights, or None.
    :param name: the estimator's class name (the curves' legend).
    """

    y_true: Any
    y_pred: Any
    scores: Any
    labels: Any
    sample_weight: Any
    name: str


@dataclass(frozen=True)
class _Job:
    client: MlnbClient
    run_id: str
    plots: PlotInputs | None = None
    end_status: str | None = None  # end the (autolog-owned) run once the images are written
    silent: bool = False


class _Drawer:
    """One daemon thread draining a bounded queue of jobs, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[_Job] = queue.Queue(MAX_QUEUED)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlnb-autolog-images",
                                                daemon=True)
                self._thread.start()
        self._queue.put(job)  # blocks while MAX_QUEUED jobs wait: the fits pace the drawing

    def wait(self) -> None:
        if threading.current_thread() is self._thread:
            return  # the drawer's own writes flush the store: never wait for itself
        self._queue.join()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                _run(job)
            except BaseException as exc:  # the thread must survive anything a job raises
                _warn(job, "write the training images", exc)
            finally:
                self._queue.task_done()


_drawer = _Drawer()


def submit(client: MlnbClient, run_id: str, plots: PlotInputs | None, end_status: str | None,
           silent: bool) -> None:
    """Queue a run's images (``plots``) and/or its end (``end_status``), in that order.

    :param client: the client of the run's store.
    :param run_id: the run.
    :param plots: what to draw, or None.
    :param end_status: end the run with this status once drawn (None: leave it as it is).
    :param silent: no warning when drawing fails.
    """
    _drawer.submit(_Job(client, run_id, plots, end_status, silent))


def wait() -> None:
    """Return once every queued job is done (at once in the drawing thread itself)."""
    _drawer.wait()


register_background(wait)


def _run(job: _Job) -> None:
    try:
        if job.plots is not None:
            for name, data in draw(job.plots):
                job.client.store.put_artifact_bytes(job.run_id, name, data)
    except Exception as exc:
        _warn(job, "draw the training images", exc)
    finally:
        if job.end_status is not None:
            job.client.set_terminated(job.run_id, job.end_status)


def draw(plots: PlotInputs) -> list[tuple[str, bytes]]:
    """The PNG files MLflow's autolog logs for a classifier: ``(file name, bytes)``.

    :param plots: the fit's labels, predictions and scores.
    """
    # matplotlib: an optional dependency, imported in this thread on the first image only.
    from matplotlib.figure import Figure
    from sklearn import metrics  # scikit-learn: loaded on first use, not by import mlnb

    images = []
    # Fixed margins, not MLflow's tight layout: that lays the figure out by drawing it an extra
    # time (about a third of the cost), and these labels fit the margins anyway.
    figure = Figure(figsize=(6.0, 4.0), dpi=DPI)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.92)
    ax = figure.subplots()
    size = min(FONT_SIZE, 50.0 / max(len(plots.labels), 1))
    metrics.ConfusionMatrixDisplay.from_predictions(
        plots.y_true, plots.y_pred, labels=plots.labels, sample_weight=plots.sample_weight,
        normalize="true", cmap="Blues", ax=ax, text_kw={"fontsize": size})
    images.append(("training_confusion_matrix.png",
                   _png(figure, ax, "Normalized confusion matrix", size)))
    if plots.scores is not None:
        for file, display, title in (
                ("training_roc_curve.png", metrics.RocCurveDisplay, "ROC curve"),
                ("training_precision_recall_curve.png", metrics.PrecisionRecallDisplay,
                 "Precision recall curve")):
            figure = Figure(dpi=DPI)  # matplotlib's default size, as MLflow's curves
            figure.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.93)
            ax = figure.subplots()
            display.from_predictions(plots.y_true, plots.scores, pos_label=plots.labels[1],
                                     sample_weight=plots.sample_weight, name=plots.name, ax=ax)
            images.append((file, _png(figure, ax, title, FONT_SIZE)))
    return images


def _png(figure: Any, ax: Any, title: str, size: float) -> bytes:
    ax.set_title(title, fontsize=FONT_SIZE)
    for axes in figure.axes:  # the plot's and the colorbar's
        axes.tick_params(labelsize=size)
    ax.xaxis.label.set_size(FONT_SIZE)
    ax.yaxis.label.set_size(FONT_SIZE)
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            text.set_fontsize(FONT_SIZE)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _warn(job: _Job, what: str, exc: BaseException) -> None:
    if not job.silent:
        warnings.warn(f"mlnb autolog: could not {what} of run {job.run_id}: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
