"""Notebook code cells -> a plain Python script that runs without Jupyter.

mlnb's magics are translated (``%%track NAME`` becomes a ``with mlnb.start_run(run_name=NAME,
nested=True):`` block, ``%mlnb autolog`` becomes ``mlnb.autolog()``, ``%load_ext mlnb`` and
other ``%mlnb`` lines are dropped with a comment); the rest of IPython's syntax (line and cell
magics, ``!shell``, ``obj?`` help, ``get_ipython()``) is commented out, except ``%time`` /
``%timeit`` / ``%%time`` / ``%%capture``, whose code is kept and run once, and ``%env`` (see
:func:`env_line`: a value that may be a secret is read from the environment, never written).
Nothing here imports IPython: the translation is line based, and it knows which lines start
inside a multi-line string (from :mod:`tokenize`) so that it never touches or re-indents a
string's content.

The whole notebook body runs inside the project's run (see :mod:`mlnb.projects.runtime`), so runs
the notebook itself starts become its children: ``nested=True`` is added to ``mlnb.start_run``
calls that do not say otherwise.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from mlnb.capture import track_line
from mlnb.capture import values as capture
from mlnb.capture.track_line import TrackOptions
from mlnb.errors import InvalidParameterError
from mlnb.projects.codegen import comment, docstring, literal
from mlnb.projects.parameters import ParameterSpec
from mlnb.projects.scan import SECRET_NAME, secret_needles

DROPPED = "# [mlnb] dropped"
_TIMED_LINE = re.compile(r"^%(time|timeit)\b((?:\s+-\w+(?:\s+\d+)?)*)\s*(.*)$")
_HELP_LINE = re.compile(r"^(\?{1,2}[\w.]+|[\w.]+\?{1,2})$")
_KEPT_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_ENV_LINE = re.compile(r"^%(?:set_)?env(?:\s+(?P<name>[^\s=]+)(?:\s*=\s*|\s+)?(?P<value>.*))?$")
_ENV_VALUE = re.compile(r"(%(?:set_)?env\s+[^\s=]+)(?:\s*=\s*|\s+)\S.*$")
REDACTED = "<redacted>"


@dataclass
class CellCode:
    """One code cell translated to Python; ``body`` excludes the ``%%`` header line."""

    number: int  # 1-based position among all the notebook's cells
    body: str
    magic: str | None = None  # the cell magic's name ("track", "time", ...) if any
    magic_line: str = ""
    is_parameters: bool = False
    notes: list[str] = field(default_factory=list)
    needs_os: bool = False  # the translation uses os.environ (%env)

    def tree(self) -> ast.Module:
        """The body's syntax tree (an error names the cell when it is not valid Python)."""
        return parse_cell(self.body, self.number)


def parse_cell(source: str, number: int) -> ast.Module:
    """A translated cell body's syntax tree.

    :param source: the translated body.
    :param number: the cell's position, for the error.
    :raises InvalidParameterError: when it is not valid Python.
    """
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise InvalidParameterError(
            f"Cell {number} is not valid Python once IPython syntax is translated: {exc.msg} "
            f"(line {exc.lineno} of the cell). Fix the cell, or tag it 'skip-export' to leave it out."
        ) from None


def string_continuation_lines(code: str) -> set[int]:
    """1-based numbers of the lines that start inside a multi-line string token.

    :param code: Python source.
    """
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # unbalanced brackets or strings: treat every line as code
    return inside


def indent(code: str, prefix: str = "    ") -> str:
    """Indent code by ``prefix``, leaving the content of multi-line strings unchanged.

    :param code: Python source.
    :param prefix: the indentation to add.
    """
    inside = string_continuation_lines(code)
    lines = code.splitlines()
    return "\n".join(line if (number in inside or not line.strip()) else prefix + line
                     for number, line in enumerate(lines, 1))


# --- line magics, shell escapes, help ----------------------------------------------------------


def translate_lines(source: str) -> tuple[str, list[str]]:
    """Translate or comment out the IPython-only lines of a cell body; returns (code, notes).

    :param source: the cell body.
    """
    code, notes, _needs_os = _translate_lines(source)
    return code, notes


def _translate_lines(source: str) -> tuple[str, list[str], bool]:
    inside = string_continuation_lines(source)
    out: list[str] = []
    notes: list[str] = []
    needs_os = False
    for number, line in enumerate(source.splitlines(), 1):
        if number in inside:
            out.append(line)
            continue
        env = env_line(line)
        if env is not None:
            out.append(env[0])
            notes.append(env[1])
            needs_os = True
            continue
        translated = translate_line(line)
        if translated != line:
            notes.append(f"{redact_env(line.strip())} -> {translated.strip()}")
        out.append(translated)
    return "\n".join(out), notes, needs_os


