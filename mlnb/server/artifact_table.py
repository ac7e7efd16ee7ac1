"""REST handler for a table artifact read page by page: ``GET runs/<id>/artifact-table/<path>``.

CSV, TSV and Parquet artifacts are shown by the run page as paged tables; Parquet is binary, so
the server converts the page asked for (:mod:`mlnb.server.tables`). The path goes through the
store like every artifact read (only recorded files, confined to the run's folder).
"""

from __future__ import annotations

from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.server.base import MlnbHandler
from mlnb.server.tables import read_table_page


class ArtifactTableHandler(MlnbHandler):
    """``GET runs/<id>/artifact-table/<path>?offset=&limit=``: one page of a table artifact."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str, rel: str) -> None:
        """``GET runs/<run_id>/artifact-table/<path>?offset=&limit=``: columns, rows and the total.

        :param run_id: the run.
        :param rel: the artifact's path inside the run's artifacts.
        """
        limit, offset = self.page()
        store = self.store()

        def read() -> dict[str, object]:
            record = store.artifact_record(run_id, rel)  # only files the store recorded
            local: Path = store.artifact_path(run_id, record.path)
            if not local.is_file():
                raise web.HTTPError(404, "The artifact's file is missing from the artifact folder.")
            return {"path": record.path, **read_table_page(local, record.path, offset, limit).as_json()}

        self.send_json(await self.blocking(read))
