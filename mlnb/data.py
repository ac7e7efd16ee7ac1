"""Datasets a run uses, as MLflow's ``mlflow.data`` describes them: ``from_pandas`` and
``from_numpy`` give a dataset with MLflow's digest, schema, profile and source, so the same data
gets the same digest in mlnb and in MLflow; :func:`mlnb.log_input` records it as an input of the
active run (``runs/get`` of the MLflow API returns it in ``inputs.dataset_inputs``).

The digest is MLflow's (``mlflow/data/digest_utils.py``): an md5 over pandas' row hashes of the
first 10,000 rows (string and number columns only), the row count and the column names, cut to
8 hex digits; for arrays, over the first 10,000 flattened elements and the shape.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlparse

from mlnb.entities import Dataset
from mlnb.errors import InvalidParameterError

__all__ = ["DatasetSource", "NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]

MAX_ROWS = 10000
"""Rows (or array elements) the digest reads, as MLflow's."""

# URI scheme -> MLflow's source type for the sources mlnb resolves (mlflow/data/*_source.py).
_SCHEMES = {"": "local", "file": "local", "s3": "s3", "gs": "gs", "http": "http",
            "https": "http"}


class DatasetSource:
    """Where a dataset came from: a URI (``local``, ``s3``, ``gs``, ``http``) or the code that
    built it (``code``, with the run context's tags).

    :param source_type: MLflow's source type.
    :param payload: the source's JSON fields (``{"uri": ...}``, ``{"url": ...}`` for http, or
        ``{"tags": {...}}``).
    """

    def __init__(self, source_type: str, payload: dict[str, Any]) -> None:
        self.source_type = source_type
        self.payload = payload

    def __repr__(self) -> str:
        return f"<DatasetSource {self.source_type} {self.to_json()}>"

    def to_json(self) -> str:
        """The source as MLflow writes it (the dataset record's ``source``)."""
        return json.dumps(self.payload)

    def to_dict(self) -> dict[str, Any]:
        """The source's fields."""
        return dict(self.payload)

    @classmethod
    def resolve(cls, source: Any) -> DatasetSource:
        """The source of a ``source=`` argument: None (the code calling), a path or a URI.

        :param source: None, a :class:`DatasetSource`, a path or a URI.
        :raises InvalidParameterError: for a URI scheme mlnb cannot name.
        """
        if isinstance(source, DatasetSource):
            return source
        if source is None:
            from mlnb.tracking.context import run_context_tags  # only for a code source

            return cls("code", {"tags": run_context_tags()})
        text = str(source)
        scheme = urlparse(text).scheme.lower()
        if len(scheme) == 1:  # a Windows drive letter, C:\data
            scheme = ""
        kind = _SCHEMES.get(scheme)
        if kind is None:
            raise InvalidParameterError(
                f"Cannot name the source {text[:200]!r}: mlnb knows local paths and file://, "
                "s3://, gs://, http:// and https:// URIs. Pass one of those, or a "
                "mlnb.data.DatasetSource.")
        return cls(kind, {"url" if kind == "http" else "uri": text})  # MLflow's field names


