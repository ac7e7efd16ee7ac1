"""REST handlers for experiments, runs, run detail, metric histories, and run delete/restore."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb._version import __version__
from mlnb.entities import Experiment, Metric, Run, ViewType
from mlnb.errors import MlnbError
from mlnb.server.base import API_VERSION, MlnbHandler, dump, finite_floats
from mlnb.store.location import resolve
from mlnb.store.metrics import Columns

VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}
LIST_TAG_CHARS = 300  # tag values in a run list are cut here; the run detail has them whole
MAX_COMPARE_RUNS = 50
DEFAULT_MAX_POINTS = 1000
MAX_POINTS_CAP = 100_000
REAP_INTERVAL_S = 2.0
MAX_EXPERIMENTS = 10_000  # "all experiments" when the query names none
# A filter's count visits every run it matches (a few hundred ms at 100,000 runs): while a kernel
# writes, the page is read again on every poll, but a count that took longer than SLOW_COUNT_S
# is reused for COUNT_REUSE_S (the answer says so with "total_stale"), so the list stays quick.
SLOW_COUNT_S = 0.05
COUNT_REUSE_S = 10.0
MAX_COUNTS = 64


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    """An experiment as JSON data.

    :param experiment: the experiment.
    """
    return {
        "experiment_id": experiment.experiment_id, "name": experiment.name,
        "lifecycle_stage": experiment.lifecycle_stage, "tags": experiment.tags,
        "creation_time": experiment.creation_time, "last_update_time": experiment.last_update_time,
    }


def run_json(run: Run, cut_tags: bool = False) -> dict[str, Any]:
    """A run as JSON data (info, params, latest metrics and tags).

    :param run: the run.
    :param cut_tags: shorten long tag values, for lists of runs.
    """
    info, data = run.info, run.data
    tags = data.tags
    if cut_tags:
        tags = {k: v if len(v) <= LIST_TAG_CHARS else v[:LIST_TAG_CHARS] + "…" for k, v in tags.items()}
    return {
        "run_id": info.run_id, "run_name": info.run_name, "experiment_id": info.experiment_id,
        "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage, "user_id": info.user_id,
        "metrics": data.metrics, "params": data.params, "tags": tags,
    }


def points_json(points: list[Metric]) -> list[dict[str, Any]]:
    """Metric points as JSON data.

    :param points: the points.
    """
    return [{"step": p.step, "value": p.value, "timestamp": p.timestamp} for p in points]


class PageCache:
    """Run pages already served, valid while the store is unchanged.

    The panel polls the same page every 2 s; while nothing was written, the answer is the same,
    so it is served from here without running the count and page queries again. A page is
    keyed by :meth:`Store.change_counter`, which moves on every commit, a kernel's or this
    server's own (delete, restore, reaping), so no write path has to remember to invalidate it.

    :param size: how many pages to keep (least recently used dropped first).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.pages: OrderedDict[tuple[Any, ...], tuple[tuple[int, int], str]] = OrderedDict()

    def get(self, key: tuple[Any, ...], version: tuple[int, int]) -> str | None:
        """The cached body of a page, if it was stored at this store version.

        :param key: the page's query.
        :param version: the store's change counter now.
        """
        found = self.pages.get(key)
        if found is None or found[0] != version:
            return None
        self.pages.move_to_end(key)
        return found[1]

    def put(self, key: tuple[Any, ...], version: tuple[int, int], body: str) -> None:
        """Remember a page's body at a store version.

        :param key: the page's query.
        :param version: the store's change counter when it was read.
        :param body: the JSON body.
        """
        self.pages[key] = (version, body)
        self.pages.move_to_end(key)
        while len(self.pages) > self.size:
            self.pages.popitem(last=False)


class CountCache:
    """Slow counts of run searches, reused for a few seconds while the store keeps changing."""

    def __init__(self) -> None:
        self._found: OrderedDict[Any, tuple[int, float]] = OrderedDict()

    def count(self, key: Any, counter: Any) -> tuple[int, bool]:
        """``(count, stale)``: a slow count of the last :data:`COUNT_REUSE_S` seconds, or a new one.

        :param key: the search (experiments, filter, view).
        :param counter: computes the count.
        """
        now = time.monotonic()
        found = self._found.get(key)
        if found is not None and now - found[1] < COUNT_REUSE_S:
            return found[0], True
        total = int(counter())
        if time.monotonic() - now > SLOW_COUNT_S:
            self._found[key] = (total, now)
            while len(self._found) > MAX_COUNTS:
                self._found.popitem(last=False)
        else:
            self._found.pop(key, None)
        return total, False

    def clear(self) -> None:
        """Forget every count (runs were deleted or restored here)."""
        self._found.clear()