def translate_line(line: str) -> str:
    """One line: an IPython escape becomes Python or a comment; plain Python is returned as is.

    :param line: one line of a cell.
    """
    stripped = line.strip()
    lead = line[: len(line) - len(line.lstrip())]
    if not stripped or stripped.startswith("#"):
        return line
    env = env_line(line)
    if env is not None:
        return env[0]
    stripped = redact_env(stripped)  # what follows writes the line into a comment
    if stripped.startswith("%%"):
        return f"{lead}{DROPPED} (cell magic not on a cell's first line): {stripped}"
    if stripped.startswith("%"):
        return lead + _line_magic(stripped)
    if stripped.startswith("!") or re.match(r"^[\w.,\s]+=\s*[!%]", stripped):
        return f"{lead}{DROPPED} (shell or magic, IPython only): {stripped}"
    if _HELP_LINE.match(stripped):
        return f"{lead}{DROPPED} (IPython help): {stripped}"
    if "get_ipython()" in stripped:
        return f"{lead}{DROPPED} (needs IPython): {stripped}"
    return line


# --- %env ----------------------------------------------------------------------------------------


def redact_env(text: str) -> str:
    """``%env NAME=value`` -> ``%env NAME=<redacted>``: a comment or a note never shows a value.

    :param text: text that may hold ``%env`` lines.
    """
    return _ENV_VALUE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def is_secret_env(name: str, value: str) -> bool:
    """The export's secret rule (:mod:`mlnb.projects.scan`): a secret-looking name, or a value that
    holds the value of a secret-looking environment variable.

    :param name: the variable's name.
    :param value: its value.
    """
    encoded = value.encode("utf-8", "surrogatepass")
    return bool(SECRET_NAME.search(name)) or any(needle in encoded
                                                 for needle in secret_needles().values())


def env_line(line: str) -> tuple[str, str] | None:
    """``(python, note)`` for a ``%env`` / ``%set_env`` line, else None.

    ``%env NAME=value`` sets the variable, unless the value may be a secret: then the script
    reads it from the environment at run time and says that it must be set; the value is never
    written, and never shown in the note. ``%env NAME`` prints it; a bare ``%env`` (which would
    print every variable, secrets included) is dropped.

    :param line: one line of a cell.
    """
    stripped = line.strip()
    match = _ENV_LINE.match(stripped)
    if match is None:
        return None
    lead = line[: len(line) - len(line.lstrip())]
    name, value = match.group("name"), (match.group("value") or "").strip()
    shown = redact_env(stripped)
    if name is None:
        return (f"{lead}{DROPPED} (would print every environment variable): {stripped}",
                f"{stripped} -> dropped (it would print every environment variable)")
    if not value:
        return (f"{lead}print(os.environ.get({literal(name)}))",
                f"{stripped} -> print(os.environ.get({name!r}))")
    if is_secret_env(name, value):
        code = (f"{lead}os.environ.setdefault({literal(name)}, os.environ.get({literal(name)}, ''))"
                f"  # [mlnb] {comment(shown)}: "
                f"may be a secret, not exported; {comment(name)} must be set in the environment to run this")
        return code, f"{shown} -> read from the environment at run time ({name} must be set)"
    return (f"{lead}os.environ[{literal(name)}] = {literal(value)}",
            f"{shown} -> os.environ[{name!r}] = <the value>")


def redact_secret_env(source: str) -> str:
    """A cell's source with each secret ``%env NAME=value`` line replaced by a comment (for the
    notebook copied into the project).

    :param source: the cell's source.
    """
    inside = string_continuation_lines(source)
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        match = _ENV_LINE.match(line.strip())
        if number in inside or match is None or not match.group("name"):
            continue
        value = (match.group("value") or "").strip()
        if value and is_secret_env(match.group("name"), value):
            lead = line[: len(line) - len(line.lstrip())]
            ending = line[len(line.rstrip("\r\n")):]
            lines[number - 1] = (f"{lead}# {redact_env(line.strip())}  (removed by mlnb export: may be a "
                                 f"secret; set {match.group('name')} in the environment){ending}")
    return "".join(lines)


