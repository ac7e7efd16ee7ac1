"""``drift_report``: has the data a model sees drifted from the data it was trained on?

One row per column: its type, the test chosen for it (by type and size, as Evidently chooses),
the statistic, the threshold, the verdict, counts, missing shares, new categories and the two
histograms on shared bins; then the dataset's verdict (the share of drifted columns against
``drift_share``). The rule is stated in the report so every verdict can be explained.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlnb.errors import InvalidParameterError
from mlnb.monitor import stattests
from mlnb.monitor.stattests import TESTS

if TYPE_CHECKING:
    import pandas as pd

SMALL_DATA_ROWS = 1000  # Evidently's switch: p-value tests up to here, distances above
FEW_VALUES = 5  # a numeric column with at most this many values is tested as categorical
MIN_ROWS = 30  # below this a column's verdict is flagged as unreliable
PVALUE_TOO_LARGE = 100_000  # an explicit p-value test above this flags negligible differences
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 20
MAPPING_KEYS = ("numerical_features", "categorical_features", "target", "prediction")
RULE = ("Per column: reference <= 1000 rows: Kolmogorov-Smirnov (numeric, > 5 values) or "
        "chi-square (categorical), drift when p < 0.05; reference > 1000 rows: Wasserstein "
        "distance / reference std (numeric) or Jensen-Shannon distance (categorical), drift "
        "when >= 0.1. Dataset drift when the share of drifted columns >= drift_share.")


class SmallSampleWarning(UserWarning):
    """A column has too few values for its test's verdict to mean much."""


@dataclass
class ColumnDrift:
    """The drift test of one column.

    :param column: the column's name.
    :param role: ``feature``, ``target`` or ``prediction``.
    :param column_type: ``numerical`` or ``categorical``.
    :param method: the test's name.
    :param statistic: the test's value (a p-value for p-value tests, else a distance).
    :param threshold: the bound the statistic is compared with.
    :param drifted: the verdict.
    :param reference_count: non-missing reference values.
    :param current_count: non-missing current values.
    :param reference_missing_share: the reference's share of missing values.
    :param current_missing_share: the current data's share of missing values.
    :param new_categories: current values the reference never had (categorical, first 20).
    :param new_category_count: how many such values.
    :param histogram: shared bins (numeric: ``edges``) or ``categories``, with both sides'
        counts.
    :param warnings: what makes the verdict less reliable.
    :param test_statistic: the test's own statistic when ``statistic`` is its p-value.
    """

    column: str
    role: str
    column_type: str
    method: str
    statistic: float
    threshold: float
    drifted: bool
    reference_count: int
    current_count: int
    reference_missing_share: float
    current_missing_share: float
    new_categories: list[str] = field(default_factory=list)
    new_category_count: int = 0
    histogram: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    test_statistic: float | None = None

    @property
    def verdict(self) -> str:
        """``drift`` or ``no drift``."""
        return "drift" if self.drifted else "no drift"

    @property
    def stattest(self) -> str:
        """The test's readable name."""
        return TESTS[self.method].title