def count_cache(settings: dict[str, Any]) -> CountCache:
    """The count cache of this server, created on first use.

    :param settings: the tornado application's settings.
    """
    cache = settings.get("mlnb_count_cache")
    if cache is None:
        cache = settings["mlnb_count_cache"] = CountCache()
    return cache


def page_cache(settings: dict[str, Any]) -> PageCache:
    """The page cache of this server, created on first use.

    :param settings: the tornado application's settings.
    """
    cache = settings.get("mlnb_page_cache")
    if cache is None:
        cache = settings["mlnb_page_cache"] = PageCache()
    return cache


class VersionHandler(MlnbHandler):
    """The handshake: the panel checks ``api_version`` before anything else."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET version``: mlnb's version, the API version, and the store: ``store`` (its URI,
        any password masked), ``store_kind`` (``sqlite`` or ``postgresql``), ``can_write`` and,
        when it is false, ``read_only_reason`` (the panel shows write actions as unavailable
        with it), and ``db_role`` (PostgreSQL's role the server acts as, else null)."""
        body: dict[str, Any] = {"mlnb_version": __version__, "api_version": API_VERSION}
        body.update(await self.blocking(self._store_access))
        self.send_json(body)

    def _store_access(self) -> dict[str, Any]:
        location = resolve(self.store_uri)
        access: dict[str, Any] = {
            "store": location.display,
            "store_kind": "sqlite" if location.is_sqlite else "postgresql",
            "can_write": False, "read_only_reason": None, "db_role": None,
        }
        try:
            store = self.store()
            reason = store.read_only_reason()
            access.update(can_write=reason is None, read_only_reason=reason,
                          db_role=store.db_role())
        except MlnbError as exc:  # the handshake still answers; every other call says why
            access["read_only_reason"] = exc.message
        return access


