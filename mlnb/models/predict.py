"""``mlnb predict``: score a CSV or JSON file with a logged model, writing CSV or JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.models.pyfunc import load_model
from mlnb.models.scoring import RequestError, parse_body, predictions_json


def read_input(path: str | os.PathLike[str], model: Any) -> Any:
    """A ``.csv`` table, or a ``.json`` file in any ``/invocations`` JSON shape (or a list of records),
    as model input.

    :param path: the input file.
    :param model: the loaded model (its signature shapes the input).
    :raises NotFoundError: when the file does not exist.
    :raises InvalidParameterError: for another extension or a body the model cannot take.
    """
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"Input file {str(source)!r} does not exist.")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        import pandas as pd  # pandas: loaded on first use, not by import mlnb

        return pd.read_csv(source)
    if suffix != ".json":
        raise InvalidParameterError(f"Input {str(source)!r} must be a .csv or .json file.")
    raw = source.read_bytes()
    try:
        doc = json.loads(raw)
    except ValueError:
        raise InvalidParameterError(f"Input {str(source)!r} is not valid JSON.") from None
    if isinstance(doc, list):  # a bare list of records or rows, as a convenience
        raw = json.dumps({"dataframe_records" if doc and isinstance(doc[0], dict) else "inputs": doc}
                         ).encode()
    try:
        return parse_body(raw, "json", model)
    except RequestError as exc:
        raise InvalidParameterError(f"Input {str(source)!r}: {exc.message}") from None


def write_output(result: Any, path: str | os.PathLike[str] | None) -> str:
    """Predictions as CSV (for a ``.csv`` path) or JSON; returns the text when ``path`` is None.

    :param result: the model's predictions.
    :param path: the output file, or None to return the JSON text (an empty string otherwise).
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame({"prediction": list(
        result.tolist() if hasattr(result, "tolist") else result)})
    if path is not None and str(path).lower().endswith(".csv"):
        frame.to_csv(path, index=False)
        return ""
    text = predictions_json(result).decode()
    if path is None:
        return text
    Path(path).write_text(text + "\n", encoding="utf-8")
    return ""


def predict_file(model_uri: str, input_path: str, output_path: str | None = None, *,
                 trusted: bool = False) -> str:
    """Load the model, score the file, write (or return) the predictions.

    :param model_uri: the model, as for ``mlnb.pyfunc.load_model``.
    :param input_path: a ``.csv`` or ``.json`` input file.
    :param output_path: a ``.csv`` or ``.json`` file; default return the JSON text.
    :param trusted: load a pickle whose origin cannot be checked.
    """
    model = load_model(model_uri, trusted=trusted)
    data = read_input(input_path, model)
    return write_output(model.predict(data), output_path)
