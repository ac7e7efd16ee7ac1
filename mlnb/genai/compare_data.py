"""A :class:`~mlnb.genai.compare.Comparison` as JSON data, for the sidebar's compare view.

The view shapes it (the prompt x model grid, the side-by-side outputs and their word diff) in
the browser; here are the numbers and the texts, every string as the runs hold it (the view
renders them as text, never as HTML). NaN stays a float here; the REST layer encodes it.
"""

from __future__ import annotations

from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.genai.compare import Comparison, EvaluatedRun, _text
from mlnb.genai.scorers import as_number

__all__ = ["DEFAULT_MAX_INPUTS", "comparison_data"]

DEFAULT_MAX_INPUTS = 200
"""Inputs sent by default (the rest are counted in ``total_inputs``)."""


def _run(comparison: Comparison, run: EvaluatedRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "run_name": run.name, "prompt": run.prompt, "model": run.model,
            "linked_prompts": [{"name": n, "version": v} for n, v in run.linked],
            "rows": len(run.rows),
            "means": {s: comparison._mean(run, s) for s in comparison.scorers}}


def _winner(comparison: Comparison, scorer: str) -> str | None:
    try:
        return comparison.winner(scorer).run_id
    except InvalidParameterError:  # no run has a value of this scorer: no winner to show
        return None


def comparison_data(comparison: Comparison, max_inputs: int = DEFAULT_MAX_INPUTS) -> dict[str, Any]:
    """The comparison's runs (prompt, model, each scorer's mean), winners, win rates with their
    confidence intervals, and per input each run's output, error and scores.

    :param comparison: what :func:`mlnb.genai.compare` returned.
    :param max_inputs: at most this many inputs (in the first run's order).
    """
    runs = comparison.runs
    keys = list(dict.fromkeys(k for r in runs for k in r.rows))
    inputs = []
    for key in keys[:max_inputs]:
        outputs: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        scores: dict[str, dict[str, float | None]] = {}
        for r in runs:
            row = r.rows.get(key)
            if row is None:
                outputs[r.run_id] = None
                continue
            outputs[r.run_id] = _text(row.get("outputs"))
            if row.get("error"):
                errors[r.run_id] = str(row["error"])
            scores[r.run_id] = {s: as_number(row.get(f"{s}/value")) for s in comparison.scorers}
        inputs.append({"inputs": key[0], "occurrence": key[1], "outputs": outputs,
                       "errors": errors, "scores": scores})
    return {
        "runs": [_run(comparison, r) for r in runs],
        "scorers": comparison.scorers,
        "greater_is_better": comparison.greater_is_better,
        "confidence": comparison.confidence,
        "winners": {s: _winner(comparison, s) for s in comparison.scorers},
        "win_rates": comparison.win_rates.to_dict("records"),
        "inputs": inputs,
        "total_inputs": len(keys),
    }
