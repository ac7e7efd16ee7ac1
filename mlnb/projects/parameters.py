"""A project's parameters: inferred from the notebook, validated when the project runs.

Inference follows papermill's ``inspect_notebook``: the cell tagged ``parameters`` holds
``name = literal`` assignments whose literal gives the type and the default, and a trailing
comment the help text. With no such cell, the params the chosen run recorded become the
parameters, for the names the notebook assigns a literal to at the top level of a cell; the
command line's value is injected right after that assignment.

MLproject types: ``int``, ``float``, ``string``, ``path`` (a file or folder; relative paths given on
the command line are made absolute, as MLflow does) and ``uri``. A bool literal becomes a ``string``
parameter (MLflow has no bool type) marked ``mlnb_type: bool`` in its MLproject entry, a key MLflow
ignores: ``mlnb run`` reads it and checks the value (true/false, yes/no, on/off, 1/0, any case)
before the run starts; the script converts it back.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from mlnb.errors import InvalidParameterError

Value = Union[int, float, str, bool]
TYPES = ("float", "int", "string", "path", "uri")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
BOOL_KEY = "mlnb_type"  # in a parameter's MLproject entry; MLflow ignores keys it does not know
BOOL_VALUES = "true/false, yes/no, on/off or 1/0 (any case)"


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter: MLproject ``type`` and ``default``, plus what the script needs."""

    name: str
    type: str
    default: Value | None
    help: str = ""
    is_bool: bool = False
    cell: int = 0  # where the value is injected: the parameters cell, or the assigning cell
    line: int = 0  # 0: after the whole cell; else after this line of the cell's body

    def mlproject_entry(self) -> dict[str, object]:
        """The parameter's entry in ``MLproject`` (type, default, and a marker for booleans)."""
        entry: dict[str, object] = {"type": self.type}
        if self.default is not None:
            entry["default"] = _default_text(self.default) if self.is_bool else self.default
        if self.is_bool:
            entry[BOOL_KEY] = "bool"
        return entry


