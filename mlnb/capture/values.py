"""What ``%%track`` takes from a cell: params, metrics, changed files and the tail of stdout.

The rules (each part can be switched off with ``--no-capture``):

* **params** are the *simple* values the cell assigns at top level (``lr = 0.01``,
  ``params = {...}``): numbers, strings, booleans, None, and short lists, tuples and dicts of
  these. A dict named ``params``/``hparams``/``hyperparams``/``config`` gives one param per key;
  another dict ``d`` gives ``d.key`` params. Names starting with ``_``, modules, functions,
  arrays and other objects are never params. Values too large (see :class:`CaptureRules`) are
  refused and reported, not truncated. With ``--params a,b`` only those names are taken.
* **metrics** are numeric values (not booleans) bound by the cell (at top level or inside its
  loops, not inside functions) whose names match :attr:`CaptureRules.metric_pattern` (acc,
  accuracy, loss, score, ``*_score``, rmse, mae, r2, f1, auc...), plus the names given with
  ``--metrics`` (they add to the pattern, never replace it). A name that is a metric is not
  also a param.
* **files** created or changed under the notebook's folder during the cell, found by comparing
  (size, mtime) snapshots; hidden folders, ``.mlnb``, ``.git`` and checkpoints are skipped, the
  walk stops after :attr:`CaptureRules.max_scan_files`, and files over
  :attr:`CaptureRules.max_file_bytes` are reported, not copied.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CAPTURE_PARTS = ("params", "metrics", "files", "figures", "stdout", "provenance", "live",
                 "notebook")

DEFAULT_METRIC_PATTERN = (
    r"(?i)^(.*_)?(acc|accuracy|loss|score|rmse|mse|mae|mape|r2|f1|auc|roc_auc|precision|recall|"
    r"error|err|logloss|log_loss|perplexity|ppl|iou|map|bleu|rouge)(_.*)?$"
)
_FLATTENED_DICTS = frozenset({"params", "hparams", "hyperparams", "config"})
_SKIPPED_DIRS = frozenset({".mlnb", ".git", ".ipynb_checkpoints", "__pycache__", "node_modules",
                           ".venv", "venv"})


@dataclass
class CaptureRules:
    """Limits and patterns of automatic capture (``%config TrackMagics.<name> = ...``)."""

    metric_pattern: str = DEFAULT_METRIC_PATTERN
    max_str_len: int = 250
    max_items: int = 20
    max_file_bytes: int = 20_000_000
    max_scan_files: int = 5_000
    stdout_tail_chars: int = 20_000
    notebook_snapshot: bool = True  # keep the notebook as it was (notebook/<name>.ipynb)
    max_notebook_bytes: int = 20_000_000  # a larger snapshot is kept without outputs
    _compiled: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def is_metric_name(self, name: str) -> bool:
        """Whether a name the cell binds matches ``metric_pattern``.

        :param name: the variable's name.
        """
        if self._compiled is None or self._compiled.pattern != self.metric_pattern:
            self._compiled = re.compile(self.metric_pattern)
        return bool(self._compiled.match(name))


@dataclass
class Captured:
    """What a cell's names gave: params, metrics, and the names refused with the reason."""
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # "name: why", shown to the user


# --- names the cell binds -----------------------------------------------------------------------


def bound_names(tree: ast.Module) -> tuple[list[str], list[str]]:
    """(names assigned by top-level statements, all names bound outside functions/classes).

    :param tree: the cell's syntax tree.
    """
    top: list[str] = []
    for node in tree.body:
        top.extend(_assigned(node))
    anywhere: list[str] = []
    for node in _walk_outside_functions(tree.body):
        anywhere.extend(_assigned(node))
        if isinstance(node, (ast.For, ast.AsyncFor)):
            anywhere.extend(_target_names(node.target))
    return _unique(top), _unique(anywhere)


