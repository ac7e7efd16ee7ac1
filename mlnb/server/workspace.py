"""REST handlers of the Experiments workspace's saved views.

* ``GET experiments/<id>/views``: the experiment's saved views (without their state);
* ``POST experiments/<id>/views`` ``{"name", "state"}``: save a new view;
* ``GET views/<view_id>``: one view with its state (what a link to the view opens);
* ``PATCH views/<view_id>`` ``{"name"?, "state"?}``: rename it or replace its state;
* ``DELETE views/<view_id>``: delete it.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.server.base import MlnbHandler
from mlnb.store.saved_views import SavedView


def view_json(view: SavedView, with_state: bool = True) -> dict[str, Any]:
    """A saved view as JSON data.

    :param view: the view.
    :param with_state: include its state (lists leave it out).
    """
    body: dict[str, Any] = {
        "view_id": view.view_id, "experiment_id": view.experiment_id, "name": view.name,
        "created_by": view.created_by, "creation_time": view.creation_time,
        "last_update_time": view.last_update_time,
    }
    if with_state:
        body["state"] = view.state
    return body


class ExperimentViewsHandler(MlnbHandler):
    """An experiment's saved views: list (GET) and create (POST)."""

    @web.authenticated
    @authorized
    async def get(self, experiment_id: str) -> None:
        """``GET experiments/<id>/views``: the experiment's views by name, without their state."""
        store = self.store()

        def listed() -> list[SavedView]:
            store.get_experiment(experiment_id)  # 404 for an unknown experiment
            return store.list_saved_views(experiment_id)

        views = await self.blocking(listed)
        self.send_json({"views": [view_json(v, with_state=False) for v in views]})

    @web.authenticated
    @authorized
    async def post(self, experiment_id: str) -> None:
        """``POST experiments/<id>/views`` ``{"name", "state"}``: save a view (201)."""
        body = self.json_body()
        if "name" not in body or "state" not in body:
            raise web.HTTPError(400, "Give the view's \"name\" and \"state\".")
        await self.require_writable()
        store = self.store()
        user = self.user_name()
        view = await self.blocking(
            lambda: store.create_saved_view(experiment_id, body["name"], body["state"], user))
        self.send_json(view_json(view), status=201)


class ViewHandler(MlnbHandler):
    """One saved view: read (GET), rename or replace its state (PATCH), delete (DELETE)."""

    @web.authenticated
    @authorized
    async def get(self, view_id: str) -> None:
        """``GET views/<view_id>``: the view with its state."""
        store = self.store()
        self.send_json(view_json(await self.blocking(store.get_saved_view, view_id)))

    @web.authenticated
    @authorized
    async def patch(self, view_id: str) -> None:
        """``PATCH views/<view_id>`` ``{"name"?, "state"?}``: the view as it is now."""
        body = self.json_body()
        unknown = sorted(set(body) - {"name", "state"})
        if unknown:
            raise web.HTTPError(400, f"A view has no field {unknown[0][:40]!r}; give name or state.")
        await self.require_writable()
        store = self.store()
        view = await self.blocking(
            lambda: store.update_saved_view(view_id, body.get("name"), body.get("state")))
        self.send_json(view_json(view))

    @web.authenticated
    @authorized
    async def delete(self, view_id: str) -> None:
        """``DELETE views/<view_id>``."""
        self.require_json()
        await self.require_writable()
        store = self.store()
        await self.blocking(store.delete_saved_view, view_id)
        self.send_json({"view_id": view_id, "deleted": True})