class _Dataset:
    """What every dataset has: a name, a digest, a source, a schema and a profile."""

    def __init__(self, source: DatasetSource, name: str | None, digest: str | None) -> None:
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} digest={self.digest}>"

    @property
    def name(self) -> str:
        """The dataset's name (``dataset`` when none was given, as in MLflow)."""
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        """The dataset's fingerprint: 8 hex digits, MLflow's for the same data."""
        return self._digest

    @property
    def source(self) -> DatasetSource:
        """Where the data came from."""
        return self._source

    @property
    def profile(self) -> dict[str, Any]:
        """Summary numbers (rows, elements, shapes)."""
        raise NotImplementedError

    def schema_json(self) -> str | None:
        """The schema as MLflow writes it in the dataset record, or None."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, str | None]:
        """The dataset record's fields as MLflow's ``Dataset.to_dict()`` gives them."""
        return {"name": self.name, "digest": self.digest, "source": self.source.to_json(),
                "source_type": self.source.source_type, "schema": self.schema_json(),
                "profile": json.dumps(self.profile)}

    def to_record(self) -> Dataset:
        """The dataset record the store keeps."""
        d = self.to_dict()
        return Dataset(str(d["name"]), str(d["digest"]), str(d["source_type"]), str(d["source"]),
                       d["schema"], d["profile"])


class PandasDataset(_Dataset):
    """A DataFrame as a dataset (MLflow's ``PandasDataset``).

    :param df: the data.
    :param source: where it came from.
    :param targets: the target column's name, or None.
    :param name: the dataset's name.
    :param digest: its digest; default MLflow's digest of ``df``.
    :param predictions: the predictions column's name, or None.
    """

    def __init__(self, df: Any, source: DatasetSource, targets: str | None = None,
                 name: str | None = None, digest: str | None = None,
                 predictions: str | None = None) -> None:
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return pandas_digest(self._df)

    @property
    def df(self) -> Any:
        """The DataFrame."""
        return self._df

    @property
    def targets(self) -> str | None:
        """The target column's name, or None."""
        return self._targets

    @property
    def predictions(self) -> str | None:
        """The predictions column's name, or None."""
        return self._predictions

    @property
    def profile(self) -> dict[str, Any]:
        """``{"num_rows", "num_elements"}``."""
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    def schema_json(self) -> str | None:
        """``{"mlflow_colspec": [{"type", "name", "required"}...]}`` as JSON text."""
        specs = []
        for column in self._df.columns:
            series = self._df[column]
            kind = _column_type(series)
            if kind is None:
                return None  # a column MLflow cannot type: MLflow records no schema either
            specs.append({"type": kind, "name": str(column),
                          "required": not bool(series.isna().any())})
        return json.dumps({"mlflow_colspec": specs})


class NumpyDataset(_Dataset):
    """An array of features (and optionally targets) as a dataset (MLflow's ``NumpyDataset``).

    :param features: the features array.
    :param source: where it came from.
    :param targets: the targets array, or None.
    :param name: the dataset's name.
    :param digest: its digest; default MLflow's digest of the arrays.
    """

    def __init__(self, features: Any, source: DatasetSource, targets: Any = None,
                 name: str | None = None, digest: str | None = None) -> None:
        self._features = features
        self._targets = targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        """The features array."""
        return self._features

    @property
    def targets(self) -> Any:
        """The targets array, or None."""
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes, sizes and byte counts of the features (and targets)."""
        found: dict[str, Any] = {}
        for part, array in (("features", self._features), ("targets", self._targets)):
            if array is not None:
                found.update({f"{part}_shape": list(array.shape), f"{part}_size": int(array.size),
                              f"{part}_nbytes": int(array.nbytes)})
        return found

    def schema_json(self) -> str | None:
        """``{"mlflow_tensorspec": {"features": ..., "targets": ...}}`` as JSON text."""
        def spec(array: Any) -> str:
            return json.dumps([{"type": "tensor", "tensor-spec": {
                "dtype": array.dtype.name, "shape": [-1, *array.shape[1:]]}}])
        return json.dumps({"mlflow_tensorspec": {
            "features": spec(self._features),
            "targets": spec(self._targets) if self._targets is not None else None}})


def from_pandas(df: Any, source: Any = None, targets: str | None = None, name: str | None = None,
                digest: str | None = None, predictions: str | None = None) -> PandasDataset:
    """A dataset of a DataFrame, with MLflow's digest, schema and profile.

    :param df: a pandas DataFrame.
    :param source: where the data came from: a path or URI (``s3://``, ``https://``...), or
        None for the code calling (the run context's tags), as in MLflow.
    :param targets: the target column's name.
    :param name: the dataset's name (default ``dataset``).
    :param digest: the digest; default MLflow's digest of ``df``.
    :param predictions: the predictions column's name.
    :raises InvalidParameterError: for something other than a DataFrame, or a targets or
        predictions column the DataFrame lacks.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(
            f"from_pandas needs a pandas DataFrame, not {type(df).__name__}; for arrays use "
            "mlnb.data.from_numpy.")
    for role, column in (("targets", targets), ("predictions", predictions)):
        if column is not None and column not in df.columns:
            raise InvalidParameterError(
                f"The {role} column {column!r} is not in the DataFrame (columns: "
                f"{', '.join(map(str, list(df.columns)[:10]))}).")
    return PandasDataset(df, DatasetSource.resolve(source), targets, name, digest, predictions)


def from_numpy(features: Any, source: Any = None, targets: Any = None, name: str | None = None,
               digest: str | None = None) -> NumpyDataset:
    """A dataset of a features array (and a targets array), with MLflow's digest, schema and
    profile.

    :param features: a numpy array.
    :param source: where the data came from, as for :func:`from_pandas`.
    :param targets: a numpy array of targets, or None.
    :param name: the dataset's name (default ``dataset``).
    :param digest: the digest; default MLflow's digest of the arrays.
    :raises InvalidParameterError: for something other than numpy arrays.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    for role, array in (("features", features), ("targets", targets)):
        if array is not None and not isinstance(array, np.ndarray):
            raise InvalidParameterError(
                f"from_numpy needs numpy arrays; {role} is a {type(array).__name__}. Convert it "
                "with numpy.asarray(...), or use mlnb.data.from_pandas for a DataFrame.")
    return NumpyDataset(features, DatasetSource.resolve(source), targets, name, digest)


def pandas_digest(df: Any) -> str:
    """MLflow's digest of a DataFrame (``compute_pandas_digest``).

    :param df: the DataFrame.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    trimmed = df.head(MAX_ROWS)
    # MLflow keeps the columns whose every value (in df, not the trimmed frame) is a str. A
    # column of a number, bool or date dtype holds no str, so only the others are scanned: the
    # same columns, without a Python call per cell of a large numeric frame.
    strings = pd.Index([c for i, c in enumerate(df.columns)
                        if df.dtypes.iloc[i].kind not in "biufcmM"
                        and bool((df.iloc[:, i].map(type) == str).all())])  # noqa: E721
    numbers = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[strings.union(numbers)]
    return _md5([pd.util.hash_pandas_object(trimmed).values, np.int64(len(df)),
                 *(str(c).encode() for c in df.columns)])


def numpy_digest(features: Any, targets: Any = None) -> str:
    """MLflow's digest of arrays (``compute_numpy_digest``).

    :param features: the features array.
    :param targets: the targets array, or None.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    elements: list[Any] = []
    for array in (features, targets):
        if array is None:
            continue
        flat = _first_elements(array, MAX_ROWS)
        try:
            elements.append(pd.util.hash_array(flat))
        except TypeError:
            elements.append(np.int64(flat.size))
        elements.extend(np.int64(x) for x in array.shape)
    return _md5(elements)


def _first_elements(array: Any, count: int) -> Any:
    """``array.flatten()[:count]`` without copying the whole array: only the leading rows that
    hold those elements are flattened."""
    if array.ndim < 2 or array.shape[0] == 0:
        return array.flatten()[0:count]
    per_row = max(1, array.size // array.shape[0])
    return array[:count // per_row + 1].flatten()[0:count]


def _md5(elements: list[Any]) -> str:
    # md5 as a fingerprint, not for security (MLflow's choice; the same digest is the point).
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def _column_type(series: Any) -> str | None:
    """A column's type as MLflow's schema names it, or None where MLflow has none."""
    dtype = series.dtype
    kind, size = dtype.kind, getattr(dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        if size < 4 or (kind == "i" and size == 4):
            return "integer"
        return "long" if size < 8 or kind == "i" else None
    if kind == "f":
        return "float" if size <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "S":
        return "binary"
    if kind == "U":
        return "string"
    if kind == "O":
        values = [v for v in series.tolist() if v is not None and v == v]
        for python_type, name in ((bool, "boolean"), (int, "long"), (float, "double"),
                                  (str, "string"), (bytes, "binary")):
            if values and all(type(v) is python_type for v in values):
                return name
        return "string" if not values else None
    return None
