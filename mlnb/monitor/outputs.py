"""What ``mlnb monitor`` compares besides the inputs: the model's outputs and the ground truth.

Prediction drift compares the predictions logged in a window with the model's own predictions on
the reference data (the model is loaded once per ``monitor`` call). Loading runs the model's
code, so a model file mlnb's model writer did not write (a foreign pickle, a model imported from
MLflow) is loaded only with ``trusted=True`` (``mlnb monitor --trusted``); otherwise prediction
drift is skipped with a note saying so. Target drift compares the ground truth joined to a
window's predictions with the reference's target column: named by ``--target``, else recorded
with the reference data (``log_model(reference_data=mlnb.data.from_pandas(df, targets=...))``,
autolog), else the signature's output column, else the one reference column the signature's
inputs do not name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlnb.errors import InvalidParameterError, MlnbError, UntrustedModelError
from mlnb.models.format import ModelDescriptor
from mlnb.models.pyfunc import load_model
from mlnb.models.uri import resolve_model_uri
from mlnb.monitor.drift import DriftReport, drift_report

PREDICTION = "prediction"
_POSITIONAL = re.compile(r"^f?(\d+)$")


@dataclass
class ModelSide:
    """The reference's split into features and target, and the model's predictions on it.

    :param features: the reference columns tested as the model's inputs.
    :param target: the reference's target column, or None.
    :param target_note: why there is no target drift, or None.
    :param predictions: the model's predictions on the reference (``prediction`` or
        ``prediction.<output>`` columns), or None.
    :param prediction_note: why there is no prediction drift, or None.
    """

    features: list[str]
    target: str | None
    target_note: str | None
    predictions: Any = None
    prediction_note: str | None = None


def descriptor_of(model_uri: str) -> ModelDescriptor | None:
    """The ``MLmodel`` of the monitored model, or None when the URI names no model folder (a
    prediction log kept under another name).

    :param model_uri: the monitored model's URI.
    """
    try:
        return ModelDescriptor.load(resolve_model_uri(model_uri).local_dir)
    except (MlnbError, OSError):
        return None


def target_column(reference: Any, descriptor: ModelDescriptor | None, target: str | None
                  ) -> tuple[str | None, str | None]:
    """``(the reference's target column or None, why there is none)``.

    :param reference: the reference data.
    :param descriptor: the model's ``MLmodel``, or None.
    :param target: the column named by ``--target``, or None.
    :raises InvalidParameterError: for a ``target`` that is not a column of the reference.
    """
    columns = [str(c) for c in reference.columns]
    if target is not None:
        if target not in columns:
            raise InvalidParameterError(
                f"--target {target!r} is not a column of the reference data (columns: "
                f"{', '.join(columns[:20])}).")
        return target, None
    info = descriptor.reference_data_info if descriptor is not None else None
    recorded = info.get("target") if isinstance(info, dict) else None
    if isinstance(recorded, str) and recorded in columns:
        return recorded, None
    signature = descriptor.signature if descriptor is not None else None
    if signature is not None and signature.outputs is not None:
        named = [n for n in signature.outputs.input_names() if n in columns]
        if len(named) == 1:
            return named[0], None
    if signature is not None and signature.inputs is not None:
        inputs = set(signature.inputs.input_names())
        extra = [c for c in columns if c not in inputs]
        if inputs and len(extra) == 1:
            return extra[0], None
    return None, ("no target drift: the reference has no column known as the target; pass "
                  "--target COLUMN (target= in Python) to name it.")


def model_side(model_uri: str, reference: Any, descriptor: ModelDescriptor | None,
               target: str | None, trusted: bool, want_predictions: bool = True) -> ModelSide:
    """The features, the target and the model's predictions on the reference.

    :param model_uri: the monitored model.
    :param reference: the reference data.
    :param descriptor: its ``MLmodel``, or None.
    :param target: the column named by ``--target``, or None.
    :param trusted: load a model file mlnb did not write (its code runs).
    :param want_predictions: predict the reference (False: nothing to compare them with).
    :raises InvalidParameterError: for a ``target`` that is not a column of the reference.
    """
    name, target_note = target_column(reference, descriptor, target)
    features = [str(c) for c in reference.columns if str(c) != name]
    side = ModelSide(features, name, target_note)
    if not want_predictions:
        return side
    if descriptor is None:
        side.prediction_note = (f"no prediction drift: {model_uri} names no model, so its "
                                "predictions on the reference cannot be made.")
        return side
    if not features:
        side.prediction_note = "no prediction drift: the reference has no feature columns."
        return side
    try:
        model = load_model(model_uri, trusted=trusted)
    except UntrustedModelError as refused:
        side.prediction_note = (
            f"prediction drift skipped: the model was not loaded, since loading it would run "
            f"code mlnb did not write ({refused}). Pass --trusted (trusted=True in Python) only "
            "if you trust where the model came from.")
        return side
    except (MlnbError, ImportError, OSError, ValueError) as problem:
        side.prediction_note = (f"prediction drift skipped: the model could not be loaded: "
                                f"{type(problem).__name__}: {problem}")
        return side
    frame = reference[features]
    rows = frame.to_numpy() if positional(features) else frame
    try:
        side.predictions = prediction_frame(model.predict(rows))
    except Exception as problem:  # the user's model code: any failure is reported, not raised
        side.prediction_note = (f"prediction drift skipped: the model failed on the reference "
                                f"data: {type(problem).__name__}: {problem}")
    return side


def positional(columns: list[str]) -> bool:
    """Whether columns are unnamed array columns: ``f0, f1, ...`` or ``0, 1, ...``.

    :param columns: the column names.
    """
    found = [_POSITIONAL.match(c) for c in columns]
    return bool(columns) and all(m is not None and int(m.group(1)) == i
                                 for i, m in enumerate(found))


def align_inputs(window: Any, features: list[str]) -> Any:
    """A window whose inputs were logged as lists (columns ``0``, ``1``, ...) with those
    columns renamed to the reference's, by position, when none of the reference's names are
    there and the counts agree.

    :param window: a window of the prediction log.
    :param features: the reference's feature columns.
    """
    names = [str(c) for c in window.columns]
    if not features or any(f in names for f in features):
        return window
    numbered = [str(i) for i in range(len(features))]
    if all(n in names for n in numbered) and str(len(features)) not in names:
        return window.rename(columns=dict(zip(numbered, features, strict=True)))
    return window


def prediction_frame(output: Any) -> Any:
    """A model's output as columns: ``prediction`` for one value per row, ``prediction.<name>``
    for a table's columns or a dict's keys, ``prediction.<i>`` for rows of several values.

    :param output: what ``predict`` returned.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(output, pd.DataFrame):
        return pd.DataFrame({f"{PREDICTION}.{c}": output[c].to_numpy() for c in output.columns})
    if isinstance(output, dict):
        return pd.DataFrame({f"{PREDICTION}.{k}": np.asarray(v) for k, v in output.items()})
    array = np.asarray(output)
    if array.ndim == 2:
        return pd.DataFrame({f"{PREDICTION}.{i}": array[:, i] for i in range(array.shape[1])})
    return pd.DataFrame({PREDICTION: array.reshape(-1)})


def logged_predictions(window: Any) -> Any:
    """A window's logged predictions as the columns :func:`prediction_frame` makes (a
    ``prediction`` column of lists is spread over ``prediction.0``, ``prediction.1``, ...).

    :param window: a window of the prediction log.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    columns = {str(c): window[c] for c in window.columns
               if str(c) == PREDICTION or str(c).startswith(f"{PREDICTION}.")}
    plain = columns.get(PREDICTION)
    if plain is not None and plain.map(lambda v: isinstance(v, list)).any():
        del columns[PREDICTION]
        spread = pd.DataFrame(plain.map(lambda v: v if isinstance(v, list) else [v]).tolist(),
                              index=plain.index)
        columns.update({f"{PREDICTION}.{i}": spread[i] for i in spread.columns})
    return pd.DataFrame(columns)


def output_report(reference: Any, current: Any, role: str) -> DriftReport | None:
    """The drift of the columns ``reference`` and ``current`` share (their missing values left
    out), each marked with ``role``; None when they share no column with values.

    :param reference: the reference side (model predictions, or the target column).
    :param current: the window's side.
    :param role: ``prediction`` or ``target``.
    """
    common = [c for c in reference.columns if c in current.columns
              and current[c].notna().any() and reference[c].notna().any()]
    if not common:
        return None
    report = drift_report(reference[common], current[common])
    for column in report.columns:
        column.role = role
    return report