def _assigned(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        return [n for target in node.targets for n in _target_names(target)]
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
        return _target_names(node.target)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
        return _target_names(node.value.target)
    return []


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _walk_outside_functions(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        for name in ("body", "orelse", "finalbody"):
            yield from _walk_outside_functions(getattr(node, name, None) or [])
        for handler in getattr(node, "handlers", None) or []:
            yield from _walk_outside_functions(handler.body)


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


# --- params and metrics -------------------------------------------------------------------------


def capture_values(tree: ast.Module, namespace: dict[str, Any], rules: CaptureRules,
                   only_params: list[str] | None = None, only_metrics: list[str] | None = None,
                   want_params: bool = True, want_metrics: bool = True) -> Captured:
    """Apply the capture rules to the values the cell's names hold after it ran.

    :param tree: the cell's syntax tree.
    :param namespace: the user namespace after the cell ran.
    :param rules: the limits and patterns.
    :param only_params: capture only these names as params (``--params``).
    :param only_metrics: capture these names as metrics too (``--metrics``).
    :param want_params: capture params at all.
    :param want_metrics: capture metrics at all.
    """
    top, anywhere = bound_names(tree)
    found = Captured()
    metric_names: set[str] = set()
    if want_metrics:
        # ``--metrics`` names are metrics *as well as* the names matching the pattern.
        named = set(only_metrics or ())
        candidates = _unique([n for n in anywhere if rules.is_metric_name(n)] + list(named))
        for name in candidates:
            if name.startswith("_") or name not in namespace:
                continue
            number = as_number(namespace[name])
            if number is not None:
                found.metrics[name] = number
                metric_names.add(name)
            elif name in named:
                found.refused.append(f"{name}: not a number, so not logged as a metric")
    if want_params:
        names = top if only_params is None else only_params
        for name in names:
            if name in metric_names or name.startswith("_") or name not in namespace:
                continue
            _add_param(found, name, namespace[name], rules, explicit=only_params is not None)
    return found


def as_number(value: Any) -> float | None:
    """A real number as float (ints, floats, numpy scalars and 0-d arrays); not booleans.

    :param value: any value.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if kind in "iuf":
            return float(value)
    return None


def _add_param(found: Captured, name: str, value: Any, rules: CaptureRules, explicit: bool) -> None:
    if isinstance(value, dict) and _is_simple(value, rules, depth=0):
        prefix = "" if name in _FLATTENED_DICTS else f"{name}."
        for key, item in value.items():
            found.params[f"{prefix}{key}"] = _param_text(item)
        return
    if _is_simple(value, rules, depth=0):
        found.params[name] = _param_text(value)
        return
    why = _why_not_simple(value, rules)
    if why is not None and (explicit or _is_data_like(value)):
        found.refused.append(f"{name}: {why}, not logged as a param")


def _is_simple(value: Any, rules: CaptureRules, depth: int) -> bool:
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return True
    if isinstance(value, str):
        return len(value) <= rules.max_str_len
    if depth >= 2:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) <= rules.max_items and all(_is_simple(v, rules, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= rules.max_items and all(
            isinstance(k, (str, int)) and _is_simple(v, rules, depth + 1) for k, v in value.items())
    return as_number(value) is not None


def _is_data_like(value: Any) -> bool:
    return isinstance(value, (str, list, tuple, dict))


def _why_not_simple(value: Any, rules: CaptureRules) -> str | None:
    if isinstance(value, str) and len(value) > rules.max_str_len:
        return f"a string of {len(value)} characters (limit {rules.max_str_len})"
    if isinstance(value, (list, tuple, dict)) and len(value) > rules.max_items:
        return f"a {type(value).__name__} of {len(value)} items (limit {rules.max_items})"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} holding values that are not simple"
    return f"a {type(value).__name__}, not a simple value"


def _param_text(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    number = as_number(value)
    if number is not None and not isinstance(value, (int, float)):
        value = value.item()
    return str(value)


# --- files --------------------------------------------------------------------------------------

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)


def snapshot(folder: Path, rules: CaptureRules) -> Snapshot:
    """(size, mtime_ns) of the files under ``folder``, skipping hidden and tool folders.

    :param folder: the folder to scan (at most ``rules.max_scan_files`` files).
    :param rules: the limits.
    """
    found: Snapshot = {}
    stack = [folder]
    while stack and len(found) < rules.max_scan_files:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _SKIPPED_DIRS:
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    found[os.path.relpath(entry.path, folder)] = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                continue
            if len(found) >= rules.max_scan_files:
                break
    return found


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    """Files that are new in ``after`` or whose size or mtime changed, sorted.

    :param before: the snapshot before the cell.
    :param after: the snapshot after it.
    """
    return sorted(path for path, stamp in after.items() if before.get(path) != stamp)


class StdoutTail:
    """A write-through wrapper around a stream that keeps its last ``limit`` characters.

    :param stream: the stream written through to.
    :param limit: how many trailing characters to keep.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0

    def write(self, text: str) -> int:
        """Write ``text`` to the stream, keeping its tail.

        :param text: the text.
        """
        if isinstance(text, str) and text:
            self._parts.append(text)
            self._size += len(text)
            if self._size > 2 * self._limit:
                joined = "".join(self._parts)[-self._limit:]
                self._parts, self._size = [joined], len(joined)
        return self._stream.write(text)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def text(self) -> str:
        """The last ``limit`` characters written."""
        return "".join(self._parts)[-self._limit:]
