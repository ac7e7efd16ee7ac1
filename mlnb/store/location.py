"""Where the store lives, found with no configuration (architecture.md, "Where the data lives").

1. an explicit ``set_tracking_uri(...)`` wins;
2. else ``MLNB_TRACKING_URI``, else MLflow's ``MLFLOW_TRACKING_URI`` when it names a folder or a
   SQLite file (an MLflow tracking server or Databricks there is an error, never ignored);
3. else the nearest ``.mlnb/`` folder walking up from the current directory (as git finds .git);
4. else ``.mlnb/`` is created in the current directory.

A store found by rules 3 and 4 must be private to this user, as git requires of a repository
since its ``safe.directory`` fix: a ``.mlnb/`` (or its ``mlnb.db``) owned by another user or
writable by group or others is refused with :class:`~mlnb.errors.UnsafeStoreError`, since whoever
controls it would see every run (cell sources, git diffs) and could plant the models loaded from
it. The walk also stops below a world-writable sticky folder such as ``/tmp``: a ``.mlnb/`` there
or above is anyone's, so rule 4 applies instead. A store named explicitly (rules 1 and 2) is the
user's choice and is used, with a :class:`~mlnb.errors.StorePrivacyWarning` when it is not private.

A tracking URI may name a folder (``.mlnb``, ``/data/store``, ``file:///data/store``) holding
``mlnb.db`` and ``artifacts/``, or a database file (``sqlite:///runs.db``, ``runs.db``) whose
artifacts go to ``runs-artifacts/`` beside it.

``MLNB_ARTIFACT_URI`` moves a store's artifacts elsewhere: ``file:///path`` (or a path) to another
folder, ``s3://bucket/prefix`` to S3-compatible object storage (:mod:`mlnb.store.object_store`),
whose files are then downloaded, hash-checked, into a private local cache beside the database.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlnb.errors import (
    ForeignStoreError,
    InvalidParameterError,
    StorePrivacyWarning,
    UnsafeStoreError,
)
from mlnb.store.artifacts import safe_relpath

STORE_DIR = ".mlnb"
ENV_VAR = "MLNB_TRACKING_URI"
ARTIFACT_ENV_VAR = "MLNB_ARTIFACT_URI"
CACHE_SUFFIX = "-cache"
MLFLOW_ENV_VAR = "MLFLOW_TRACKING_URI"
_SERVER_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc", "s3", "gs", "wasbs",
                   "mysql", "mssql", "mlflow-artifacts")
#: The team store's database: PostgreSQL (issue "The team store").
DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")

MLFLOW_DATA_HINT = (
    "mlnb keeps runs in its own local store and cannot log into MLflow's. Unset "
    f"{MLFLOW_ENV_VAR}, or set {ENV_VAR} (which wins over it) to an mlnb store: a folder such as "
    "'.mlnb' or a new database file such as 'sqlite:///mlnb.db'. To keep logging there, run the "
    "script with MLflow itself."
)
"""What mlnb can do when pointed at MLflow's data (a server, Databricks or an MLflow database)."""


def refuse_mlflow_file_store(location: StoreLocation) -> None:
    """Refuse a store folder that is MLflow's file store (``mlruns/``: ``0/meta.yaml``,
    ``.trash``), before mlnb creates its database inside it.

    :param location: the store's location.
    :raises ForeignStoreError: when the folder is MLflow's.
    """
    folder = location.db_path.parent
    if location.db_path.exists() or location.uri != str(folder):
        return
    if (folder / "0" / "meta.yaml").is_file() or (folder / ".trash").is_dir():
        raise ForeignStoreError(
            f"{folder} is an MLflow file store (mlruns), not an mlnb store; mlnb left it "
            f"untouched. {MLFLOW_DATA_HINT}")


def names_a_server(uri: str) -> bool:
    """Whether a tracking URI names a server or remote database rather than a local path
    (``http(s)://``, ``databricks`` alone or with a profile, ``postgresql://``...).

    :param uri: the tracking URI.
    """
    scheme = urlparse(uri).scheme.lower()
    bare = uri.strip().lower()
    return (scheme in _SERVER_SCHEMES or scheme.startswith(("databricks", "mysql"))
            or bare in ("databricks", "databricks-uc", "uc"))


def names_a_database(uri: str) -> bool:
    """Whether a tracking URI names a PostgreSQL database (the team store).

    :param uri: the tracking URI.
    """
    return urlparse(uri.strip()).scheme.lower() in DATABASE_SCHEMES