def _line_magic(stripped: str) -> str:
    name, _, rest = stripped[1:].partition(" ")
    rest = rest.strip()
    if name == "load_ext" and rest == "mlnb":
        return f"{DROPPED} (the script imports mlnb): {stripped}"
    if name == "mlnb":
        words = rest.split()
        if words[:1] == ["autolog"]:
            return "mlnb.autolog(disable=True)" if "--off" in words else "mlnb.autolog()"
        return f"{DROPPED} (notebook only): {stripped}"
    timed = _TIMED_LINE.match(stripped)
    if timed and timed.group(3):
        return timed.group(3)
    return f"{DROPPED} (IPython magic): {stripped}"


# --- cells -------------------------------------------------------------------------------------


def translate_cell(source: str, number: int, tags: list[str]) -> CellCode:
    """Split off a cell magic header and translate the body's lines.

    :param source: the cell's source.
    :param number: its position among the notebook's cells.
    :param tags: its cell tags.
    """
    magic: str | None = None
    magic_line = ""
    body = source
    first, _, remainder = source.lstrip("\n").partition("\n")
    if first.startswith("%%"):
        magic_line = first.strip()
        magic = magic_line[2:].split(" ", 1)[0]
        body = remainder
    cell = CellCode(number, body, magic, magic_line, is_parameters="parameters" in tags)
    if magic is not None and magic != "track" and magic not in _KEPT_CELL_MAGICS:
        cell.body = "\n".join(f"# {line}" if line.strip() else line
                              for line in [magic_line, *body.splitlines()])
        cell.notes.append(f"%%{magic} cell commented out (IPython only)")
        cell.magic = None
        return cell
    cell.body, cell.notes, cell.needs_os = _translate_lines(body)
    cell.body = _nest_start_runs(cell.body, number)
    return cell


def _nest_start_runs(code: str, number: int) -> str:
    """Add ``nested=True`` to ``mlnb.start_run(...)`` calls, which run inside the project's run."""
    tree = parse_cell(code, number)
    inserts: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "start_run" and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("mlnb", "mlflow")):
            continue
        keywords = {k.arg for k in node.keywords}
        if keywords & {"nested", "run_id", "parent_run_id"} or node.end_lineno is None:
            continue
        separator = ", " if node.args or node.keywords else ""
        inserts.append((node.end_lineno, node.end_col_offset or 0, f"{separator}nested=True"))
    if not inserts:
        return code
    lines = code.splitlines()
    for line_no, col, text in sorted(inserts, reverse=True):
        raw = lines[line_no - 1].encode("utf-8")
        # end_col_offset counts UTF-8 bytes and points after ")": insert before it.
        lines[line_no - 1] = (raw[: col - 1] + text.encode() + raw[col - 1:]).decode("utf-8")
    return "\n".join(lines)


# --- %%track -----------------------------------------------------------------------------------


def parse_track_line(line: str, number: int) -> TrackOptions:
    """The options of a ``%%track ...`` line (the magic's own grammar), naming the cell if bad.

    :param line: the ``%%track ...`` line.
    :param number: the cell's position, for the error.
    """
    try:
        return track_line.parse_track_line(line.strip()[len("%%track"):])
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"Cell {number}: {exc}") from None


def track_block(cell: CellCode, capture_names: tuple[list[str], list[str]] | None) -> str:
    """The ``with mlnb.start_run(...)`` block that replaces a ``%%track`` cell.

    :param cell: the ``%%track`` cell.
    :param capture_names: the names ``%%track`` would capture, from :func:`capture_names_of`.
    """
    options = parse_track_line(cell.magic_line, cell.number)
    arguments = [f"run_name={literal(options.run_name)}"] if options.run_name else []
    arguments.append("nested=True")
    if options.system:
        arguments.append("log_system_metrics=True")
    if options.tags:
        arguments.append(f"tags={literal(options.tags)}")
    lines = [f"# %%track cell: {comment(cell.magic_line[len('%%track'):].strip() or '(no options)')}"]
    if options.experiment:
        lines.append(f"mlnb.set_experiment({literal(options.experiment)})")
    lines.append(f"with mlnb.start_run({', '.join(arguments)}):")
    body = cell.body if cell.body.strip() else "pass"
    lines.append(indent(body))
    # Without mlnb.capture (an older mlnb) only the names given with --params/--metrics are kept.
    params, metrics = capture_names if capture_names is not None else ([], [])
    params = [] if "params" in options.no_capture else (options.params or params)
    # As the magic: --metrics adds names to those the pattern finds, it does not replace them.
    metrics = [] if "metrics" in options.no_capture else list(
        dict.fromkeys([*metrics, *(options.metrics or [])]))
    if params or metrics:
        lines.append("    # what %%track captures from the cell's variables in the notebook")
        lines.append(f"    _mlnb_project.log_cell_values(globals(), params={literal(params)}, "
                     f"metrics={literal(metrics)})")
    return "\n".join(lines)


