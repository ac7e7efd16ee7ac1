"""What autolog records about a fit's training data: a dataset input of the run (MLflow's
``mlflow.data`` dataset, digest and context ``train`` as MLflow's autolog writes them) and a
bounded reference sample logged with the model, as ``log_model(reference_data=)`` does, so
``mlnb monitor MODEL_URI`` has a reference without ``--reference``.

Bounded cost: the digest reads the first 10,000 values (:mod:`mlnb.data`), and the reference is
a seeded sample of at most :data:`REFERENCE_ROWS` rows taken by index, so a large array is never
copied whole. Array columns are named ``f0``, ``f1``, ... (XGBoost's names for unnamed features;
``mlnb monitor`` matches them by position to a prediction log of rows given as lists). The
target is a column of the sample (the ``y`` Series' name, else ``target``), recorded as such.
Every step reports its failure instead of raising: autolog turns it into a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlnb import data as datasets
from mlnb.entities import Dataset, DatasetInput
from mlnb.models.format import ReferenceSample
from mlnb.store.datasets import CONTEXT_TAG

REFERENCE_ROWS = 10_000
"""Rows of the reference sample kept with an autologged model (a seeded sample above this)."""
REFERENCE_MAX_COLUMNS = 1_000
"""Wider training data (a text pipeline's sparse matrix) keeps no reference: a per-column drift
report on it would mean little and cost much."""
DENSE_MAX_ELEMENTS = 20_000_000
"""A sparse matrix is made dense for its dataset record only up to this many elements."""
CONTEXT = "train"  # MLflow's autolog context for the training data (mlflow.data.context)


@dataclass(frozen=True)
class TrainingData:
    """A fit's training data as autolog records it.

    :param dataset: the dataset record (MLflow's digest), or None.
    :param reference: the reference sample for the model, or None.
    :param problems: ``(what could not be done, why)`` per failed step, for autolog's warnings.
    """

    dataset: Dataset | None
    reference: ReferenceSample | None
    problems: list[tuple[str, BaseException]] = field(default_factory=list)


def capture(X: Any, y: Any = None) -> TrainingData:
    """The dataset record and the reference sample of ``X`` (and ``y``); never raises.

    :param X: the training features: a DataFrame, an array, a scipy sparse matrix (other kinds
        are not recorded, as in MLflow).
    :param y: the training target, or None.
    """
    problems: list[tuple[str, BaseException]] = []
    record = None
    try:
        dataset = _dataset(X, y)
        record = dataset.to_record() if dataset is not None else None
    except Exception as exc:
        problems.append(("record the training data as a dataset input", exc))
    reference = None
    try:
        reference = reference_sample(X, y, record.digest if record is not None else None)
    except Exception as exc:
        problems.append(("keep a reference sample of the training data", exc))
    return TrainingData(record, reference, problems)


def dataset_inputs(training: TrainingData) -> list[DatasetInput]:
    """The training dataset as the run's input (context ``train``), or nothing.

    :param training: what :func:`capture` found.
    """
    if training.dataset is None:
        return []
    return [DatasetInput(training.dataset, {CONTEXT_TAG: CONTEXT})]


def log_input(client: Any, run_id: str, training: TrainingData) -> None:
    """Record the training dataset as an input of the run (context ``train``).

    :param client: the run's client.
    :param run_id: the run.
    :param training: what :func:`capture` found.
    """
    found = dataset_inputs(training)
    if found:
        client.log_inputs(run_id, found)


def _is_frame(X: Any) -> bool:
    return hasattr(X, "iloc") and hasattr(X, "columns")


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "shape")


def _dataset(X: Any, y: Any) -> Any:
    """MLflow's ``_create_dataset``: a DataFrame as a pandas dataset (``y`` not in it), an array
    (or a sparse matrix made dense, when small enough) as a numpy dataset with ``y``."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if _is_frame(X):
        return datasets.from_pandas(X)
    if _is_sparse(X):
        rows, columns = X.shape
        if rows * columns > DENSE_MAX_ELEMENTS:
            raise ValueError(f"it is a sparse {rows}x{columns} matrix, too large to make dense "
                             "for its digest")
        X = X.toarray()
    if not isinstance(X, np.ndarray):
        return None  # lists, iterators: MLflow records no dataset either
    targets = None
    if y is not None:
        targets = y.toarray() if _is_sparse(y) else np.asarray(y)
    return datasets.from_numpy(X, targets=targets)


def reference_sample(X: Any, y: Any = None, digest: str | None = None) -> ReferenceSample | None:
    """A seeded sample of at most :data:`REFERENCE_ROWS` rows of a table (DataFrame, 2-D array
    or sparse matrix), with ``y`` as its target column; None for other data or data wider than
    :data:`REFERENCE_MAX_COLUMNS`.

    :param X: the training features.
    :param y: the training target, or None.
    :param digest: the training dataset's digest, recorded with the sample.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] == 0:
        return None  # 1-D inputs (texts) and the like: no table to compare columns of
    rows, columns = int(shape[0]), int(shape[1])
    if columns > REFERENCE_MAX_COLUMNS or columns == 0:
        return None
    index = np.arange(rows) if rows <= REFERENCE_ROWS else np.sort(
        np.random.default_rng(0).choice(rows, REFERENCE_ROWS, replace=False))
    if _is_frame(X):
        frame = X.iloc[index].reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    else:
        part = X[index]
        part = part.toarray() if _is_sparse(part) else np.asarray(part)
        frame = pd.DataFrame(part, columns=[f"f{i}" for i in range(columns)])
    target = _target_values(y, rows, index)
    name = None
    if target is not None:
        name = _target_name(y, list(frame.columns))
        frame[name] = target
    return ReferenceSample(frame, name, rows, digest)


def _target_values(y: Any, rows: int, index: Any) -> Any:
    """The sampled target values, or None when ``y`` is not one value per row."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if y is None:
        return None
    if hasattr(y, "iloc"):
        values = y.iloc[index]
        if getattr(values, "ndim", 1) == 2:
            if values.shape[1] != 1:
                return None
            values = values.iloc[:, 0]
        return values.to_numpy()
    array = y.toarray() if _is_sparse(y) else np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != rows:
        return None  # several targets, or not one per row: no target column
    return array[index]


def _target_name(y: Any, taken: list[str]) -> str:
    name = getattr(y, "name", None)
    base = str(name) if isinstance(name, str) and name else "target"
    found, n = base, 1
    while found in taken:
        found, n = f"{base}_{n}", n + 1
    return found