def env_uri() -> str | None:
    """The store the environment names: ``MLNB_TRACKING_URI``, else ``MLFLOW_TRACKING_URI``
    (MLflow's variable, honoured so that an MLflow script run against mlnb logs where it says),
    else None.

    :raises InvalidParameterError: when only ``MLFLOW_TRACKING_URI`` is set and names a tracking
        server, Databricks or a database mlnb cannot use: never a silent fallback to ``.mlnb``.
    """
    ours = os.environ.get(ENV_VAR)
    if ours:
        return ours
    theirs = os.environ.get(MLFLOW_ENV_VAR)
    if not theirs:
        return None
    if names_a_server(theirs):
        raise InvalidParameterError(
            f"{MLFLOW_ENV_VAR} is {theirs!r}, an MLflow tracking server or database: "
            f"{MLFLOW_DATA_HINT}")
    return theirs
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: its database (an SQLite file, or a PostgreSQL URL) and its artifact
    root."""
    #: the SQLite file; for a PostgreSQL store, the local folder of its own files (a
    #: per-database cache beside the user's other mlnb files), never a database
    db_path: Path
    artifact_root: Path
    #: found or created by walking up from the current folder (rules 3 and 4), not named by the
    #: user: it must be private, and the store checks it again once the folder exists.
    discovered: bool = False
    #: ``postgresql://...`` for the team store (a password in it is never shown: :attr:`display`)
    database_url: str | None = field(default=None, repr=False)
    #: ``s3://bucket/prefix`` when the artifacts are in object storage (``MLNB_ARTIFACT_URI``);
    #: ``artifact_root`` is then the private local cache of the files downloaded from there.
    artifact_url: str | None = None

    @property
    def uri(self) -> str:
        """The store as a folder path (the usual layout), else as a ``sqlite:///`` URI, or the
        PostgreSQL URL (with its password, if it has one: for child processes, never to show)."""
        if self.database_url:
            return self.database_url
        if self.artifact_root in (self.db_path.parent / "artifacts",
                                  self.db_path.parent / f"artifacts{CACHE_SUFFIX}"):
            return str(self.db_path.parent)
        return f"sqlite:///{self.db_path}"

    @property
    def display(self) -> str:
        """The store as :attr:`uri` names it, with any password masked: for every message."""
        return mask_password(self.uri)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an SQLite file (else PostgreSQL)."""
        return self.database_url is None

    @property
    def key(self) -> str:
        """What tells stores apart in a process (the database, never its password)."""
        return self.display if self.database_url else str(self.db_path)


def find_store_dir(start: Path) -> Path | None:
    """The nearest ``.mlnb`` folder in ``start`` or one of its parents, below the first
    world-writable sticky folder (``/tmp``): any user can create a ``.mlnb`` there.

    :param start: the folder to start from.
    """
    for folder in (start, *start.parents):
        if is_shared_sticky(folder):
            return None
        candidate = folder / STORE_DIR
        if candidate.is_dir():
            return candidate
    return None


def is_shared_sticky(folder: Path) -> bool:
    """True for a folder every user may create entries in, kept apart only by its sticky bit.

    :param folder: the folder to look at.
    """
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(mode & stat.S_ISVTX) and bool(mode & stat.S_IWOTH)


