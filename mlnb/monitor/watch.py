"""``mlnb monitor``: the prediction log of a model, split into time windows, each tested for
drift against a reference and logged as a step of a run in the ``<model> monitoring``
experiment, so the existing charts show drift over time.

One run per (model URI, reference, window length) holds every window: its metrics at
``step`` = the window's index from the first window, timestamped at the window's start, and
its report (HTML and JSON) under ``windows/``. Besides the inputs, each window tests the model's
predictions against its predictions on the reference (prediction drift) and, where ground truth
arrived, the targets against the reference's target column (target drift): see
:mod:`mlnb.monitor.outputs`. Only closed windows are reported (a window still
receiving predictions would change), and the run remembers the end of the last one reported
(tag ``mlnb.monitor.reported_until_ms``, written in the same transaction as the window's
metrics), so running it again reports only new windows and never duplicates one.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlnb.entities import Metric, RunTag
from mlnb.errors import InvalidParameterError
from mlnb.models.reference import load_reference_data
from mlnb.monitor.drift import DriftReport, SmallSampleWarning, drift_report
from mlnb.monitor.outputs import (
    ModelSide,
    align_inputs,
    descriptor_of,
    logged_predictions,
    model_side,
    output_report,
)
from mlnb.monitor.predictions import predictions
from mlnb.monitor.render import monitor_html, report_html
from mlnb.registry.uri import check_uri_text, parse_registry_uri
from mlnb.tracking.client import MlnbClient, current_client

KEY_TAG = "mlnb.monitor.key"
UNTIL_TAG = "mlnb.monitor.reported_until_ms"
ORIGIN_TAG = "mlnb.monitor.origin_ms"
UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_UNSAFE = re.compile(r"[^\w.\- /]")
MAX_CLASSES = 20  # a target with at most this many values (and whole numbers) is a class label


@dataclass(frozen=True)
class WindowResult:
    """One reported window: its index (the metrics' step), start, rows and verdicts.

    ``prediction_drift`` and ``target_drift`` are None when not tested (see ``notes`` of the
    :class:`MonitorResult`, or no ground truth in the window); the reports are the window's
    feature, prediction and target drift reports.
    """

    index: int
    start_ms: int
    rows: int
    share_drifted: float
    dataset_drift: bool
    drifted_columns: list[str]
    model_metrics: dict[str, float] = field(default_factory=dict)
    prediction_drift: bool | None = None
    target_drift: bool | None = None
    report: DriftReport | None = field(default=None, compare=False, repr=False)
    prediction_report: DriftReport | None = field(default=None, compare=False, repr=False)
    target_report: DriftReport | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MonitorResult:
    """What one ``mlnb monitor`` did: the run it logged to, the windows it reported, and why
    prediction or target drift was not tested (``notes``). Renders inline in a notebook."""

    run_id: str
    experiment_name: str
    windows: list[WindowResult]
    already_reported: int
    open_rows: int
    notes: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return monitor_html(self)


def parse_duration(text: str, what: str = "--window") -> int:
    """Milliseconds in a duration such as ``30m``, ``6h``, ``1d`` or ``1w``.

    :param text: the duration.
    :param what: its option's name, for the error.
    :raises InvalidParameterError: for anything else.
    """
    found = _DURATION.match(text) if isinstance(text, str) else None
    if not found or int(found.group(1)) == 0:
        raise InvalidParameterError(
            f"{what} takes a positive duration such as 30m, 6h, 1d or 1w, not {text!r}.")
    return int(found.group(1)) * UNITS_MS[found.group(2)]


def parse_since(text: str, now_ms: int) -> int:
    """Milliseconds since the epoch from ``7d`` (that long ago) or an ISO date or time (UTC
    unless it names a zone).

    :param text: the value of ``--since``.
    :param now_ms: the present, for a relative value.
    :raises InvalidParameterError: for anything else.
    """
    if _DURATION.match(text):
        return now_ms - parse_duration(text, "--since")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidParameterError(
            f"--since takes a duration back from now (7d) or an ISO date such as 2026-12-01 or "
            f"2026-12-01T08:00, not {text!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def read_table(path: Path, what: str) -> Any:
    """A CSV or Parquet file as a DataFrame.

    :param path: the file.
    :param what: how to name it in errors.
    :raises InvalidParameterError: for another kind of file, or one that does not parse.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError) as problem:
        raise InvalidParameterError(f"{what} {path} could not be read: {problem}") from None
    raise InvalidParameterError(f"{what} {path} must be a .csv or .parquet file.")


