"""REST handler for the sidebar's sweep view: a parent run and its child runs as trials.

The data is what ``mlnb.show_sweep`` draws in a notebook (:mod:`mlnb.widgets.sweep`): the same
objective and direction rules, the same trial states, the best value so far and the same
parameter importance. Names and values are sent as data; the sidebar renders them as text.
"""

from __future__ import annotations

import math
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.server.base import MlnbHandler
from mlnb.widgets.sweep import Sweep, best_so_far, load_sweep, param_importances

MAX_TRIALS = 5000


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value is sent as null."""
    return value if value is not None and math.isfinite(value) else None


def sweep_json(sweep: Sweep, model_uri: str | None) -> dict[str, Any]:
    """A sweep as the sidebar shows it: trials, best so far, importance, best trial.

    :param sweep: the sweep.
    :param model_uri: the URI of the model the best trial logged (``models:/m-<id>``), if any.
    """
    importances, method = param_importances(sweep)
    best = sweep.best
    done = sweep.complete
    return {
        "parent": {"run_id": sweep.parent.info.run_id, "run_name": sweep.parent.info.run_name},
        "metric": sweep.metric, "direction": sweep.direction,
        "direction_guessed": sweep.direction_guessed, "optuna": sweep.optuna,
        "params": sweep.params,
        "trials": [{"number": t.number, "run_id": t.run.info.run_id,
                    "run_name": t.run.info.run_name, "state": t.state,
                    "value": _finite(t.value), "params": t.params}
                   for t in sweep.trials[:MAX_TRIALS]],
        "truncated": len(sweep.trials) > MAX_TRIALS,
        "best_so_far": [{"number": t.number, "value": v}
                        for t, v in zip(done, best_so_far(sweep), strict=True)],
        "importances": [{"param": k, "importance": _finite(v)} for k, v in importances.items()],
        "importance_method": method,
        "best": None if best is None else {
            "number": best.number, "run_id": best.run.info.run_id,
            "run_name": best.run.info.run_name, "value": _finite(best.value),
            "params": best.params,
            "model_uri": model_uri},
    }


class SweepHandler(MlnbHandler):
    """``GET runs/<id>/sweep?metric=&direction=``: the run's children as a sweep."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``GET runs/<run_id>/sweep``: trials, best so far and parameter importance."""
        metric = self.get_query_argument("metric", "") or None
        direction = self.get_query_argument("direction", "") or None
        store = self.store()

        def build() -> dict[str, Any]:
            sweep = load_sweep(store, run_id, metric, direction)
            best = sweep.best
            models = store.logged_models_of_run(best.run.info.run_id) if best is not None else []
            return sweep_json(sweep, models[0].model_uri if models else None)

        self.send_json(await self.blocking(build))
