"""REST handler for the run diff: ``GET runs/<a>/diff/<b>``, the comparison ``mlnb.diff`` shows.

The answer is :meth:`mlnb.tracking.run_diff.RunDiff.to_dict` as JSON (NaN and infinities as
strings): params, tags, metrics, the cells' sources, the kernel histories and the packages.
Names and values are sent as data; the workspace renders them as text.

The answer's shape ("a" is the run compared against, "b" the other; deltas are b minus a)::

    a, b:         {run_id, run_name, experiment_id, experiment_name, status, start_time, end_time}
    params, tags, system_tags:
                  {added: {k: v}, removed: {k: v}, changed: {k: {a, b}}, unchanged: {k: v}}
    metrics:      [{key, status: added|removed|changed|same, system,
                    a: {last, min, max, points} | null, b: likewise,
                    delta: {last, min, max}, relative: {last, min, max}}]  (null: no number)
    cell:         {a: {source, sha256, cell_id, execution_count, truncated, origin} | null,
                   b: likewise, unified: "--- a ...", identical: true|false|null}
    history:      {rows: [{a: {execution_count, cell_id, sha256, source} | null, b: likewise,
                           status: same|edited|only_a|only_b, elsewhere: same|edited|null}],
                   recorded_a, recorded_b, identical}
    environment:  {a: {packages: {name: version}, python, sources, truncated}, b: likewise,
                   added: {name: version}, removed: {name: version},
                   changed: {name: {a, b}}, unchanged: <count>, compared}
    notes:        ["run a: provenance.json could not be read (...)", ...]
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