def load_reference(model_uri: str, reference: str | None, client: MlnbClient) -> tuple[Any, str]:
    """The reference data and a short text naming where it came from.

    :param model_uri: the monitored model (its logged ``reference_data`` is the default).
    :param reference: None, a CSV/Parquet file, ``runs:/<run_id>/<path>`` (a table or a model
        folder in a run's artifacts), or a run id (its one table or model reference).
    :param client: the client of the store.
    :raises InvalidParameterError: when there is no reference, or it cannot be read.
    """
    if reference is None:
        frame = load_reference_data(model_uri)
        if frame is None:
            raise InvalidParameterError(
                f"{model_uri} was logged without reference data: pass --reference FILE, RUN_ID or "
                "runs:/<run_id>/<path>, or log the model with log_model(..., "
                "reference_data=training_frame).")
        return frame, f"the reference data logged with {model_uri}"
    if reference.startswith("runs:/") or _RUN_ID.match(reference):
        run_id, _, rel = reference.removeprefix("runs:/").partition("/")
        base = client.store.artifact_path(client.get_run_info(run_id).run_id, "")
        target = base / rel if rel else _only_table(base, run_id)
        if (target / "MLmodel").is_file():
            frame = load_reference_data(f"runs:/{run_id}/{target.relative_to(base).as_posix()}")
            if frame is None:
                raise InvalidParameterError(f"The model at {reference} has no reference data.")
            return frame, f"the reference data of {reference}"
        if not target.is_file():
            raise InvalidParameterError(f"Run {run_id} has no artifact {rel!r}.")
        return read_table(target, "The reference"), reference
    path = Path(reference).expanduser()
    if not path.is_file():
        raise InvalidParameterError(
            f"--reference {reference!r} is neither a file, a run id nor a runs:/ URI.")
    return read_table(path, "The reference"), str(path)


def _only_table(base: Path, run_id: str) -> Path:
    """A run's one model folder with reference data, else its one table artifact."""
    models = sorted(p.parent for p in base.rglob("reference_data.parquet")
                    if (p.parent / "MLmodel").is_file())
    tables = sorted(p for p in base.rglob("*") if p.suffix.lower() in (".csv", ".parquet", ".pq")
                    and p.is_file() and p.parent not in models)
    found = models if len(models) == 1 else tables
    if len(found) != 1:
        names = sorted(p.relative_to(base).as_posix() for p in models + tables)
        raise InvalidParameterError(
            f"Run {run_id} has {len(names)} candidate reference artifacts {names[:10]}; name one as "
            f"runs:/{run_id}/<path>.")
    return found[0]


def experiment_name(model_uri: str) -> str:
    """``<model> monitoring``: the registered name for ``models:/`` URIs, else the URI.

    :param model_uri: the monitored model.
    """
    text = check_uri_text(model_uri)
    name = parse_registry_uri(text)[0] if text.startswith("models:/") else text
    return f"{name} monitoring"


def metric_key(column: str) -> str:
    """A column name usable in a metric key (characters MLflow refuses become ``_``).

    :param column: the column's name.
    """
    return _KEY_UNSAFE.sub("_", column)[:200] or "_"


