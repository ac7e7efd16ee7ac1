"""Every public function, method and class of mlnb has a docstring, with a ``:param`` per parameter.

In Jupyter the docstrings are the help users see (Shift-Tab, ``?``), so a missing one is a missing
page of the manual. The package is read with ``ast`` (nothing is imported), so this is fast.

Public: the name does not start with an underscore, nor does its module's (``__init__`` counts as
public). Dunder methods are skipped. A ``@property`` needs a docstring but no ``:param`` lines.
Framework overrides whose meaning the framework fixes (tornado and http.server handler methods,
socketserver and argparse hooks, IPython magics) need a docstring but no ``:param`` lines. A class
with its own ``__init__`` documents the constructor's parameters in its docstring or
``__init__``'s.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlnb"

# Methods a base class from a framework calls with arguments it fixes.
FRAMEWORK_HOOKS = frozenset({
    # tornado.web.RequestHandler
    "get", "post", "put", "delete", "patch", "head", "options", "prepare", "initialize",
    "on_finish", "write_error", "log_exception", "set_default_headers", "check_xsrf_cookie",
    "get_current_user",
    # http.server.BaseHTTPRequestHandler, socketserver
    "do_GET", "do_POST", "do_HEAD", "log_message", "send_error", "setup", "handle",
    "handle_one_request", "process_request", "process_request_thread", "server_close",
    # argparse.ArgumentParser, argparse.Action
    "error", "exit", "format_help", "__call__",
})
FRAMEWORK_DECORATORS = frozenset({"cell_magic", "line_magic", "line_cell_magic", "observe",
                                  "validate", "default"})

# "module:qualname" -> why it needs no docstring or no :param line. Keep this short.
EXEMPT: dict[str, str] = {}


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def _missing_params(doc: str, names: list[str]) -> list[str]:
    return [n for n in names if f":param {n}:" not in doc]


def offenders(source: str, module: str) -> list[str]:
    """``module:line name (problem)`` for every undocumented public item of one module's source."""
    found: list[str] = []

    def report(node: ast.stmt, qualname: str, problem: str) -> None:
        if f"{module}:{qualname}" not in EXEMPT:
            found.append(f"{module}:{node.lineno} {qualname} ({problem})")

    def visit(body: list[ast.stmt], prefix: str, in_subclass: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                qualname = prefix + node.name
                doc = ast.get_docstring(node) or ""
                if not doc:
                    report(node, qualname, "no docstring")
                init = next((n for n in node.body if isinstance(n, ast.FunctionDef)
                             and n.name == "__init__"), None)
                if init is not None:
                    missing = _missing_params(doc + (ast.get_docstring(init) or ""), _params(init))
                    if missing:
                        report(init, qualname, f"constructor lacks :param {', '.join(missing)}")
                visit(node.body, qualname + ".", bool(node.bases))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_"):
                    continue
                qualname = prefix + node.name
                decorators = _decorator_names(node)
                if "overload" in decorators:
                    continue
                doc = ast.get_docstring(node) or ""
                if not doc:
                    report(node, qualname, "no docstring")
                    continue
                if decorators & {"property", "setter", "cached_property"}:
                    continue
                if decorators & FRAMEWORK_DECORATORS or (in_subclass and node.name in FRAMEWORK_HOOKS):
                    continue
                missing = _missing_params(doc, _params(node))
                if missing:
                    report(node, qualname, f"lacks :param {', '.join(missing)}")

    visit(ast.parse(source).body, "", False)
    return found


def public_modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted name -> file of every module of mlnb whose path has no private part."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") for part in parts):
            continue
        modules[".".join(parts)] = path
    return modules


def test_every_public_function_and_class_is_documented() -> None:
    found = [o for name, path in public_modules().items()
             for o in offenders(path.read_text(encoding="utf-8"), name)]
    assert not found, ("Public items without a docstring or a :param line per parameter "
                       f"({len(found)}):\n" + "\n".join(found))


def test_the_check_reports_what_is_missing() -> None:
    source = '''
class Handler(Base):
    def get(self, name):
        """GET."""

    def fetch(self, name, *args, **kwargs):
        """Fetch.

        :param name: the name.
        """

    @property
    def size(self):
        """The size."""


class Plain:
    def __init__(self, value):
        pass

    def get(self, key):
        """Not a framework hook: Plain has no base class."""


def helper(x):
    pass


def _private(x):
    pass
'''
    assert offenders(source, "m") == [
        "m:2 Handler (no docstring)",
        "m:6 Handler.fetch (lacks :param args, kwargs)",
        "m:17 Plain (no docstring)",
        "m:18 Plain (constructor lacks :param value)",
        "m:21 Plain.get (lacks :param key)",
        "m:25 helper (no docstring)",
    ]
