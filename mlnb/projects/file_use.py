"""Which files a notebook writes and which it reads, found in its code (:mod:`ast`, not by running it).

A file the notebook writes is an output: the export neither copies it nor locks it by sha256, or
the project's first run, which writes it again, would block every later one with "data changed
since the export". A file it both reads and writes (updated in place) is copied, for the first run
to read, but not locked either.

A write is a call that writes to a path the code names: ``open(p, "w")`` (any mode with ``w``,
``a``, ``x`` or ``+``), ``Path(p).write_text(...)``, a writer method or function such as
``df.to_csv(p)``, ``fig.savefig(p)``, ``np.save(p, a)``, ``joblib.dump(obj, p)``,
``torch.save(obj, p)``, or the destination of ``shutil.copy``/``os.replace``. A read is any
other call that is given the path. A path is a string literal, a name bound to one, or
``Path(...)`` / ``os.path.join(...)`` / ``/`` of those.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Methods and functions that write to a path given as any of their arguments.
WRITERS = frozenset({
    "to_csv", "to_parquet", "to_json", "to_pickle", "to_excel", "to_feather", "to_hdf", "to_html",
    "to_latex", "to_markdown", "to_stata", "to_xml", "to_orc", "to_netcdf", "to_file", "savefig",
    "save", "save_model", "save_weights", "save_pretrained", "dump", "savetxt", "savez",
    "savez_compressed", "imwrite", "imsave", "write_image", "write_html", "to_filename"})
# Methods of a path object that write to it.
_PATH_WRITERS = frozenset({"write_text", "write_bytes", "touch", "unlink", "mkdir"})
# Functions whose last argument (or ``dst``) is written and whose other arguments are read.
_COPIERS = frozenset({"copy", "copy2", "copyfile", "copytree", "move", "rename", "replace"})
# Calls that only build a path: neither a read nor a write.
_PATH_BUILDERS = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath", "join", "str",
                            "fspath", "abspath", "normpath", "expanduser"})
_WRITE_MODE = frozenset("wax+")


@dataclass
class FileUse:
    """Relative paths (inside the notebook's folder) that the code writes, and those it reads
    before it first writes them (a read after the write reads the notebook's own output)."""

    written: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)

    @property
    def outputs(self) -> set[str]:
        """Written, not read before: produced by the notebook."""
        return self.written - self.read

    @property
    def updated(self) -> set[str]:
        """Read, then written: the notebook changes it in place."""
        return self.written & self.read


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


class _Paths:
    """What an expression names as a path: literals, names bound to them, joins of those."""

    def __init__(self, trees: list[ast.Module]) -> None:
        self.bound: dict[str, set[str]] = {}
        for _ in range(2):  # a name bound to a name bound to a literal
            for tree in trees:
                for node in ast.walk(tree):
                    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                        for target in targets:
                            if isinstance(target, ast.Name):
                                self.bound.setdefault(target.id, set()).update(self.texts(node.value))

    def texts(self, node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Name):
            return set(self.bound.get(node.id, ()))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return {f"{a}/{b}" for a in self.texts(node.left) for b in self.texts(node.right)}
        if isinstance(node, ast.Call) and _name(node.func) in _PATH_BUILDERS and node.args:
            parts = [self.texts(arg) for arg in node.args]
            if all(parts):
                joined = {""}
                for options in parts:
                    joined = {f"{j}/{o}" if j else o for j in joined for o in options}
                return joined
        return set()


def _mode(call: ast.Call, position: int) -> str:
    for keyword in call.keywords:
        if keyword.arg == "mode" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    given = call.args[position] if len(call.args) > position else None
    return str(given.value) if isinstance(given, ast.Constant) else "r"


def _arguments(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(k.value for k in call.keywords)]


def _classify(call: ast.Call, paths: _Paths) -> tuple[set[str], set[str]]:
    """(written, read) path texts of one call."""
    name = _name(call.func)
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    on_path = paths.texts(receiver) if receiver is not None else set()
    if on_path and (name in _PATH_WRITERS or (name == "open" and _WRITE_MODE & set(_mode(call, 0)))):
        return on_path, set()
    if on_path and name in ("open", "read_text", "read_bytes"):
        return set(), on_path
    arguments = _arguments(call)
    if name == "open" and (receiver is None or _name(receiver) == "io"):
        target = paths.texts(call.args[0]) if call.args else set()
        return (target, set()) if _WRITE_MODE & set(_mode(call, 1)) else (set(), target)
    if name in _COPIERS and len(arguments) >= 2:
        destination = next((k.value for k in call.keywords if k.arg == "dst"), call.args[-1])
        sources = [a for a in arguments if a is not destination]
        return paths.texts(destination), set().union(*(paths.texts(a) for a in sources))
    named = set().union(*(paths.texts(a) for a in arguments)) if arguments else set()
    if name in WRITERS:
        return named, set()
    if name in _PATH_BUILDERS:
        return set(), set()
    return set(), named


def file_use(trees: Iterable[ast.Module], folder: Path) -> FileUse:
    """The files inside ``folder`` that the code writes and reads (relative, POSIX separators),
    in the order of the cells and of the lines in each cell.

    :param trees: the cells' syntax trees, in order.
    :param folder: the notebook's folder.
    """
    modules = list(trees)
    paths = _Paths(modules)
    root = folder.resolve()
    events: list[tuple[tuple[int, int, int], bool, str]] = []  # (where, is a write, path)
    for number, tree in enumerate(modules):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                where = (number, node.lineno, node.col_offset)
                written, read = _classify(node, paths)
                events += [(where, True, p) for p in _inside(written, folder, root)]
                events += [(where, False, p) for p in _inside(read, folder, root)]
    use = FileUse()
    for _where, is_write, path in sorted(events):
        if is_write:
            use.written.add(path)
        elif path not in use.written:
            use.read.add(path)
    return use


def _inside(texts: set[str], folder: Path, root: Path) -> set[str]:
    found = set()
    for text in texts:
        if not text.strip() or "\0" in text or Path(text).is_absolute():
            continue
        try:
            target = (folder / text.strip()).resolve()
        except (OSError, ValueError):
            continue
        if target != root and target.is_relative_to(root):
            found.add(target.relative_to(root).as_posix())
    return found
