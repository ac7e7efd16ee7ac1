"""Saved views of the Experiments workspace (migration ``0014_saved_views``).

A view is a named state of the workspace for one experiment: its columns, filter, sort,
grouping and charts. The store keeps the state as JSON text and checks only that it is a JSON
object of bounded size; its fields are the workspace's to read (labextension/src/workspace/
viewState.ts), which ignores what it does not know and so reads views saved by other versions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from mlnb.store.dialect import StoreConnection
from mlnb.store.sql import now_ms

SAVED_VIEWS_SQL = """
CREATE TABLE saved_views (
    view_id {T} PRIMARY KEY,
    experiment_id {I} NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
    name {T} NOT NULL,
    state {T} NOT NULL,
    created_by {T} NOT NULL DEFAULT '',
    creation_time {I} NOT NULL,
    last_update_time {I} NOT NULL,
    UNIQUE (experiment_id, name)
)
"""

MAX_VIEW_NAME = 200
MAX_VIEW_STATE = 1_000_000  # characters of JSON
MAX_VIEWS_LISTED = 1_000
_COLUMNS = "view_id, experiment_id, name, state, created_by, creation_time, last_update_time"


@dataclass(frozen=True)
class SavedView:
    """One saved view: its id, experiment, name, state (a JSON object), who saved it and when."""

    view_id: str
    experiment_id: str
    name: str
    state: dict[str, Any]
    created_by: str
    creation_time: int
    last_update_time: int


def check_view_name(name: Any) -> str:
    """A view's name: non-empty text of at most :data:`MAX_VIEW_NAME` characters, trimmed.

    :param name: the name as given.
    :raises InvalidParameterError: otherwise.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError("A saved view needs a name (non-empty text).")
    trimmed: str = name.strip()
    if len(trimmed) > MAX_VIEW_NAME:
        raise InvalidParameterError(
            f"A saved view's name is at most {MAX_VIEW_NAME} characters, not {len(trimmed)}.")
    return trimmed


def check_view_state(state: Any) -> str:
    """A view's state as the JSON text stored: a JSON object of at most :data:`MAX_VIEW_STATE`
    characters.

    :param state: the state as given (a dict).
    :raises InvalidParameterError: otherwise.
    """
    if not isinstance(state, dict):
        raise InvalidParameterError(
            f"A saved view's state must be a JSON object, not {type(state).__name__}.")
    try:
        text = json.dumps(state, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"A saved view's state is not JSON data: {exc}.") from None
    if len(text) > MAX_VIEW_STATE:
        raise InvalidParameterError(
            f"A saved view's state is {len(text)} characters of JSON; the most is {MAX_VIEW_STATE}.")
    return text


def _experiment_int(experiment_id: str | int) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"An experiment id is an integer, not {str(experiment_id)[:40]!r}.") from None


class SavedViewQueries:
    """The saved views' SQL. Mixed into :class:`mlnb.store.Store`."""

    cx: StoreConnection

    def list_saved_views(self, experiment_id: str | int) -> list[SavedView]:
        """The saved views of an experiment, by name.

        :param experiment_id: the experiment.
        """
        rows = self.cx.query(
            f"SELECT {_COLUMNS} FROM saved_views WHERE experiment_id = ? ORDER BY name LIMIT ?",
            [_experiment_int(experiment_id), MAX_VIEWS_LISTED])
        return [_view(row) for row in rows]

    def get_saved_view(self, view_id: str) -> SavedView:
        """One saved view.

        :param view_id: its id.
        :raises NotFoundError: when there is none.
        """
        rows = self.cx.query(f"SELECT {_COLUMNS} FROM saved_views WHERE view_id = ?", [view_id])
        if not rows:
            raise NotFoundError(f"No saved view with id {view_id[:64]!r}.")
        return _view(rows[0])

    def create_saved_view(self, experiment_id: str | int, name: Any, state: Any,
                          created_by: str = "") -> SavedView:
        """Save a new view of an experiment.

        :param experiment_id: the experiment (must exist).
        :param name: the view's name, unique in the experiment.
        :param state: the workspace state (a JSON object).
        :param created_by: who saved it.
        :raises NotFoundError: for an unknown experiment.
        :raises AlreadyExistsError: when the experiment has a view of that name.
        :raises InvalidParameterError: for a bad name or state.
        """
        exp = _experiment_int(experiment_id)
        name, text = check_view_name(name), check_view_state(state)
        view_id = uuid.uuid4().hex
        now = now_ms()
        with self.cx.write() as tx:
            if not tx.execute("SELECT 1 FROM experiments WHERE experiment_id = ?",
                              [exp]).fetchall():
                raise NotFoundError(f"No experiment with id {experiment_id!r}.")
            if tx.execute("SELECT 1 FROM saved_views WHERE experiment_id = ? AND name = ?",
                          [exp, name]).fetchall():
                raise AlreadyExistsError(
                    f"Experiment {experiment_id} already has a saved view named {name[:80]!r}.")
            tx.execute(f"INSERT INTO saved_views ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [view_id, exp, name, text, created_by, now, now])
        return self.get_saved_view(view_id)

    def update_saved_view(self, view_id: str, name: Any = None, state: Any = None) -> SavedView:
        """Rename a view, replace its state, or both.

        :param view_id: the view.
        :param name: its new name; None keeps it.
        :param state: its new state; None keeps it.
        :raises NotFoundError: for an unknown view.
        :raises AlreadyExistsError: when another view of the experiment has the new name.
        :raises InvalidParameterError: when neither is given, or for a bad one.
        """
        if name is None and state is None:
            raise InvalidParameterError("Give a new name or state for the saved view.")
        new_name = None if name is None else check_view_name(name)
        text = None if state is None else check_view_state(state)
        with self.cx.write() as tx:
            found = tx.execute("SELECT experiment_id FROM saved_views WHERE view_id = ?",
                               [view_id]).fetchall()
            if not found:
                raise NotFoundError(f"No saved view with id {view_id[:64]!r}.")
            if new_name is not None and tx.execute(
                    "SELECT 1 FROM saved_views WHERE experiment_id = ? AND name = ? "
                    "AND view_id <> ?", [found[0][0], new_name, view_id]).fetchall():
                raise AlreadyExistsError(
                    f"The experiment already has a saved view named {new_name[:80]!r}.")
            tx.execute(
                "UPDATE saved_views SET name = coalesce(?, name), state = coalesce(?, state), "
                "last_update_time = ? WHERE view_id = ?", [new_name, text, now_ms(), view_id])
        return self.get_saved_view(view_id)

    def delete_saved_view(self, view_id: str) -> None:
        """Delete a saved view.

        :param view_id: the view.
        :raises NotFoundError: for an unknown view.
        """
        with self.cx.write() as tx:
            if not tx.execute("SELECT 1 FROM saved_views WHERE view_id = ?", [view_id]).fetchall():
                raise NotFoundError(f"No saved view with id {view_id[:64]!r}.")
            tx.execute("DELETE FROM saved_views WHERE view_id = ?", [view_id])


def _view(row: Any) -> SavedView:
    view_id, experiment_id, name, state, created_by, created, updated = row
    try:
        parsed = json.loads(state)
    except ValueError:
        parsed = {}
    return SavedView(str(view_id), str(experiment_id), str(name),
                     parsed if isinstance(parsed, dict) else {}, str(created_by), int(created),
                     int(updated))
