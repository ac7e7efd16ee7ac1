"""LLM-as-judge scorers: instructions with ``{{ inputs }}``, ``{{ outputs }}`` and
``{{ expectations }}``, sent to any model the user has (a function from a prompt to a reply).

The reply may be JSON (``{"result": "yes", "rationale": "..."}``, in a code fence or not) or
plain text starting with the verdict (``yes``/``no``/``pass``/``fail`` or a number); a reply
the judge cannot read becomes an error value on that row, with the reply as the rationale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.genai.scorers import Feedback, Row, Scorer

__all__ = ["Judge", "make_judge", "parse_verdict"]

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_FIELDS = ("inputs", "outputs", "expectations")
_REPLY_FORMAT = (
    "\n\nAnswer with a JSON object and nothing else: "
    '{"result": <"yes" or "no", or a number>, "rationale": "<one or two sentences>"}')
_VERDICT_KEYS = ("result", "value", "verdict", "score", "rating", "answer")
_REASON_KEYS = ("rationale", "reason", "reasoning", "explanation", "justification")
_WORDS = {"yes": "yes", "pass": "yes", "true": "yes", "correct": "yes",
          "no": "no", "fail": "no", "false": "no", "incorrect": "no"}
_LEADING = re.compile(r"^\W*(?:(?:result|verdict|answer|score)\s*[:=]\s*)?"
                      r"([A-Za-z]+|[-+]?\d+(?:\.\d+)?)\b\W*(.*)$", re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _verdict(raw: Any) -> Any:
    """A verdict value as ``"yes"``/``"no"`` or a number; None when it is neither."""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, (int, float)):
        return raw
    if isinstance(raw, str):
        word = raw.strip().strip(".!\"'").lower()
        if word in _WORDS:
            return _WORDS[word]
        try:
            return float(word) if "." in word else int(word)
        except ValueError:
            return None
    return None


def _json_object(reply: str) -> dict[str, Any] | None:
    """The first JSON object in a reply (code fences and surrounding prose allowed)."""
    start = reply.find("{")
    while start != -1:
        try:
            found, _ = json.JSONDecoder().raw_decode(reply[start:])
        except ValueError:
            start = reply.find("{", start + 1)
            continue
        return found if isinstance(found, dict) else None
    return None


def parse_verdict(reply: Any) -> Feedback:
    """A judge's reply as a Feedback: a JSON object with a verdict (``result``, ``value``,
    ``verdict``, ``score``...) and a rationale, or text that starts with the verdict.

    :param reply: what the model returned.
    """
    if not isinstance(reply, str):
        return Feedback(error=f"the judge model returned {type(reply).__name__}, not text",
                        rationale=_text(reply)[:2000])
    obj = _json_object(reply)
    if obj is not None:
        for key in _VERDICT_KEYS:
            if key in obj:
                value = _verdict(obj[key])
                if value is not None:
                    reason = next((str(obj[k]) for k in _REASON_KEYS if k in obj), None)
                    return Feedback(value, reason)
    match = _LEADING.match(reply.strip())
    if match is not None:
        value = _verdict(match.group(1))
        if value is not None:
            return Feedback(value, match.group(2).strip() or None)
    return Feedback(error="could not read a verdict (yes/no or a number) in the judge's reply",
                    rationale=reply[:2000])


class Judge(Scorer):
    """A scorer that asks a model: see :func:`make_judge`.

    :param instructions: the template with ``{{ inputs }}``, ``{{ outputs }}``, ``{{ expectations }}``.
    :param model_fn: a function from the prompt (text) to the reply (text).
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, instructions: str, model_fn: Callable[[str], Any], name: str,
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        if not isinstance(instructions, str) or not instructions.strip():
            raise InvalidParameterError("make_judge needs instructions: text with {{ outputs }}.")
        if not callable(model_fn):
            raise InvalidParameterError(
                f"model_fn must be a function from a prompt (text) to the model's reply, not "
                f"{type(model_fn).__name__}.")
        fields = set(_FIELD.findall(instructions))
        unknown = sorted(fields - set(_FIELDS))
        if unknown:
            raise InvalidParameterError(
                f"The judge's instructions use {', '.join('{{ ' + u + ' }}' for u in unknown)}; "
                "only {{ inputs }}, {{ outputs }} and {{ expectations }} are filled in.")
        if not fields:
            raise InvalidParameterError(
                "The judge's instructions name nothing to judge: put {{ outputs }} (and "
                "{{ inputs }} or {{ expectations }}) where the row's values go.")
        self.instructions, self.model_fn, self.fields = instructions, model_fn, fields

    def prompt(self, row: Row) -> str:
        """The text sent to the model for one row.

        :param row: the row.
        """
        values = {"inputs": row.inputs, "outputs": row.outputs, "expectations": row.expectations}
        filled = _FIELD.sub(lambda m: _text(values[m.group(1)]), self.instructions)
        return filled + _REPLY_FORMAT

    def check(self, row: Row) -> Any:
        """Ask the model and read its verdict.

        :param row: the row.
        """
        if "expectations" in self.fields and row.expectations is None:
            return Feedback(error="the judge needs {{ expectations }} and the row has none")
        return parse_verdict(self.model_fn(self.prompt(row)))


def make_judge(instructions: str, model_fn: Callable[[str], Any], name: str = "judge",
               aggregations: Sequence[str] | None = None) -> Judge:
    """An LLM-as-judge scorer: ``instructions`` with ``{{ inputs }}``, ``{{ outputs }}`` and
    ``{{ expectations }}`` filled in per row and sent to ``model_fn``.

    The verdict is ``"yes"``/``"no"`` (1 and 0 in the aggregates) or a number, with the model's
    rationale. A reply with no readable verdict, or a model that raises, gives that row an error
    value (the reply kept as its rationale); the evaluation goes on.

    :param instructions: what to judge, e.g. ``"Does {{ outputs }} answer {{ inputs }}?"``.
    :param model_fn: any function from the prompt (text) to the reply (text): a local model, an
        OpenAI-compatible client call, a deterministic fake in tests.
    :param name: the metric name (``<name>/mean``).
    :param aggregations: which aggregates to log; default ``mean``.
    :raises InvalidParameterError: for instructions with no field or an unknown one.
    """
    return Judge(instructions, model_fn, name, aggregations)
