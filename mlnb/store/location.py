"""Where the store lives, found with no configuration (architecture.md, "Where the data lives").

1. an explicit ``set_tracking_uri(...)`` wins;
2. else ``MLNB_TRACKING_URI``;
3. else the nearest ``.mlnb/`` folder walking up from the current directory (as git finds .git);
4. else ``.mlnb/`` is created in the current directory.

A tracking URI may name a folder (``.mlnb``, ``/data/store``, ``file:///data/store``) holding
``mlnb.db`` and ``artifacts/``, or a database file (``sqlite:///runs.db``, ``runs.db``) whose
artifacts go to ``runs-artifacts/`` beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.errors import InvalidParameterError

STORE_DIR = ".mlnb"
ENV_VAR = "MLNB_TRACKING_URI"
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: its database file and its artifact root."""
    db_path: Path
    artifact_root: Path

    @property
    def uri(self) -> str:
        """The store as a folder path (the usual layout), else as a ``sqlite:///`` URI."""
        if self.db_path.parent / "artifacts" == self.artifact_root:
            return str(self.db_path.parent)
        return f"sqlite:///{self.db_path}"


def find_store_dir(start: Path) -> Path | None:
    """The nearest ``.mlnb`` folder in ``start`` or one of its parents.

    :param start: the folder to start from.
    """
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIR
        if candidate.is_dir():
            return candidate
    return None


def resolve(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> StoreLocation:
    """Apply the four rules and return the store's database file and artifact root.

    :param explicit: a URI or path given by the caller; default ``MLNB_TRACKING_URI``, then the
        nearest ``.mlnb``.
    :param cwd: the folder relative paths start from; default the current one.
    """
    here = (cwd or Path.cwd()).absolute()
    uri = os.fspath(explicit) if explicit is not None else os.environ.get(ENV_VAR) or None
    if uri:
        return from_uri(uri, here)
    found = find_store_dir(here)
    folder = found if found is not None else here / STORE_DIR
    return StoreLocation(folder / "mlnb.db", folder / "artifacts")


def from_uri(uri: str, cwd: Path) -> StoreLocation:
    """The location a folder path, ``.db`` file or ``sqlite:///`` URI names.

    :param uri: the URI or path.
    :param cwd: the folder relative paths start from.
    :raises InvalidParameterError: for a server or cloud URI, which mlnb never uses.
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https", "databricks", "s3", "gs", "wasbs", "postgresql", "mysql"):
        raise InvalidParameterError(
            f"Tracking URI {uri!r}: mlnb keeps runs in a local SQLite store and never sends them "
            "to a server. Give a folder (e.g. '.mlnb') or a database file (e.g. 'sqlite:///mlnb.db')."
        )
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy (and so MLflow) reads them.
        raw = uri.split(":///", 1)[1] if ":///" in uri else parsed.path
        path = Path(unquote(raw))
    elif scheme == "file":
        path = Path(unquote(parsed.path))
    elif scheme and len(scheme) > 1:
        raise InvalidParameterError(f"Tracking URI {uri!r} has an unknown scheme {scheme!r}.")
    else:
        path = Path(uri).expanduser()
    path = path if path.is_absolute() else cwd / path
    if path.suffix.lower() in _DB_SUFFIXES or scheme == "sqlite":
        return StoreLocation(path, path.with_name(path.stem + "-artifacts"))
    return StoreLocation(path / "mlnb.db", path / "artifacts")