def model_metrics(frame: Any) -> dict[str, float]:
    """The model's metrics on the rows whose ground truth arrived: accuracy for class labels,
    MAE and RMSE for numbers; ``ground_truth_rows`` always.

    :param frame: a window of the prediction log (``prediction`` and ``target`` columns).
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if "target" not in frame or "prediction" not in frame:
        return {"ground_truth_rows": 0.0}
    known = frame[frame["target"].notna() & frame["prediction"].notna()]
    out = {"ground_truth_rows": float(len(known))}
    if known.empty:
        return out
    target, predicted = known["target"], known["prediction"]
    numeric = pd.api.types.is_numeric_dtype(target) and pd.api.types.is_numeric_dtype(predicted)
    labels = not numeric or (target.nunique() <= MAX_CLASSES
                             and bool((np.asarray(target, dtype=float) % 1 == 0).all())
                             and bool((np.asarray(predicted, dtype=float) % 1 == 0).all()))
    if labels:
        # numbers compare as numbers: a target column with gaps is float (1.0), predictions int
        same = (np.asarray(target, dtype=float) == np.asarray(predicted, dtype=float)) if numeric \
            else (target.astype(str) == predicted.astype(str)).to_numpy()
        out["accuracy"] = float(same.mean())
    else:
        error = np.asarray(predicted, dtype=float) - np.asarray(target, dtype=float)
        out["mae"] = float(np.abs(error).mean())
        out["rmse"] = float(math.sqrt(float((error ** 2).mean())))
    return out


def window_metrics(report: DriftReport, rows: int, extra: dict[str, float],
                   outputs: dict[str, DriftReport | None] | None = None) -> dict[str, float]:
    """The metrics one window logs: the dataset verdict, each column's statistic, verdict and
    missing share, the model's metrics, and ``drift.prediction.statistic``/``.drifted`` and
    ``drift.target.statistic``/``.drifted`` (a model with several outputs: ``drift.prediction.
    <output>.statistic``/``.drifted`` each, and ``drift.prediction.drifted`` when any drifted).

    :param report: the window's drift report.
    :param rows: the window's rows.
    :param extra: the model's metrics on the window.
    :param outputs: ``{"prediction": report or None, "target": report or None}``.
    """
    out = {"rows": float(rows), "drift.share": report.share_drifted,
           "drift.dataset": float(report.dataset_drift),
           "drift.columns_drifted": float(len(report.drifted_columns))}
    for c in report.columns:
        key = metric_key(c.column)
        out[f"drift.{key}.statistic"] = c.statistic
        out[f"drift.{key}.drifted"] = float(c.drifted)
        out[f"missing.{key}"] = c.current_missing_share
    for role, found in (outputs or {}).items():
        if found is None:
            continue
        for c in found.columns:
            part = c.column.partition(".")[2] if c.column.startswith(f"{role}.") else ""
            key = f"drift.{role}" + (f".{metric_key(part)}" if part else "")
            out[f"{key}.statistic"] = c.statistic
            out[f"{key}.drifted"] = float(c.drifted)
        out[f"drift.{role}.drifted"] = float(bool(found.drifted_columns))
    out.update(extra)
    return out


def monitor(model_uri: str, *, reference: str | None = None, since: str | None = None,
            window: str = "1d", target: str | None = None, trusted: bool = False,
            now_ms: int | None = None, progress: Callable[[str], None] = lambda _: None
            ) -> MonitorResult:
    """Report drift per closed time window of a model's prediction log (see the module's text).

    :param model_uri: the URI the predictions were logged under.
    :param reference: where the reference data is (see :func:`load_reference`); default the
        ``reference_data`` logged with the model.
    :param since: only predictions from then on: ``7d`` or an ISO date or time.
    :param window: the window length: ``30m``, ``6h``, ``1d``, ``1w``.
    :param target: the reference's target column (for target drift); default the one recorded
        with the reference data, or found from the model's signature.
    :param trusted: load the model for prediction drift even when mlnb did not write its files
        (a foreign pickle runs its code); without it such a model's prediction drift is skipped.
    :param now_ms: the present (windows ending after it are still open); default the clock.
    :param progress: called with a line of text at each stage.
    :raises InvalidParameterError: for a bad window, date, reference or target column.
    """
    client = current_client()
    width = parse_duration(window)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    start = parse_since(since, now) if since else None
    ref, ref_name = load_reference(model_uri, reference, client)
    progress(f"Reference: {ref_name} ({len(ref):,} rows, {len(ref.columns)} columns).")
    descriptor = descriptor_of(model_uri)
    side = model_side(model_uri, ref, descriptor, target, trusted, want_predictions=False)
    if side.target is not None:
        progress(f"Target column of the reference: {side.target!r}.")
    log = predictions(model_uri, start)
    progress(f"Prediction log of {model_uri}: {len(log):,} rows"
             + (f" since {_iso(start)}." if start is not None else "."))
    run_id, until, origin = _monitoring_run(client, model_uri, ref_name, ref, width)
    name = experiment_name(model_uri)
    if log.empty:
        return MonitorResult(run_id, name, [], 0, 0, _notes(side))
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    stamps = (log["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")
    buckets = (stamps // width) * width
    closed = buckets + width <= now
    open_rows = int((~closed).sum())
    origin = int(buckets.min()) if origin is None else origin
    done = int((closed & (buckets < until)).sum()) if until is not None else 0
    results = []
    todo = [b for b in sorted(int(b) for b in buckets[closed].unique())
            if until is None or b >= until]
    if todo:  # the model predicts the reference once, for every window to report
        side = model_side(model_uri, ref, descriptor, target, trusted)
        if side.predictions is not None:
            progress(f"Predicted the reference with {model_uri} for prediction drift.")
    for note in _notes(side):
        progress(note[0].upper() + note[1:])
    for begin in todo:
        part = log[(buckets == begin).to_numpy()]
        results.append(_report_window(client, run_id, ref, side, part, begin, width, origin,
                                      progress))
    if open_rows:
        progress(f"{open_rows:,} rows are in a window still open (ends after now): reported once "
                 "it closes.")
    if done:
        progress(f"{done:,} rows are in windows already reported: skipped.")
    progress(f"Logged {len(results)} window(s) to run {run_id} in experiment {name!r}.")
    return MonitorResult(run_id, name, results, done, open_rows, _notes(side))


def _notes(side: ModelSide) -> list[str]:
    return [n for n in (side.prediction_note, side.target_note) if n]


def _outputs(side: ModelSide, ref: Any, part: Any
             ) -> tuple[DriftReport | None, DriftReport | None, str]:
    """The window's prediction and target drift reports, and why one is missing."""
    prediction = target = None
    notes = []
    if side.predictions is not None:
        prediction = output_report(side.predictions, logged_predictions(part), "prediction")
        if prediction is None:
            notes.append("no prediction drift: the logged predictions have none of the model's "
                         f"output columns {list(side.predictions.columns)[:10]}.")
    if side.target is not None:
        truth = part["target"] if "target" in part else None
        if truth is None or not truth.notna().any():
            notes.append("no target drift: no ground truth arrived for this window.")
        else:
            target = output_report(ref[[side.target]], truth.to_frame(side.target), "target")
    return prediction, target, " ".join(notes)