def resolve(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> StoreLocation:
    """Apply the four rules and return the store's database file and artifact root.

    :param explicit: a tracking URI given by the caller (``set_tracking_uri``); else
        ``MLNB_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``: :func:`env_uri`); else the store is
        found or created from ``cwd``.
    :param cwd: the folder to start from (default: the current directory).
    :raises UnsafeStoreError: when the store found from ``cwd`` is not private to this user.
    """
    here = (cwd or Path.cwd()).absolute()
    uri = os.fspath(explicit) if explicit is not None else env_uri()
    if uri:
        return with_artifact_uri(from_uri(uri, here), os.environ.get(ARTIFACT_ENV_VAR), here)
    found = find_store_dir(here)
    # Rule 4 (create ./.mlnb) may meet a .mlnb the walk skipped (cwd is /tmp): checked alike.
    folder = found if found is not None else here / STORE_DIR
    location = StoreLocation(folder / "mlnb.db", folder / "artifacts", discovered=True)
    location = with_artifact_uri(location, os.environ.get(ARTIFACT_ENV_VAR), here)
    check_discovered(location)
    return location


def with_artifact_uri(location: StoreLocation, artifact_uri: str | None, cwd: Path
                      ) -> StoreLocation:
    """``location`` with its artifacts where ``artifact_uri`` (``MLNB_ARTIFACT_URI``) says.

    A ``file://`` URI or a path becomes the artifact root; an ``s3://bucket/prefix`` URI becomes
    ``artifact_url``, with the root's name plus ``-cache`` (``.mlnb/artifacts-cache``) as the
    private local cache of the files read from there.

    :param location: the store's location with its default artifact root.
    :param artifact_uri: the URI, or None/empty to keep the default.
    :param cwd: the folder a relative path starts from.
    :raises InvalidParameterError: for a URI mlnb cannot store artifacts at.
    """
    if not artifact_uri:
        return location
    url = parse_artifact_uri(artifact_uri)
    if url is None:
        return replace(location, artifact_root=_local_artifact_root(artifact_uri, cwd))
    cache = location.artifact_root.with_name(location.artifact_root.name + CACHE_SUFFIX)
    return replace(location, artifact_root=cache, artifact_url=url)


# S3's bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens, starting and
# ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")


def parse_artifact_uri(uri: str) -> str | None:
    """The normalised ``s3://bucket/prefix`` an artifact URI names, or None for a local one.

    :param uri: ``s3://bucket[/prefix]``, ``file:///path`` or a path.
    :raises InvalidParameterError: for another scheme, or an S3 URI without a valid bucket, with
        credentials in it, or with a query, fragment or unsafe prefix. The message never repeats
        a URI that holds credentials.
    """
    parsed = urlparse(uri.strip())
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        return None
    if scheme != "s3":
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} {uri!r} has the scheme {scheme!r}; mlnb stores artifacts in a "
            "folder (file:///path) or in S3-compatible object storage (s3://bucket/prefix).")
    if "@" in parsed.netloc:
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} holds credentials in its s3:// URI; remove them (the URI is not "
            "shown here for that reason) and give them as AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, an AWS profile or any other source of AWS's credential chain.")
    bucket = parsed.netloc
    if not bucket:
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} {uri!r} names no bucket; write s3://<bucket>/<prefix>, e.g. "
            "s3://team-mlnb/artifacts.")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} {uri!r}: {bucket!r} is not a valid S3 bucket name (3-63 "
            "lowercase letters, digits, dots and hyphens, starting and ending with a letter or "
            "digit).")
    if parsed.query or parsed.fragment or parsed.params:
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} {uri!r} has a query or fragment; write s3://<bucket>/<prefix>.")
    prefix = _checked_prefix(uri, parsed.path)
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _checked_prefix(uri: str, path: str) -> str:
    # The same rules as an artifact path: a prefix with '..' or control characters could make
    # two stores' keys meet, or name keys no listing shows.
    try:
        return safe_relpath(path.strip("/"), allow_empty=True)
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            f"{ARTIFACT_ENV_VAR} {uri!r} has a prefix mlnb refuses: {exc.message}") from None


