"""Who may do what to a store: PostgreSQL's roles are the team store's access control.

``mlnb db grant --reader ROLE`` / ``--writer ROLE`` / ``--revoke ROLE`` (:func:`set_access`) grant
a role exactly one level on the store's tables and sequences, for the tables there are now and,
through default privileges, for those later migrations add:

* reader: ``SELECT`` on every table;
* writer: a reader's rights, plus ``INSERT``/``UPDATE``/``DELETE`` on every table but the two
  that say what the store is (``store_meta``: its id and artifact root; ``mlnb_migrations``)
  and ``USAGE`` on the sequences.

Neither may ``ALTER`` or ``DROP`` anything: that stays with the tables' owner, who (or a
superuser) is the only one who may grant. An SQLite store has no roles: its file's permissions
are its access control.

:class:`AccessQueries` tells the code above whether the current user may write
(:meth:`AccessQueries.can_write`, cheap: the answer is kept for :data:`CAN_WRITE_TTL_S`), and
which database role it acts as, recorded on runs and registry events (who did what).
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from mlnb.errors import InvalidParameterError, NotFoundError, ReadOnlyStoreError, StoreError
from mlnb.store.dialect import StoreConnection, Writer

if TYPE_CHECKING:
    from mlnb.store.location import StoreLocation

#: How long a :meth:`AccessQueries.can_write` answer is reused: an owner's grant or revoke
#: reaches a long-running process (the Jupyter server) within this time.
CAN_WRITE_TTL_S = 10.0
#: The run tag that records the database role a run was created by (PostgreSQL stores only).
DB_USER_TAG = "mlnb.db_user"
LEVELS = ("reader", "writer", "revoke")
#: Tables a writer may read but not change: what the store is, not what it holds.
STORE_IDENTITY_TABLES = ("store_meta", "mlnb_migrations")
# A role name as mlnb accepts it: PostgreSQL's usual names, plus the '.', '@' and '-' of logins
# such as alice@corp or ci-bot. Anything else (quotes, spaces, '?' or '%', which the store's
# statement rewriting gives a meaning) is refused, and every name is quoted as an identifier too.
_ROLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@$-]{0,62}", re.ASCII)


def quote_ident(name: str, what: str = "role") -> str:
    """``name`` as a quoted SQL identifier, after a strict check of its characters.

    :param name: a role or schema name.
    :param what: what the name is, for the error.
    :raises InvalidParameterError: when it has characters mlnb does not accept in a name.
    """
    if not isinstance(name, str) or not _ROLE_NAME.fullmatch(name):
        raise InvalidParameterError(
            f"{name!r} is not a {what} name mlnb accepts: use up to 63 letters, digits and "
            "_ . @ $ - (starting with a letter, digit or _).")
    return '"' + name.replace('"', '""') + '"'


class AccessQueries:
    """Whether this user may write the store, and as which database role. Mixed into
    :class:`mlnb.store.Store`."""

    cx: StoreConnection
    location: StoreLocation
    _write_answer: tuple[float, bool] | None = None
    _role: str | None = None

    def can_write(self) -> bool:
        """Whether the current user may change the store: on PostgreSQL, whether its role may
        ``INSERT`` into ``runs``; on SQLite, whether the database file and its folder are
        writable. Asked again at most every :data:`CAN_WRITE_TTL_S` seconds."""
        now = time.monotonic()
        cached = self._write_answer
        if cached is not None and now - cached[0] < CAN_WRITE_TTL_S:
            return cached[1]
        if self.cx.dialect.is_sqlite:
            path = self.location.db_path
            answer = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        else:
            answer = bool(self.cx.query("SELECT has_table_privilege('runs', 'INSERT')")[0][0])
        self._write_answer = (now, answer)
        return answer

    def read_only_reason(self) -> str | None:
        """Why the current user may not change the store (one sentence naming what to do), or
        None when it may."""
        if self.can_write():
            return None
        if self.cx.dialect.is_sqlite:
            return (f"The store {self.location.display} is read-only for you: its file "
                    f"{self.location.db_path} is not writable by this user.")
        return (f"Your database role {self.db_role()!r} may read but not change the store "
                f"{self.location.display}. Its owner grants write access with: "
                f"mlnb db grant --writer {self.db_role()}")

    def require_writable(self) -> None:
        """Refuse, before anything is written, a change to a store this user may only read.

        :raises ReadOnlyStoreError: with :meth:`read_only_reason` as the message.
        """
        reason = self.read_only_reason()
        if reason is not None:
            raise ReadOnlyStoreError(reason)

    def db_role(self) -> str | None:
        """The PostgreSQL role this store's connection acts as (``current_user``), or None on
        SQLite, which has no roles."""
        if self.cx.dialect.is_sqlite:
            return None
        if self._role is None:
            self._role = str(self.cx.query("SELECT current_user")[0][0])
        return self._role

    def attributed(self, user_id: str) -> str:
        """Who made a change, for the registry history: ``user_id`` (the login or Jupyter user
        the caller names), with the database role the change was made as on PostgreSQL, where
        the login could be anything: ``"alice (mlnb_writer)"``.

        :param user_id: who the caller says made the change.
        """
        role = self.db_role()
        if role is None or role == user_id:
            return user_id
        return f"{user_id} ({role})" if user_id else role


def set_access(cx: StoreConnection, shown: str, role: str, level: str) -> int:
    """Give ``role`` exactly ``level`` on the store: ``reader``, ``writer``, or ``revoke`` (no
    access); what it had before is revoked in the same transaction. Returns how many tables the
    grant covers.

    :param cx: the store's connection (PostgreSQL), as its owner or a superuser.
    :param shown: the store, password masked, for messages.
    :param role: an existing database role.
    :param level: ``reader``, ``writer`` or ``revoke``.
    :raises InvalidParameterError: for a bad level or role name, or the owner's own role.
    :raises NotFoundError: when there is no such role.
    :raises StoreError: when the caller may not grant (not the owner, not a superuser).
    """
    if level not in LEVELS:
        raise InvalidParameterError(f"Access level must be one of {LEVELS}, not {level!r}.")
    if cx.dialect.is_sqlite:
        raise StoreError(
            f"{shown} is an SQLite store: it has no database roles. Its file's permissions are "
            "its access control (chmod / chgrp its folder); mlnb db grant is for a PostgreSQL "
            "store.")
    quoted = quote_ident(role)
    with cx.write(serial=True) as tx:  # one grant at a time: concurrent GRANTs can conflict
        schema, owner, tables = _store_facts(tx, shown)
        _check_grantor(tx, shown, owner)
        if not tx.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", [role]).fetchall():
            raise NotFoundError(
                f"There is no database role {role!r}; create it first (as an administrator: "
                f"CREATE ROLE {quoted} LOGIN PASSWORD '...'), then grant it access.")
        if role == owner:
            raise InvalidParameterError(
                f"{role!r} owns the store {shown}: it may do everything already, and its rights "
                "cannot be narrowed by mlnb db grant.")
        for statement in _statements(quote_ident(schema, "schema"), quote_ident(owner),
                                     quoted, level):
            tx.execute(statement)
    return tables


def _store_facts(tx: Writer, shown: str) -> tuple[str, str, int]:
    """``(schema, owner of the runs table, number of tables)`` of the store."""
    rows = tx.execute(
        "SELECT t.schemaname, t.tableowner, (SELECT count(*) FROM pg_tables a "
        "WHERE a.schemaname = t.schemaname) FROM pg_tables t "
        "WHERE t.schemaname = current_schema() AND t.tablename = 'runs'").fetchall()
    if not rows:
        raise StoreError(f"{shown} has no mlnb tables in its schema; open it once as its owner "
                         "(mlnb db upgrade URI) before granting access.")
    return str(rows[0][0]), str(rows[0][1]), int(rows[0][2])


def _check_grantor(tx: Writer, shown: str, owner: str) -> None:
    """Refuse a caller who is neither the tables' owner (or a member of it) nor a superuser:
    PostgreSQL would only warn ("no privileges were granted") and grant nothing."""
    me, allowed = tx.execute(
        "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        "OR pg_has_role(current_user, ?, 'MEMBER')", [owner]).fetchall()[0]
    if not allowed:
        raise StoreError(
            f"Your database role {me!r} may not grant access to the store {shown}: only its "
            f"owner ({owner!r}) or a superuser can. Run mlnb db grant with the owner's URL.")


def _statements(schema: str, owner: str, role: str, level: str) -> list[str]:
    """The REVOKE and GRANT statements that leave ``role`` with exactly ``level`` (all names
    already quoted)."""
    defaults = f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}"
    out = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
        f"{defaults} REVOKE ALL ON TABLES FROM {role}",
        f"{defaults} REVOKE ALL ON SEQUENCES FROM {role}",
    ]
    if level == "revoke":
        return out
    out += [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"{defaults} GRANT SELECT ON TABLES TO {role}",
    ]
    if level == "writer":
        identity = ", ".join(f"{schema}.{quote_ident(t, 'table')}" for t in STORE_IDENTITY_TABLES)
        out += [
            f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            f"REVOKE INSERT, UPDATE, DELETE ON {identity} FROM {role}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            f"{defaults} GRANT INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"{defaults} GRANT USAGE ON SEQUENCES TO {role}",
        ]
    return out