def _report_window(client: MlnbClient, run_id: str, ref: Any, side: ModelSide, part: Any,
                   begin: int, width: int, origin: int, progress: Callable[[str], None]
                   ) -> WindowResult:
    index = (begin - origin) // width
    part = align_inputs(part, side.features)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallSampleWarning)
        report = drift_report(ref[side.features], part)
        prediction, target, note = _outputs(side, ref, part)
    extra = model_metrics(part)
    metrics = window_metrics(report, len(part), extra, {"prediction": prediction,
                                                        "target": target})
    stem = f"windows/{index:05d}"
    notes = [n for n in (*_notes(side), note) if n]
    document = {"index": index, "start_ms": begin, "end_ms": begin + width, "rows": len(part),
                "model_metrics": extra, "report": report.to_dict(),
                "prediction_report": prediction.to_dict() if prediction is not None else None,
                "target_report": target.to_dict() if target is not None else None,
                "target_column": side.target,
                "notes": notes}
    client.store.put_artifact_bytes(run_id, f"{stem}.json", json.dumps(document).encode())
    page = (f"<h3>Window {index}: {html.escape(_iso(begin))} to {html.escape(_iso(begin + width))}"
            f"</h3>{report_html(report)}"
            + "".join(report_html(r, title) for r, title in ((prediction, "Prediction drift"),
                                                             (target, "Target drift"))
                      if r is not None)
            + "".join(f"<p>{html.escape(n)}</p>" for n in notes))
    client.store.put_artifact_bytes(run_id, f"{stem}.html", page.encode())
    # The metrics and the high-water mark commit together: a crash never leaves a window
    # logged but not marked (duplicated by the next run) or marked but not logged.
    client.log_batch(run_id, metrics=[Metric(k, v, begin, index) for k, v in metrics.items()],
                     tags=[RunTag(UNTIL_TAG, str(begin + width)), RunTag(ORIGIN_TAG, str(origin))])
    small = f" ({len(caught)} small-sample warnings)" if caught else ""
    model = "".join(f", {k} {v:.4g}" for k, v in extra.items() if k != "ground_truth_rows")
    verdicts = "".join(f", {role} {_verdict(r)}" for role, r in (("prediction", prediction),
                                                                  ("target", target))
                       if r is not None)
    progress(f"Window {index} ({_iso(begin)}): {len(part):,} rows, drift share "
             f"{report.share_drifted:.2f} ({len(report.drifted_columns)} of {len(report.columns)} "
             f"columns){verdicts}{model}{small}.")
    return WindowResult(index, begin, len(part), report.share_drifted, report.dataset_drift,
                        report.drifted_columns, extra,
                        bool(prediction.drifted_columns) if prediction is not None else None,
                        bool(target.drifted_columns) if target is not None else None,
                        report, prediction, target)


