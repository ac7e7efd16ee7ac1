"""Did it reproduce? Re-run a project with a run's params and compare the metrics.

The comparison walks both run trees (a run and its children, since a notebook's runs become
children of the project's run): each original run is paired with the reproduced run of the
same name, else with the one sharing most metric keys. Values match within ``rtol``/``atol``
(``math.isclose``; NaN matches NaN). Timing metrics (names with time, duration, elapsed) cannot
reproduce and are listed as skipped. When values differ, :func:`nondeterminism_hints` reads the
script for randomness without a seed and names it.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnb.entities import Run
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.projects.export import export_notebook
from mlnb.projects.mlproject import load_project
from mlnb.projects.origin import run_tree
from mlnb.projects.run import run_project
from mlnb.projects.runtime import PROVENANCE, SCRIPT, TAG_DIR
from mlnb.tracking.client import current_client

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
_TIMING = re.compile(r"(?i)(^mlnb\.|^system/|time|duration|elapsed|latency)")
# Estimators and splitters whose result depends on random_state when it is not given.
_RANDOM_STATE_USERS = frozenset({
    "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
    "GradientBoostingClassifier", "GradientBoostingRegressor", "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor",
    "BaggingClassifier", "BaggingRegressor", "AdaBoostClassifier", "AdaBoostRegressor",
    "IsolationForest", "KMeans", "MiniBatchKMeans", "MLPClassifier", "MLPRegressor",
    "SGDClassifier", "SGDRegressor", "Perceptron", "TSNE", "train_test_split", "ShuffleSplit",
    "StratifiedShuffleSplit", "RandomizedSearchCV", "GaussianMixture", "LinearSVC",
})
_SEED_CALLS = frozenset({"seed", "manual_seed", "set_seed", "default_rng", "RandomState"})


@dataclass(frozen=True)
class RunMetrics:
    """One run's id, name and latest metrics."""
    run_id: str
    run_name: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class MetricCheck:
    """One metric compared: original and reproduced values, and ``match``, ``mismatch``, ``missing`` or
    ``skipped``.
    """
    run_name: str
    key: str
    original: float
    reproduced: float | None
    status: str  # "match", "mismatch", "missing", "skipped"


@dataclass
class Reproduction:
    """The outcome: each metric's check, and hints on non-determinism when something differs."""

    original_run_id: str
    new_run_id: str
    checks: list[MetricCheck]
    rtol: float
    atol: float
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check matched (or was skipped), and there was at least one."""
        return bool(self.checks) and all(c.status in ("match", "skipped") for c in self.checks)

    def table(self) -> str:
        """The checks as a text table."""
        rows = [["RUN", "METRIC", "ORIGINAL", "REPRODUCED", "RESULT"]]
        rows += [[c.run_name[:40], c.key[:40], _number(c.original), _number(c.reproduced),
                  c.status.upper()] for c in self.checks]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])

    def summary(self) -> str:
        """The verdict with its counts, tolerances and the new run's id."""
        counts = {s: sum(c.status == s for c in self.checks)
                  for s in ("match", "mismatch", "missing", "skipped")}
        verdict = "REPRODUCED" if self.ok else "NOT REPRODUCED"
        text = (f"{verdict}: {counts['match']} match, {counts['mismatch']} mismatch, "
                f"{counts['missing']} missing, {counts['skipped']} skipped "
                f"(rtol={self.rtol:g}, atol={self.atol:g}); new run {self.new_run_id}")
        if not self.checks:
            text = f"NOTHING TO COMPARE: run {self.original_run_id} recorded no metrics"
        if self.hints and not self.ok:
            text += "\nPossible sources of non-determinism:\n" + "\n".join(f"  - {h}" for h in self.hints)
        return text


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


# --- comparing ---------------------------------------------------------------------------------


def tree_metrics(runs: list[Run]) -> list[RunMetrics]:
    """The metrics of each run of a run tree.

    :param runs: the runs.
    """
    return [RunMetrics(r.info.run_id, r.info.run_name, dict(r.data.metrics)) for r in runs]


