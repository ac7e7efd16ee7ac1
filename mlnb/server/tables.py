"""One page of rows of a CSV, TSV or Parquet artifact, for the run page's table viewer.

Reads are streamed: a CSV page reads the rows up to ``offset + limit`` (and then only counts the
rest, up to :data:`COUNT_LIMIT` rows); a Parquet page reads only the row groups that hold the page
(its row count is in the file's footer). Cell values become JSON-ready: numbers stay numbers,
anything else becomes text cut at :data:`MAX_CELL_CHARS`. No SQL anywhere.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlnb.errors import InvalidParameterError

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
MAX_CELL_CHARS = 2000
COUNT_LIMIT = 5_000_000
"""Past this many rows a CSV's total is not counted (``total`` is null and ``more`` is true)."""
MAX_COLUMNS = 500

csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class TablePage:
    """A page of a table: its column names, its rows, and where it sits in the table.

    ``total`` is the number of data rows, or None when it was not counted (a CSV longer than
    :data:`COUNT_LIMIT`); ``more`` says whether rows follow this page.
    """

    format: str
    columns: list[str]
    rows: list[list[Any]]
    offset: int
    limit: int
    total: int | None
    more: bool
    columns_cut: int = 0

    def as_json(self) -> dict[str, Any]:
        """The page as JSON data."""
        return {"format": self.format, "columns": self.columns, "rows": self.rows,
                "offset": self.offset, "limit": self.limit, "total": self.total,
                "more": self.more, "columns_cut": self.columns_cut}


def table_format(path: str) -> str | None:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` for a table artifact's name, else None.

    :param path: the artifact's name.
    """
    return TABLE_SUFFIXES.get(Path(path).suffix.lower())


def cell_value(value: Any) -> Any:
    """A table cell as JSON data: finite numbers, booleans and None as they are, text for the rest.

    :param value: a value read from the file.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    elif isinstance(value, decimal.Decimal):
        text = str(value)
    elif isinstance(value, bytes):
        text = value[:MAX_CELL_CHARS].hex()
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"


def _columns(names: list[str]) -> tuple[list[str], int]:
    return [cell_value(str(n)) for n in names[:MAX_COLUMNS]], max(0, len(names) - MAX_COLUMNS)


def read_csv_page(local: Path, delimiter: str, offset: int, limit: int) -> TablePage:
    """Rows ``offset`` to ``offset + limit`` of a CSV file (its first row names the columns).

    :param local: the file.
    :param delimiter: ``","`` or a tab.
    :param offset: the first data row to return (0 is the row after the header).
    :param limit: the most rows to return.
    :raises InvalidParameterError: when the file is not UTF-8 text.
    """
    rows: list[list[Any]] = []
    total = 0
    counted = True
    try:
        with open(local, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, [])
            columns, cut = _columns(header)
            for index, row in enumerate(reader):
                if offset <= index < offset + limit:
                    rows.append([cell_value(v) for v in row[:MAX_COLUMNS]])
                total = index + 1
                if index >= offset + limit and total >= COUNT_LIMIT:
                    counted = False
                    break
    except UnicodeDecodeError:
        raise InvalidParameterError("The file is not UTF-8 text, so it cannot be shown as a table.")
    except csv.Error as exc:
        raise InvalidParameterError(f"The file is not a readable CSV file: {exc}.")
    fmt = "tsv" if delimiter == "\t" else "csv"
    more = not counted or total > offset + limit
    return TablePage(fmt, columns, rows, offset, limit, total if counted else None, more, cut)


def read_parquet_page(local: Path, offset: int, limit: int) -> TablePage:
    """Rows ``offset`` to ``offset + limit`` of a Parquet file, reading only the row groups needed.

    :param local: the file.
    :param offset: the first row to return.
    :param limit: the most rows to return.
    :raises InvalidParameterError: when the file is not a readable Parquet file, or pyarrow (an
        optional dependency) is not installed.
    """
    try:
        import pyarrow as pa  # pyarrow (heavy, optional) loads on the first Parquet page only
        import pyarrow.parquet as pq  # same
    except ImportError:
        raise InvalidParameterError(
            "Showing a Parquet file needs pyarrow where Jupyter runs: pip install pyarrow.") from None

    try:
        parquet = pq.ParquetFile(local)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidParameterError(f"The file is not a readable Parquet file: {exc}.")
    with parquet:
        names = list(parquet.schema_arrow.names)
        columns, cut = _columns(names)
        total = parquet.metadata.num_rows
        groups: list[int] = []
        first_row = 0  # the table's row number of the first row of the groups read
        start = 0
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if start + size > offset and start < offset + limit:
                if not groups:
                    first_row = start
                groups.append(group)
            start += size
        rows: list[list[Any]] = []
        if groups:
            try:
                table = parquet.read_row_groups(groups, columns=names[:MAX_COLUMNS])
            except (pa.ArrowException, OSError) as exc:
                raise InvalidParameterError(f"The Parquet file could not be read: {exc}.")
            part = table.slice(offset - first_row, limit)
            data = [part.column(i).to_pylist() for i in range(part.num_columns)]
            rows = [[cell_value(col[r]) for col in data] for r in range(part.num_rows)]
    return TablePage("parquet", columns, rows, offset, limit, total, offset + limit < total, cut)


def read_table_page(local: Path, path: str, offset: int, limit: int) -> TablePage:
    """One page of a table artifact, by its name's suffix.

    :param local: the artifact's local file.
    :param path: the artifact's name (its suffix picks the reader).
    :param offset: the first data row to return.
    :param limit: the most rows to return.
    :raises InvalidParameterError: for a name that is not a CSV, TSV or Parquet file, or a file that
        cannot be read as one.
    """
    fmt = table_format(path)
    if fmt == "parquet":
        return read_parquet_page(local, offset, limit)
    if fmt in ("csv", "tsv"):
        return read_csv_page(local, "\t" if fmt == "tsv" else ",", offset, limit)
    raise InvalidParameterError(
        f"{Path(path).name[:100]!r} is not a table; pages are read from .csv, .tsv and .parquet files.")