def _verdict(report: DriftReport) -> str:
    """``drift (statistic 0.41)`` or ``no drift (...)`` of a one-column report; several columns
    as how many drifted."""
    if len(report.columns) == 1:
        c = report.columns[0]
        return f"{c.verdict} ({c.stattest} {c.statistic:.4g})"
    return f"drift in {len(report.drifted_columns)} of {len(report.columns)} outputs"


def _monitoring_run(client: MlnbClient, model_uri: str, ref_name: str, ref: Any, width: int
                    ) -> tuple[str, int | None, int | None]:
    """The run of this (model, reference, window): ``(run_id, reported until, origin)``."""
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    digest = hashlib.sha256(pd.util.hash_pandas_object(ref, index=False).to_numpy().tobytes())
    key = hashlib.sha256(f"{model_uri}\n{digest.hexdigest()}\n{width}".encode()).hexdigest()[:32]
    name = experiment_name(model_uri)
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
    runs = client.search_runs([experiment_id], f"tags.`{KEY_TAG}` = '{key}'", max_results=1)
    if runs:
        tags = runs[0].data.tags
        until = tags.get(UNTIL_TAG)
        origin = tags.get(ORIGIN_TAG)
        return (runs[0].info.run_id, int(until) if until else None,
                int(origin) if origin else None)
    run = client.create_run(experiment_id, run_name=f"drift per {_duration_text(width)}", tags={
        KEY_TAG: key, "mlnb.monitor.model_uri": model_uri, "mlnb.monitor.reference": ref_name,
        "mlnb.monitor.reference_sha256": digest.hexdigest(), "mlnb.monitor.window_ms": str(width)})
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id, None, None


def _duration_text(ms: int) -> str:
    for unit, size in sorted(UNITS_MS.items(), key=lambda kv: -kv[1]):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")



def monitoring_summary(client: MlnbClient, model_name: str, max_points: int = 1000) -> list[dict[str, Any]]:
    """What ``mlnb monitor`` logged for a registered model, per monitoring run: the drift share of
    each window (step, window start, value), the prediction and target drift verdicts of each
    window that tested them (``prediction_points``, ``target_points``: step, window start,
    drifted, statistic) and the newest window's report (with ``prediction_report``,
    ``target_report`` and ``notes``), as JSON data (the sidebar's Monitoring tab).

    :param client: the client of the store.
    :param model_name: the registered model's name.
    :param max_points: at most this many windows per run (the newest).
    """
    experiment = client.get_experiment_by_name(f"{model_name} monitoring")
    if experiment is None:
        return []
    out = []
    for run in client.search_runs([experiment.experiment_id], max_results=50):
        if KEY_TAG not in run.data.tags:  # a run someone else logged there
            continue
        run_id = run.info.run_id
        history = client.get_metric_history(run_id, "drift.share")[-max_points:]
        outputs = {f"{role}_points": _verdict_points(client, run_id, role, max_points)
                   for role in ("prediction", "target")}
        windows = [f.path for f in client.store.list_artifacts(run_id, "windows")
                   if f.path.endswith(".json")]
        latest = None
        if windows:
            record = client.store.artifact_record(run_id, max(windows))
            latest = json.loads(client.store.artifact_path(run_id, record.path).read_bytes())
        tags = run.data.tags
        out.append({"run_id": run_id, "model_uri": tags.get("mlnb.monitor.model_uri"),
                    "reference": tags.get("mlnb.monitor.reference"),
                    "window_ms": int(tags.get("mlnb.monitor.window_ms") or 0),
                    "points": [{"step": m.step, "timestamp": m.timestamp, "value": m.value}
                               for m in history],
                    **outputs, "latest": latest})
    return out


def _verdict_points(client: MlnbClient, run_id: str, role: str, max_points: int
                    ) -> list[dict[str, Any]]:
    """Per window: ``drift.<role>.drifted`` (1 or 0) and, for one output,
    ``drift.<role>.statistic``."""
    drifted = client.get_metric_history(run_id, f"drift.{role}.drifted")[-max_points:]
    statistic = {m.step: m.value for m in client.get_metric_history(run_id,
                                                                     f"drift.{role}.statistic")}
    return [{"step": m.step, "timestamp": m.timestamp, "drifted": bool(m.value),
             "statistic": _finite(statistic.get(m.step))} for m in drifted]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
