"""``mlnb trust PATH``: trust a store someone else made, ``--list`` and ``--revoke``.

A store copied from another user or machine is foreign: its records are not signed with this
user's key (:mod:`mlnb.store.trust`), so its pickles load only with ``trusted=True``. Trusting
it records its id and place in the user's private list, outside the store.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlnb.cli.table import render
from mlnb.errors import InvalidParameterError
from mlnb.store import Store
from mlnb.store.location import STORE_DIR, StoreLocation, from_uri, names_a_database
from mlnb.store.trust import TRUSTED_FILE, add_trusted, mlnb_home, remove_trusted, trusted_stores
from mlnb.terminal import visible

IMPLIES = (
    "Trusting it means: models in this store load without trusted=True, including pickles and "
    "skops files whose loading runs code chosen by whoever wrote the store, in mlnb.pyfunc."
    "load_model, mlnb.sklearn.load_model, mlnb serve and mlnb predict. mlnb still refuses a "
    "file that changed since the store recorded it, and one copied in with log_artifact(s). "
    "Only trust a store whose author you trust as much as code you would run yourself."
)


def register(subparsers: Any) -> None:
    """Add ``mlnb trust`` to the command line.

    :param subparsers: the sub-command table of the ``mlnb`` parser.
    """
    trust = subparsers.add_parser(
        "trust", help="trust a store made by someone else (its models may run code on load)")
    trust.add_argument("path", nargs="?", metavar="PATH",
                       help="the store: its folder (.mlnb), a folder holding .mlnb, its .db file, or "
                            "a postgresql:// URL")
    trust.add_argument("--list", action="store_true", help="list the stores you trust")
    trust.add_argument("--revoke", action="store_true", help="stop trusting the store at PATH")
    trust.set_defaults(handler=trust_command)


def _candidates(path: str) -> list[StoreLocation]:
    if names_a_database(path):  # a team store: its database is the place trust is bound to
        return [from_uri(path, Path.cwd())]
    given = Path(path).expanduser().absolute()
    first = from_uri(str(given), Path.cwd())
    return [first, StoreLocation(given / STORE_DIR / "mlnb.db", given / STORE_DIR / "artifacts")]


def _existing(path: str) -> StoreLocation:
    for location in _candidates(path):
        if not location.is_sqlite or location.db_path.is_file():
            return location
    raise InvalidParameterError(
        f"There is no mlnb store at {path!r} (no mlnb.db there, nor in {path}/{STORE_DIR}). "
        "Give the store's folder, e.g. `mlnb trust path/to/project/.mlnb`.")


def trust_command(args: argparse.Namespace) -> int:
    """``mlnb trust PATH`` (or ``--list``, ``--revoke``): record, list or forget a trusted store.

    :param args: the parsed command line.
    :returns: the exit status.
    """
    if args.list:
        return _list()
    if not args.path:
        raise InvalidParameterError("Give the PATH of the store to trust (or --list).")
    if args.revoke:
        return _revoke(args.path)
    location = _existing(args.path)
    store = Store(location)
    try:
        signed, total = store.artifact_signature_counts()
        store_id = store.store_id
    finally:
        store.close()
    print(f"Store {visible(location.display)} (id {visible(store_id)})")
    if signed == total:
        print(f"All {total} of its artifact records were written by your own mlnb; it needs no "
              "trust, but it is recorded anyway.")
    else:
        print(f"{total - signed} of its {total} artifact records were not written by your mlnb "
              "(they are not signed with your key): someone else made them.")
    print(IMPLIES)
    add_trusted(store_id, location.db_path)
    print(f"Trusted. Recorded in {mlnb_home() / TRUSTED_FILE} for the store at "
          f"{visible(location.display)}: "
          "moved elsewhere, it is foreign again. Undo with `mlnb trust --revoke "
          f"{args.path}`.")
    return 0


def _list() -> int:
    entries = trusted_stores()
    if not entries:
        print("You trust no foreign store.")
        return 0
    rows = [(t.db_path, t.store_id, t.trusted_at, "" if Path(t.db_path).is_file() else "missing")
            for t in entries]
    print(render(["store", "id", "trusted at", "note"], rows, max_width=80))
    return 0


def _revoke(path: str) -> int:
    removed = []
    for location in _candidates(path):
        removed += remove_trusted(location.db_path)
    if not removed:
        raise InvalidParameterError(
            f"You do not trust a store at {path!r}; `mlnb trust --list` shows the ones you do.")
    print(f"No longer trusted: {visible(removed[0].db_path)}. Its models that run code need "
          "trusted=True again.")
    return 0
