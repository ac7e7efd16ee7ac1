"""Parsing the search grammar: ``metrics.acc > 0.9 and params.lr = '0.01'`` becomes a small
syntax tree (:class:`Comparison`, :class:`BoolOp`, :class:`Not`), and an order-by list becomes
:class:`OrderTerm` s. No SQL here: :mod:`mlnb.store.search.sql` compiles the tree.

A malformed filter raises :class:`~mlnb.errors.FilterSyntaxError` naming the offending token and
its position; the tree's size is bounded (nesting, comparisons, IN values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from mlnb.errors import FilterSyntaxError

# --- tokens -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<backtick>`[^`]*`)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<word>[^\s'"`(),=<>!]+)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null"}

# Limits that keep a filter far from Python's recursion limit and from SQLite's (an expression
# depth of 1000 and a parser stack of 100 entries): past them a FilterSyntaxError says so.
MAX_NESTING = 32  # parentheses and NOTs open at once
MAX_COMPARISONS = 200
MAX_IN_VALUES = 1000  # values of one IN list (SQLite binds at most 32766 parameters)
# Each key-value order term (metrics.x, params.y, tags.z) is one LEFT JOIN. The SQLite 3.40.1
# that this machine's Python ships crashes the whole process (a segmentation fault, no error)
# on a search with 31 such joins (runs) or 32 (experiments, registered models); measured in a
# subprocess. Half of that leaves room for SQLite builds we have not measured.
MAX_ORDER_TERMS = 16


@dataclass(frozen=True)
class Token:
    """One token of a filter or order-by clause: its kind, text and position."""
    kind: str
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        """The token as a lower-case keyword (``and``, ``or``, ``not``...), or None."""
        low = self.text.lower()
        return low if self.kind == "word" and low in _KEYWORDS else None


def tokenize(text: str) -> list[Token]:
    """Split a filter into tokens, blanks dropped.

    :param text: the filter.
    :raises FilterSyntaxError: for a character no token can start with, or an unterminated quote.
    """
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            what = " (an unterminated quote)" if text[pos] in "'\"`" else ""
            raise FilterSyntaxError(
                f"Unexpected character {text[pos]!r}{what} at position {pos}", text, pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


# --- syntax tree --------------------------------------------------------------------------------

_PREFIXES = {
    "metric": "metrics", "metrics": "metrics",
    "param": "params", "params": "params", "parameter": "params", "parameters": "params",
    "tag": "tags", "tags": "tags",
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes", "run": "attributes",
    "metadata": "metadata", "trace": "attributes",  # traces: request metadata, trace.status
}


@dataclass(frozen=True)
class Field:
    """What a comparison is about: ``entity`` is metrics, params, tags or attributes."""

    entity: str
    key: str
    pos: int
    text: str


Value = Union[str, float, int, None, tuple[Union[str, float], ...]]


@dataclass(frozen=True)
class Comparison:
    """One comparison of a field with a value, e.g. ``metrics.acc > 0.9``."""
    field: Field
    op: str  # '=', '!=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', 'IS NULL', ...
    value: Value
    value_is_number: bool = False


@dataclass(frozen=True)
class BoolOp:
    """``AND`` or ``OR`` of two or more nodes."""
    op: str  # 'AND' | 'OR'
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``NOT`` of a node."""
    child: Node


Node = Union[Comparison, BoolOp, Not]


@dataclass(frozen=True)
class OrderTerm:
    """One order-by clause: a field and its direction."""
    field: Field
    ascending: bool
    clause: str = ""  # the order-by text it came from, for errors that point into it


