"""Model signatures: the columns (name and type) or the tensor (dtype and shape) a model takes
and returns, inferred from an example and enforced before every prediction.

Errors name the column or dimension at fault and the type expected, and never quote the input's
values (the serving endpoint returns these messages to whoever sent the request).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Union

from mlnb.errors import InvalidParameterError

COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")


class SignatureError(InvalidParameterError):
    """The input does not match the model's signature (missing column, wrong type or shape)."""


@dataclass(frozen=True)
class ColSpec:
    """One named input or output column and its type (one of :data:`COLUMN_TYPES`)."""

    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The spec as an ``MLmodel`` signature entry."""
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        if not self.required:
            out["required"] = False
        return out


@dataclass(frozen=True)
class TensorSpec:
    """An array input or output: numpy dtype name and shape (-1 for a free dimension)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The spec as an ``MLmodel`` signature entry."""
        out: dict[str, Any] = {"type": "tensor",
                               "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        if self.name is not None:
            out["name"] = self.name
        return out


Spec = Union[ColSpec, TensorSpec]


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never a mix)."""

    inputs: tuple[Spec, ...]

    def is_tensor_spec(self) -> bool:
        """Whether the schema describes an array rather than columns."""
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def input_names(self) -> list[str]:
        """The names of the named specs, in order."""
        return [s.name for s in self.inputs if s.name is not None]

    def to_list(self) -> list[dict[str, Any]]:
        """The schema as an ``MLmodel`` list of specs."""
        return [s.to_dict() for s in self.inputs]

    @classmethod
    def from_list(cls, items: Any) -> Schema:
        """Parse an ``MLmodel`` list of specs.

        :param items: the list.
        :raises InvalidParameterError: for a malformed list or an unknown type.
        """
        if not isinstance(items, list):
            raise InvalidParameterError("A schema must be a list of column or tensor specs.")
        specs: list[Spec] = []
        for item in items:
            if not isinstance(item, dict):
                raise InvalidParameterError(f"A schema entry must be a mapping, not {item!r}.")
            if item.get("type") == "tensor":
                tensor = item.get("tensor-spec") or {}
                specs.append(TensorSpec(str(tensor.get("dtype")),
                                        tuple(int(d) for d in tensor.get("shape", ())), item.get("name")))
            elif item.get("type") in COLUMN_TYPES:
                specs.append(ColSpec(str(item["type"]), item.get("name"), bool(item.get("required", True))))
            else:
                raise InvalidParameterError(f"Unknown schema type {item.get('type')!r}.")
        return cls(tuple(specs))


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes (``inputs``) and returns (``outputs``)."""

    inputs: Schema | None = None
    outputs: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        """The signature as the ``MLmodel`` mapping."""
        return {"inputs": self.inputs.to_list() if self.inputs else None,
                "outputs": self.outputs.to_list() if self.outputs else None}

    @classmethod
    def from_dict(cls, data: Any) -> ModelSignature:
        """Parse the ``MLmodel`` signature mapping.

        :param data: the mapping with ``inputs`` and ``outputs``.
        :raises InvalidParameterError: when it is not a mapping.
        """
        if not isinstance(data, dict):
            raise InvalidParameterError("A signature must be a mapping with inputs and outputs.")
        inputs, outputs = data.get("inputs"), data.get("outputs")
        return cls(Schema.from_list(inputs) if inputs else None,
                   Schema.from_list(outputs) if outputs else None)


# --- inference ---------------------------------------------------------------------------------


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """A signature from example input (and output): DataFrame columns and their types, or an array's
    dtype and shape with the first dimension free.

    :param model_input: a DataFrame, dict of columns, list of records or array.
    :param model_output: the model's output on it; default no output schema.
    """
    return ModelSignature(
        infer_schema(model_input),
        infer_schema(model_output) if model_output is not None else None,
    )


def infer_schema(data: Any) -> Schema:
    """The schema of example data: columns for tables and records, one tensor spec for arrays.

    :param data: a DataFrame, Series, dict of columns, list of records, array or scipy sparse
        matrix.
    :raises InvalidParameterError: for a single value or an array of Python objects.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(data, dict) and all(not isinstance(v, dict) for v in data.values()):
        data = pd.DataFrame({str(k): _column_values(v) for k, v in data.items()})
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        data = pd.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(_column_type(data[c]), str(c)) for c in data.columns))
    if isinstance(data, pd.Series):
        return Schema((ColSpec(_column_type(data), None if data.name is None else str(data.name)),))
    if hasattr(data, "toarray") and hasattr(data, "shape"):  # scipy sparse
        data = data.toarray()
    array = np.asarray(data)
    if array.ndim == 0:
        raise InvalidParameterError(
            f"Cannot infer a signature from a single {type(data).__name__}; give rows of data.")
    if array.dtype.kind == "O":
        raise InvalidParameterError(
            "Cannot infer a tensor signature from an array of Python objects; pass a DataFrame.")
    return Schema((TensorSpec(array.dtype.name, (-1, *array.shape[1:])),))


