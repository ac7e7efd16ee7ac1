"""REST handlers for GenAI traces: a page of an experiment's traces, and one trace with its spans.

Listing reads trace info, tags and metadata only (never spans); one trace comes in MLflow's
``Trace.to_dict()`` form, its spans' attributes as JSON text as MLflow keeps them.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.server.base import MlnbHandler
from mlnb.tracing.entities import trace_of


class TracesHandler(MlnbHandler):
    """``GET experiments/<id>/traces?filter=&order_by=&run_id=&limit=&offset=``: a page of the
    experiment's traces, newest first (info, tags, metadata and token usage; no spans)."""

    @web.authenticated
    @authorized
    async def get(self, experiment_id: str) -> None:
        """``GET experiments/<id>/traces``."""
        limit, offset = self.page()
        filter_string = self.get_query_argument("filter", "") or None
        order_by = [o for o in self.get_query_arguments("order_by") if o.strip()] or None
        run_id = self.get_query_argument("run_id", "") or None
        store = self.store()

        def query() -> list[dict[str, Any]]:
            store.get_experiment(experiment_id)  # a 404 naming it, not an empty page
            found = store.search_traces([experiment_id], filter_string, limit, order_by, offset,
                                        run_id, include_spans=False)
            return [{**trace_of(t).info.to_dict(), "run_id": t.run_id, "name": t.name,
                     "token_usage": trace_of(t).info.token_usage} for t in found]

        traces = await self.blocking(query)
        self.send_json({"traces": traces, "offset": offset, "limit": limit,
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