def compare_trees(original: list[RunMetrics], reproduced: list[RunMetrics], rtol: float = DEFAULT_RTOL,
                  atol: float = DEFAULT_ATOL) -> list[MetricCheck]:
    """Pair the runs (by name, else by shared metric keys) and check every original metric.

    :param original: the original run tree's metrics.
    :param reproduced: the new run tree's metrics.
    :param rtol: the relative tolerance.
    :param atol: the absolute tolerance.
    """
    checks: list[MetricCheck] = []
    unused = list(reproduced)
    for source in original:
        if not source.metrics:
            continue
        partner = _partner(source, unused)
        if partner is not None:
            unused.remove(partner)
        for key, value in sorted(source.metrics.items()):
            new = partner.metrics.get(key) if partner is not None else None
            checks.append(MetricCheck(source.run_name, key, value, new, _status(key, value, new, rtol, atol)))
    return checks


def _partner(source: RunMetrics, candidates: list[RunMetrics]) -> RunMetrics | None:
    named = [c for c in candidates if c.run_name == source.run_name and c.metrics]
    if named:
        return named[0]
    scored = [(len(set(c.metrics) & set(source.metrics)), -i, c) for i, c in enumerate(candidates)]
    scored = [s for s in scored if s[0] > 0]
    return max(scored, key=lambda s: (s[0], s[1]))[2] if scored else None


def _status(key: str, original: float, new: float | None, rtol: float, atol: float) -> str:
    if _TIMING.search(key):
        return "skipped"
    if new is None:
        return "missing"
    if math.isnan(original) or math.isnan(new):
        return "match" if math.isnan(original) and math.isnan(new) else "mismatch"
    return "match" if math.isclose(original, new, rel_tol=rtol, abs_tol=atol) else "mismatch"


# --- non-determinism ---------------------------------------------------------------------------