def _column_values(values: Any) -> Any:
    return values if hasattr(values, "__len__") and not isinstance(values, str) else [values]


def _column_type(series: Any) -> str:
    kind, size = series.dtype.kind, getattr(series.dtype, "itemsize", 8)
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if size <= 4 else "long"
    if kind == "f":
        return "float" if size <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind == "S":
        return "binary"
    first = next((v for v in series if v is not None and v == v), None)  # skip None and NaN
    if isinstance(first, bool):
        return "boolean"
    if isinstance(first, int):
        return "long"
    if isinstance(first, float):
        return "double"
    if isinstance(first, bytes):
        return "binary"
    return "string"


# --- enforcement --------------------------------------------------------------------------------


def enforce_schema(data: Any, schema: Schema) -> Any:
    """``data`` converted to what the schema describes, or :class:`SignatureError`.

    Column schemas give a DataFrame with the schema's columns in order (extra columns are dropped);
    tensor schemas give a numpy array of the right dtype.

    :param data: the input.
    :param schema: the input schema.
    """
    if schema.is_tensor_spec():
        return _enforce_tensor(data, schema.inputs[0])  # type: ignore[arg-type]
    return _enforce_columns(data, schema)


def to_frame(data: Any, names: list[str]) -> Any:
    """Rows of input as a DataFrame; arrays and lists of rows take the schema's column names.

    :param data: a DataFrame, Series, dict of columns, list of records or rows, or array.
    :param names: the schema's column names.
    """
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(data, pd.DataFrame):
        return data
    columns = to_columns(data, names)
    try:
        return pd.DataFrame(columns)
    except ValueError:
        raise SignatureError("The input columns have different lengths.") from None


