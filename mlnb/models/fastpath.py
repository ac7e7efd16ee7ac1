"""A faster scoring path for the common case: a scikit-learn model on numeric columns.

For a ``dataframe_split`` body whose columns are exactly the signature's (all ``double`` or
``float``), the rows go to the model as one float array instead of through a DataFrame: pandas
construction and scikit-learn's DataFrame checks cost more than the prediction. The path is only
enabled after checking, at start-up, that it gives the same predictions as the DataFrame path on
the model's own input example; any request it cannot take goes through the full path, which
also produces the error message.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

from mlnb.models.pyfunc import PyFuncModel
from mlnb.models.signature import ColSpec

_FEATURE_NAMES_WARNING = "X does not have valid feature names"


def numeric_predictor(model: PyFuncModel) -> Callable[[bytes], Any] | None:
    """``body -> predictions`` for the fast path, or None when it does not apply to this model.

    The function itself returns None for a request it cannot take (the full path then handles it).

    :param model: the loaded model.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    schema = model.get_input_schema()
    raw = model.get_raw_model()
    if schema is None or "sklearn" not in model.metadata.flavors or not hasattr(raw, "predict"):
        return None
    specs = schema.inputs
    if not specs or not all(isinstance(s, ColSpec) and s.type in ("double", "float") for s in specs):
        return None
    names = [s.name for s in specs]
    fitted = getattr(raw, "feature_names_in_", None)
    if fitted is not None and [str(n) for n in fitted] != names:
        return None
    if not _same_predictions(model, raw):
        return None
    # The warning our arrays trigger says the columns might be misordered; we checked they are not.
    warnings.filterwarnings("ignore", message=_FEATURE_NAMES_WARNING, category=UserWarning)

    def predict(body: bytes) -> Any:
        doc = json.loads(body)
        if not isinstance(doc, dict) or list(doc) != ["dataframe_split"]:
            return None
        split = doc["dataframe_split"]
        if not isinstance(split, dict) or split.get("columns") != names:
            return None
        rows = np.asarray(split.get("data"))
        if rows.dtype.kind not in "biuf" or rows.ndim != 2 or rows.shape[1] != len(names) \
                or rows.shape[0] == 0 or rows.shape[0] > 100_000:
            return None
        if rows.dtype.kind == "f" and bool(np.isnan(rows).any()):
            return None  # a missing value: the full path refuses it, naming the column
        return raw.predict(rows.astype("float64"))

    return predict


def _same_predictions(model: PyFuncModel, raw: Any) -> bool:
    """Whether the array path predicts what the DataFrame path does on the input example."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    example = _example(model)
    if example is None:
        return False
    try:
        frame = model.prepare(example)
        with warnings.catch_warnings():  # start-up only: one thread
            warnings.simplefilter("ignore")
            expected = np.asarray(raw.predict(frame))
            got = np.asarray(raw.predict(frame.to_numpy(dtype="float64")))
        return expected.shape == got.shape and bool(np.array_equal(expected, got))
    except Exception:  # any doubt: keep the full path
        return False


def _example(model: PyFuncModel) -> Any:
    info = model.metadata.saved_input_example_info or {}
    if info.get("type") != "dataframe":
        return None
    path = model.location.local_dir / "input_example.json"
    try:
        doc = json.loads(path.read_text())
        return {c: [r[i] for r in doc["data"]] for i, c in enumerate(doc["columns"])}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
