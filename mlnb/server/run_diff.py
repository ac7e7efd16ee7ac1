"""REST handler for the run diff: ``GET runs/<a>/diff/<b>``, the comparison ``mlnb.diff`` shows.

The answer is :meth:`mlnb.tracking.run_diff.RunDiff.to_dict` as JSON (NaN and infinities as
strings): params, tags, metrics, the cells' sources, the kernel histories and the packages.
Names and values are sent as data; the workspace renders them as text.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.server.base import MlnbHandler
from mlnb.tracking.run_diff import diff_runs


class RunDiffHandler(MlnbHandler):
    """``GET runs/<a>/diff/<b>``: run b compared with run a (any two runs of the store)."""

    @web.authenticated
    @authorized
    async def get(self, run_a: str, run_b: str) -> None:
        """``GET runs/<run_a>/diff/<run_b>``: the comparison; 404 naming an unknown run."""
        client = self.client()
        root = self.settings.get("mlnb_root_dir")

        def build() -> dict[str, Any]:
            return diff_runs(run_a, run_b, client=client, notebook_root=root).to_dict()

        self.send_json(await self.blocking(build))
