"""Who wrote a store's records: a per-user secret key kept outside every store, and the list of
foreign stores this user chose to trust.

A row of ``mlnb.db`` cannot prove that this user's mlnb wrote it: the file travels with a copied
or cloned store. So every artifact record carries an HMAC-SHA256, under a key only this user can
read, of ``(store id, run id, path, sha256, origin)``. A store made by someone else (another user,
another machine, a repository someone committed ``.mlnb/`` to) has no MAC this key verifies, and
its code-running model files load only with ``trusted=True`` or after ``mlnb trust PATH``.

Both files live in the user's mlnb folder: ``$MLNB_HOME``, else ``$XDG_CONFIG_HOME/mlnb``, else
``~/.config/mlnb``. The folder is 0700 and owned by the user; ``key`` (32 random bytes) and
``trusted_stores.json`` are 0600. Nothing here is ever printed or written into a store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlnb.errors import StoreError
from mlnb.store.artifacts import replace_atomically

HOME_VAR = "MLNB_HOME"
KEY_FILE = "key"
TRUSTED_FILE = "trusted_stores.json"
KEY_BYTES = 32

_lock = threading.Lock()
_keys: dict[Path, bytes] = {}


def mlnb_home() -> Path:
    """The user's private mlnb folder (not created here)."""
    explicit = os.environ.get(HOME_VAR)
    if explicit:
        return Path(explicit).expanduser().absolute()
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return (base / "mlnb").absolute()


def _private_home() -> Path:
    """The mlnb folder, created 0700 if missing; refused if another user owns it."""
    home = mlnb_home()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = home.lstat()
    except OSError as exc:
        raise StoreError(
            f"Cannot create mlnb's private folder {home}: {exc.strerror or exc}. Point "
            f"{HOME_VAR} at a folder only you can write.") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise StoreError(
            f"mlnb's private folder {home} is not a folder you own, so the key that proves which "
            f"models you wrote cannot be kept there. Remove it, or point {HOME_VAR} elsewhere.")
    if info.st_mode & 0o077:
        os.chmod(home, 0o700)  # ours: tighten it rather than keep a key in a folder others read
    return home


def _check_private_file(path: Path) -> None:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise StoreError(
            f"{path} must be a file you own that only you can read (mode 0600); it is not, so "
            "someone else may know or change it. Delete it (mlnb makes a new one; models you "
            "logged before then count as foreign until you run `mlnb trust` on their store).")


def _write_new_private(path: Path, data: bytes) -> bool:
    """Create ``path`` (0600) holding ``data`` whole, unless it exists; True if this call made it.

    The data goes to a private temporary file first and is linked into place, so a concurrent
    reader never sees a partial key and two processes creating it at once agree on one.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def user_key() -> bytes:
    """This user's secret key, created on first use.

    :raises StoreError: when the folder or key is not private to this user, or cannot be made.
    """
    home = mlnb_home()
    with _lock:
        cached = _keys.get(home)
        if cached is not None:
            return cached
        folder = _private_home()
        path = folder / KEY_FILE
        try:
            if not path.exists():
                _write_new_private(path, secrets.token_bytes(KEY_BYTES))
            _check_private_file(path)
            key = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"Cannot read or create mlnb's key {path}: {exc.strerror or exc}.") from exc
        if len(key) != KEY_BYTES:
            raise StoreError(f"mlnb's key {path} is damaged (not {KEY_BYTES} bytes). Delete it.")
        _keys[home] = key
        return key


def artifact_mac(store_id: str, run_id: str, path: str, sha256: str, origin: str) -> str:
    """The hex HMAC of one artifact record under this user's key (JSON: no field can bleed
    into the next).

    :param store_id: the store's random id (``store_meta``).
    :param run_id: the artifact's run.
    :param path: the artifact's path inside the run.
    :param sha256: the file's hash.
    :param origin: ``"model"`` or ``"user"``.
    """
    message = json.dumps([store_id, run_id, path, sha256, origin]).encode()
    return hmac.new(user_key(), message, hashlib.sha256).hexdigest()


def mac_verifies(mac: str | None, store_id: str, run_id: str, path: str, sha256: str,
                 origin: str) -> bool:
    """Whether ``mac`` is this user's MAC of the record (False for none, or a bad key).

    :param mac: the MAC stored with the record, if any.
    :param store_id: the store's random id.
    :param run_id: the artifact's run.
    :param path: the artifact's path inside the run.
    :param sha256: the file's hash.
    :param origin: ``"model"`` or ``"user"``.
    """
    if not mac:
        return False
    try:
        expected = artifact_mac(store_id, run_id, path, sha256, origin)
    except StoreError:
        return False
    return hmac.compare_digest(expected, str(mac))


# --- trusted stores ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustedStore:
    """A foreign store the user trusts: its id and the database file it was trusted at."""

    store_id: str
    db_path: str
    trusted_at: str


def _trusted_path() -> Path:
    return mlnb_home() / TRUSTED_FILE


def trusted_stores() -> list[TrustedStore]:
    """The stores this user trusts (none if the list is missing or not private)."""
    path = _trusted_path()
    try:
        _check_private_file(path)
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, StoreError):
        return []  # a list others could have written grants nothing
    entries = raw.get("stores") if isinstance(raw, dict) else None
    out = []
    for item in entries if isinstance(entries, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("path"), str):
            out.append(TrustedStore(item["id"], item["path"], str(item.get("trusted_at", ""))))
    return out


def is_trusted(store_id: str, db_path: Path) -> bool:
    """Whether the user trusts this store. Both its id and its place must match: an id alone
    is data anyone can copy into a store of their own.

    :param store_id: the store's random id.
    :param db_path: the store's ``mlnb.db``.
    """
    where = str(db_path.resolve())
    return any(t.store_id == store_id and t.db_path == where for t in trusted_stores())


def _save_trusted(entries: list[TrustedStore]) -> None:
    folder = _private_home()
    body: dict[str, Any] = {"stores": [{"id": t.store_id, "path": t.db_path, "trusted_at": t.trusted_at}
                                       for t in entries]}
    replace_atomically(folder / TRUSTED_FILE, json.dumps(body, indent=1).encode())


def add_trusted(store_id: str, db_path: Path) -> TrustedStore:
    """Record that the user trusts the store ``store_id`` at ``db_path``.

    :param store_id: the store's random id (``Store.store_id``).
    :param db_path: its ``mlnb.db``.
    """
    where = str(db_path.resolve())
    with _lock:
        kept = [t for t in trusted_stores() if t.db_path != where]
        entry = TrustedStore(store_id, where, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        _save_trusted([*kept, entry])
    return entry


def remove_trusted(db_path: Path) -> list[TrustedStore]:
    """Forget the trust given to the store at ``db_path``; return the entries removed.

    :param db_path: the store's ``mlnb.db``.
    """
    where = str(db_path.resolve())
    with _lock:
        entries = trusted_stores()
        removed = [t for t in entries if t.db_path == where]
        if removed:
            _save_trusted([t for t in entries if t.db_path != where])
    return removed
