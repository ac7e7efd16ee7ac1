"""The per-column drift tests, each on the non-missing values of one column in the reference and
the current data, each returning ``(statistic, p_value or None)``.

Numbers are computed as Evidently computes them (its ``stattests`` registry), with scipy:
Kolmogorov-Smirnov (``ks_2samp``), Wasserstein distance over the reference's standard deviation,
chi-square on the reference/current contingency table (``chi2_contingency``, which for two
categories equals Evidently's two-proportion Z test), Jensen-Shannon distance
(``scipy.spatial.distance.jensenshannon``) and PSI on shared bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    Array = npt.NDArray[Any]


@dataclass(frozen=True)
class StatTest:
    """A drift test: its name, what it measures, its default threshold and its direction.

    :param name: the method's name (``method=`` in :func:`mlnb.monitor.drift_report`).
    :param title: a readable name.
    :param default_threshold: drift when the p-value is below it (``p_value``) or the distance
        is at least it.
    :param p_value: whether the test gives a p-value (drift when it is small) or a distance.
    :param numeric_only: whether it needs numbers.
    """

    name: str
    title: str
    default_threshold: float
    p_value: bool
    numeric_only: bool


TESTS = {
    "ks": StatTest("ks", "Kolmogorov-Smirnov p-value", 0.05, True, True),
    "wasserstein": StatTest("wasserstein", "Wasserstein distance (normed)", 0.1, False, True),
    "chisquare": StatTest("chisquare", "chi-square p-value", 0.05, True, False),
    "jensenshannon": StatTest("jensenshannon", "Jensen-Shannon distance", 0.1, False, False),
    "psi": StatTest("psi", "PSI", 0.1, False, False),
}
"""Every test, by its ``method=`` name."""


def ks(reference: Array, current: Array) -> tuple[float, float | None]:
    """Two-sample Kolmogorov-Smirnov: (statistic, p-value).

    :param reference: the reference values.
    :param current: the current values.
    """
    from scipy import stats  # scipy: loaded on first use, not by import mlnb

    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def wasserstein(reference: Array, current: Array) -> tuple[float, float | None]:
    """Wasserstein (earth mover's) distance divided by the reference's standard deviation
    (at least 0.001, as Evidently, so a constant reference does not divide by zero).

    The distance is ``scipy.stats.wasserstein_distance``'s integral of ``|F - G|``, computed
    from the two sorted samples merged in linear time (a stable sort of two sorted runs) and
    cumulative counts instead of binary searches: the same number, several times faster on
    millions of rows.

    :param reference: the reference values.
    :param current: the current values.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    norm = max(float(np.std(reference)), 0.001)
    u, v = np.sort(reference), np.sort(current)
    both = np.concatenate([u, v])
    order = np.argsort(both, kind="stable")  # timsort: two sorted runs merge in one pass
    values = both[order]
    from_u = order < len(u)
    # Within a run of equal values the partial counts differ, but the width to the next value
    # is 0 there, so only each run's last (complete) count contributes: F(x) = P(X <= x).
    u_cdf = np.cumsum(from_u)[:-1] / len(u)
    v_cdf = np.cumsum(~from_u)[:-1] / len(v)
    return float(np.sum(np.abs(u_cdf - v_cdf) * np.diff(values))) / norm, None


def category_counts(reference: pd.Series, current: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each side's count per category, over the union of categories (reference's first).

    :param reference: the reference values (no missing values).
    :param current: the current values (no missing values).
    """
    ref = reference.value_counts(sort=False)
    cur = current.value_counts(sort=False)
    keys = ref.index.append(cur.index.difference(ref.index, sort=False))
    return ref.reindex(keys, fill_value=0), cur.reindex(keys, fill_value=0)


def _counts(reference: pd.Series, current: pd.Series) -> tuple[list[Any], Array, Array]:
    """Categories (the union, reference order first) and each side's counts."""
    ref, cur = category_counts(reference, current)
    return list(ref.index), ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)


def chisquare(reference: pd.Series, current: pd.Series) -> tuple[float, float | None]:
    """Chi-square test of independence on the 2 x k table of category counts.

    :param reference: the reference values.
    :param current: the current values.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb
    from scipy import stats  # scipy: loaded on first use, not by import mlnb

    _, ref, cur = _counts(reference, current)
    if len(ref) < 2:
        return 0.0, 1.0  # one category on both sides: nothing can have changed
    result = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    return float(result.statistic), float(result.pvalue)


def binned(reference: Any, current: Any, numeric: bool) -> tuple[Array, Array]:
    """Each side's share per bin: shared Sturges bins over both sides for a numeric column with
    more than 20 values, else one bin per value (Evidently's ``get_binned_data``).

    :param reference: the reference values (a pandas Series).
    :param current: the current values (a pandas Series).
    :param numeric: whether the column is numeric.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    if numeric and reference.nunique() > 20:
        both = np.concatenate([reference.to_numpy(dtype=float), current.to_numpy(dtype=float)])
        edges = np.histogram_bin_edges(both, bins="sturges")
        ref = np.histogram(reference.to_numpy(dtype=float), edges)[0].astype(float)
        cur = np.histogram(current.to_numpy(dtype=float), edges)[0].astype(float)
    else:
        _, ref, cur = _counts(reference, current)
    return ref / max(len(reference), 1), cur / max(len(current), 1)


def _fill_zeroes(shares: Array) -> Array:

    out = shares.copy()
    nonzero = out[out != 0]
    smallest = float(nonzero.min()) if len(nonzero) else 1.0
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def jensenshannon(reference: pd.Series, current: pd.Series, numeric: bool
                  ) -> tuple[float, float | None]:
    """Jensen-Shannon distance (natural log) between the binned shares.

    :param reference: the reference values.
    :param current: the current values.
    :param numeric: whether the column is numeric.
    """
    from scipy.spatial import distance  # scipy: loaded on first use, not by import mlnb

    ref, cur = binned(reference, current, numeric)
    return float(distance.jensenshannon(ref, cur)), None


def psi(reference: pd.Series, current: pd.Series, numeric: bool) -> tuple[float, float | None]:
    """Population stability index, ``sum((ref - cur) * ln(ref / cur))`` over the binned shares
    (empty bins filled with a tiny share, as Evidently).

    :param reference: the reference values.
    :param current: the current values.
    :param numeric: whether the column is numeric.
    """
    import numpy as np  # numpy: loaded on first use, not by import mlnb

    ref, cur = binned(reference, current, numeric)
    ref, cur = _fill_zeroes(ref), _fill_zeroes(cur)
    return float(np.sum((ref - cur) * np.log(ref / cur))), None


def run(name: str, reference: pd.Series, current: pd.Series, numeric: bool
        ) -> tuple[float, float | None]:
    """Run the test ``name`` on one column's non-missing values.

    :param name: a key of :data:`TESTS`.
    :param reference: the reference values.
    :param current: the current values.
    :param numeric: whether the column is numeric.
    """
    if name == "ks":
        return ks(reference.to_numpy(dtype=float), current.to_numpy(dtype=float))
    if name == "wasserstein":
        return wasserstein(reference.to_numpy(dtype=float), current.to_numpy(dtype=float))
    if name == "chisquare":
        return chisquare(reference, current)
    if name == "jensenshannon":
        return jensenshannon(reference, current, numeric)
    return psi(reference, current, numeric)
