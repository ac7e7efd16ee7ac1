"""``mlnb db upgrade`` and ``mlnb db compact``: the store's schema and its file.

A store is upgraded whenever mlnb opens it; ``mlnb db upgrade`` does it on purpose (before a
team starts using a new mlnb, say) and prints which migrations the store has. ``mlnb db compact``
gives the file back the space of what was deleted or moved (the old metric table after an
upgrade from mlnb 0.1).
"""

from __future__ import annotations

import argparse
from typing import Any

from mlnb.errors import InvalidParameterError
from mlnb.store.access import LEVELS, set_access
from mlnb.store.location import resolve
from mlnb.tracking import fluent
from mlnb.tracking.client import current_store
from mlnb.tracking.state import explicit_uri


def register(subparsers: Any) -> None:
    """Add ``mlnb db ...`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    db = subparsers.add_parser("db", help="upgrade or compact the store's database, grant access")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, text in (
        ("upgrade", upgrade_command, "apply the schema migrations this mlnb has (done on open, too)"),
        ("compact", compact_command, "rewrite the database file without its free space"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("uri", nargs="?", metavar="URI",
                            help="the store (a folder, sqlite:/// URI or postgresql:// URL); default "
                                 "the current one")
        action.set_defaults(handler=handler)
    grant = actions.add_parser(
        "grant", help="give a PostgreSQL role read or write access to the store, or take it back",
        description="Run as the store's owner (or a superuser). A reader may search and load "
                    "everything; a writer may also log runs and change the registry; neither may "
                    "alter or drop tables. The level given replaces what the role had.")
    level = grant.add_mutually_exclusive_group(required=True)
    level.add_argument("--reader", metavar="ROLE", help="SELECT on every table of the store")
    level.add_argument("--writer", metavar="ROLE",
                       help="SELECT, INSERT, UPDATE, DELETE on the store's tables, USAGE on its "
                            "sequences")
    level.add_argument("--revoke", metavar="ROLE", help="take every right on the store back")
    grant.add_argument("uri", nargs="?", metavar="URI",
                       help="the store's postgresql:// URL; default the current store")
    grant.set_defaults(handler=grant_command)


def _store(args: argparse.Namespace) -> Any:
    if args.uri:
        fluent.set_tracking_uri(args.uri)
    location = resolve(explicit_uri())
    if location.is_sqlite and not location.db_path.exists():  # never make a new store only to
        # upgrade or compact it (a PostgreSQL database exists before mlnb makes its tables)
        raise InvalidParameterError(
            f"There is no mlnb store at {location.db_path}. Give the store's folder or "
            "sqlite:/// URI (mlnb db upgrade path/to/.mlnb).")
    return current_store()


def upgrade_command(args: argparse.Namespace) -> int:
    """``mlnb db upgrade [URI]``: open the store (which applies any migration) and list them.

    :param args: the parsed command line.
    """
    store = _store(args)
    applied = store.applied_migrations()
    print(f"{store.location.display}: schema up to date ({len(applied)} migrations, the last "
          f"{applied[-1] if applied else 'none'})")
    return 0


def compact_command(args: argparse.Namespace) -> int:
    """``mlnb db compact [URI]``: VACUUM the store's database, with its size before and after.

    :param args: the parsed command line.
    """
    store = _store(args)
    print(f"Compacting {store.location.display} (other writers wait until it is done)...",
          flush=True)
    before, after = store.compact()
    print(f"Done: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB.")
    return 0


def grant_command(args: argparse.Namespace) -> int:
    """``mlnb db grant --reader|--writer|--revoke ROLE [URI]``: set what a role may do.

    :param args: the parsed command line.
    """
    level, role = next((name, getattr(args, name)) for name in LEVELS if getattr(args, name))
    store = _store(args)
    shown = store.location.display
    tables = set_access(store.cx, shown, role, level)
    if level == "revoke":
        print(f"Role {role!r} has no access to {shown} any more.")
    elif level == "reader":
        print(f"Role {role!r} may now read {shown} ({tables} tables, and those later "
              "migrations add); it may not change it.")
    else:
        print(f"Role {role!r} may now read and write {shown} ({tables} tables, and those later "
              "migrations add); it may not alter or drop them, nor grant access.")
    return 0