class ExperimentsHandler(MlnbHandler):
    """The experiments: ``?view=active|deleted|all``."""
    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET experiments``."""
        view = VIEWS.get(self.get_query_argument("view", "active"), ViewType.ACTIVE_ONLY)
        store = self.store()
        experiments = await self.blocking(lambda: store.search_experiments(view_type=view))
        self.send_json({"experiments": [experiment_json(e) for e in experiments]})


class RunsHandler(MlnbHandler):
    """A page of runs: ``?experiment_id=&filter=&order_by=&view=&limit=&offset=`` plus the total.

    With no ``experiment_id``, the runs of every experiment. With ``extremes=1``, each run also
    has ``metric_min`` and ``metric_max`` (key -> value, aggregated in the store's SQL).
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET runs``."""
        limit, offset = self.page()
        experiment_ids = self.get_query_arguments("experiment_id")
        filter_string = self.get_query_argument("filter", "") or None
        order_by = [o for o in self.get_query_arguments("order_by") if o.strip()] or None
        view_name = self.get_query_argument("view", "active")
        extremes = self.bool_arg("extremes")
        if view_name not in VIEWS:
            raise web.HTTPError(400, f"view must be one of {sorted(VIEWS)}, not {view_name[:40]!r}.")
        store = self.store()
        if self._reap_due():
            await self.blocking(self._reap, store)  # off the event loop: it reads every RUNNING run
        cache_key = (tuple(experiment_ids), filter_string, tuple(order_by or ()), view_name, limit,
                     offset, extremes)
        cache = page_cache(self.settings)
        version = await self.blocking(store.change_counter)
        cached = cache.get(cache_key, version)
        if cached is not None:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(cached)
            return

        counts = count_cache(self.settings)

        def query() -> tuple[list[Run], int, bool, dict[str, Any]]:
            ids = experiment_ids or [e.experiment_id for e in store.search_experiments(
                view_type=ViewType.ALL, max_results=MAX_EXPERIMENTS)]
            runs = store.search_runs(ids, filter_string, VIEWS[view_name], limit,
                                     order_by, offset)
            total, stale = counts.count(
                (tuple(ids), filter_string, view_name),
                lambda: store.count_runs(ids, filter_string, VIEWS[view_name]))
            found = store.metric_extremes([r.info.run_id for r in runs]) if extremes else {}
            return runs, total, stale, found

        runs, total, stale, found = await self.blocking(query)
        listed = [run_json(r, cut_tags=True) for r in runs]
        if extremes:  # ?extremes=1: each metric's min and max too (the workspace's columns)
            for item in listed:
                by_key = found.get(item["run_id"], {})
                item["metric_min"] = {k: low for k, (low, _) in by_key.items()}
                item["metric_max"] = {k: high for k, (_, high) in by_key.items()}
        body = dump({
            "runs": listed, "total": total,
            "total_stale": stale,
            "limit": limit, "offset": offset,
            "metric_keys": sorted({k for r in runs for k in r.data.metrics}),
            "param_keys": sorted({k for r in runs for k in r.data.params}),
            "tag_keys": sorted({k for r in runs for k in r.data.tags}),
        })
        cache.put(cache_key, version, body)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body)

    def _reap_due(self) -> bool:
        # Runs whose kernel died are marked KILLED here, at most every REAP_INTERVAL_S seconds.
        last = self.settings.setdefault("mlnb_last_reap", [0.0])
        now = time.monotonic()
        if now - last[0] < REAP_INTERVAL_S:
            return False
        last[0] = now
        return True

    def _reap(self, store: Any) -> None:
        try:
            store.reap_dead_runs()
        except MlnbError as exc:  # a locked store must not fail the listing
            self.log.info("mlnb: could not reap dead runs: %s", exc)


class RunHandler(MlnbHandler):
    """One run (GET) and its deletion (DELETE)."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``GET runs/<run_id>``: the run with its experiment's name, its children and its notebook."""
        store = self.store()

        def detail() -> dict[str, Any]:
            run = store.get_run(run_id)
            body = run_json(run)
            body["experiment_name"] = store.get_experiment(run.info.experiment_id).name
            body["children"] = store.child_run_ids(run_id)
            body["notebook_path"] = self._notebook_in_root(run.data.tags)
            return body

        self.send_json(await self.blocking(detail))

    @web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        """``DELETE runs/<run_id>``: delete the run (restorable)."""
        self.require_json()
        await self.require_writable()
        client = self.client()
        await self.blocking(client.delete_run, run_id)
        count_cache(self.settings).clear()  # the counts shown must include this at once
        self.send_json({"run_id": run_id, "lifecycle_stage": "deleted"})

    def _notebook_in_root(self, tags: dict[str, str]) -> str | None:
        """The notebook tag as a path relative to the server root (what docmanager opens)."""
        raw = tags.get("mlnb.notebook.path")
        if not raw:
            return None
        root = Path(self.settings.get("mlnb_root_dir") or os.getcwd()).resolve()
        path = Path(raw)
        if not path.is_absolute():
            return path.as_posix()
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return None  # outside the server's root: the browser cannot open it


class RestoreRunHandler(MlnbHandler):
    """Restore a deleted run."""
    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        """``POST runs/<run_id>/restore``."""
        self.json_body()
        await self.require_writable()
        client = self.client()
        await self.blocking(client.restore_run, run_id)
        count_cache(self.settings).clear()
        self.send_json({"run_id": run_id, "lifecycle_stage": "active"})


class MetricHistoryHandler(MlnbHandler):
    """``GET runs/<id>/metrics?key=&max_points=``: one history, downsampled when long."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``GET runs/<run_id>/metrics?key=&max_points=``: one metric's history, downsampled."""
        key = self.get_query_argument("key", "")
        if not key:
            raise web.HTTPError(400, "Give the metric with ?key=<metric name>.")
        max_points = self.int_arg("max_points", DEFAULT_MAX_POINTS, 4, MAX_POINTS_CAP)
        store = self.store()
        total, kept = await self.blocking(store.sampled_history, run_id, key, max_points)
        self.send_json({"run_id": run_id, "key": key, "total": total,
                        "downsampled": len(kept) < total, "points": points_json(kept)})


class MetricHistoriesHandler(MlnbHandler):
    """``GET metric-histories?run_id=..&run_id=..&key=..&max_points=&columns=``: for charts."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``GET metric-histories?run_id=...&key=...``: histories of several runs, downsampled.

        Each history is a list of ``{step, value, timestamp}`` points, or with ``columns=1``
        three lists ``{step: [...], timestamp: [...], value: [...]}`` (what charts draw from: a
        third of the bytes, and no object per point on either side).
        """
        run_ids = self.get_query_arguments("run_id")
        if not run_ids or len(run_ids) > MAX_COMPARE_RUNS:
            raise web.HTTPError(400, f"Give between 1 and {MAX_COMPARE_RUNS} run_id arguments.")
        keys = self.get_query_arguments("key") or None
        max_points = self.int_arg("max_points", DEFAULT_MAX_POINTS, 4, MAX_POINTS_CAP)
        as_columns = self.bool_arg("columns")
        store = self.store()

        def histories() -> dict[str, dict[str, Columns]]:
            for run_id in run_ids:
                store.get_run_info(run_id)  # 404 for an unknown run
            return store.metric_history_columns(run_ids, keys, max_points=max_points)

        found = await self.blocking(histories)
        if as_columns:
            self.send_json({"histories": {
                run_id: {key: {"step": steps, "timestamp": stamps, "value": finite_floats(values)}
                         for key, (steps, stamps, values) in by_key.items()}
                for run_id, by_key in found.items()}}, finite=True)
            return
        self.send_json({"histories": {
            run_id: {key: [{"step": s, "value": v, "timestamp": t}
                           for s, t, v in zip(*columns, strict=True)]
                     for key, columns in by_key.items()}
            for run_id, by_key in found.items()
        }})