# --- parser -------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _glued_quoted_keys(text)
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    def error(self, message: str, token: Token | None = None) -> FilterSyntaxError:
        token = token if token is not None else self.peek()
        if token is None:
            return FilterSyntaxError(f"{message} at the end of the filter", self.text, len(self.text))
        return FilterSyntaxError(
            f"{message}: found {token.text!r} at position {token.pos}", self.text, token.pos
        )

    def limit_error(self, what: str, token: Token) -> FilterSyntaxError:
        """A limit exceeded at ``token``, quoting only the filter around it (it may be huge)."""
        start = max(0, token.pos - 40)
        excerpt = self.text[start:token.pos + 40]
        return FilterSyntaxError(
            f"The filter is too complex: it may have {what}; exceeded at position {token.pos}. "
            "Simplify it or split the search", excerpt, token.pos - start,
        )

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("Unexpected end of filter")
        self.i += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.keyword in words

    def expect_keyword(self, word: str) -> Token:
        token = self.peek()
        if token is None or token.keyword != word:
            raise self.error(f"Expected {word.upper()}")
        return self.take()

    def parse(self) -> Node:
        node = self.parse_or()
        if self.peek() is not None:
            raise self.error("Expected AND, OR or the end of the filter")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.at_keyword("or"):
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else BoolOp("OR", tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while self.at_keyword("and"):
            self.take()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else BoolOp("AND", tuple(children))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.error("Expected a comparison")
        if token.keyword == "not" or token.kind == "lparen":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.limit_error(f"at most {MAX_NESTING} levels of parentheses and NOT", token)
            self.take()
            node = self.parse_group() if token.kind == "lparen" else Not(self.parse_unary())
            self.depth -= 1
            return node
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.limit_error(f"at most {MAX_COMPARISONS} comparisons", token)
        return self.parse_comparison()

    def parse_group(self) -> Node:
        node = self.parse_or()
        closing = self.peek()
        if closing is None or closing.kind != "rparen":
            raise self.error("Expected ')'")
        self.take()
        return node

    def parse_field(self) -> Field:
        token = self.take()
        if token.keyword is not None:
            # 'a > 1 and or b > 1': report the stray keyword, not a missing operator after it.
            raise self.error("Expected a field such as metrics.acc or params.lr", token)
        return parse_field_token(token, self.text)

    def parse_comparison(self) -> Comparison:
        fld = self.parse_field()
        token = self.peek()
        if token is None:
            raise self.error(f"Expected a comparison operator after {fld.text!r}")
        if token.kind == "op":
            self.take()
            op = {"==": "=", "<>": "!="}.get(token.text, token.text)
            value, is_number = self.parse_scalar()
            return Comparison(fld, op, value, is_number)
        keyword = token.keyword
        if keyword == "is":
            self.take()
            negate = self.at_keyword("not")
            if negate:
                self.take()
            self.expect_keyword("null")
            return Comparison(fld, "IS NOT NULL" if negate else "IS NULL", None)
        negate = keyword == "not"
        if negate:
            self.take()
            following = self.peek()
            keyword = following.keyword if following is not None else None
        if keyword in ("like", "ilike"):
            self.take()
            value, is_number = self.parse_scalar()
            if is_number:
                raise self.error(f"{keyword.upper()} needs a quoted pattern", self.tokens[self.i - 1])
            op = ("NOT " if negate else "") + keyword.upper()
            return Comparison(fld, op, value)
        if keyword == "in":
            self.take()
            return Comparison(fld, "NOT IN" if negate else "IN", self.parse_list())
        raise self.error(f"Expected a comparison operator after {fld.text!r}")

    def parse_scalar(self) -> tuple[str | float | int, bool]:
        token = self.take()
        if token.kind == "string":
            return unquote_string(token.text), False
        if token.kind == "number":
            number = float(token.text)
            return (int(number) if number.is_integer() and re.fullmatch(r"[-+]?\d+", token.text)
                    else number), True
        raise self.error("Expected a quoted string or a number", token)

    def parse_list(self) -> tuple[str | float, ...]:
        token = self.take()
        if token.kind != "lparen":
            raise self.error("Expected '(' to open the IN list", token)
        values: list[str | float] = []
        while True:
            value, _ = self.parse_scalar()
            values.append(value)
            if len(values) > MAX_IN_VALUES:
                raise self.limit_error(f"at most {MAX_IN_VALUES} values in one IN list",
                                       self.tokens[self.i - 1])
            token = self.take()
            if token.kind == "rparen":
                return tuple(values)
            if token.kind != "comma":
                raise self.error("Expected ',' or ')' in the IN list", token)


def unquote_string(text: str) -> str:
    """The content of a quoted string token (doubled quotes and backslash escapes undone).

    :param text: the token, quotes included.
    """
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def parse_field_token(token: Token, text: str) -> Field:
    """Split ``metrics.acc``, ``params.`my key``` or ``tags."a.b"`` into entity and key.

    :param token: the field's token.
    :param text: the whole filter, for errors that point into it.
    """
    if token.kind == "backtick" or token.kind == "string":
        # A whole quoted identifier such as "metrics.acc" or `tags.my key`.
        inner = token.text[1:-1]
        prefix, _, key = inner.partition(".")
    elif token.kind == "word":
        prefix, _, key = token.text.partition(".")
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"'":
            key = key[1:-1]
    else:
        raise FilterSyntaxError(
            f"Expected a field such as metrics.acc or params.lr: found {token.text!r} "
            f"at position {token.pos}", text, token.pos
        )
    entity = _PREFIXES.get(prefix.lower())
    if entity is None and not key:
        # A bare attribute name: status, run_name, start_time ... (MLflow needs 'attributes.').
        entity, key = "attributes", prefix
    if entity is None or not key:
        raise FilterSyntaxError(
            f"Unknown field {token.text!r} at position {token.pos}: start it with metrics., "
            "params., tags. or attributes.", text, token.pos
        )
    return Field(entity, key, token.pos, token.text)


def _glued_quoted_keys(text: str) -> list[Token]:
    """Tokens, with ``prefix.`key with spaces``` and ``prefix."key"`` joined into one word."""
    tokens = tokenize(text)
    joined: list[Token] = []
    for token in tokens:
        if (
            joined
            and token.kind in ("backtick", "string")
            and joined[-1].kind == "word"
            and joined[-1].text.endswith(".")
            and joined[-1].pos + len(joined[-1].text) == token.pos
        ):
            prev = joined.pop()
            token = Token("word", prev.text + token.text, prev.pos)
        joined.append(token)
    return joined


def parse_filter(text: str | None) -> Node | None:
    """Parse a filter string; ``None`` or blank means no filter.

    :param text: the filter.
    :raises FilterSyntaxError: naming the token and position that do not parse.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise FilterSyntaxError(f"A filter is text such as \"metrics.acc > 0.9\", not {text!r}.")
    if not text.strip():
        return None
    try:
        return _Parser(text).parse()
    except RecursionError:  # the limits above prevent it; never let it escape as a traceback
        raise FilterSyntaxError(
            f"The filter is too deeply nested; use at most {MAX_NESTING} levels of parentheses and NOT"
        ) from None


def parse_order_by(clauses: Sequence[str] | None) -> list[OrderTerm]:
    """Parse MLflow order-by clauses such as ``["metrics.acc DESC", "params.lr"]``.

    :param clauses: the clauses, or one clause as a string.
    :raises FilterSyntaxError: for a clause that does not parse.
    """
    terms = []
    if isinstance(clauses, str):  # order_by="metrics.acc DESC": one clause, not its characters
        clauses = [clauses]
    clauses = [c for c in clauses or [] if not isinstance(c, str) or c.strip()]
    if len(clauses) > MAX_ORDER_TERMS:
        raise FilterSyntaxError(
            f"Too many order-by terms: at most {MAX_ORDER_TERMS}, not {len(clauses)}. "
            "Order by fewer fields."
        )
    for clause in clauses:
        tokens = _glued_quoted_keys(clause)
        if not tokens:
            continue
        fld = parse_field_token(tokens[0], clause)
        ascending = True
        if len(tokens) >= 2:
            direction = tokens[1].text.upper()
            if direction not in ("ASC", "DESC") or len(tokens) > 2:
                bad = tokens[1] if direction not in ("ASC", "DESC") else tokens[2]
                raise FilterSyntaxError(
                    f"Expected ASC or DESC after {fld.text!r}: found {bad.text!r} "
                    f"at position {bad.pos}", clause, bad.pos
                )
            ascending = direction == "ASC"
        terms.append(OrderTerm(fld, ascending, clause))
    return terms
