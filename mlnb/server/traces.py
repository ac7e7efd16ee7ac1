"""REST handlers for GenAI traces: a page of an experiment's (or several experiments') traces, and
one trace with its spans.

Listing reads trace info, tags and metadata only (never spans); one trace comes in MLflow's
``Trace.to_dict()`` form, its spans' attributes as JSON text as MLflow keeps them.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.entities import ViewType
from mlnb.server.base import MlnbHandler
from mlnb.tracing.entities import trace_of

MAX_EXPERIMENTS = 10_000  # "every experiment" when the query names none


class TracesHandler(MlnbHandler):
    """``GET experiments/<id>/traces?filter=&order_by=&run_id=&limit=&offset=``: a page of the
    experiment's traces, newest first (info, tags, metadata and token usage; no spans)."""

    @web.authenticated
    @authorized
    async def get(self, experiment_id: str) -> None:
        """``GET experiments/<id>/traces``."""
        store = self.store()
        await self.blocking(lambda: store.get_experiment(experiment_id))  # a 404 naming it
        await send_trace_page(self, [experiment_id])


class AllTracesHandler(MlnbHandler):
    """``GET traces?experiment_id=&filter=&order_by=&run_id=&limit=&offset=``: a page of the
    traces of these experiments (repeat ``experiment_id``; none: every active experiment),
    newest first, as ``experiments/<id>/traces`` gives them."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET traces``."""
        store = self.store()
        named = [e for e in self.get_query_arguments("experiment_id") if e]
        if named:
            ids = named
        else:
            found = await self.blocking(lambda: store.search_experiments(
                view_type=ViewType.ACTIVE_ONLY, max_results=MAX_EXPERIMENTS))
            ids = [e.experiment_id for e in found]
        await send_trace_page(self, ids)


async def send_trace_page(handler: MlnbHandler, experiment_ids: list[str]) -> None:
    """Answer with a page of the traces of these experiments (the query's filter, order, run
    and page), and where the next page starts (None after the last).

    :param handler: the request's handler.
    :param experiment_ids: the experiments to search.
    """
    limit, offset = handler.page()
    filter_string = handler.get_query_argument("filter", "") or None
    order_by = [o for o in handler.get_query_arguments("order_by") if o.strip()] or None
    run_id = handler.get_query_argument("run_id", "") or None
    store = handler.store()

    def query() -> list[dict[str, Any]]:
        found = store.search_traces(experiment_ids, filter_string, limit, order_by, offset, run_id,
                                    include_spans=False)
        return [{**trace_of(t).info.to_dict(), "run_id": t.run_id, "name": t.name,
                 "token_usage": trace_of(t).info.token_usage} for t in found]

    traces = await handler.blocking(query)
    handler.send_json({"traces": traces, "offset": offset, "limit": limit,
                       "next_offset": offset + len(traces) if len(traces) == limit else None})


class TraceHandler(MlnbHandler):
    """``GET traces/<trace_id>``: one trace, info and spans (MLflow's ``Trace.to_dict()``)."""

    @web.authenticated
    @authorized
    async def get(self, trace_id: str) -> None:
        """``GET traces/<trace_id>``."""
        store = self.store()
        trace = await self.blocking(lambda: trace_of(store.get_trace(trace_id)))
        self.send_json({"trace": trace.to_dict(), "run_id": trace.info.run_id})
