"""Scorers for :func:`mlnb.genai.evaluate`: each looks at one row (its inputs, outputs,
expectations, latency and tokens) and returns a :class:`Feedback` (a value and a rationale).

The built-in ones need no network: :class:`ExactMatch`, :class:`Contains`, :class:`RegexMatch`,
:class:`ValidJson`, :class:`JsonSchema`, :class:`LengthBounds`, :class:`RougeL` (the
``rouge-score`` package), :class:`Bleu` (``sacrebleu``), :class:`LatencyBudget` and
:class:`TokenBudget`. ``@scorer`` turns a function of any of ``inputs``, ``outputs`` and
``expectations`` into one; :func:`mlnb.genai.judges.make_judge` asks a model of the user's.
A scorer that raises on a row gives that row an error value; the others go on.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from mlnb.errors import InvalidParameterError

__all__ = ["AGGREGATIONS", "Bleu", "Contains", "ExactMatch", "Feedback", "JsonSchema",
           "LatencyBudget", "LengthBounds", "RegexMatch", "RougeL", "Row", "Scorer", "TokenBudget",
           "ValidJson", "aggregate", "as_number", "scorer"]

AGGREGATIONS = ("mean", "min", "max", "median", "variance", "p90", "sum")
"""What :func:`aggregate` computes (MLflow's, and ``sum``)."""
_ARGUMENTS = ("inputs", "outputs", "expectations")
_YES = {"yes", "true", "pass", "passed", "correct"}
_NO = {"no", "false", "fail", "failed", "incorrect"}


@dataclass(frozen=True)
class Feedback:
    """A scorer's verdict on one row.

    :param value: a number, bool or text (``yes``/``no`` count as 1 and 0 in aggregates);
        None when there is no verdict.
    :param rationale: why (shown beside the value in the results).
    :param error: what went wrong when there is no verdict.
    """

    value: Any = None
    rationale: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Row:
    """What a scorer sees of one row.

    :param inputs: the row's inputs (the ``predict_fn`` keyword arguments).
    :param outputs: what ``predict_fn`` returned (or the row's precomputed outputs).
    :param expectations: the row's expectations, or None.
    :param latency: the ``predict_fn`` call's wall time in seconds (None for precomputed rows).
    :param tokens: the tokens the call reported using, when it did.
    :param error: why ``predict_fn`` failed on this row, or None.
    """

    inputs: Any = None
    outputs: Any = None
    expectations: Any = None
    latency: float | None = None
    tokens: int | None = None
    error: str | None = None


class Scorer:
    """A named check of one row; subclasses implement :meth:`check`.

    :param name: the name its metrics are logged under (``<name>/mean``).
    :param aggregations: which of :data:`AGGREGATIONS` to log (default ``mean``).
    """

    needs_output = True
    """Whether the scorer has nothing to say about a row whose ``predict_fn`` failed."""

    def __init__(self, name: str, aggregations: Sequence[str] | None = None) -> None:
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise InvalidParameterError(
                f"A scorer's name must be non-empty text without '/', not {name!r}.")
        self.name = name
        self.aggregations = check_aggregations(aggregations)

    def check(self, row: Row) -> Any:
        """The verdict on one row: a number, bool, text or :class:`Feedback`.

        :param row: the row.
        """
        raise NotImplementedError

    def score(self, row: Row) -> Feedback:
        """The verdict on one row as a :class:`Feedback`; an exception becomes an error value.

        :param row: the row.
        """
        if self.needs_output and row.error is not None:
            return Feedback(error="no output to score: predict_fn raised on this row")
        try:
            return as_feedback(self.check(row), self.name)
        except Exception as exc:  # a scorer's fault on one row must not end the evaluation
            return Feedback(error=f"{type(exc).__name__}: {exc}")

    def __call__(self, *, inputs: Any = None, outputs: Any = None, expectations: Any = None
                 ) -> Any:
        """Score one example directly (as in MLflow): the value, or the Feedback when there is
        a rationale or an error.

        :param inputs: the inputs.
        :param outputs: the outputs.
        :param expectations: the expectations.
        """
        feedback = self.score(Row(inputs, outputs, expectations))
        return feedback if feedback.rationale or feedback.error else feedback.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_aggregations(aggregations: Sequence[str] | None) -> tuple[str, ...]:
    """The aggregations asked for, checked.

    :param aggregations: names from :data:`AGGREGATIONS`, or None for ``("mean",)``.
    :raises InvalidParameterError: for an unknown one.
    """
    if aggregations is None:
        return ("mean",)
    if isinstance(aggregations, str):
        aggregations = [aggregations]
    unknown = [a for a in aggregations if a not in AGGREGATIONS]
    if unknown:
        raise InvalidParameterError(
            f"Unknown aggregation(s) {unknown}; choose from {', '.join(AGGREGATIONS)}.")
    return tuple(dict.fromkeys(aggregations))


def as_feedback(value: Any, name: str) -> Feedback:
    """A scorer's return value as a Feedback.

    :param value: a number, bool, text, None or Feedback.
    :param name: the scorer, for the error message.
    :raises InvalidParameterError: for any other type.
    """
    if isinstance(value, Feedback):
        return value
    if value is None or isinstance(value, (bool, int, float, str)):
        return Feedback(value)
    if hasattr(value, "value") and hasattr(value, "rationale"):  # MLflow's Feedback
        return Feedback(value.value, value.rationale)
    raise InvalidParameterError(
        f"Scorer {name!r} returned {type(value).__name__}; return a number, a bool, text or "
        "mlnb.genai.Feedback(value, rationale).")


def as_number(value: Any) -> float | None:
    """A value as a number for aggregates and comparisons: bools and ``yes``/``no`` as 1 and 0;
    None for anything else (text, errors, NaN).

    :param value: a Feedback's value.
    """
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _YES:
            return 1.0
        if word in _NO:
            return 0.0
    return None


def aggregate(values: Sequence[float], how: str) -> float:
    """One aggregate of numbers (NaN for no numbers).

    :param values: the numbers.
    :param how: one of :data:`AGGREGATIONS`.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    n = len(ordered)
    mean = sum(ordered) / n
    if how == "mean":
        return mean
    if how == "min":
        return ordered[0]
    if how == "max":
        return ordered[-1]
    if how == "sum":
        return float(sum(ordered))
    if how == "median":
        return _quantile(ordered, 0.5)
    if how == "p90":
        return _quantile(ordered, 0.9)
    if how == "variance":
        return sum((v - mean) ** 2 for v in ordered) / n
    raise InvalidParameterError(f"Unknown aggregation {how!r}; choose from {AGGREGATIONS}.")


def _quantile(ordered: Sequence[float], q: float) -> float:
    # Linear interpolation between closest ranks (numpy's default), without numpy.
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- custom scorers ----------------------------------------------------------------------------


class FunctionScorer(Scorer):
    """A scorer made from a function by :func:`scorer`.

    :param fn: the function, taking any of ``inputs``, ``outputs``, ``expectations``.
    :param name: the metric name; default the function's name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None,
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name or str(getattr(fn, "__name__", "scorer")), aggregations)
        self.fn = fn
        self.wants, self.takes_all = _arguments(fn)

    def check(self, row: Row) -> Any:
        """Call the function with the parts of the row it names.

        :param row: the row.
        """
        given = {"inputs": row.inputs, "outputs": row.outputs, "expectations": row.expectations}
        return self.fn(**(given if self.takes_all else {k: given[k] for k in self.wants}))