def to_columns(data: Any, names: list[str]) -> dict[str, Any]:
    """Input as ``{column name: values}``; arrays and lists of rows take the schema's names.

    :param data: a DataFrame, Series, dict of columns, list of records or rows, or array.
    :param names: the schema's column names.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(data, pd.DataFrame):
        return {str(c): values for c, values in data.items()}
    if isinstance(data, pd.Series):
        return {str(data.name) if data.name is not None else names[0]: data}
    if isinstance(data, dict):
        return {str(k): _column_values(v) for k, v in data.items()}
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        keys = list(dict.fromkeys(str(k) for r in data for k in r))
        return {k: [r.get(k) for r in data] for k in keys}
    try:
        array = np.asarray(data, dtype=object)
    except ValueError:
        raise SignatureError("The input rows have different lengths.") from None
    if array.ndim == 1 and len(names) == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise SignatureError(
            f"Expected rows of {len(names)} values (columns {names}); got an array with "
            f"{array.ndim} dimensions.")
    if array.shape[1] != len(names):
        raise SignatureError(
            f"Expected {len(names)} values per row (columns {names}); got {array.shape[1]}.")
    return {name: array[:, i] for i, name in enumerate(names)}


def _enforce_columns(data: Any, schema: Schema) -> Any:
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    specs = [s for s in schema.inputs if isinstance(s, ColSpec)]
    names = [s.name or str(i) for i, s in enumerate(specs)]
    if _matches_exactly(data, specs, names):
        # Same columns, order and dtypes: hand the caller's frame to the model untouched, so
        # pyfunc predicts exactly what the flavor does (a rebuilt frame has another memory
        # layout, which changes BLAS summation order in the last bits).
        return data
    columns = to_columns(data, names)
    missing = [n for n, s in zip(names, specs, strict=True) if s.required and n not in columns]
    if missing:
        raise SignatureError(f"Model is missing input column(s) {missing}; it expects {names}.")
    out = {n: cast_column(columns[n], s.type, n) for n, s in zip(names, specs, strict=True)
           if n in columns}
    for name, spec in zip(names, specs, strict=True):
        if spec.required and name in out:
            _check_present(out[name], name)
    if len({len(v) for v in out.values()}) > 1:
        raise SignatureError("The input columns have different lengths.")
    if not out or len(next(iter(out.values()))) == 0:
        raise SignatureError("The input has no rows; send at least one.")
    return pd.DataFrame(out, copy=False)


def _matches_exactly(data: Any, specs: list[ColSpec], names: list[str]) -> bool:
    """Whether ``data`` is a non-empty DataFrame with exactly the schema's columns, in order,
    of exactly the numpy dtypes enforcement would produce, and no missing required value."""
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if not isinstance(data, pd.DataFrame) or list(data.columns) != names or len(data) == 0:
        return False
    for (_, values), spec in zip(data.items(), specs, strict=True):
        wanted = "bool" if spec.type == "boolean" else _NUMPY_FOR.get(spec.type)
        if wanted is None or values.dtype != np.dtype(wanted):
            return False
        if spec.required and wanted.startswith("float") and bool(values.isna().any()):
            return False  # let the full path raise the error naming the column
    return True


def _check_present(values: Any, name: str) -> None:
    """A required column must not hold missing values (None, NaN, NaT), as in MLflow."""
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    count = int(pd.isna(values).sum())
    if count:
        raise SignatureError(
            f"Column {name!r} is required but has missing values (None or NaN) in {count} row(s); "
            "fill them in, or mark the column optional (required: false) in the model's signature.")


_NUMPY_FOR = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def cast_column(values: Any, kind: str, name: str) -> Any:
    """One column converted to the signature's type (a numpy array), or an error naming it.

    :param values: the column's values.
    :param kind: the signature's column type.
    :param name: the column's name, for the error.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if kind == "datetime":
        import pandas as pd  # pandas: loaded on first use, not by import mlnb

        try:
            return pd.to_datetime(values).to_numpy() if hasattr(values, "__len__") else values
        except (ValueError, TypeError, OverflowError):
            raise SignatureError(f"Column {name!r} expects dates and times it can parse.") from None
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(
        values, dtype=object if isinstance(values, list) else None)
    if array.ndim != 1:
        raise SignatureError(f"Column {name!r} must hold one value per row.")
    dkind = array.dtype.kind
    if kind in ("double", "float"):
        if dkind in "biuf" or (dkind == "O" and all(_is_number(v) or v is None for v in array)):
            return _as(array, _NUMPY_FOR[kind], name, kind)
        raise _type_error(name, kind, array)
    if kind in ("long", "integer"):
        if dkind in "biu":
            return array.astype(_NUMPY_FOR[kind])
        if dkind == "f" or (dkind == "O" and all(_is_number(v) for v in array)):
            floats = _as(array, "float64", name, kind)
            if _integral(floats):
                return floats.astype(_NUMPY_FOR[kind])
        raise SignatureError(
            f"Column {name!r} expects whole numbers ({kind}); it has fractional, missing or "
            f"non-numeric values.")
    if kind == "boolean":
        if dkind == "b" or (dkind == "O" and all(isinstance(v, (bool, np.bool_)) for v in array)):
            return array.astype(bool)
        raise _type_error(name, kind, array)
    if kind == "string":
        if dkind == "U" or (dkind == "O" and all(isinstance(v, str) or v is None or v != v
                                                 for v in array)):
            return array.astype(object)
        raise _type_error(name, kind, array)
    return array


def _as(array: Any, dtype: str, name: str, kind: str) -> Any:
    try:
        return array.astype(dtype)
    except (ValueError, TypeError, OverflowError):
        raise SignatureError(f"Column {name!r} expects {kind} values; some cannot be read as that.") \
            from None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number)


def _type_error(name: str, kind: str, array: Any) -> SignatureError:
    found = sorted({type(v).__name__ for v in array[:1000]}) if array.dtype.kind == "O" \
        else ["str" if array.dtype.kind == "U" else array.dtype.name]
    return SignatureError(f"Column {name!r} expects {kind} values; it has values of type "
                          f"{', '.join(found)}.")


def _enforce_tensor(data: Any, spec: TensorSpec) -> Any:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except ValueError:
        raise SignatureError("The input rows have different lengths.") from None
    expected = np.dtype(spec.dtype)
    if array.dtype != expected:
        if array.dtype.kind not in "biufO" or (expected.kind in "iu" and array.dtype.kind == "f"
                                               and not _integral(array)):
            raise SignatureError(
                f"Input expects an array of {spec.dtype}; got {array.dtype.name} values.")
        try:
            array = array.astype(expected)
        except (ValueError, TypeError):
            raise SignatureError(
                f"Input expects an array of {spec.dtype}; its values cannot be read as that.") from None
    if array.ndim != len(spec.shape):
        raise SignatureError(
            f"Input expects shape {tuple(spec.shape)} ({len(spec.shape)} dimensions); got "
            f"{array.ndim} dimensions.")
    for axis, (want, got) in enumerate(zip(spec.shape, array.shape, strict=True)):
        if want != -1 and want != got:
            raise SignatureError(
                f"Input expects shape {tuple(spec.shape)}; dimension {axis} has size {got}.")
    if array.size == 0:
        raise SignatureError("The input has no rows; send at least one.")
    return array


def _integral(array: Any) -> bool:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    return bool(np.isfinite(array).all() and (array % 1 == 0).all())
