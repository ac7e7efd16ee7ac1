"""``mlnb.diff``: the inline view of two runs compared. XSS payloads in run and experiment names,
param and tag keys and values, the cells' sources, the kernel history and package names come out
as text; the text repr outside Jupyter says the same things."""

from __future__ import annotations

import dataclasses
import html.parser
import subprocess
import sys
from pathlib import Path

import pytest

import mlnb
from mlnb.tracking.run_diff import (
    HistoryDiff,
    MappingDiff,
    MetricDiff,
    MetricStats,
    RunDiff,
    RunSummary,
    align_histories,
    diff_environments,
    diff_sources,
)
from mlnb.tracking.run_record import (
    CellSource,
    Environment,
    HistoryEntry,
    canonical_name,
    source_hash,
)
from mlnb.widgets.escape import escape_html
from mlnb.widgets.run_diff import RunDiffView, fold_same, render_html, render_text

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</pre><script>alert(1)</script>",
    "'><a href='javascript:alert(1)'>x</a>",
]
ALLOWED_TAGS = {"div", "span", "b", "code", "details", "summary", "table", "tr", "th", "td", "pre",
                "small", "br"}


class _TagAudit(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ("style", "class", "open"):
                self.problems.append(f"attribute {name}={value!r} on <{tag}>")


def audit(text: str) -> list[str]:
    parser = _TagAudit()
    parser.feed(text)
    parser.close()
    return parser.problems


def _summary(name: str, run_id: str) -> RunSummary:
    return RunSummary(run_id, name, "1", name + " experiment", "FINISHED", 0, 1)


def _crafted(payload: str) -> RunDiff:
    """A diff whose every string is the payload: keys too, as a store written by another tool
    may hold keys that mlnb's own API refuses."""
    pair = {payload: payload, "k": payload}
    cell_a = CellSource(payload + "\nx = 1", None, payload, 1, False, "provenance.json")
    cell_b = CellSource("x = 2\n" + payload, None, payload, 2, True, "mlnb.cell.source")
    history = align_histories([HistoryEntry(1, payload, source_hash(payload), payload)],
                              [HistoryEntry(1, payload, source_hash("other"), payload + "!")])
    env = diff_environments(Environment({payload: payload, "same": "1"}, payload, (payload,)),
                            Environment({payload + "2": payload, "same": "1"}, "3.12",
                                        (payload,), True))
    return RunDiff(
        a=_summary(payload, "a" * 32), b=_summary(payload + "b", "b" * 32),
        params=MappingDiff({payload: payload}, {"r" + payload: payload},
                           {payload + "c": (payload, payload + "!")}, pair),
        tags=MappingDiff({payload: payload}, {}, {"t": (payload, "")}, {}),
        system_tags=MappingDiff({}, {"mlnb.x": payload}, {}, {}),
        metrics=[MetricDiff(payload, MetricStats(1.0, 0.5, 1.0, 3), MetricStats(2.0, 0.5, 2.0, 4)),
                 MetricDiff("system/" + payload, None, MetricStats(1.0, 1.0, 1.0, 1))],
        cell=diff_sources(cell_a, cell_b, payload, payload),
        history=HistoryDiff(history, True, True),
        environment=env, notes=(payload,))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_string_of_a_crafted_diff_is_escaped(payload: str) -> None:
    page = render_html(_crafted(payload))
    assert audit(page) == []
    assert payload not in page
    # names, experiment names, keys, values, source lines, history ids and sources, packages
    assert page.count(escape_html(payload)) >= 20
    text = render_text(_crafted(payload))
    assert payload in text  # the text repr is text: it shows the strings as they are


def _provenance(cell_id: str, source: str, packages: dict[str, str]) -> dict[str, object]:
    return {"notebook_path": None, "python_version": "3.11.7",
            "cell": {"id": cell_id, "execution_count": 2, "source": source,
                     "sha256": source_hash(source)},
            "history": [{"execution_count": 1, "id": cell_id, "sha256": source_hash(cell_id)}],
            "packages": packages}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_real_runs_stay_text(tracking: Path, payload: str) -> None:
    mlnb.set_experiment(payload)
    with mlnb.start_run(run_name=payload) as a:
        mlnb.log_params({"p": payload, "same": "1"})
        mlnb.set_tags({"t": payload, "mlnb.cell.source": payload})
        mlnb.log_metric("acc", 0.5)
        mlnb.log_dict(_provenance(payload, payload + "\nlr = 1",
                                  {payload: payload, "numpy": "1.0"}), "provenance.json")
    mlnb.set_experiment("other")
    with mlnb.start_run(run_name="b" + payload) as b:
        mlnb.log_params({"p": payload + "2", "same": "1"})
        mlnb.set_tag("u", payload)
        mlnb.log_metric("acc", 0.75)
        mlnb.log_dict(_provenance(payload + "2", payload + "\nlr = 2", {"numpy": "2.0"}),
                      "provenance.json")
        mlnb.log_text(f"evil=={payload}\n", "requirements.txt")
    view = mlnb.diff(a.info.run_id, mlnb.get_run(b.info.run_id))
    page = view._repr_html_()
    assert audit(page) == []
    assert payload not in page
    for shown in (payload, payload + "2", "b" + payload, f"{payload}\nlr = 1"):
        assert escape_html(shown.splitlines()[0]) in page
    assert escape_html("-lr = 1") in page and escape_html("+lr = 2") in page
    data = view.to_dict()
    assert data["environment"]["removed"] == {canonical_name(payload): payload}
    assert data["environment"]["added"] == {"evil": payload}
    assert data["environment"]["changed"] == {"numpy": {"a": "1.0", "b": "2.0"}}
    assert data["history"]["rows"][0]["a"]["cell_id"] == payload


def test_the_view_and_its_text(tracking: Path) -> None:
    with mlnb.start_run(run_name="base") as a:
        mlnb.log_params({"lr": 0.1, "seed": 1})
        mlnb.log_metric("loss", 0.9)
        mlnb.set_tag("team", "red")
    with mlnb.start_run(run_name="tuned") as b:
        mlnb.log_params({"lr": 0.05, "seed": 1, "batch": 32})
        mlnb.log_metric("loss", 0.72)
        mlnb.log_metric("acc", 0.8)
    view = mlnb.diff(a, b)  # ActiveRun handles
    assert isinstance(view, RunDiffView)
    page = view._repr_html_()
    assert "Run diff:" in page and "var(--jp-ui-font-color1" in page
    assert "<b>base</b>" in page and "<b>tuned</b>" in page
    assert "-0.18 (-20.0%)" in page  # Δ last of loss
    assert "(not logged)" in page  # acc in run a
    assert ">only in b</td>" in page and ">changed</td>" in page
    assert "1 param the same" in page
    text = repr(view)
    assert text.splitlines()[0] == (f"Run diff: a = base ({a.info.run_id[:8]}, Default), "
                                    f"b = tuned ({b.info.run_id[:8]}, Default)")
    assert "  + batch = 32" in text and "  ~ lr: 0.1 → 0.05" in text and "  - team = red" in text
    assert "  ~ loss: last 0.9 → 0.72 (-0.18, -20.0%)" in text
    assert "  + acc: only in b" in text
    assert "packages not compared: run a recorded none and run b recorded none" in text


def test_diff_is_public_and_loaded_on_first_use() -> None:
    code = ("import sys, mlnb; assert 'mlnb.widgets.run_diff' not in sys.modules; "
            "assert 'mlnb.tracking.run_diff' not in sys.modules; "
            "from mlnb.widgets.run_diff import diff; assert mlnb.diff is diff; "
            "assert 'diff' in mlnb.__all__")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_long_stretches_of_the_same_cells_are_folded() -> None:
    def entry(count: int, source: str) -> HistoryEntry:
        return HistoryEntry(count, f"c{count}", source_hash(source), source)

    same = [entry(i, f"x{i} = {i}") for i in range(1, 11)]
    rows = align_histories([*same, entry(11, "a = 1")], [*same, entry(11, "a = 2")])
    folded = fold_same(rows)
    assert [len(p) if isinstance(p, list) else p.status for p in folded] == [
        "same", "same", 6, "same", "same", "edited"]
    text = render_text(dataclasses.replace(_crafted("p"), history=HistoryDiff(rows, True, True)))
    assert "  ... 6 more cells the same in both" in text
    assert text.count(" same ") >= 4 and "[11] " in text
