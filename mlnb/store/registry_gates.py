"""Registry gates: a registered model's promotion rule (metric bounds a version's attached
evaluation must meet before it moves to named stages or aliases) and the evaluation attached to
each version.

Both live in the registry's own tags, so they need no table and travel with the model (copy,
import, MLflow's REST API show them): the gate is the model tag ``mlnb.gate`` (JSON), the
attached evaluation the version tag ``mlnb.evaluation_run_id``. The check runs inside the same
transaction as the stage or alias change (:mod:`mlnb.store.registry_stages`), so every path
that moves a version (Python, both REST APIs, the CLI) is gated, and a forced move is recorded in
the version's history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlnb.entities import GateCheck, ModelVersion, ModelVersionStage, RegistryGate, ThresholdResult
from mlnb.errors import GateFailedError, InvalidParameterError, NotFoundError
from mlnb.store.registry_checks import check_alias

if TYPE_CHECKING:
    from mlnb.entities import Metric, RunInfo
    from mlnb.store.dialect import StoreConnection

GATE_TAG = "mlnb.gate"
EVALUATION_TAG = "mlnb.evaluation_run_id"
FORCED_KIND = "gate_forced"
_BOUNDS = ("min", "max")


def gate_target(target: Any) -> str:
    """A gate's target: a stage in its canonical spelling (any case given), else an alias.

    :param target: a stage name (``Production``) or an alias (``champion``).
    :raises InvalidParameterError: for anything that is neither.
    """
    if not isinstance(target, str):
        raise InvalidParameterError(
            f"A gate applies to stage names or aliases (text), not {type(target).__name__}.")
    stage = ModelVersionStage.canonical(target)
    return stage if stage is not None else check_alias(target)


def check_thresholds(thresholds: Any) -> dict[str, dict[str, float]]:
    """Checked gate thresholds: ``{metric: {"min": x, "max": y}}``, at least one bound each.

    :param thresholds: as the user gave them.
    :raises InvalidParameterError: naming the metric and the problem.
    """
    if not isinstance(thresholds, dict) or not thresholds:
        raise InvalidParameterError(
            'thresholds must be a non-empty dict such as {"accuracy": {"min": 0.9}}, '
            f"not {thresholds!r}.")
    checked: dict[str, dict[str, float]] = {}
    for metric, bounds in thresholds.items():
        if not isinstance(metric, str) or not metric.strip():
            raise InvalidParameterError(f"A gate's metric name must be non-empty text, not {metric!r}.")
        if not isinstance(bounds, dict) or not bounds or set(bounds) - set(_BOUNDS):
            raise InvalidParameterError(
                f'The gate on {metric!r} must be {{"min": number}}, {{"max": number}} or both, '
                f"not {bounds!r}.")
        for key, bound in bounds.items():
            if isinstance(bound, bool) or not isinstance(bound, (int, float)) \
                    or not math.isfinite(bound):
                raise InvalidParameterError(
                    f"The gate's {key} for {metric!r} must be a finite number, not {bound!r}.")
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise InvalidParameterError(
                f"The gate on {metric!r} has min {bounds['min']} above max {bounds['max']}: "
                "no value could pass.")
        checked[metric] = {k: float(bounds[k]) for k in _BOUNDS if k in bounds}
    return checked


def check_applies_to(applies_to: Any) -> list[str]:
    """Checked gate targets: stage names (canonical) and aliases, without repeats.

    :param applies_to: one target or a list of them.
    :raises InvalidParameterError: for an empty list or a target that is neither.
    """
    items = [applies_to] if isinstance(applies_to, str) else applies_to
    if not isinstance(items, (list, tuple)) or not items:
        raise InvalidParameterError(
            'applies_to must name stages or aliases, e.g. ["Production", "champion"], '
            f"not {applies_to!r}.")
    return list(dict.fromkeys(gate_target(t) for t in items))


def _measure(thresholds: dict[str, dict[str, float]],
             metrics: dict[str, float] | None) -> list[ThresholdResult]:
    results = []
    for metric, bounds in thresholds.items():
        value = None if metrics is None else metrics.get(metric)
        low, high = bounds.get("min"), bounds.get("max")
        passed = value is not None and not math.isnan(value) \
            and (low is None or value >= low) and (high is None or value <= high)
        results.append(ThresholdResult(metric, low, high, value, passed))
    return results


class GateQueries:
    """Gates and attached evaluations. Mixed into :class:`mlnb.store.Store` beside
    :class:`mlnb.store.registry_stages.StageQueries`."""

    cx: StoreConnection

    if TYPE_CHECKING:  # from RegistryQueries and RunQueries, beside this class in Store

        def _model_name(self, name: Any) -> str: ...

        def get_model_version(self, name: Any, version: Any) -> ModelVersion: ...

        def set_registered_model_tag(self, name: Any, key: str, value: Any) -> None: ...

        def set_model_version_tag(self, name: Any, version: Any, key: str, value: Any) -> None: ...

        def get_run_info(self, run_id: str) -> RunInfo: ...

        def latest_metrics(self, run_ids: Sequence[str]) -> dict[str, list[Metric]]: ...

        def _record(self, name: str, version: int | None, kind: str, old: str | None,
                    new: str | None, user_id: str) -> None: ...

    def set_registered_model_gate(self, name: Any, thresholds: Any, applies_to: Any,
                                  user_id: str = "") -> RegistryGate:
        """Set (replace) a model's gate; the change is recorded in the model's history.

        :param name: the model.
        :param thresholds: ``{metric: {"min": x, "max": y}}`` (inclusive bounds, one or both).
        :param applies_to: the stages and aliases it guards.
        :param user_id: who sets it, for the history.
        """
        gate = RegistryGate("", check_thresholds(thresholds), check_applies_to(applies_to))
        text = json.dumps({"thresholds": gate.thresholds, "applies_to": gate.applies_to},
                          sort_keys=True)
        with self.cx.write(durable=True):
            model = self._model_name(name)
            old = self._gate_text(model)
            self.set_registered_model_tag(model, GATE_TAG, text)
            self._record(model, None, "gate", old, text, user_id)
        return RegistryGate(model, gate.thresholds, gate.applies_to)

    def get_registered_model_gate(self, name: Any) -> RegistryGate | None:
        """A model's gate, or None when it has none.

        :param name: the model.
        :raises InvalidParameterError: when the ``mlnb.gate`` tag was edited into something that
            is not a gate (promotions under it are refused until it is set again or deleted).
        """
        model = self._model_name(name)
        text = self._gate_text(model)
        if text is None:
            return None
        try:
            raw = json.loads(text)
            return RegistryGate(model, check_thresholds(raw["thresholds"]),
                                check_applies_to(raw["applies_to"]))
        except (ValueError, TypeError, KeyError) as problem:
            raise InvalidParameterError(
                f"The tag {GATE_TAG!r} of registered model {model!r} is not a valid gate "
                f"({problem}); set it again with set_registered_model_gate or delete it with "
                "delete_registered_model_gate.") from None

    def delete_registered_model_gate(self, name: Any, user_id: str = "") -> None:
        """Remove a model's gate (recorded in its history).

        :param name: the model.
        :param user_id: who removes it, for the history.
        :raises NotFoundError: when the model has no gate.
        """
        with self.cx.write(durable=True) as conn:
            model = self._model_name(name)
            old = self._gate_text(model)
            if old is None:
                raise NotFoundError(f"Registered model {model!r} has no gate.")
            conn.execute("DELETE FROM registered_model_tags WHERE name = ? AND key = ?",
                         [model, GATE_TAG])
            self._record(model, None, "gate", old, None, user_id)

    def _gate_text(self, model: str) -> str | None:
        rows = self.cx.query(
            "SELECT value FROM registered_model_tags WHERE name = ? AND key = ?", [model, GATE_TAG])
        return str(rows[0][0]) if rows else None

    def attach_evaluation(self, name: Any, version: Any, run_id: Any, user_id: str = "") -> None:
        """Attach an evaluation run to a version: its metrics are what the gate checks.

        :param name: the model.
        :param version: the version number.
        :param run_id: the run ``mlnb.evaluate`` logged to.
        :param user_id: who attaches it, for the history.
        :raises NotFoundError: when the run does not exist.
        """
        if not isinstance(run_id, str) or not run_id:
            raise InvalidParameterError(f"run_id must be a run's id (text), not {run_id!r}.")
        with self.cx.write(durable=True):
            mv = self.get_model_version(name, version)
            self.get_run_info(run_id)  # NotFoundError names the run
            old = mv.tags.get(EVALUATION_TAG)
            if old == run_id:
                return
            self.set_model_version_tag(mv.name, mv.version, EVALUATION_TAG, run_id)
            self._record(mv.name, int(mv.version), "evaluation", old, run_id, user_id)

    def check_model_version_gate(self, name: Any, version: Any, target: Any) -> GateCheck:
        """Whether a version may move to ``target`` under its model's gate, with every
        threshold's measured value.

        :param name: the model.
        :param version: the version number.
        :param target: a stage or an alias.
        """
        return self._check(self.get_model_version(name, version), gate_target(target))[0]

    def _check(self, mv: ModelVersion, target: str) -> tuple[GateCheck, list[str]]:
        """The check, and each failure in words (empty when it passes)."""
        gate = self.get_registered_model_gate(mv.name)
        run_id = mv.tags.get(EVALUATION_TAG)
        if gate is None or target not in gate.applies_to:
            return GateCheck(mv.name, mv.version, target, False, True, run_id), []
        metrics, missing = self._evaluation_metrics(run_id)
        results = _measure(gate.thresholds, metrics)
        failed = [r for r in results if not r.passed]
        if missing is None and not failed:
            return GateCheck(mv.name, mv.version, target, True, True, run_id, results), []
        what = f"Version {mv.version} of registered model {mv.name!r} cannot move to {target}"
        if missing is not None:
            needs = "; ".join(r.describe().rsplit(" (", 1)[0] for r in results)
            reason = (f"{what}: {missing}, and its gate requires {needs}. Evaluate it with "
                      f"mlnb.evaluate('models:/{mv.name}/{mv.version}', data, targets=...) (which "
                      f"attaches the run) or attach a run with attach_evaluation({mv.name!r}, "
                      f"{mv.version}, run_id)")
        else:
            reason = (f"{what}: it fails its gate in evaluation run {run_id}: "
                      + "; ".join(r.describe() for r in failed))
        failures = [missing] if missing is not None else [r.describe() for r in failed]
        return GateCheck(mv.name, mv.version, target, True, False, run_id, results, reason), failures

    def _evaluation_metrics(self, run_id: str | None) -> tuple[dict[str, float] | None, str | None]:
        """The attached run's latest metrics, or ``(None, why there are none)``."""
        if run_id is None:
            return None, "no evaluation is attached to it"
        try:
            info = self.get_run_info(run_id)
        except NotFoundError:
            return None, f"its attached evaluation run {run_id} no longer exists"
        if info.lifecycle_stage != "active":
            return None, f"its attached evaluation run {run_id} is deleted"
        found = self.latest_metrics([run_id]).get(run_id, [])
        return {m.key: m.value for m in found}, None

    def enforce_gate(self, mv: ModelVersion, target: str, force: bool, user_id: str) -> None:
        """Refuse a move that fails the gate, or record it in the history when ``force``.

        Called inside the move's transaction, so the check and the move see the same state and a
        forced move and its audit line commit together.

        :param mv: the version being moved.
        :param target: the stage (canonical) or alias it moves to.
        :param force: move anyway.
        :param user_id: who moves it.
        :raises GateFailedError: naming every failed threshold and its measured value.
        """
        check, failures = self._check(mv, target)
        if check.passed:
            return
        if not force:
            raise GateFailedError(
                f"{check.reason}. Pass force=True to move it anyway (recorded in the version's "
                "history).", failures)
        self._record(mv.name, int(mv.version), FORCED_KIND, target, "; ".join(failures)[:2000],
                     user_id)