@dataclass
class DriftReport:
    """Every column's drift test and the dataset verdict.

    :param columns: one entry per tested column.
    :param drift_share: the share of drifted columns that makes the dataset drifted.
    :param reference_rows: rows in the reference.
    :param current_rows: rows in the current data.
    :param rule: how tests and thresholds were chosen.
    """

    columns: list[ColumnDrift]
    drift_share: float
    reference_rows: int
    current_rows: int
    rule: str = RULE

    @property
    def drifted_columns(self) -> list[str]:
        """The names of the drifted columns."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        """The share of tested columns that drifted."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        """Whether the share of drifted columns reaches ``drift_share``."""
        return bool(self.columns) and self.share_drifted >= self.drift_share

    def column(self, name: str) -> ColumnDrift:
        """One column's result.

        :param name: the column's name.
        :raises KeyError: for a column not in the report.
        """
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (NaN as None)."""
        out: dict[str, Any] = _strict({"rule": self.rule, "drift_share": self.drift_share,
                        "reference_rows": self.reference_rows, "current_rows": self.current_rows,
                        "dataset_drift": self.dataset_drift, "share_drifted": self.share_drifted,
                        "drifted_columns": self.drifted_columns,
                        "columns": [dict(asdict(c), verdict=c.verdict) for c in self.columns]})
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per column: name, role, type, test, statistic, threshold, verdict, counts."""
        import pandas as pd  # pandas: loaded on first use, not by import mlnb

        keys = ("column", "role", "column_type", "method", "statistic", "threshold", "verdict",
                "reference_count", "current_count", "reference_missing_share",
                "current_missing_share", "new_category_count")
        return pd.DataFrame([{k: getattr(c, k) for k in keys} for c in self.columns])

    def _repr_html_(self) -> str:
        from mlnb.monitor.render import report_html  # the HTML builder: on display only

        return report_html(self)


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


# --- arguments ---------------------------------------------------------------------------------


def _frame(data: Any, what: str) -> pd.DataFrame:
    import pandas as pd  # pandas: loaded on first use, not by import mlnb

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise InvalidParameterError(f"{what} must be a pandas DataFrame (or a dict of columns), "
                                f"not {type(data).__name__}.")


def _roles_and_types(reference: pd.DataFrame, mapping: dict[str, Any]
                     ) -> dict[str, tuple[str, str | None]]:
    """column -> (role, forced type or None)."""
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise InvalidParameterError(
            f"column_mapping has unknown key(s) {unknown}; known keys: {list(MAPPING_KEYS)}.")
    out: dict[str, tuple[str, str | None]] = {str(c): ("feature", None) for c in reference.columns}
    for key, kind in (("numerical_features", "numerical"), ("categorical_features", "categorical")):
        for col in mapping.get(key) or []:
            if str(col) not in out:
                raise InvalidParameterError(f"column_mapping[{key!r}] names {col!r}, which is not a "
                                            "column of the reference data.")
            out[str(col)] = ("feature", kind)
    for role in ("target", "prediction"):
        col = mapping.get(role)
        if col is not None:
            if str(col) not in out:
                raise InvalidParameterError(f"column_mapping[{role!r}] names {col!r}, which is not a "
                                            "column of the reference data.")
            out[str(col)] = (role, out[str(col)][1])
    return out


def _is_numeric(series: pd.Series) -> bool:
    from pandas.api import types  # pandas: loaded on first use, not by import mlnb

    return bool(types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype))


def choose_method(column_type: str, n_values: int, reference_rows: int) -> str:
    """Evidently's default test for a column.

    :param column_type: ``numerical`` or ``categorical``.
    :param n_values: distinct non-missing values in the reference.
    :param reference_rows: rows in the reference.
    """
    numeric = column_type == "numerical" and n_values > FEW_VALUES
    if reference_rows <= SMALL_DATA_ROWS:
        return "ks" if numeric else "chisquare"
    return "wasserstein" if numeric else "jensenshannon"


def _per_column(value: Any, column: str, default: Any) -> Any:
    if isinstance(value, dict):
        return value.get(column, default)
    return default if value is None else value


# --- the report --------------------------------------------------------------------------------


def drift_report(reference: Any, current: Any, *, column_mapping: dict[str, Any] | None = None,
                 method: str | dict[str, str] = "auto",
                 threshold: float | dict[str, float] | None = None, drift_share: float = 0.5
                 ) -> DriftReport:
    """Test every column of ``current`` against ``reference`` for drift.

    :param reference: the reference data (what the model was trained on), a DataFrame.
    :param current: the data to check, with the reference's columns.
    :param column_mapping: Evidently's names: ``numerical_features`` and
        ``categorical_features`` (force a type), ``target`` and ``prediction`` (their rows are
        marked so).
    :param method: ``"auto"`` (by type and size, see :data:`RULE`), or one of ``ks``,
        ``wasserstein``, ``chisquare``, ``jensenshannon``, ``psi`` for every column, or a dict
        column -> method (others auto).
    :param threshold: one number for every column, or a dict column -> number; default each
        test's own (0.05 for p-values, 0.1 for distances).
    :param drift_share: the share of drifted columns at which the dataset counts as drifted.
    :raises InvalidParameterError: for data that is not a table, columns missing from the
        current data, an unknown method or mapping key, or a numeric test on a text column.
    """
    ref, cur = _frame(reference, "reference"), _frame(current, "current")
    if len(ref) == 0 or len(cur) == 0:
        raise InvalidParameterError(
            f"Both data sets need rows: the reference has {len(ref)}, the current data {len(cur)}.")
    ref = ref.set_axis([str(c) for c in ref.columns], axis=1)  # a copy: the caller's frame stays
    cur = cur.set_axis([str(c) for c in cur.columns], axis=1)
    missing = [c for c in ref.columns if c not in cur.columns]
    if missing:
        raise InvalidParameterError(
            f"The current data lacks column(s) {missing[:10]} of the reference; pass the same "
            "columns (or drop them from the reference).")
    if not 0 < drift_share <= 1:
        raise InvalidParameterError(f"drift_share must be in (0, 1], not {drift_share!r}.")
    for name in ([method] if isinstance(method, str) else list(method.values())):
        if name != "auto" and name not in TESTS:
            raise InvalidParameterError(
                f"Unknown drift method {name!r}; use 'auto' or one of {sorted(TESTS)}.")
    roles = _roles_and_types(ref, dict(column_mapping or {}))
    columns = [_column(c, ref[c], cur[c], roles[c], method, threshold, len(ref))
               for c in ref.columns]
    for c in columns:
        for text in c.warnings:
            warnings.warn(f"Column {c.column!r}: {text}", SmallSampleWarning, stacklevel=2)
    return DriftReport(columns, drift_share, len(ref), len(cur))


def _column(name: str, ref_all: pd.Series, cur_all: pd.Series, role: tuple[str, str | None],
            method: Any, threshold: Any, reference_rows: int) -> ColumnDrift:
    ref, cur = ref_all.dropna(), cur_all.dropna()
    forced = role[1]
    numeric_dtype = _is_numeric(ref_all) and _is_numeric(cur_all)
    column_type = forced or ("numerical" if numeric_dtype else "categorical")
    if column_type == "numerical" and not numeric_dtype:
        raise InvalidParameterError(f"Column {name!r} is mapped as numerical but holds "
                                    f"{ref_all.dtype}/{cur_all.dtype} values.")
    n_values = int(ref.nunique())
    chosen = _per_column(method, name, "auto")
    if chosen == "auto":
        chosen = choose_method(column_type, n_values, reference_rows)
    test = TESTS[chosen]
    if test.numeric_only and column_type != "numerical":
        raise InvalidParameterError(
            f"Column {name!r} is categorical: {chosen!r} needs numbers; use chisquare, "
            "jensenshannon or psi for it (method={column: ...}).")
    bound = float(_per_column(threshold, name, test.default_threshold))
    notes = []
    if min(len(ref), len(cur)) < MIN_ROWS:
        notes.append(f"only {len(ref)} reference and {len(cur)} current values: the "
                     f"{test.title} verdict is unreliable below {MIN_ROWS}.")
    if test.p_value and min(len(ref), len(cur)) > PVALUE_TOO_LARGE:
        notes.append(f"a p-value test on {min(len(ref), len(cur)):,}+ values flags even negligible "
                     "differences; prefer wasserstein, jensenshannon or psi at this size.")
    if len(ref) == 0 or len(cur) == 0:
        notes.append("no values on one side: not tested.")
        statistic, test_stat, drifted = math.nan, None, False
    else:
        value, p = stattests.run(chosen, ref, cur, column_type == "numerical")
        statistic = p if p is not None else value
        test_stat = value if p is not None else None
        drifted = statistic < bound if test.p_value else statistic >= bound
    seen = set() if column_type == "numerical" else set(ref.unique().tolist())
    new = [] if column_type == "numerical" else [v for v in cur.unique().tolist() if v not in seen]
    return ColumnDrift(
        column=name, role=role[0], column_type=column_type, method=chosen, statistic=statistic,
        threshold=bound, drifted=bool(drifted), reference_count=len(ref), current_count=len(cur),
        reference_missing_share=_share_missing(ref_all), current_missing_share=_share_missing(cur_all),
        new_categories=[str(v) for v in new[:20]], new_category_count=len(new),
        histogram=_histogram(ref, cur, column_type == "numerical"), warnings=notes,
        test_statistic=test_stat)


def _share_missing(series: pd.Series) -> float:
    return float(series.isna().mean()) if len(series) else 0.0


def _histogram(ref: pd.Series, cur: pd.Series, numeric: bool) -> dict[str, Any]:
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if numeric:
        r, c = ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)
        finite = np.concatenate([r[np.isfinite(r)], c[np.isfinite(c)]])
        if len(finite) == 0:
            return {"edges": [], "reference": [], "current": []}
        lo, hi = float(finite.min()), float(finite.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BINS + 1)
        return {"edges": edges.tolist(), "reference": np.histogram(r, edges)[0].tolist(),
                "current": np.histogram(c, edges)[0].tolist()}
    rc, cc = ref.value_counts(), cur.value_counts()
    top = (rc.add(cc, fill_value=0)).sort_values(ascending=False).index[:TOP_CATEGORIES]
    return {"categories": [str(k) for k in top],
            "reference": [int(rc.get(k, 0)) for k in top],
            "current": [int(cc.get(k, 0)) for k in top],
            "other_reference": int(rc.sum() - sum(int(rc.get(k, 0)) for k in top)),
            "other_current": int(cc.sum() - sum(int(cc.get(k, 0)) for k in top))}