def _local_artifact_root(uri: str, cwd: Path) -> Path:
    parsed = urlparse(uri)
    path = Path(unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(uri).expanduser()
    return path if path.is_absolute() else cwd / path


def check_discovered(location: StoreLocation) -> None:
    """Refuse a found store (folder, database or artifact root) that is not private to this user.

    :param location: a location from rules 3 or 4; parts that do not exist yet are not checked.
    :raises UnsafeStoreError: naming the path, its owner and what to do.
    """
    folder = location.db_path.parent
    for path in (folder, location.db_path, location.artifact_root):
        problem = _link_problem(path) or privacy_problem(path)
        if problem:
            raise UnsafeStoreError(
                f"mlnb will not use the store {folder} that it found above the current folder: "
                f"{path} is {problem}. Whoever controls it would see your runs (cell sources, "
                "params, git diffs) and could plant the models you load from it. Point mlnb at a "
                "store of your own (MLNB_TRACKING_URI, mlnb.set_tracking_uri(...), %mlnb store or "
                f"--store), or, if this store is yours, make it private: {_remedy(path)}"
            )


def claim_discovered(location: StoreLocation) -> None:
    """Create a found store's folder now, private (0700), and check it: for a process (the
    Jupyter server) that hands the store to others as an explicit URI, which they then no longer
    check as a found one. An existing folder is checked as :func:`check_discovered` does.

    :param location: a location from rules 3 or 4.
    :raises UnsafeStoreError: when the store found is not private to this user.
    """
    folder = location.db_path.parent
    if location.artifact_root.parent == folder:  # a store folder (.mlnb), not a lone .db file
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # someone's: checked below
        except OSError:
            pass  # cannot create it here: the store's own open reports that
    check_discovered(location)


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link at ``path`` is not the user's own: whoever owns a link can re-point it
    at any time, so the folder it names today says nothing about tomorrow's."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        st = path.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode) and st.st_uid != os.geteuid():
        return f"a symbolic link owned by {_user_name(st.st_uid)}, not by you"
    return None


def warn_if_not_private(location: StoreLocation) -> None:
    """Warn when an explicitly named store is not private to this user (it is still used).

    :param location: a location named by the user (set_tracking_uri, ``MLNB_TRACKING_URI``).
    """
    parts = [location.db_path, location.artifact_root]
    if location.artifact_root == location.db_path.parent / "artifacts":
        parts.insert(0, location.db_path.parent)  # a store folder: the folder is the store's too
    for path in parts:
        problem = privacy_problem(path)
        if problem:
            warnings.warn(
                f"The mlnb store {location.uri} is not private: {path} is {problem}. Others can "
                f"read or change what you log there and the models you load from it; "
                f"{_remedy(path)}",
                StorePrivacyWarning, stacklevel=2,
            )
            return


def privacy_problem(path: Path) -> str | None:
    """Why ``path`` is not private to the current user (another owner, or writable by group or
    others), or None when it is private or does not exist (or the platform has no owners).

    :param path: a store folder or file.
    """
    if not hasattr(os, "geteuid"):
        return None  # Windows: no POSIX owners or modes to check
    try:
        st = path.stat()
    except OSError:
        return None
    problems = []
    if st.st_uid != os.geteuid():
        problems.append(f"owned by {_user_name(st.st_uid)}, not by you ({_user_name(os.geteuid())})")
    writers = [who for who, bit in (("group", stat.S_IWGRP), ("others", stat.S_IWOTH))
               if st.st_mode & bit]
    if writers:
        problems.append(f"writable by {' and '.join(writers)}")
    return " and ".join(problems) or None


def _remedy(path: Path) -> str:
    return f"chown -R {_login(os.geteuid())} {path} && chmod -R go-w {path}"


def _user_name(uid: int) -> str:
    login = _login(uid)
    return f"{login} (uid {uid})" if login != str(uid) else f"uid {uid}"


def _login(uid: int) -> str:
    try:
        import pwd  # pwd (Unix only): loaded on first use, not by import mlnb

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def from_uri(uri: str, cwd: Path) -> StoreLocation:
    """The location a folder path, ``.db`` file or ``sqlite:///`` URI names.

    :param uri: the URI or path.
    :param cwd: the folder relative paths start from.
    :raises InvalidParameterError: for a server or cloud URI, which mlnb never uses.
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if names_a_database(uri):
        return database_location(uri)
    if names_a_server(uri):
        raise InvalidParameterError(
            f"Tracking URI {mask_password(uri)!r}: mlnb keeps runs in a local SQLite store or a "
            "PostgreSQL database and never sends them to a server. Give a folder (e.g. '.mlnb'), "
            "a database file (e.g. 'sqlite:///mlnb.db') or 'postgresql://user@host:5432/dbname'."
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


def mask_password(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part replaced by ``***``.

    :param uri: a tracking URI of any kind; one without a password is returned as it is.
    """
    parsed = urlparse(uri)
    if not parsed.scheme or parsed.password is None:
        return uri
    user = parsed.username or ""
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{user}:***@{host}").geturl()


def database_location(url: str) -> StoreLocation:
    """The location of a PostgreSQL store: its URL, and a local folder of its own under the
    user's mlnb home for the files a store keeps beside its database (downloads, exported
    projects). Where its artifacts live is the database's to say (:mod:`mlnb.store.pg`).

    :param url: ``postgresql://[user[:password]@]host[:port]/dbname[?options]``.
    :raises InvalidParameterError: for a URL without a database name.
    """
    clean = url.strip()
    scheme, _, rest = clean.partition("://")
    if "+" in scheme:  # SQLAlchemy's driver suffix (MLflow's URIs): libpq takes the plain scheme
        clean = "postgresql://" + rest
    parsed = urlparse(clean)
    if not parsed.path.strip("/"):
        raise InvalidParameterError(
            f"Tracking URI {mask_password(url)!r} names no database: add its name, e.g. "
            "'postgresql://user@host:5432/mlnb'.")
    shown = mask_password(clean)
    from mlnb.store.trust import mlnb_home  # trust imports this module's neighbours: no cycle

    local = mlnb_home() / "team" / hashlib.sha256(shown.encode()).hexdigest()[:16]
    return StoreLocation(local / "store", local / "artifacts", database_url=clean)
