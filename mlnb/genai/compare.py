"""``compare``: evaluation runs side by side, as the grid a user came for.

Prompt versions x models (read from each run's ``mlnb.genai.prompt`` and ``mlnb.genai.model``
tags) with each scorer's mean; per input, the runs' outputs side by side, each word that differs
from the first run's output marked; per scorer, every pair of runs' win rate on the inputs both
answered (paired by input) with a bootstrap confidence interval. ``promote`` moves a prompt
alias to the winner's prompt version. Every user string in the HTML is escaped.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.genai.evaluation import (
    MODEL_TAG,
    PROMPT_TAG,
    RESULTS_FILE,
    RUN_TYPE,
    RUN_TYPE_TAG,
    EvaluationResult,
)
from mlnb.genai.prompts import LINKED_PROMPTS_TAG, PromptVersion, load_prompt, set_prompt_alias
from mlnb.genai.scorers import as_number
from mlnb.tracking.client import MlnbClient, current_client
from mlnb.widgets.escape import escape_html

__all__ = ["Comparison", "compare", "promote_winner", "word_diff_html"]

MAX_SHOWN_INPUTS = 50
"""Inputs shown in the HTML (all are in :attr:`Comparison.outputs`)."""


@dataclass
class EvaluatedRun:
    """One evaluation run as the comparison reads it."""

    run_id: str
    name: str
    prompt: str
    model: str
    linked: list[tuple[str, int]]
    metrics: dict[str, float]
    scorers: list[str]
    rows: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)


def _run_id(item: Any) -> str:
    if isinstance(item, EvaluationResult):
        return item.run_id
    if isinstance(item, str):
        return item
    info = getattr(item, "info", None)
    if info is not None and isinstance(getattr(info, "run_id", None), str):
        return str(info.run_id)
    raise InvalidParameterError(
        f"compare takes evaluation run ids or EvaluationResults, not {type(item).__name__}.")


def input_keys(inputs: Sequence[Any]) -> list[tuple[str, int]]:
    """A key per row that pairs it with the same input in another run: the input's JSON and
    which occurrence of it this is.

    :param inputs: each row's inputs.
    """
    seen: dict[str, int] = {}
    keys = []
    for value in inputs:
        text = json.dumps(value, sort_keys=True, default=str)
        keys.append((text, seen.get(text, 0)))
        seen[text] = seen.get(text, 0) + 1
    return keys


def read_run(run_id: str, client: MlnbClient | None = None) -> EvaluatedRun:
    """An evaluation run's tags, metrics and per-row results.

    :param run_id: the run.
    :param client: the client of the store to read (default the current one).
    :raises InvalidParameterError: when the run is not a GenAI evaluation.
    """
    client = client if client is not None else current_client()
    run = client.get_run(run_id)
    tags = run.data.tags
    if tags.get(RUN_TYPE_TAG) != RUN_TYPE:
        raise InvalidParameterError(
            f"Run {run_id} is not a GenAI evaluation (its {RUN_TYPE_TAG} tag is "
            f"{tags.get(RUN_TYPE_TAG)!r}); compare runs logged by mlnb.genai.evaluate.")
    try:
        path = client.download_artifacts(run_id, RESULTS_FILE)
    except NotFoundError:
        raise InvalidParameterError(f"Run {run_id} has no {RESULTS_FILE}.") from None
    with open(path, encoding="utf-8") as fh:
        table = json.load(fh)
    columns = table["columns"]
    records = [dict(zip(columns, values, strict=False)) for values in table["data"]]
    scorers = [c[: -len("/value")] for c in columns if c.endswith("/value")]
    linked = [(str(p["name"]), int(p["version"]))
              for p in json.loads(tags.get(LINKED_PROMPTS_TAG, "[]"))]
    keyed = dict(zip(input_keys([r.get("inputs") for r in records]), records, strict=True))
    return EvaluatedRun(run_id, run.info.run_name or run_id[:8], tags.get(PROMPT_TAG, ""),
                        tags.get(MODEL_TAG, ""), linked, dict(run.data.metrics), scorers, keyed)


def _outcomes(a: EvaluatedRun, b: EvaluatedRun, scorer: str, greater: bool) -> tuple[Any, Any]:
    """Per paired input: 1, 0.5 or 0 as ``a`` beats, ties or loses to ``b``; and a - b."""
    import numpy as np  # numpy: loaded when runs are compared, not by import mlnb

    wins, diffs = [], []
    for key, row in a.rows.items():
        other = b.rows.get(key)
        if other is None:
            continue
        x, y = as_number(row.get(f"{scorer}/value")), as_number(other.get(f"{scorer}/value"))
        if x is None or y is None:
            continue
        d = (x - y) if greater else (y - x)
        wins.append(1.0 if d > 0 else 0.5 if d == 0 else 0.0)
        diffs.append(d)
    return np.asarray(wins, dtype=float), np.asarray(diffs, dtype=float)


def _bootstrap(values: Any, rng: Any, n_boot: int, confidence: float) -> tuple[float, float]:
    import numpy as np  # numpy: loaded when runs are compared, not by import mlnb

    if len(values) == 0:
        return float("nan"), float("nan")
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff_html(base: str, other: str) -> str:
    """``other`` as escaped HTML, words not in ``base`` in ``<ins>`` and words of ``base`` it lacks
    in ``<del>``.

    :param base: the text compared against.
    :param other: the text shown.
    """
    a, b = _WORDS.findall(base), _WORDS.findall(other)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape_html("".join(b[j1:j2])))
            continue
        if op in ("replace", "delete") and "".join(a[i1:i2]).strip():
            out.append(f'<del style="background:#fdd">{escape_html("".join(a[i1:i2]))}</del>')
        if op in ("replace", "insert"):
            out.append(f'<ins style="background:#dfd">{escape_html("".join(b[j1:j2]))}</ins>')
    return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class Comparison:
    """Evaluation runs compared: see :func:`compare`.

    ``summary`` is a DataFrame with a row per run (``run_id``, ``run_name``, ``prompt``,
    ``model``, ``rows`` and ``<scorer>/mean``); ``win_rates`` one per scorer and ordered pair
    of runs; ``outputs`` one per input with each run's output.

    :param runs: the evaluation runs, read by :func:`read_run`.
    :param greater_is_better: per scorer, False where a lower value is better.
    :param confidence: the bootstrap interval's level.
    :param n_boot: bootstrap resamples.
    :param seed: the bootstrap's random seed.
    :param client: the client of the store the runs are in (``promote`` changes its registry).
    """

    def __init__(self, runs: list[EvaluatedRun], greater_is_better: dict[str, bool],
                 confidence: float, n_boot: int, seed: int,
                 client: MlnbClient | None = None) -> None:
        import numpy as np  # numpy: loaded when runs are compared, not by import mlnb
        import pandas as pd  # pandas: loaded when runs are compared, not by import mlnb

        self.runs = runs
        self.client = client if client is not None else current_client()
        common = [s for s in runs[0].scorers if all(s in r.scorers for r in runs[1:])]
        self.scorers = common
        self.greater_is_better = {s: greater_is_better.get(s, True) for s in common}
        self.confidence = confidence
        self.summary = pd.DataFrame([
            {"run_id": r.run_id, "run_name": r.name, "prompt": r.prompt, "model": r.model,
             "rows": len(r.rows), **{f"{s}/mean": self._mean(r, s) for s in common}}
            for r in runs])
        rng = np.random.default_rng(seed)
        pairs = []
        for s in common:
            for a in runs:
                for b in runs:
                    if a is b:
                        continue
                    wins, diffs = _outcomes(a, b, s, self.greater_is_better[s])
                    low, high = _bootstrap(wins, rng, n_boot, confidence)
                    d_low, d_high = _bootstrap(diffs, rng, n_boot, confidence)
                    pairs.append({
                        "scorer": s, "run": a.run_id, "other": b.run_id, "pairs": len(wins),
                        "wins": int((wins == 1).sum()), "ties": int((wins == 0.5).sum()),
                        "losses": int((wins == 0).sum()),
                        "win_rate": float(wins.mean()) if len(wins) else float("nan"),
                        "ci_low": low, "ci_high": high,
                        "mean_diff": float(diffs.mean()) if len(diffs) else float("nan"),
                        "diff_ci_low": d_low, "diff_ci_high": d_high})
        self.win_rates = pd.DataFrame(pairs, columns=[
            "scorer", "run", "other", "pairs", "wins", "ties", "losses", "win_rate", "ci_low",
            "ci_high", "mean_diff", "diff_ci_low", "diff_ci_high"])
        keys = list(dict.fromkeys(k for r in runs for k in r.rows))
        # Object columns: an input a run lacks stays None (a text column would make it NaN).
        self.outputs = pd.DataFrame({
            "inputs": pd.Series([k[0] for k in keys], dtype=object),
            **{r.run_id: pd.Series([_text(r.rows[k].get("outputs")) if k in r.rows else None
                                    for k in keys], dtype=object) for r in runs}})

    @staticmethod
    def _mean(run: EvaluatedRun, scorer: str) -> float:
        if f"{scorer}/mean" in run.metrics:
            return float(run.metrics[f"{scorer}/mean"])
        values = [v for v in (as_number(r.get(f"{scorer}/value")) for r in run.rows.values())
                  if v is not None]
        return sum(values) / len(values) if values else float("nan")

    def grid(self, scorer: str | None = None) -> Any:
        """Prompt versions (rows) x models (columns) of one scorer's mean.

        :param scorer: the scorer; default the first one all runs share.
        """
        name = self._scorer(scorer)
        table = self.summary.assign(prompt=self.summary["prompt"].replace("", "-"),
                                    model=self.summary["model"].replace("", "-"))
        return table.pivot_table(index="prompt", columns="model", values=f"{name}/mean",
                                 aggfunc="mean")

    def _scorer(self, scorer: str | None) -> str:
        if not self.scorers:
            raise InvalidParameterError("The runs share no scorer to compare by.")
        if scorer is None:
            return self.scorers[0]
        if scorer not in self.scorers:
            raise InvalidParameterError(
                f"No scorer {scorer!r} in every run; the runs share {self.scorers}.")
        return scorer

    def winner(self, scorer: str | None = None) -> EvaluatedRun:
        """The run with the best mean of a scorer (the first such run on a tie).

        :param scorer: the scorer; default the first one all runs share.
        """
        name = self._scorer(scorer)
        sign = 1.0 if self.greater_is_better[name] else -1.0
        scored = [(sign * self._mean(r, name), -i, r) for i, r in enumerate(self.runs)
                  if self._mean(r, name) == self._mean(r, name)]  # NaN never wins
        if not scored:
            raise InvalidParameterError(f"No run has a value of {name!r}.")
        return max(scored, key=lambda t: (t[0], t[1]))[2]

    def promote(self, alias: str = "production", scorer: str | None = None,
                user_id: str | None = None) -> PromptVersion:
        """Point ``alias`` at the winning run's prompt version, in one call.

        :param alias: the alias to move, e.g. ``production``.
        :param scorer: the scorer that decides; default the first one all runs share.
        :param user_id: who moves it, for the registry history (default the current user).
        :raises InvalidParameterError: when the winning run used no prompt version, or several.
        """
        best = self.winner(scorer)
        if len(best.linked) != 1:
            used = ", ".join(f"{n}/{v}" for n, v in best.linked) or "none"
            raise InvalidParameterError(
                f"The winning run {best.run_id} ({best.name}) used {len(best.linked)} prompt "
                f"versions ({used}); promote needs exactly one. Set the alias yourself with "
                "mlnb.genai.set_prompt_alias(name, alias, version).")
        name, version = best.linked[0]
        store = self.client.store
        set_prompt_alias(name, alias, version, store=store, user_id=user_id)
        promoted = load_prompt(f"prompts:/{name}/{version}", store=store)
        assert promoted is not None
        return promoted

    # --- HTML -------------------------------------------------------------------------------

    def _label(self, run: EvaluatedRun) -> str:
        parts = [p for p in (run.prompt, run.model) if p]
        return " x ".join(parts) if parts else run.name

    def _grid_html(self) -> str:
        prompts = list(dict.fromkeys(r.prompt or "-" for r in self.runs))
        models = list(dict.fromkeys(r.model or "-" for r in self.runs))
        parts = []
        for s in self.scorers:
            best = self.winner(s)
            head = "".join(f"<th>{escape_html(m)}</th>" for m in models)
            body = []
            for p in prompts:
                cells = []
                for m in models:
                    here = [r for r in self.runs if (r.prompt or "-") == p and (r.model or "-") == m]
                    text = ", ".join(f"{self._mean(r, s):.3f}" for r in here)
                    bold = any(r is best for r in here)
                    cells.append(f"<td>{'<b>' if bold else ''}{escape_html(text)}"
                                 f"{'</b>' if bold else ''}</td>")
                body.append(f"<tr><th>{escape_html(p)}</th>{''.join(cells)}</tr>")
            parts.append(f"<h4>{escape_html(s)}/mean: prompt x model</h4><table>"
                         f"<tr><th>prompt \\ model</th>{head}</tr>{''.join(body)}</table>")
        return "".join(parts)

    def _wins_html(self) -> str:
        level = f"{self.confidence:.0%}"
        rows = []
        names = {r.run_id: self._label(r) for r in self.runs}
        for rec in self.win_rates.to_dict("records"):
            rows.append(
                f"<tr><td>{escape_html(rec['scorer'])}</td><td>{escape_html(names[rec['run']])}</td>"
                f"<td>{escape_html(names[rec['other']])}</td><td>{rec['pairs']}</td>"
                f"<td>{rec['win_rate']:.2f} [{rec['ci_low']:.2f}, {rec['ci_high']:.2f}]</td>"
                f"<td>{rec['mean_diff']:+.3f} [{rec['diff_ci_low']:+.3f}, "
                f"{rec['diff_ci_high']:+.3f}]</td></tr>")
        return (f"<h4>Win rates (paired by input, {level} bootstrap interval)</h4><table><tr>"
                "<th>scorer</th><th>run</th><th>vs</th><th>pairs</th><th>win rate</th>"
                f"<th>mean difference</th></tr>{''.join(rows)}</table>")

    def _outputs_html(self) -> str:
        head = "".join(f"<th>{escape_html(self._label(r))}</th>" for r in self.runs)
        rows = []
        keys = list(dict.fromkeys(k for r in self.runs for k in r.rows))
        first = self.runs[0]
        for key in keys[:MAX_SHOWN_INPUTS]:
            base = _text(first.rows[key].get("outputs")) if key in first.rows else ""
            cells = []
            for i, r in enumerate(self.runs):
                if key not in r.rows:
                    cells.append("<td>(not in this run)</td>")
                    continue
                text = _text(r.rows[key].get("outputs"))
                shown = escape_html(text) if i == 0 else word_diff_html(base, text)
                error = r.rows[key].get("error")
                if error:
                    shown += f'<div style="color:#b00">{escape_html(error)}</div>'
                cells.append(f'<td style="white-space:pre-wrap">{shown}</td>')
            rows.append(f"<tr><td>{escape_html(key[0])}</td>"
                        f"{''.join(cells)}</tr>")
        more = (f"<p>Showing {MAX_SHOWN_INPUTS} of {len(keys)} inputs; all are in "
                "comparison.outputs.</p>" if len(keys) > MAX_SHOWN_INPUTS else "")
        return (f"<h4>Outputs (differences from the first run marked)</h4><table><tr>"
                f"<th>inputs</th>{head}</tr>{''.join(rows)}</table>{more}")

    def _repr_html_(self) -> str:
        return (f'<div class="mlnb-genai-compare">{self._grid_html()}{self._wins_html()}'
                f"{self._outputs_html()}</div>")

    def __repr__(self) -> str:
        return f"Comparison({len(self.runs)} runs, scorers={self.scorers})\n{self.summary}"


def compare(runs: Sequence[Any], *, greater_is_better: dict[str, bool] | None = None,
            confidence: float = 0.95, n_boot: int = 1000, seed: int = 0,
            client: MlnbClient | None = None) -> Comparison:
    """Compare evaluation runs: the prompt x model grid, outputs side by side, win rates.

    :param runs: two or more evaluation run ids or :class:`EvaluationResult` s.
    :param greater_is_better: per scorer, False where a lower value is better (default True).
    :param confidence: the bootstrap interval's level.
    :param n_boot: bootstrap resamples.
    :param seed: the bootstrap's random seed (the same seed gives the same intervals).
    :param client: the client of the store the runs are in (default the current one).
    :raises InvalidParameterError: for fewer than two runs, a run that is no evaluation, or a
        bad ``confidence``.
    """
    ids = [_run_id(r) for r in runs]
    if len(ids) < 2:
        raise InvalidParameterError("compare needs at least two evaluation runs.")
    if len(set(ids)) != len(ids):
        raise InvalidParameterError("compare was given the same run twice.")
    if not 0 < confidence < 1:
        raise InvalidParameterError(f"confidence must be between 0 and 1, not {confidence!r}.")
    if not isinstance(n_boot, int) or n_boot < 100:
        raise InvalidParameterError(f"n_boot must be an integer of at least 100, not {n_boot!r}.")
    client = client if client is not None else current_client()
    return Comparison([read_run(i, client) for i in ids], dict(greater_is_better or {}),
                      confidence, n_boot, seed, client)


def promote_winner(comparison: Comparison, scorer: str | None = None,
                   alias: str = "production") -> PromptVersion:
    """Point ``alias`` at the prompt version of the run that wins on ``scorer``.

    :param comparison: what :func:`compare` returned.
    :param scorer: the scorer that decides; default the first one all runs share.
    :param alias: the alias to move.
    """
    return comparison.promote(alias, scorer)