def capture_names_of(cell: CellCode) -> tuple[list[str], list[str]] | None:
    """(param names, metric names) that ``%%track`` would capture.

    :param cell: the ``%%track`` cell.
    """
    tree = cell.tree()
    top, anywhere = capture.bound_names(tree)
    rules = capture.CaptureRules()
    metrics = [n for n in anywhere if rules.is_metric_name(n) and not n.startswith("_")]
    params = [n for n in top if n not in metrics and not n.startswith("_")]
    return params, metrics


# --- the script --------------------------------------------------------------------------------

_DISPLAY_FALLBACK = '''

def display(*objects, **kwargs):
    """IPython's display() outside a notebook: print each object."""
    for obj in objects:
        print(obj)
'''


def build_script(cells: list[CellCode], specs: list[ParameterSpec], project_name: str,
                 notebook_name: str, mlnb_version: str) -> str:
    """The whole ``main.py``: argparse for the parameters, then every cell inside the project run.

    :param cells: the translated cells, in order.
    :param specs: the project's parameters.
    :param project_name: the project's name.
    :param notebook_name: the notebook's file name.
    :param mlnb_version: the mlnb version that exported it.
    """
    parameters = specs
    body = "\n\n".join(_cell_text(cell, parameters) for cell in cells) or "pass"
    uses_display = any(re.search(r"\bdisplay\(", cell.body) for cell in cells)
    imports = "import argparse\nimport os\n" if any(cell.needs_os for cell in cells) else "import argparse\n"
    about = (f"{project_name}: the notebook {notebook_name} as a script (exported by mlnb "
             f"{mlnb_version}).\n\nRun it tracked and checked with `mlnb run .` (or `mlnb run . -P "
             "name=value`), or directly with\n`python main.py --help`. Cells are marked `# %% [cell N]`; "
             "IPython-only lines are commented out.\n")
    head = f'''{docstring(about)}

{imports}
import mlnb
from mlnb.projects import runtime as _mlnb_project


def _parse_parameters():
    parser = argparse.ArgumentParser(description={literal(_description(notebook_name))})
{_argparse_lines(parameters)}
    return vars(parser.parse_args())
{_DISPLAY_FALLBACK if uses_display else ""}

_params = _parse_parameters()

with _mlnb_project.project_run(__file__, {literal(project_name)}, _params):
{indent(body)}
'''
    return head


def _description(notebook_name: str) -> str:
    text = f"Parameters of {notebook_name}"
    # argparse %-formats a description that holds "%(prog)": then a literal % must be doubled.
    return text.replace("%", "%%") if "%(prog)" in text else text


def _argparse_lines(parameters: list[ParameterSpec]) -> str:
    lines = []
    for spec in parameters:
        kind = {"int": "int", "float": "float"}.get(spec.type, "str")
        if spec.is_bool:
            kind = "_mlnb_project.as_bool"
        default = spec.default
        kind_text = "true or false" if spec.is_bool else spec.type
        help_text = spec.help or f"{kind_text} (default: {literal(default)})"
        # argparse %-formats help texts: a literal % must be doubled, or --help fails.
        lines.append(f"    parser.add_argument({literal('--' + spec.name)}, type={kind}, "
                     f"default={literal(default)}, help={literal(help_text.replace('%', '%%'))})")
    return "\n".join(lines)


def _cell_text(cell: CellCode, parameters: list[ParameterSpec]) -> str:
    injected = [s for s in parameters if s.cell == cell.number]
    body = cell.body
    after_lines = [s for s in injected if s.line > 0]
    if after_lines:
        lines = body.splitlines()
        for spec in sorted(after_lines, key=lambda s: s.line, reverse=True):
            lines.insert(spec.line, f"{spec.name} = _params[{literal(spec.name)}]  # injected parameter")
        body = "\n".join(lines)
    cell = CellCode(cell.number, body, cell.magic, cell.magic_line, cell.is_parameters, cell.notes)
    label = f"# %% [cell {cell.number}]" + (" parameters (defaults)" if cell.is_parameters else "")
    if cell.magic == "track":
        text = track_block(cell, capture_names_of(cell))
    elif cell.magic:
        text = f"# {comment(cell.magic_line)} (kept: the code runs once)\n{cell.body}"
    else:
        text = cell.body
    at_end = [s for s in injected if s.line == 0]
    if at_end:
        text += "\n# injected parameters: the command line's values override the defaults above\n"
        text += "\n".join(f"{s.name} = _params[{literal(s.name)}]" for s in at_end)
    return f"{label}\n{text}".rstrip()
