"""Turning Python objects into artifact bytes: dicts, text, figures and tables.

Heavy libraries (pandas, matplotlib, plotly) are touched only through the object the user passes,
never imported here, so ``import mlnb`` stays light.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from mlnb.errors import InvalidParameterError


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """JSON, or YAML when the file name ends in .yaml/.yml (as MLflow's ``log_dict``).

    :param dictionary: JSON-ready data; numpy arrays and scalars become lists and numbers.
    :param artifact_file: the artifact's name, which picks the format.
    :raises InvalidParameterError: when the data cannot be written in that format.
    """
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml  # PyYAML: loaded on first use, not by import mlnb

        try:
            return yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True).encode()
        except yaml.YAMLError as exc:
            raise InvalidParameterError(
                f"log_dict: {artifact_file!r} cannot be saved as YAML: {exc}.") from None
    try:
        return json.dumps(dictionary, indent=2, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"log_dict: {artifact_file!r} cannot be saved as JSON: {exc}.")


def _json_default(value: Any) -> Any:
    for attr in ("tolist", "item"):  # numpy arrays and scalars
        if hasattr(value, attr):
            return getattr(value, attr)()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None) -> bytes:
    """A matplotlib figure in the file's format, or a Plotly figure as JSON or HTML.

    :param figure: a matplotlib or Plotly figure.
    :param artifact_file: the artifact's name; its extension picks the format (default png).
    :param save_kwargs: extra keyword arguments for matplotlib's ``savefig``.
    :raises InvalidParameterError: for another object, an unknown format or a Plotly image format.
    """
    ext = artifact_file.rsplit(".", 1)[-1].lower() if "." in artifact_file else ""
    kwargs = dict(save_kwargs or {})
    if hasattr(figure, "savefig"):  # matplotlib Figure
        buffer = io.BytesIO()
        try:
            figure.savefig(buffer, format=ext or "png", **kwargs)
        except ValueError as exc:  # an unknown format or a bad keyword
            raise InvalidParameterError(f"log_figure: {artifact_file!r}: {exc}") from None
        return buffer.getvalue()
    if hasattr(figure, "to_plotly_json"):  # plotly Figure or FigureWidget
        if ext == "json":
            return str(figure.to_json()).encode()
        if ext in ("html", "htm"):
            # Self-contained: the store works offline, so no script comes from a CDN.
            return str(figure.to_html(include_plotlyjs=True, full_html=True)).encode()
        raise InvalidParameterError(
            f"log_figure: a Plotly figure is saved as .json or .html, not {artifact_file!r} "
            "(images would need the kaleido package)."
        )
    raise InvalidParameterError(
        f"log_figure takes a matplotlib or Plotly figure, not {type(figure).__name__}."
    )


def table_columns(data: Any) -> dict[str, list[Any]]:
    """A table as a dict of equal-length columns, from a DataFrame or a dict of columns.

    :param data: a pandas DataFrame or a dict of lists.
    :raises InvalidParameterError: for other data or columns of different lengths.
    """
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return {str(c): list(data[c].tolist()) for c in data.columns}
    if isinstance(data, dict):
        columns = {str(k): list(v) for k, v in data.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise InvalidParameterError(
                f"log_table: columns have different lengths {sorted(lengths)}; make them equal."
            )
        return columns
    raise InvalidParameterError(
        f"log_table takes a pandas DataFrame or a dict of columns, not {type(data).__name__}."
    )


def table_bytes(columns: dict[str, list[Any]], existing: bytes | None) -> bytes:
    """MLflow's table JSON (``{"columns": [...], "data": [[...]]}``), appending to ``existing``.

    NaN and infinities become ``null``.

    :param columns: the new rows, by column.
    :param existing: the artifact's current bytes, or None.
    :raises InvalidParameterError: when ``existing`` has other columns.
    """
    names = list(columns)
    rows = [list(r) for r in zip(*columns.values(), strict=False)] if names else []
    if existing:
        old = json.loads(existing)
        if old.get("columns") != names:
            raise InvalidParameterError(
                f"log_table: the artifact already has columns {old.get('columns')}; "
                f"these rows have {names}. Use another artifact_file."
            )
        rows = old["data"] + rows
    # NaN and infinities become null: the file must stay valid JSON (json.dumps would write NaN).
    rows = [[None if isinstance(v, float) and not math.isfinite(v) else v for v in row]
            for row in rows]
    return json.dumps({"columns": names, "data": rows}, default=_cell, allow_nan=False).encode()


def _cell(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
