"""``mlnb.diff(run_a, run_b)``: two runs compared, shown inline in a notebook, as text elsewhere.

The data is :class:`mlnb.tracking.run_diff.RunDiff`; this module only draws it. The HTML is
self-contained (inline styles, ``<details>`` to fold sections, no script) and uses JupyterLab's
theme variables, so it reads in the dark theme too. Every string from the store (names, keys,
values, sources, package names) goes through :func:`~mlnb.widgets.escape.escape_html`.
"""

from __future__ import annotations

from typing import Any

from mlnb.tracking.run_diff import (
    STATS,
    EnvironmentDiff,
    HistoryDiff,
    HistoryRow,
    MappingDiff,
    MetricDiff,
    RunDiff,
    RunSummary,
    SourceDiff,
    diff_runs,
)
from mlnb.tracking.run_record import HistoryEntry
from mlnb.widgets.data import format_value, tracking_store
from mlnb.widgets.escape import escape_html

MAX_VALUE_CHARS = 300  # a value longer than this is cut in the tables (the data keeps it whole)
MAX_SOURCE_LINE_CHARS = 80  # a history cell's first line, shown beside its hash
_FG = "var(--jp-ui-font-color1,#222)"
_MUTED = "var(--jp-ui-font-color2,#666)"
_BORDER = "var(--jp-border-color2,#ddd)"
# Translucent tints (not the theme's pale color3 shades, which are pale in the dark theme too):
# they darken a light page and lighten a dark one, so the theme's text colour reads on both.
_ADDED = "rgba(46,160,67,0.25)"
_REMOVED = "rgba(248,81,73,0.25)"
_CHANGED = "rgba(210,153,34,0.25)"
_STATUS_BACKGROUND = {"added": _ADDED, "only_b": _ADDED, "removed": _REMOVED, "only_a": _REMOVED,
                      "changed": _CHANGED, "edited": _CHANGED}
_STATUS_TEXT = {"added": "only in b", "removed": "only in a", "changed": "changed", "same": "same",
                "only_a": "only in a", "only_b": "only in b", "edited": "edited"}
_STYLE = (f"font-family:var(--jp-content-font-family,sans-serif);font-size:13px;color:{_FG};"
          f"border:1px solid {_BORDER};border-radius:4px;padding:6px 8px;max-width:100%")
_TABLE = "border-collapse:collapse;margin:4px 0;color:inherit;font-size:inherit"
_CELL = f"border-bottom:1px solid {_BORDER};padding:2px 8px;text-align:left;vertical-align:top"
_CODE = "font-family:var(--jp-code-font-family,monospace);font-size:12px"


