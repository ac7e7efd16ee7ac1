"""The store's SQL is written once, in SQLite's spelling, and rewritten for PostgreSQL per
statement (mlnb.store.pg.to_postgres): the rewrite's assumptions, checked over every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mlnb.store.dialect import POSTGRESQL, SQLITE
from mlnb.store.pg import to_postgres

STORE = Path(__file__).resolve().parent.parent / "mlnb" / "store"


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
    return found


def test_no_store_statement_holds_a_question_mark_inside_a_string_literal() -> None:
    # `?` is a placeholder everywhere in the store's SQL; one inside '...' would be rewritten
    # to %s on PostgreSQL and change the literal.
    offenders = []
    for path in sorted(STORE.rglob("*.py")):
        for line, text in _string_constants(path):
            if "``" in text or "(?P<" in text:
                continue  # a docstring, or the filter grammar's tokenizer (a regex, not SQL)
            for literal in re.findall(r"'([^']*)'", text):
                if "?" in literal:
                    offenders.append(f"{path.name}:{line} {literal!r}")
    assert offenders == []


def test_the_rewrite_of_placeholders_percent_signs_and_insert_or_ignore() -> None:
    assert to_postgres("SELECT a FROM t WHERE b = ? AND c LIKE '%x'") == \
        "SELECT a FROM t WHERE b = %s AND c LIKE '%%x'"
    assert to_postgres("INSERT OR IGNORE INTO params (a, b) VALUES (?, ?)") == \
        "INSERT INTO params (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRESQL], ids=lambda d: d.name)
def test_each_dialect_spells_the_fragments_that_differ(dialect: object) -> None:
    from mlnb.store.dialect import Dialect

    assert isinstance(dialect, Dialect)
    like = dialect.like("c", negate=False, ignore_case=False)
    assert like == ("c GLOB ?" if dialect.is_sqlite else "c LIKE ?")
    assert dialect.like_pattern("a_%", ignore_case=False) == ("a?*" if dialect.is_sqlite else "a_%")
    assert "?" not in dialect.text_as_number("v", ">").replace("> ?", "")
    assert dialect.greatest("?", "x").startswith("MAX(" if dialect.is_sqlite else "GREATEST(")
