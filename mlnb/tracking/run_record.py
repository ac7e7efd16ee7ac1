"""What a run recorded about where it came from, read back for a diff: its cell, the cells
executed before it, and its packages.

A run started in a kernel carries tags (:mod:`mlnb.capture.provenance`): ``mlnb.cell.source``,
``mlnb.kernel.history`` (``count:id:hash12`` entries), ``mlnb.packages`` and
``mlnb.python_version``, each cut to the tag size limit. A ``%%track`` cell also writes the
``provenance.json`` artifact, which holds the same facts whole (the full source, full hashes,
every package), so it is read first and the tags are the fallback. Requirement files among the
artifacts (a model's ``requirements.txt``, a logged ``pip freeze``) add their pins.

The kernel history records each cell's hash, not its source. A source is recovered where it
is known for certain: the compared runs' own cells, and the notebook file when it still holds a
cell whose text has exactly the recorded hash (nothing unverified is ever shown).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.entities import Run
from mlnb.store import Store

PROVENANCE_ARTIFACT = "provenance.json"
MAX_PROVENANCE_BYTES = 5_000_000
MAX_REQUIREMENT_FILES = 20
MAX_REQUIREMENTS_BYTES = 1_000_000
MAX_NOTEBOOK_BYTES = 20_000_000
HASH_CHARS = 12  # the kernel-history tag keeps this many hex digits of each hash
TRUNCATED_MARK = "\n... (truncated)"  # what provenance appends to a tag value it cut
# Artifact file names read as a list of pinned packages.
_REQUIREMENTS_NAME = re.compile(r"(requirements[^/]*\.txt|pip[-_]?freeze[^/]*\.txt)", re.I)
_REQUIREMENT_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)")


@dataclass(frozen=True)
class CellSource:
    """The source of the cell a run was made in.

    :param source: the cell's text (possibly cut, see ``truncated``).
    :param sha256: the hash of the whole source, as recorded (None if not recorded).
    :param cell_id: the notebook cell's id, when the frontend sent it.
    :param execution_count: the cell's ``In [n]`` number.
    :param truncated: whether ``source`` is the tag's shortened copy.
    :param origin: where it was read: ``provenance.json`` or the ``mlnb.cell.source`` tag.
    """

    source: str
    sha256: str | None
    cell_id: str | None
    execution_count: int | None
    truncated: bool
    origin: str


@dataclass(frozen=True)
class HistoryEntry:
    """One cell executed in the kernel before the run.

    :param execution_count: its ``In [n]`` number.
    :param cell_id: the notebook cell's id (None when the frontend sent none).
    :param sha256: the hash of its source: whole from ``provenance.json``, its first 12 hex
        digits from the tag.
    :param source: its source, when known for certain (see the module's docstring), else None.
    """

    execution_count: int | None
    cell_id: str | None
    sha256: str
    source: str | None = None

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of the hash, what both records share."""
        return self.sha256[:HASH_CHARS]

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return {"execution_count": self.execution_count, "cell_id": self.cell_id,
                "sha256": self.sha256, "source": self.source}


@dataclass(frozen=True)
class Environment:
    """The packages a run recorded, with where each list came from.

    :param packages: canonical distribution name -> version (or the requirement's specifier).
    :param python: the Python version, if recorded.
    :param sources: what was read: ``provenance.json``, the ``mlnb.packages`` tag, artifact paths.
    :param truncated: whether the only list was the tag, cut at the tag size limit.
    """

    packages: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    sources: tuple[str, ...] = ()
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The environment as JSON-ready data."""
        return {"packages": dict(self.packages), "python": self.python,
                "sources": list(self.sources), "truncated": self.truncated}


@dataclass(frozen=True)
class RunRecord:
    """Everything a diff reads about one run's origin.

    :param cell: the cell the run was made in, if recorded.
    :param history: the cells executed before it, in order (None: no history recorded).
    :param environment: its packages.
    :param notebook_path: the notebook, if recorded.
    :param notes: what could not be read, and why.
    """

    cell: CellSource | None
    history: list[HistoryEntry] | None
    environment: Environment
    notebook_path: str | None
    notes: tuple[str, ...] = ()


def read_record(store: Store, run: Run) -> RunRecord:
    """Read a run's cell, kernel history and environment from its tags and artifacts.

    :param store: the run's store.
    :param run: the run.
    """
    notes: list[str] = []
    files = {path: size for path, size, _ in store.artifact_files(run.info.run_id, "")}
    provenance = _provenance(store, run.info.run_id, files, notes)
    tags = run.data.tags
    notebook = provenance.get("notebook_path") or tags.get("mlnb.notebook.path")
    return RunRecord(
        cell=_cell(provenance, tags),
        history=_history(provenance, tags),
        environment=_environment(store, run.info.run_id, provenance, tags, files, notes),
        notebook_path=notebook if isinstance(notebook, str) and notebook else None,
        notes=tuple(notes),
    )


def source_hash(source: str) -> str:
    """The sha256 of a cell's source as provenance records it (hex).

    :param source: the source.
    """
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def canonical_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): lower case, runs of ``-_.`` as ``-``.

    :param name: the name.
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(text: str) -> dict[str, str]:
    """``{canonical name: version}`` from requirement lines (``pip freeze``, ``requirements.txt``).

    ``name==1.0`` gives ``1.0``; any other specifier (``>=1``, ``@ url``) is kept as written.
    Comments, options (``-r``, ``--hash``) and environment markers are left out.

    :param text: the file's text.
    """
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].split(";", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _REQUIREMENT_LINE.fullmatch(line)
        if match is None:
            continue
        spec = match.group(3).strip()
        for pin in ("===", "=="):
            if spec.startswith(pin):
                spec = spec[len(pin):].strip()
                break
        found[canonical_name(match.group(1))] = spec
    return found


def fill_sources(history: list[HistoryEntry], known: dict[str, str]) -> list[HistoryEntry]:
    """``history`` with the source of each entry whose hash is in ``known``.

    :param history: the entries.
    :param known: 12-hex-digit hash prefix -> a source with that hash.
    """
    return [entry if entry.source is not None or entry.short_hash not in known
            else HistoryEntry(entry.execution_count, entry.cell_id, entry.sha256,
                              known[entry.short_hash]) for entry in history]


def notebook_sources(path: str | None, root: Path) -> dict[str, str]:
    """12-hex-digit hash prefix -> source, of every code cell of a notebook file (empty when it
    cannot be read). Only sources whose hash a run recorded are ever shown from it.

    :param path: the notebook's path as the run recorded it.
    :param root: the folder a relative path is taken from.
    """
    if not path or not path.endswith(".ipynb"):
        return {}
    file = Path(path) if Path(path).is_absolute() else root / path
    try:
        if not file.is_file() or file.stat().st_size > MAX_NOTEBOOK_BYTES:
            return {}
        cells = json.loads(file.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return {}
    found: dict[str, str] = {}
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        found[source_hash(text)[:HASH_CHARS]] = text
    return found


# --- reading ------------------------------------------------------------------------------------


def _provenance(store: Store, run_id: str, files: dict[str, int], notes: list[str]
                ) -> dict[str, Any]:
    size = files.get(PROVENANCE_ARTIFACT)
    if size is None:
        return {}
    if size > MAX_PROVENANCE_BYTES:
        notes.append(f"{PROVENANCE_ARTIFACT} is {size} bytes, over {MAX_PROVENANCE_BYTES}: not read")
        return {}
    try:
        data = json.loads(store.artifact_path(run_id, PROVENANCE_ARTIFACT).read_bytes())
    except Exception as exc:  # a missing file, a download failure, bad JSON: the tags remain
        notes.append(f"{PROVENANCE_ARTIFACT} could not be read ({type(exc).__name__}: {exc})")
        return {}
    return data if isinstance(data, dict) else {}


def _cell(provenance: dict[str, Any], tags: dict[str, str]) -> CellSource | None:
    cell = provenance.get("cell")
    if isinstance(cell, dict) and isinstance(cell.get("source"), str) and cell["source"]:
        return CellSource(cell["source"], _text(cell.get("sha256")), _text(cell.get("id")),
                          _int(cell.get("execution_count")), False, PROVENANCE_ARTIFACT)
    source = tags.get("mlnb.cell.source")
    if not source:
        return None
    truncated = source.endswith(TRUNCATED_MARK) and tags.get("mlnb.cell.sha256") != source_hash(source)
    return CellSource(source, tags.get("mlnb.cell.sha256"), tags.get("mlnb.cell.id"),
                      _int(tags.get("mlnb.cell.execution_count")), truncated, "mlnb.cell.source")


def _history(provenance: dict[str, Any], tags: dict[str, str]) -> list[HistoryEntry] | None:
    recorded = provenance.get("history")
    if isinstance(recorded, list):
        return [HistoryEntry(_int(h.get("execution_count")), _text(h.get("id")), str(h["sha256"]))
                for h in recorded if isinstance(h, dict) and isinstance(h.get("sha256"), str)]
    raw = tags.get("mlnb.kernel.history")
    if raw is None:
        return None
    entries = []
    for item in raw.split(TRUNCATED_MARK)[0].split():
        count, _, rest = item.partition(":")
        cell_id, _, digest = rest.rpartition(":")
        if digest:
            entries.append(HistoryEntry(_int(count), cell_id or None, digest))
    return entries


def _environment(store: Store, run_id: str, provenance: dict[str, Any], tags: dict[str, str],
                 files: dict[str, int], notes: list[str]) -> Environment:
    packages: dict[str, str] = {}
    sources: list[str] = []
    truncated = False
    recorded = provenance.get("packages")
    if isinstance(recorded, dict) and recorded:
        packages.update({canonical_name(str(k)): str(v) for k, v in recorded.items()})
        sources.append(PROVENANCE_ARTIFACT)
    elif tags.get("mlnb.packages"):
        text = tags["mlnb.packages"]
        truncated = text.endswith(TRUNCATED_MARK)
        packages.update(parse_requirements("\n".join(text.split(TRUNCATED_MARK)[0].split())))
        sources.append("mlnb.packages")
    names = [p for p in sorted(files) if _REQUIREMENTS_NAME.fullmatch(p.rsplit("/", 1)[-1])]
    for path in names[:MAX_REQUIREMENT_FILES]:
        if files[path] > MAX_REQUIREMENTS_BYTES:
            notes.append(f"{path} is {files[path]} bytes, over {MAX_REQUIREMENTS_BYTES}: not read")
            continue
        try:
            text = store.artifact_path(run_id, path).read_text(encoding="utf-8", errors="replace")
        except Exception as exc:
            notes.append(f"{path} could not be read ({type(exc).__name__}: {exc})")
            continue
        packages.update(parse_requirements(text))
        sources.append(path)
    if len(names) > MAX_REQUIREMENT_FILES:
        notes.append(f"{len(names)} requirement files; the first {MAX_REQUIREMENT_FILES} were read")
    python = provenance.get("python_version") or tags.get("mlnb.python_version")
    return Environment(dict(sorted(packages.items())), str(python) if python else None,
                       tuple(sources), truncated and len(sources) == 1)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