def nondeterminism_hints(source: str, filename: str = "main.py") -> list[str]:
    """Randomness in the code that no seed pins down, each with its line.

    :param source: the project's script.
    :param filename: its name, for the hints.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    hints: list[str] = []
    seeded = False
    random_calls: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        keywords = {k.arg: k.value for k in node.keywords}
        if name in _SEED_CALLS and (node.args or keywords):
            seeded = True
        if name in _RANDOM_STATE_USERS:
            state = keywords.get("random_state")
            if state is None or (isinstance(state, ast.Constant) and state.value is None):
                hints.append(f"{name}(...) at {filename} line {node.lineno} has no random_state: "
                             "pass random_state=<int>")
        if _is_unseeded_random(node):
            random_calls.append(node.lineno)
    if random_calls and not seeded:
        hints.append(f"random numbers drawn at {filename} line(s) "
                     f"{', '.join(map(str, sorted(set(random_calls))[:5]))} with no seed set: call "
                     "random.seed(...) / np.random.seed(...) or use np.random.default_rng(seed)")
    return hints


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_unseeded_random(node: ast.Call) -> bool:
    func = node.func
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
    return owner_name == "random" and func.attr not in _SEED_CALLS


# --- reproduce a run, verify a project ---------------------------------------------------------


def reproduce_run(run_id: str, *, env_manager: str = "local", rtol: float = DEFAULT_RTOL,
                  atol: float = DEFAULT_ATOL, **run_options: Any) -> Reproduction:
    """Re-run the project that made ``run_id`` (or export its notebook first) and compare.

    :param run_id: the run to reproduce.
    :param env_manager: ``local`` (this interpreter) or ``virtualenv``.
    :param rtol: the relative tolerance.
    :param atol: the absolute tolerance.
    :param run_options: keyword arguments of :func:`mlnb.projects.run.run_project`.
    """
    client = current_client()
    original = client.get_run(run_id)
    project_dir = _project_dir_of(client, original)
    params = _declared_params(project_dir, original)
    result = run_project(project_dir, params, env_manager=env_manager,
                         experiment_name=client.get_experiment(original.info.experiment_id).name,
                         paths_relative_to=project_dir, **run_options)
    source = tree_metrics(run_tree(client, run_id))
    new = tree_metrics(run_tree(client, result.run_id))
    return _outcome(run_id, result.run_id, source, new, rtol, atol, project_dir)


def _outcome(original_id: str, new_id: str, source: list[RunMetrics], new: list[RunMetrics],
             rtol: float, atol: float, project_dir: Path) -> Reproduction:
    outcome = Reproduction(original_id, new_id, compare_trees(source, new, rtol, atol), rtol, atol)
    script = project_dir / SCRIPT
    if script.is_file():
        outcome.hints = nondeterminism_hints(script.read_text(encoding="utf-8"), SCRIPT)
    return outcome


def _project_dir_of(client: Any, run: Run) -> Path:
    """The run's project folder: tagged by ``mlnb run`` (on it or a parent), else its notebook
    exported into ``<store>/projects/<run id>``."""
    current: Run | None = run
    while current is not None:
        folder = current.data.tags.get(TAG_DIR)
        if folder and (Path(folder) / "MLproject").is_file():
            return Path(folder)
        parent = current.data.tags.get("mlflow.parentRunId")
        current = client.get_run(parent) if parent else None
    notebook = _notebook_of(client, run)
    target = client.store.location.db_path.parent / "projects" / run.info.run_id
    return export_notebook(notebook, target, run.info.run_id, overwrite=True)


def _notebook_of(client: Any, run: Run) -> Path:
    recorded = run.data.tags.get("mlnb.notebook.path")
    if not recorded:
        raise NotFoundError(
            f"Run {run.info.run_id} records neither a project folder (tag mlnb.project.dir) nor a "
            "notebook (tag mlnb.notebook.path). Export it yourself: mlnb export NOTEBOOK.ipynb "
            f"--run {run.info.run_id} --out DIR, then mlnb run DIR --verify.")
    path = Path(recorded)
    store_root = client.store.location.db_path.parent.parent
    for candidate in ([path] if path.is_absolute() else [Path.cwd() / path, store_root / path]):
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"Run {run.info.run_id} was made by the notebook {recorded!r}, which is "
                        "not there any more (looked relative to the current folder and the store's).")


def _declared_params(project_dir: Path, run: Run) -> dict[str, str]:
    declared = load_project(project_dir).entry_point("main").parameters
    return {k: v for k, v in run.data.params.items() if k in declared}


def verify_project(project_dir: Path, *, env_manager: str = "local", rtol: float = DEFAULT_RTOL,
                   atol: float = DEFAULT_ATOL, **run_options: Any) -> Reproduction:
    """Run the project with its source run's params; compare with the metrics in provenance.json.

    :param project_dir: the project folder.
    :param env_manager: ``local`` (this interpreter) or ``virtualenv``.
    :param rtol: the relative tolerance.
    :param atol: the absolute tolerance.
    :param run_options: keyword arguments of :func:`mlnb.projects.run.run_project`.
    """
    path = project_dir / PROVENANCE
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    source = record.get("run")
    if not source:
        raise InvalidParameterError(
            f"{project_dir} records no source run to compare with: export it with --run RUN_ID.")
    declared = _declared_from(project_dir)
    params = {k: v for k, v in source.get("params", {}).items() if k in declared}
    result = run_project(project_dir, params, env_manager=env_manager,
                         experiment_name=source.get("experiment"), paths_relative_to=project_dir,
                         **run_options)
    original = [RunMetrics(source["run_id"], source["run_name"], _floats(source["metrics"]))]
    original += [RunMetrics(c["run_id"], c["run_name"], _floats(c["metrics"]))
                 for c in source.get("children", [])]
    new = tree_metrics(run_tree(current_client(), result.run_id))
    return _outcome(source["run_id"], result.run_id, original, new, rtol, atol, project_dir)


def _declared_from(project_dir: Path) -> set[str]:
    return set(load_project(project_dir).entry_point("main").parameters)


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()}  # "NaN"/"Infinity" strings parse as floats


__all__ = ["Reproduction", "compare_trees", "nondeterminism_hints", "reproduce_run", "verify_project"]