def _arguments(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    """The row parts a scorer function names, and whether it takes ``**kwargs``."""
    if not callable(fn):
        raise InvalidParameterError(f"A scorer must be a function, not {type(fn).__name__}.")
    wants, takes_all = [], False
    for param in inspect.signature(fn).parameters.values():
        if param.kind == param.VAR_KEYWORD:
            takes_all = True
        elif param.name in _ARGUMENTS and param.kind != param.VAR_POSITIONAL:
            wants.append(param.name)
        elif param.default is param.empty and param.kind != param.VAR_POSITIONAL:
            raise InvalidParameterError(
                f"Scorer {getattr(fn, '__name__', fn)!r} takes {param.name!r}; a scorer function "
                f"takes any of {', '.join(_ARGUMENTS)} (by those names).")
    return wants, takes_all


@overload
def scorer(func: Callable[..., Any], *, name: str | None = None,
           aggregations: Sequence[str] | None = None) -> FunctionScorer: ...


@overload
def scorer(func: None = None, *, name: str | None = None,
           aggregations: Sequence[str] | None = None) -> Callable[[Callable[..., Any]],
                                                                  FunctionScorer]: ...


def scorer(func: Callable[..., Any] | None = None, *, name: str | None = None,
           aggregations: Sequence[str] | None = None) -> Any:
    """Make a scorer of a function taking any of ``inputs``, ``outputs``, ``expectations`` (by
    name) and returning a number, a bool, text or a :class:`Feedback`.

    Use it as ``@scorer`` or ``@scorer(name="concise", aggregations=["mean", "min"])``.

    :param func: the function (when used without parentheses).
    :param name: the metric name; default the function's name.
    :param aggregations: which of :data:`AGGREGATIONS` to log; default ``mean``.
    """
    if func is not None:
        return FunctionScorer(func, name, aggregations)
    return lambda fn: FunctionScorer(fn, name, aggregations)


# --- built-in scorers ----------------------------------------------------------------------------


def output_text(outputs: Any) -> str:
    """An output as text: itself when it is text, else its JSON (or ``str``).

    :param outputs: the row's outputs.
    """
    if isinstance(outputs, str):
        return outputs
    if outputs is None:
        return ""
    try:
        return json.dumps(outputs, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(outputs)


def expected(row: Row, key: str) -> Any:
    """The expected value of a row: ``expectations[key]``, or the expectations themselves when
    they are not a dict.

    :param row: the row.
    :param key: the key in the expectations dict.
    :raises InvalidParameterError: when the row has none.
    """
    exp = row.expectations
    if isinstance(exp, dict):
        if key not in exp:
            raise InvalidParameterError(
                f"the row's expectations have no {key!r} (they have {sorted(exp)[:10]})")
        return exp[key]
    if exp is None:
        raise InvalidParameterError(f"the row has no expectations (needs {key!r})")
    return exp


class _Expecting(Scorer):
    def __init__(self, name: str, expectation_key: str, aggregations: Sequence[str] | None) -> None:
        super().__init__(name, aggregations)
        self.expectation_key = expectation_key


class ExactMatch(_Expecting):
    """Whether the output equals the expected response (text compared after ``strip``).

    :param expectation_key: the key of the expectations holding the expected response.
    :param case_sensitive: compare letter case too.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, expectation_key: str = "expected_response", case_sensitive: bool = True,
                 name: str = "exact_match", aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, expectation_key, aggregations)
        self.case_sensitive = case_sensitive

    def check(self, row: Row) -> Any:
        """True when the output equals the expected response.

        :param row: the row.
        """
        want = expected(row, self.expectation_key)
        if not isinstance(want, str) and not isinstance(row.outputs, str):
            return row.outputs == want
        got, target = output_text(row.outputs).strip(), output_text(want).strip()
        if not self.case_sensitive:
            got, target = got.casefold(), target.casefold()
        return got == target


class Contains(_Expecting):
    """Whether the output contains a text (given here, or the expected response of each row).

    :param text: the text to look for; default each row's expectation.
    :param expectation_key: the key of the expectations holding it (without ``text``).
    :param case_sensitive: compare letter case too.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, text: str | None = None, expectation_key: str = "expected_response",
                 case_sensitive: bool = False, name: str = "contains",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, expectation_key, aggregations)
        self.text, self.case_sensitive = text, case_sensitive

    def check(self, row: Row) -> Any:
        """True when the output holds the text.

        :param row: the row.
        """
        want = self.text if self.text is not None else output_text(expected(row, self.expectation_key))
        got = output_text(row.outputs)
        if not self.case_sensitive:
            want, got = want.casefold(), got.casefold()
        return want in got


class RegexMatch(Scorer):
    """Whether the output matches a regular expression (anywhere, as ``re.search``).

    :param pattern: the regular expression.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    :raises InvalidParameterError: for a pattern that does not compile.
    """

    def __init__(self, pattern: str, name: str = "regex_match",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        try:
            self.pattern = re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise InvalidParameterError(f"RegexMatch pattern {pattern!r} is invalid: {exc}") from None

    def check(self, row: Row) -> Any:
        """True when the pattern is found in the output.

        :param row: the row.
        """
        return self.pattern.search(output_text(row.outputs)) is not None


def _parse_json(outputs: Any) -> tuple[Any, str | None]:
    if not isinstance(outputs, str):
        try:
            json.dumps(outputs)
        except (TypeError, ValueError) as exc:
            return None, f"the output ({type(outputs).__name__}) is not JSON data: {exc}"
        return outputs, None
    try:
        return json.loads(outputs), None
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"


class ValidJson(Scorer):
    """Whether the output is valid JSON (text that parses, or JSON-ready data).

    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, name: str = "valid_json", aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)

    def check(self, row: Row) -> Any:
        """True for valid JSON; the parse error as the rationale otherwise.

        :param row: the row.
        """
        _, problem = _parse_json(row.outputs)
        return Feedback(problem is None, problem)


class JsonSchema(Scorer):
    """Whether the output is JSON that a JSON Schema accepts (the ``jsonschema`` package).

    :param schema: the JSON Schema (a dict).
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    :raises InvalidParameterError: for a schema that is not valid.
    """

    def __init__(self, schema: dict[str, Any], name: str = "json_schema",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        try:
            import jsonschema  # jsonschema: loaded when a JsonSchema scorer is made
        except ImportError:
            raise InvalidParameterError(
                "JsonSchema needs the jsonschema package: pip install 'mlnb[genai]'.") from None

        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except (jsonschema.SchemaError, TypeError, AttributeError) as exc:
            raise InvalidParameterError(f"JsonSchema: the schema is not valid: {exc}") from None
        self.validator = cls(schema)

    def check(self, row: Row) -> Any:
        """True when the output parses and fits the schema; the first problem as the rationale.

        :param row: the row.
        """
        data, problem = _parse_json(row.outputs)
        if problem is not None:
            return Feedback(False, problem)
        errors = sorted(self.validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(top)"
            return Feedback(False, f"at {where}: {errors[0].message}")
        return Feedback(True)


class LengthBounds(Scorer):
    """Whether the output's length is within bounds, in characters or words.

    :param min_length: the smallest length allowed (default no bound).
    :param max_length: the largest length allowed (default no bound).
    :param unit: ``"chars"`` or ``"words"``.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, min_length: int | None = None, max_length: int | None = None,
                 unit: str = "chars", name: str = "length_bounds",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        if unit not in ("chars", "words"):
            raise InvalidParameterError(f"LengthBounds unit must be 'chars' or 'words', not {unit!r}.")
        if min_length is None and max_length is None:
            raise InvalidParameterError("LengthBounds needs min_length, max_length or both.")
        if min_length is not None and max_length is not None and min_length > max_length:
            raise InvalidParameterError(
                f"LengthBounds: min_length {min_length} is above max_length {max_length}.")
        self.min_length, self.max_length, self.unit = min_length, max_length, unit

    def check(self, row: Row) -> Any:
        """True within the bounds, with the length as the rationale.

        :param row: the row.
        """
        text = output_text(row.outputs)
        length = len(text.split()) if self.unit == "words" else len(text)
        ok = ((self.min_length is None or length >= self.min_length)
              and (self.max_length is None or length <= self.max_length))
        bounds = f"[{self.min_length if self.min_length is not None else ''}, " \
                 f"{self.max_length if self.max_length is not None else ''}]"
        return Feedback(ok, f"{length} {self.unit}; bounds {bounds}")


class RougeL(_Expecting):
    """ROUGE-L F-measure between the output and the expected response (Google's ``rouge-score``).

    :param expectation_key: the key of the expectations holding the reference.
    :param use_stemmer: stem words before matching (Porter stemmer).
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, expectation_key: str = "expected_response", use_stemmer: bool = True,
                 name: str = "rougeL", aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, expectation_key, aggregations)
        try:
            from rouge_score import rouge_scorer  # rouge-score: loaded when a RougeL is made
        except ImportError:
            raise InvalidParameterError(
                "RougeL needs the rouge-score package: pip install 'mlnb[genai]'.") from None
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)

    def check(self, row: Row) -> Any:
        """The F-measure, 0 to 1.

        :param row: the row.
        """
        reference = output_text(expected(row, self.expectation_key))
        return float(self._scorer.score(reference, output_text(row.outputs))["rougeL"].fmeasure)


class Bleu(_Expecting):
    """Sentence BLEU (0 to 1) of the output against the expected response(s) (``sacrebleu``).

    :param expectation_key: the key of the expectations holding a reference or a list of them.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, expectation_key: str = "expected_response", name: str = "bleu",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, expectation_key, aggregations)
        try:
            import sacrebleu  # sacrebleu: loaded when a Bleu is made
        except ImportError:
            raise InvalidParameterError(
                "Bleu needs the sacrebleu package: pip install 'mlnb[genai]'.") from None
        self._sentence_bleu = sacrebleu.sentence_bleu

    def check(self, row: Row) -> Any:
        """BLEU / 100.

        :param row: the row.
        """
        want = expected(row, self.expectation_key)
        references = [output_text(r) for r in want] if isinstance(want, list) else [output_text(want)]
        return float(self._sentence_bleu(output_text(row.outputs), references).score) / 100.0


class LatencyBudget(Scorer):
    """Whether the ``predict_fn`` call took at most ``max_seconds`` (its recorded wall time).

    :param max_seconds: the budget.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    needs_output = False  # a failed call still took its time

    def __init__(self, max_seconds: float, name: str = "latency_budget",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        if not isinstance(max_seconds, (int, float)) or max_seconds <= 0:
            raise InvalidParameterError(f"max_seconds must be a positive number, not {max_seconds!r}.")
        self.max_seconds = float(max_seconds)

    def check(self, row: Row) -> Any:
        """True within budget.

        :param row: the row.
        """
        if row.latency is None:
            raise InvalidParameterError("the row has no recorded latency (its outputs were given, "
                                        "not computed by predict_fn)")
        return Feedback(row.latency <= self.max_seconds,
                        f"took {row.latency:.4f} s; budget {self.max_seconds:g} s")


class TokenBudget(Scorer):
    """Whether the call used at most ``max_tokens`` tokens (as its output's ``usage`` reports).

    :param max_tokens: the budget.
    :param name: the metric name.
    :param aggregations: which aggregates to log.
    """

    def __init__(self, max_tokens: int, name: str = "token_budget",
                 aggregations: Sequence[str] | None = None) -> None:
        super().__init__(name, aggregations)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
            raise InvalidParameterError(f"max_tokens must be a positive integer, not {max_tokens!r}.")
        self.max_tokens = max_tokens

    def check(self, row: Row) -> Any:
        """True within budget.

        :param row: the row.
        """
        if row.tokens is None:
            raise InvalidParameterError(
                "no token count was recorded for this row (the output reports no usage)")
        return Feedback(row.tokens <= self.max_tokens,
                        f"used {row.tokens} tokens; budget {self.max_tokens}")