class RunDiffView:
    """What :func:`diff` returns: the comparison of two runs, drawn as HTML by a notebook and as
    text by ``repr`` (a terminal, a script's print).

    :param diff: the comparison, from :func:`mlnb.tracking.run_diff.diff_runs`.
    """

    def __init__(self, diff: RunDiff) -> None:
        self.diff = diff

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data (the same as the server's ``runs/<a>/diff/<b>``)."""
        return self.diff.to_dict()

    def _repr_html_(self) -> str:
        return render_html(self.diff)

    def __repr__(self) -> str:
        return render_text(self.diff)


def diff(run_a: Any, run_b: Any) -> RunDiffView:
    """Compare two runs: params and tags added, removed or changed, metric deltas (last, min,
    max), the tracked cell's source as a diff, the cells run before each side by side, and the
    packages added, removed or at another version. Shown inline in a notebook.

    :param run_a: the run compared against: a run id, a ``Run`` or an ``ActiveRun``.
    :param run_b: the other run, likewise (it may be in another experiment).
    :raises NotFoundError: for a run id the store does not have.
    """
    tracking_store()  # this process's buffered metrics are written first
    return RunDiffView(diff_runs(run_a, run_b))


# --- HTML ------------------------------------------------------------------------------------------


def render_html(diff: RunDiff) -> str:
    """The comparison as one self-contained HTML fragment, every user string escaped.

    :param diff: the comparison.
    """
    parts = [
        _header_html(diff.a, diff.b),
        _section("Params", _mapping_html(diff.params, "param"), diff.params.differs),
        _section("Metrics", _metrics_html([m for m in diff.metrics if not m.system]),
                 any(m.status != "same" for m in diff.metrics if not m.system)),
    ]
    system = [m for m in diff.metrics if m.system]
    if system:
        parts.append(_section("System metrics", _metrics_html(system), False))
    parts += [
        _section("Tags", _mapping_html(diff.tags, "tag"), diff.tags.differs),
        _section("System tags (mlflow.*, mlnb.*)", _mapping_html(diff.system_tags, "tag"), False),
        _section("Cell source", _source_html(diff.cell), diff.cell.identical is False),
        _section("Cells run before", _history_html(diff.history), not diff.history.identical),
        _section("Environment", _environment_html(diff.environment),
                 bool(diff.environment.added or diff.environment.removed
                      or diff.environment.changed)),
    ]
    if diff.notes:
        parts.append("<div style='color:" + _MUTED + "'>"
                     + "<br>".join(escape_html(n) for n in diff.notes) + "</div>")
    return f"<div class='mlnb-run-diff' style='{_STYLE}'>{''.join(parts)}</div>"


def _run_html(run: RunSummary) -> str:
    return (f"<b>{escape_html(run.run_name or run.run_id)}</b> <code style='{_CODE}'>"
            f"{escape_html(run.run_id[:8])}</code> <span style='color:{_MUTED}'>"
            f"{escape_html(run.experiment_name or run.experiment_id)} · "
            f"{escape_html(run.status)}</span>")


def _header_html(a: RunSummary, b: RunSummary) -> str:
    return (f"<div style='margin-bottom:4px'>Run diff: <span style='background:{_REMOVED}'>a"
            f"</span> {_run_html(a)} → <span style='background:{_ADDED}'>b</span> "
            f"{_run_html(b)}</div>")


def _section(title: str, body: str, open_: bool) -> str:
    return (f"<details{' open' if open_ else ''} style='margin:4px 0'><summary style='cursor:"
            f"pointer;font-weight:bold'>{escape_html(title)}</summary>{body}</details>")


def _cut(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = format_value(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _row(cells: list[str], status: str | None = None, head: bool = False) -> str:
    tag = "th" if head else "td"
    background = f"background:{_STATUS_BACKGROUND[status]};" if status in _STATUS_BACKGROUND else ""
    return ("<tr>" + "".join(f"<{tag} style='{_CELL};{background}'>{c}</{tag}>" for c in cells)
            + "</tr>")


def _table(head: list[str], rows: list[str]) -> str:
    return (f"<table style='{_TABLE}'>{_row([escape_html(h) for h in head], head=True)}"
            f"{''.join(rows)}</table>")


def _mapping_html(compared: MappingDiff, what: str) -> str:
    rows = [_row([escape_html(k), "", escape_html(_cut(v)), "only in b"], "added")
            for k, v in compared.added.items()]
    rows += [_row([escape_html(k), escape_html(_cut(v)), "", "only in a"], "removed")
             for k, v in compared.removed.items()]
    rows += [_row([escape_html(k), escape_html(_cut(a)), escape_html(_cut(b)), "changed"], "changed")
             for k, (a, b) in compared.changed.items()]
    same = len(compared.unchanged)
    tail = f"<div style='color:{_MUTED}'>{same} {what}{'s' if same != 1 else ''} the same</div>"
    if not rows:
        return tail
    return _table([what, "a", "b", ""], rows) + tail


def _number(value: float | None) -> str:
    return "" if value is None else escape_html(format_value(value))


def _change(metric: MetricDiff, stat: str) -> str:
    delta = metric.delta(stat)
    if delta is None:
        return ""
    relative = metric.relative(stat)
    text = f"{delta:+.6g}" + (f" ({relative:+.1%})" if relative is not None else "")
    return escape_html(text)


def _metrics_html(metrics: list[MetricDiff]) -> str:
    if not metrics:
        return f"<div style='color:{_MUTED}'>No metrics in either run.</div>"
    rows = []
    for m in metrics:
        a = [_number(m.a.value(s)) if m.a else "" for s in STATS]
        b = [_number(m.b.value(s)) if m.b else "" for s in STATS]
        rows.append(_row([escape_html(m.key), " / ".join(a) if m.a else "(not logged)",
                          " / ".join(b) if m.b else "(not logged)",
                          *[_change(m, s) for s in STATS]], m.status))
    return _table(["metric", "a: last / min / max", "b: last / min / max", "Δ last", "Δ min",
                   "Δ max"], rows)


def _source_html(cell: SourceDiff) -> str:
    missing = [side for side, c in (("a", cell.a), ("b", cell.b)) if c is None]
    if len(missing) == 2:
        return f"<div style='color:{_MUTED}'>Neither run recorded the cell that made it.</div>"
    if missing:
        only = cell.b if cell.a is None else cell.a
        assert only is not None
        return (f"<div style='color:{_MUTED}'>Run {missing[0]} recorded no cell source; "
                f"run {'b' if missing[0] == 'a' else 'a'}'s:</div>{_pre(only.source)}")
    notes = [f"run {s} shows the tag's shortened copy" for s, c in (("a", cell.a), ("b", cell.b))
             if c is not None and c.truncated]
    note = f"<div style='color:{_MUTED}'>{escape_html('; '.join(notes))}</div>" if notes else ""
    if not cell.unified:
        assert cell.a is not None
        return f"<div style='color:{_MUTED}'>The same source in both runs.</div>{note}" \
               + _pre(cell.a.source)
    lines = []
    for line in cell.unified.splitlines():
        colour = (_ADDED if line.startswith("+") and not line.startswith("+++") else
                  _REMOVED if line.startswith("-") and not line.startswith("---") else "")
        style = f" style='background:{colour}'" if colour else ""
        lines.append(f"<span{style}>{escape_html(line)}</span>")
    return note + f"<pre style='{_CODE};margin:2px 0'>" + "\n".join(lines) + "</pre>"


def _pre(text: str) -> str:
    return f"<pre style='{_CODE};margin:2px 0'>{escape_html(text)}</pre>"


def _entry_html(entry: HistoryEntry | None) -> str:
    if entry is None:
        return ""
    count = f"[{entry.execution_count}]" if entry.execution_count is not None else "[?]"
    first = _first_line(entry.source)
    return (f"<code style='{_CODE}'>{escape_html(count)} {escape_html(entry.short_hash)}</code>"
            + (f" <small style='color:{_MUTED}'>{escape_html(entry.cell_id)}</small>"
               if entry.cell_id else "")
            + (f"<br><code style='{_CODE}'>{escape_html(first)}</code>" if first else ""))


def _first_line(source: str | None) -> str:
    if not source:
        return ""
    line = source.strip().splitlines()[0] if source.strip() else ""
    return line if len(line) <= MAX_SOURCE_LINE_CHARS else line[:MAX_SOURCE_LINE_CHARS] + "…"


def _history_status(row: HistoryRow) -> str:
    text = _STATUS_TEXT[row.status]
    if row.elsewhere == "same":
        text += " (ran elsewhere in the other)"
    elif row.elsewhere == "edited":
        text += " (edited since the other)"
    return text


def _history_html(history: HistoryDiff) -> str:
    missing = [s for s, ok in (("a", history.recorded_a), ("b", history.recorded_b)) if not ok]
    note = (f"<div style='color:{_MUTED}'>Run{'s' if len(missing) > 1 else ''} "
            f"{' and '.join(missing)} recorded no kernel history.</div>") if missing else ""
    if not history.rows:
        return note or f"<div style='color:{_MUTED}'>No cells ran before either run.</div>"
    rows = []
    for part in fold_same(history.rows):
        if isinstance(part, HistoryRow):
            rows.append(_row([_entry_html(part.a), escape_html(_history_status(part)),
                              _entry_html(part.b)], part.status))
            continue
        inner = "".join(_row([_entry_html(r.a), "same", _entry_html(r.b)]) for r in part)
        rows.append(f"<tr><td colspan='3' style='{_CELL}'><details><summary style='cursor:pointer;"
                    f"color:{_MUTED}'>{len(part)} more cells the same in both</summary>"
                    f"<table style='{_TABLE}'>{inner}</table></details></td></tr>")
    return note + _table(["a: [n] hash", "", "b: [n] hash"], rows)


def fold_same(rows: list[HistoryRow], keep: int = 2) -> list[HistoryRow | list[HistoryRow]]:
    """The rows, with the middle of each long stretch of ``same`` rows as one list (folded in
    the view): a history of a thousand cells shows where the two runs part.

    :param rows: the aligned history.
    :param keep: the ``same`` rows kept visible at each end of a stretch.
    """
    out: list[HistoryRow | list[HistoryRow]] = []
    stretch: list[HistoryRow] = []
    for row in [*rows, None]:
        if row is not None and row.status == "same":
            stretch.append(row)
            continue
        if len(stretch) > 2 * keep + 1:
            out += [*stretch[:keep], stretch[keep:-keep], *stretch[-keep:]]
        else:
            out += stretch
        stretch = []
        if row is not None:
            out.append(row)
    return out


def _environment_html(env: EnvironmentDiff) -> str:
    facts = []
    if env.a.python or env.b.python:
        python = escape_html(env.a.python or "?")
        if env.b.python != env.a.python:
            python += " → " + escape_html(env.b.python or "?")
        facts.append(f"Python {python}")
    for side, e in (("a", env.a), ("b", env.b)):
        read = ", ".join(e.sources) if e.sources else "nothing recorded"
        cut = " (cut at the tag limit)" if e.truncated else ""
        facts.append(f"run {side}: {escape_html(read)}{escape_html(cut)}")
    rows = [_row([escape_html(k), "", escape_html(v)], "added") for k, v in env.added.items()]
    rows += [_row([escape_html(k), escape_html(v), ""], "removed") for k, v in env.removed.items()]
    rows += [_row([escape_html(k), escape_html(a), escape_html(b)], "changed")
             for k, (a, b) in env.changed.items()]
    if not env.compared:
        facts.append("packages compared only when both runs recorded them")
    head = f"<div style='color:{_MUTED}'>{' · '.join(facts)}</div>"
    same = f"<div style='color:{_MUTED}'>{env.unchanged} packages at the same version</div>"
    return head + (_table(["package", "a", "b"], rows) if rows else "") + same


# --- text ------------------------------------------------------------------------------------------


def render_text(diff: RunDiff) -> str:
    """The comparison as plain text, for a terminal or a script.

    :param diff: the comparison.
    """
    def name(run: RunSummary) -> str:
        return f"{run.run_name or run.run_id} ({run.run_id[:8]}, {run.experiment_name or run.experiment_id})"

    lines = [f"Run diff: a = {name(diff.a)}, b = {name(diff.b)}"]
    lines += _mapping_text("Params", diff.params)
    lines.append("Metrics (last / min / max):")
    for m in diff.metrics:
        if m.status == "same":
            continue
        if m.a is None or m.b is None:
            lines.append(f"  + {m.key}: only in {'b' if m.a is None else 'a'}")
            continue
        changes = ", ".join(f"{s} {format_value(m.a.value(s))} → {format_value(m.b.value(s))}"
                            f" ({_change_text(m, s)})" for s in STATS)
        lines.append(f"  ~ {m.key}: {changes}")
    same = sum(m.status == "same" for m in diff.metrics)
    lines.append(f"  {same} the same")
    lines += _mapping_text("Tags", diff.tags)
    lines += _mapping_text("System tags", diff.system_tags)
    lines.append("Cell source:")
    if diff.cell.unified:
        lines += ["  " + line for line in diff.cell.unified.splitlines()]
    else:
        lines.append("  " + {True: "the same", None: "not recorded by both runs",
                             False: "differs"}[diff.cell.identical])
    lines.append("Cells run before (a | b):")
    for row in fold_same(diff.history.rows):
        if isinstance(row, HistoryRow):
            lines.append(f"  {_entry_text(row.a):<30} {_history_status(row):<14} "
                         f"{_entry_text(row.b)}")
        else:
            lines.append(f"  ... {len(row)} more cells the same in both")
    if not diff.history.rows:
        lines.append("  none recorded")
    env = diff.environment
    lines.append(f"Environment: Python {env.a.python or '?'} → {env.b.python or '?'}")
    lines += [f"  + {k}=={v}" for k, v in env.added.items()]
    lines += [f"  - {k}=={v}" for k, v in env.removed.items()]
    lines += [f"  ~ {k}: {a} → {b}" for k, (a, b) in env.changed.items()]
    lines.append(f"  {env.unchanged} packages at the same version" if env.compared else
                 "  packages not compared: " + " and ".join(
                     f"run {s} recorded none" for s, e in (("a", env.a), ("b", env.b))
                     if not e.sources))
    lines += [f"Note: {n}" for n in diff.notes]
    return "\n".join(lines)


def _mapping_text(title: str, compared: MappingDiff) -> list[str]:
    lines = [f"{title}:"]
    lines += [f"  + {k} = {_cut(v, 80)}" for k, v in compared.added.items()]
    lines += [f"  - {k} = {_cut(v, 80)}" for k, v in compared.removed.items()]
    lines += [f"  ~ {k}: {_cut(a, 80)} → {_cut(b, 80)}" for k, (a, b) in compared.changed.items()]
    lines.append(f"  {len(compared.unchanged)} the same")
    return lines


def _change_text(metric: MetricDiff, stat: str) -> str:
    delta = metric.delta(stat)
    if delta is None:
        return "n/a"
    relative = metric.relative(stat)
    return f"{delta:+.6g}" + (f", {relative:+.1%}" if relative is not None else "")


def _entry_text(entry: HistoryEntry | None) -> str:
    if entry is None:
        return "-"
    count = entry.execution_count if entry.execution_count is not None else "?"
    return f"[{count}] {entry.short_hash} {_first_line(entry.source)[:20]}".rstrip()