def _default_text(value: Value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def as_bool(text: str) -> bool:
    """``true``/``false`` (also yes/no, on/off, 1/0) -> bool; anything else is an error.

    :param text: the text.
    """
    lowered = str(text).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


# --- inference ---------------------------------------------------------------------------------


def literal_assignments(tree: ast.Module) -> list[tuple[str, object, int]]:
    """(name, literal value, end line) of the top-level ``name = literal`` statements.

    :param tree: a cell's syntax tree.
    """
    found = []
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if not isinstance(target, ast.Name) or value is None:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        found.append((target.id, literal, node.end_lineno or node.lineno))
    return found


def _comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return comments


def _type_of(value: object, folder: Path, outputs: frozenset[str] = frozenset()
             ) -> tuple[str, bool] | None:
    if isinstance(value, bool):
        return "string", True
    if isinstance(value, int):
        return "int", False
    if isinstance(value, float):
        return "float", False
    if isinstance(value, str):
        # A file the notebook writes is a string: ``mlnb run`` must not require it to exist.
        is_input = value and names_file_inside(value, folder) \
            and (folder / value).resolve().relative_to(folder.resolve()).as_posix() not in outputs
        return ("path" if is_input else "string"), False
    return None


def names_file_inside(text: str, folder: Path) -> bool:
    """Whether ``text`` is a relative path naming an existing file or folder inside ``folder``.

    :param text: a string value.
    :param folder: the notebook's folder.
    """
    if len(text) > 400 or "\n" in text or "\0" in text or Path(text).is_absolute():
        return False
    try:
        candidate = (folder / text).resolve()
        return candidate.exists() and candidate.is_relative_to(folder.resolve()) \
            and candidate != folder.resolve()
    except (OSError, ValueError):
        return False


def from_parameters_cell(source: str, tree: ast.Module, cell: int, folder: Path,
                         outputs: frozenset[str] = frozenset()
                         ) -> tuple[list[ParameterSpec], list[str]]:
    """Specs of the parameters cell's literal assignments, and notes on what was left out.

    :param source: the cell's source (its comments describe the parameters).
    :param tree: its syntax tree.
    :param cell: its position.
    :param folder: the notebook's folder (strings naming files inside it become ``path``
        parameters).
    :param outputs: the files (relative to ``folder``) the notebook writes: a value naming one
        is a ``string``, not a ``path`` that must exist.
    """
    comments = _comments(source)
    specs: list[ParameterSpec] = []
    notes: list[str] = []
    for name, literal, line in literal_assignments(tree):
        typed = _type_of(literal, folder, outputs)
        if typed is None:
            notes.append(f"{name}: a {type(literal).__name__} literal is not an MLproject type; "
                         "it stays fixed in the script")
            continue
        assert isinstance(literal, (int, float, str, bool))  # _type_of accepted it
        specs.append(ParameterSpec(name, typed[0], literal, comments.get(line, ""), typed[1], cell))
    return _unique(specs), notes


def from_run_params(run_params: Mapping[str, str], trees: Mapping[int, ast.Module], folder: Path,
                    outputs: frozenset[str] = frozenset()) -> tuple[list[ParameterSpec], list[str]]:
    """Specs for the recorded params that the notebook assigns a literal to at a cell's top level.

    :param run_params: the run's params.
    :param trees: cell position -> syntax tree.
    :param folder: the notebook's folder.
    :param outputs: the files (relative to ``folder``) the notebook writes (see
        :func:`from_parameters_cell`).
    """
    first: dict[str, tuple[int, object, int]] = {}
    for cell, tree in sorted(trees.items()):
        for name, literal, line in literal_assignments(tree):
            first.setdefault(name, (cell, literal, line))
    specs: list[ParameterSpec] = []
    notes: list[str] = []
    for name, recorded in sorted(run_params.items()):
        if name not in first:
            notes.append(f"{name}: recorded by the run, but no cell assigns it a literal value")
            continue
        cell, literal, line = first[name]
        typed = _type_of(literal, folder, outputs)
        value = _convert_recorded(recorded, typed[0] if typed else "", typed[1] if typed else False)
        if typed is None or value is None:
            notes.append(f"{name}: the recorded value {recorded!r} does not fit the notebook's "
                         f"literal {literal!r}")
            continue
        specs.append(ParameterSpec(name, typed[0], value, "", typed[1], cell, line))
    return specs, notes


def _convert_recorded(text: str, type_: str, is_bool: bool) -> Value | None:
    try:
        if is_bool:
            return as_bool(text)
        if type_ == "int":
            return int(text)
        if type_ == "float":
            return float(text)
        return text if type_ in ("string", "path") else None
    except ValueError:
        return None


def _unique(specs: list[ParameterSpec]) -> list[ParameterSpec]:
    by_name = {spec.name: spec for spec in specs}  # a name assigned twice: the last value wins
    return list(by_name.values())


# --- validation at run time --------------------------------------------------------------------


def check_given(declared: Mapping[str, ParameterSpec], given: Mapping[str, str], entry_point: str,
                cwd: Path) -> dict[str, str]:
    """The given (``-P``) values checked, on their own: every name declared, every value of its
    type. ``mlnb run`` calls it first, before it looks at the project's data files.

    :param declared: the entry point's parameters.
    :param given: ``{name: text}`` from the command line.
    :param entry_point: named in the error.
    :param cwd: what a relative ``path`` value is relative to.
    :raises InvalidParameterError: naming the parameter and what it expects.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "(none)"
        raise InvalidParameterError(
            f"Unknown parameter {unknown[0]!r} for entry point {entry_point!r}; "
            f"its parameters are: {known}.")
    return {name: check_value(declared[name], text, cwd) for name, text in given.items()}


def validate(declared: Mapping[str, ParameterSpec], given: Mapping[str, str], entry_point: str,
             project_dir: Path, cwd: Path) -> dict[str, str]:
    """The command-line text of every parameter: given values checked against their types,
    defaults for the others. Raises :class:`InvalidParameterError` naming the parameter.

    :param declared: the entry point's parameters.
    :param given: the ``-P`` values.
    :param entry_point: its name, for errors.
    :param project_dir: the project folder.
    :param cwd: the folder relative paths are read from.
    """
    checked = check_given(declared, given, entry_point, cwd)
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in checked:
            values[name] = checked[name]
        elif spec.default is None:
            raise InvalidParameterError(
                f"Parameter {name!r} ({spec.type}) has no default: pass -P {name}=VALUE.")
        else:
            values[name] = check_value(spec, _default_text(spec.default), project_dir,
                                       keep_relative=True)
    return values


def check_value(spec: ParameterSpec, text: str, base: Path, keep_relative: bool = False) -> str:
    """One value checked against its declared type, normalized for the command line.

    :param spec: the parameter.
    :param text: the value as given.
    :param base: the folder a relative path is read from.
    :param keep_relative: keep a relative path as given instead of making it absolute.
    """
    text = str(text)
    try:
        if spec.type == "int":
            return str(int(text.strip()))
        if spec.type == "float":
            number = float(text.strip())
            return repr(number) if math.isfinite(number) else str(number)
    except ValueError:
        example = "3" if spec.type == "int" else "0.1"
        raise InvalidParameterError(
            f"Parameter {spec.name!r} expects {'an' if spec.type == 'int' else 'a'} {spec.type} "
            f"(e.g. {example}), got {text!r}.") from None
    if spec.is_bool:
        try:
            return "true" if as_bool(text) else "false"
        except ValueError:
            raise InvalidParameterError(
                f"Parameter {spec.name!r} is a bool: it accepts {BOOL_VALUES}, got {text!r}."
            ) from None
    if spec.type == "path":
        path = Path(text).expanduser()
        resolved = path if path.is_absolute() else base / path
        if not resolved.exists():
            raise InvalidParameterError(
                f"Parameter {spec.name!r} (path): there is no file or folder at {text!r}"
                f"{'' if path.is_absolute() else f' (relative to {base})'}.")
        return text if keep_relative and not path.is_absolute() else str(resolved.resolve())
    if spec.type not in TYPES:
        raise InvalidParameterError(
            f"Parameter {spec.name!r} has type {spec.type!r} in MLproject; use one of "
            f"{', '.join(TYPES)}.")
    return text
