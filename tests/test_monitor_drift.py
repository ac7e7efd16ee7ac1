"""mlnb.monitor.drift_report: each statistic against scipy on the same data, the test chosen by
type and size, a known shift found, few false alarms, a million rows, and XSS kept as text."""

from __future__ import annotations

import html.parser
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance
from test_widgets_xss import ALLOWED_TAGS, PAYLOADS

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.monitor import SmallSampleWarning, drift_report


def _frames(n_ref: int, n_cur: int, seed: int = 0, shift: float = 0.0
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def make(n: int, s: float) -> pd.DataFrame:
        return pd.DataFrame({
            "x": rng.normal(s, 1, n),
            "few": rng.integers(0, 4, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        })

    return make(n_ref, 0.0), make(n_cur, shift)


def test_small_data_uses_ks_and_chisquare_as_scipy_computes_them() -> None:
    ref, cur = _frames(800, 600, seed=1)
    report = drift_report(ref, cur)
    x = report.column("x")
    assert x.method == "ks"
    assert x.statistic == stats.ks_2samp(ref["x"], cur["x"]).pvalue
    assert x.test_statistic == stats.ks_2samp(ref["x"], cur["x"]).statistic
    colour = report.column("colour")
    assert colour.method == "chisquare"
    table = pd.crosstab(np.r_[np.zeros(800), np.ones(600)],
                        np.r_[ref["colour"], cur["colour"]]).to_numpy()
    assert colour.statistic == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue,
                                             rel=1e-12)
    assert report.column("few").method == "chisquare"  # numeric with <= 5 values: categorical test


def test_large_data_uses_normed_wasserstein_and_jensen_shannon() -> None:
    ref, cur = _frames(5000, 3000, seed=2, shift=0.05)
    report = drift_report(ref, cur)
    x = report.column("x")
    assert x.method == "wasserstein"
    assert x.statistic == pytest.approx(
        stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"]), rel=1e-12)
    colour = report.column("colour")
    assert colour.method == "jensenshannon"
    keys = ["red", "green", "blue"]
    ref_share = ref["colour"].value_counts().reindex(keys).to_numpy() / len(ref)
    cur_share = cur["colour"].value_counts().reindex(keys).to_numpy() / len(cur)
    assert colour.statistic == pytest.approx(distance.jensenshannon(ref_share, cur_share), rel=1e-12)


def test_jensen_shannon_and_psi_on_sturges_bins_for_many_valued_numbers() -> None:
    ref, cur = _frames(2000, 1500, seed=3, shift=0.3)
    edges = np.histogram_bin_edges(np.r_[ref["x"], cur["x"]], bins="sturges")
    r = np.histogram(ref["x"], edges)[0] / len(ref)
    c = np.histogram(cur["x"], edges)[0] / len(cur)
    js = drift_report(ref, cur, method="jensenshannon").column("x")
    assert js.statistic == pytest.approx(distance.jensenshannon(r, c), rel=1e-12)
    psi = drift_report(ref, cur, method="psi").column("x")
    r, c = np.where(r == 0, 0.0001, r), np.where(c == 0, 0.0001, c)
    assert psi.statistic == pytest.approx(float(np.sum((r - c) * np.log(r / c))), rel=1e-12)
    assert psi.threshold == 0.1 and psi.drifted == (psi.statistic >= 0.1)


def test_a_known_shift_and_a_new_category_are_found() -> None:
    ref, cur = _frames(5000, 5000, seed=4, shift=0.5)
    cur.loc[:99, "colour"] = "ultraviolet"
    report = drift_report(ref, cur, drift_share=0.3)
    assert report.column("x").drifted
    assert not report.column("few").drifted
    colour = report.column("colour")
    assert colour.new_categories == ["ultraviolet"] and colour.new_category_count == 1
    assert report.drifted_columns == ["x"] and report.dataset_drift  # 1 of 3 >= 0.3


@pytest.mark.parametrize("column", ["x", "colour"])
def test_false_alarm_rate_over_100_seeds_is_near_the_tests_level(column: str) -> None:
    alarms = sum(drift_report(*_frames(500, 500, seed=seed)).column(column).drifted
                 for seed in range(100))
    # p < 0.05 on unshifted data: 5 expected; binomial(100, 0.05) exceeds 11 with p < 0.5%.
    assert alarms <= 11


def test_a_million_rows_of_twenty_unshifted_columns_do_not_drift() -> None:
    rng = np.random.default_rng(5)
    n = 1_000_000

    def make() -> pd.DataFrame:
        cols: dict[str, object] = {f"n{i}": rng.normal(i, 1 + i, n) for i in range(14)}
        cols.update({f"c{i}": rng.choice(list("abcde"), n) for i in range(6)})
        return pd.DataFrame(cols)

    report = drift_report(make(), make())
    assert len(report.columns) == 20
    assert report.drifted_columns == []
    assert {c.method for c in report.columns} == {"wasserstein", "jensenshannon"}


def test_missing_values_are_counted_not_tested() -> None:
    ref, cur = _frames(400, 400, seed=6)
    cur.loc[:99, "x"] = np.nan
    x = drift_report(ref, cur).column("x")
    assert x.current_missing_share == 0.25 and x.current_count == 300
    assert x.statistic == stats.ks_2samp(ref["x"], cur["x"].dropna()).pvalue


def test_a_small_sample_warns() -> None:
    ref, cur = _frames(200, 10, seed=7)
    with pytest.warns(SmallSampleWarning, match=r"Column 'x': only 200 reference and 10 current "
                                                r"values: the Kolmogorov-Smirnov p-value verdict"):
        report = drift_report(ref, cur)
    assert report.column("x").warnings


def test_column_mapping_forces_types_and_marks_roles() -> None:
    ref, cur = _frames(300, 300, seed=8)
    report = drift_report(ref, cur, column_mapping={"categorical_features": ["x"],
                                                    "prediction": "few"})
    assert report.column("x").column_type == "categorical"
    assert report.column("few").role == "prediction"


def test_bad_arguments_name_the_problem() -> None:
    ref, cur = _frames(100, 100)
    with pytest.raises(InvalidParameterError, match=r"lacks column\(s\) \['colour'\]"):
        drift_report(ref, cur.drop(columns="colour"))
    with pytest.raises(InvalidParameterError, match="Unknown drift method 'kl'"):
        drift_report(ref, cur, method="kl")
    with pytest.raises(InvalidParameterError, match="Column 'colour' is categorical: 'ks' needs"):
        drift_report(ref, cur, method="ks")
    with pytest.raises(InvalidParameterError, match="column_mapping has unknown key"):
        drift_report(ref, cur, column_mapping={"features": ["x"]})
    with pytest.raises(InvalidParameterError, match="reference must be a pandas DataFrame"):
        drift_report([1, 2], cur)


def test_the_callers_frames_are_not_changed() -> None:
    ref, cur = _frames(100, 100)
    ref.columns = pd.Index([0, "few", "colour"])
    cur.columns = pd.Index([0, "few", "colour"])
    drift_report(ref, cur)
    assert list(ref.columns) == [0, "few", "colour"]


class _Audit(html.parser.HTMLParser):
    ALLOWED = ALLOWED_TAGS | {"svg", "rect"}

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.ALLOWED or tag == "script":
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("href", "src", "srcdoc") or name.startswith("data-"):
                self.problems.append(f"attribute {name}={value!r} on <{tag}>")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_in_column_names_and_categories_stays_text(payload: str) -> None:
    ref, cur = _frames(300, 300, seed=9)
    cur.loc[:5, "colour"] = payload  # a new category
    ref, cur = ref.rename(columns={"x": payload}), cur.rename(columns={"x": payload})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = drift_report(ref, cur)._repr_html_()
    audit = _Audit()
    audit.feed(page)
    assert audit.problems == []
    assert payload not in page or ("<" not in payload and '"' not in payload)
    assert 'class="tex2jax_ignore mathjax_ignore"' in page


def test_drift_report_is_reached_from_mlnb_monitor() -> None:
    assert mlnb.monitor.drift_report is drift_report
