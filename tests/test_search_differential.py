"""The same runs logged through real MLflow (SQLite backend) and through mlnb, searched alike.

For every filter and order_by below, both must return the same runs in the same order (runs are
matched by name; run ids differ, so filters that name ids are formatted per backend). Forms that
mlnb deliberately accepts beyond MLflow (``or``, ``not``, parentheses, ``params.x > number``) are
tested on mlnb alone at the end.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import mlnb
from mlnb import entities as mlnb_entities

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

T0 = 1_700_000_000_000

# name, params, tags, metrics {key: [values by step]}, status, start offset (s), duration (s)
RUNS: list[tuple[str, dict[str, str], dict[str, str], dict[str, list[float]], str, int, int | None]] = [
    ("r0", {"lr": "0.1", "optimizer": "adam", "batch size": "32"}, {"model": "ResNet50"},
     {"acc": [0.5, 0.7], "loss": [1.5, 0.9], "val.loss": [0.8]}, "FINISHED", 0, 10),
    ("r1", {"lr": "0.01", "optimizer": "Adam"}, {"model": "resnet18", "team": "vision"},
     {"acc": [0.6, 0.9], "loss": [1.2, 0.3]}, "FINISHED", 1, 20),
    ("r2", {"lr": "0.001", "optimizer": "sgd", "batch size": "64"}, {"model": "vit_b"},
     {"acc": [0.95], "loss": [0.2], "val.loss": [0.4]}, "FAILED", 2, 5),
    ("r3", {"optimizer": "sgd"}, {"model": "vitXb"}, {"acc": [0.3]}, "KILLED", 3, 1),
    ("r4", {"lr": "0.01", "optimizer": "rmsprop"}, {"model": "res%net", "team": "nlp"},
     {"loss": [2.0, 1.0, 0.5]}, "FINISHED", 4, 40),
    ("r5", {"lr": "1e-4"}, {}, {"acc": [0.9], "loss": [0.25]}, "RUNNING", 5, None),
    ("r6", {"lr": "0.1", "optimizer": "adamw"}, {"model": "ResNet101", "team": "vision"},
     {"acc": [0.85], "loss": [0.4], "val.loss": [0.6]}, "FINISHED", 6, 30),
    ("r10", {"lr": "0.5", "optimizer": "adam"}, {"model": "resnet18"},
     {"acc": [0.5], "loss": [3.0]}, "FAILED", 7, 15),
    ("r11", {}, {"model": "linear"}, {}, "FINISHED", 8, 2),
    ("r12", {"lr": "0.01", "optimizer": "sgd"}, {"model": "ViT_B", "team": "nlp"},
     {"acc": [0.9, 0.9], "loss": [0.35, 0.3], "val.loss": [0.5]}, "FINISHED", 9, 25),
    # NaN and infinities: NaN satisfies only != (IEEE, as MLflow); +-inf compare as numbers.
    ("r13", {"lr": "0.2"}, {"model": "nan"}, {"acc": [0.4, math.nan], "loss": [math.inf]},
     "FINISHED", 10, 3),
    ("r14", {"lr": "0.3"}, {}, {"acc": [-math.inf], "loss": [0.1]}, "FINISHED", 11, 4),
]

FILTERS = [
    "",
    "metrics.acc != 0.5",
    "metrics.loss > 1000",
    "metrics.acc < 0",
    "attributes.`Run name` = 'r1'",
    "attributes.`Run Name` LIKE 'r1%'",
    "attributes.Created >= 1700000005000",
    "attributes.artifact_uri LIKE '%{r1}%'",
    "metrics.acc > 0.8",
    "metrics.acc >= 0.9",
    "metrics.acc < 0.5",
    "metrics.acc <= 0.5",
    "metrics.acc = 0.9",
    "metrics.acc != 0.9",
    "metrics.loss < 1 and metrics.acc > 0.5",
    "metrics.acc > 0.5 and metrics.acc < 0.95",
    "metrics.`val.loss` < 0.55",
    'metrics."val.loss" >= 0.5',
    "params.lr = '0.01'",
    "params.lr != '0.01'",
    "params.optimizer LIKE 'ad%'",
    "params.optimizer LIKE 'Ad%'",
    "params.optimizer ILIKE 'ad%'",
    "params.optimizer LIKE '%am%'",
    "params.`batch size` = '32'",
    'params."batch size" != \'32\'',
    "params.lr = '0.01' and tags.model LIKE 'res%'",
    "tags.model LIKE '%net%'",
    "tags.model LIKE '%Net%'",
    "tags.model ILIKE '%NET%'",
    "tags.model LIKE 'vit_b'",
    "tags.model ILIKE 'vit_b'",
    "tags.model LIKE 'res\\%net'".replace("\\", ""),
    "tags.model = 'vit_b'",
    "tags.model != 'vit_b'",
    "tags.team = 'vision'",
    "tags.team != 'vision'",
    "tags.`mlflow.runName` = 'r2'",
    "attributes.run_name = 'r3'",
    "attributes.run_name != 'r3'",
    "attributes.run_name LIKE 'r1%'",
    "attributes.run_name ILIKE 'R1_'",
    "attributes.status = 'FAILED'",
    "attributes.status != 'FINISHED'",
    f"attributes.start_time > {T0 + 3000}",
    f"attributes.start_time <= {T0 + 5000}",
    f"attributes.start_time = {T0 + 2000}",
    f"attributes.start_time != {T0 + 2000}",
    f"attributes.end_time > {T0 + 30_000}",
    "attributes.run_id = '{r2}'",
    "attributes.run_id IN ('{r0}', '{r4}', '{r12}')",
    "attributes.run_id NOT IN ('{r0}', '{r4}')",
    "attributes.run_id != '{r5}'",
    "metrics.acc > 0.5 and params.optimizer = 'adam' and attributes.status = 'FINISHED'",
    "params.lr = '0.1' AND tags.team = 'vision' AND metrics.loss <= 0.4",
]

ORDERS: list[list[str]] = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc ASC"],
    ["metrics.loss"],
    ["params.lr ASC"],
    ["params.optimizer DESC"],
    ["tags.model ASC"],
    ["tags.team DESC", "attributes.start_time ASC"],
    ["attributes.start_time ASC"],
    ["attributes.run_name DESC"],
    ["attributes.end_time DESC"],
    ["metrics.acc DESC", "params.lr ASC"],
]


def _log_all(client: Any, entities: Any, experiment_id: str) -> dict[str, str]:
    ids = {}
    for name, params, tags, metrics, status, start, duration in RUNS:
        run = client.create_run(experiment_id, start_time=T0 + start * 1000, tags=tags,
                                run_name=name)
        run_id = run.info.run_id
        points = [entities.Metric(key, value, T0 + step, step)
                  for key, values in metrics.items() for step, value in enumerate(values)]
        client.log_batch(run_id, metrics=points,
                         params=[entities.Param(k, v) for k, v in params.items()])
        if status != "RUNNING":
            client.set_terminated(run_id, status, T0 + (start + (duration or 0)) * 1000)
        ids[name] = run_id
    return ids


class Backend:
    def __init__(self, client: Any, experiment_id: str, ids: dict[str, str]) -> None:
        self.client, self.experiment_id, self.ids = client, experiment_id, ids

    def names(self, filter_string: str, order_by: list[str] | None = None) -> list[str]:
        runs = self.client.search_runs([self.experiment_id], self.format(filter_string),
                                       order_by=order_by, max_results=1000)
        return [r.info.run_name for r in runs]

    def format(self, text: str) -> str:
        for name, run_id in sorted(self.ids.items(), key=lambda kv: -len(kv[0])):
            text = text.replace("{" + name + "}", run_id)
        return text


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory, module_store_uri: str
             ) -> Iterator[tuple[Backend, Backend]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow
        from mlflow import entities as mlflow_entities

    tmp = tmp_path_factory.mktemp("differential")
    mlflow_client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp}/mlflow.db")
    mlflow_eid = mlflow_client.create_experiment(
        "diff", artifact_location=(tmp / "mlruns").as_uri())
    reference = Backend(mlflow_client, mlflow_eid, _log_all(mlflow_client, mlflow_entities,
                                                              mlflow_eid))
    mlnb_client = mlnb.MlnbClient(module_store_uri)
    mlnb_eid = mlnb_client.create_experiment("diff")
    ours = Backend(mlnb_client, mlnb_eid, _log_all(mlnb_client, mlnb_entities, mlnb_eid))
    yield reference, ours


def test_there_are_enough_cases() -> None:
    assert len(FILTERS) >= 25 and len(ORDERS) >= 6


def _comparable(metrics: dict[str, float]) -> dict[str, object]:
    """MLflow stores +-inf as +-max float (mlnb keeps them exact); NaN never equals itself."""
    def value(v: float) -> object:
        if math.isnan(v):
            return "nan"
        return math.copysign(1.7976931348623157e308, v) if math.isinf(v) else v
    return {k: value(v) for k, v in metrics.items()}


def test_both_backends_hold_the_same_runs(backends: tuple[Backend, Backend]) -> None:
    reference, ours = backends
    for name in reference.ids:
        theirs = reference.client.get_run(reference.ids[name])
        mine = ours.client.get_run(ours.ids[name])
        assert mine.data.params == theirs.data.params
        assert _comparable(mine.data.metrics) == _comparable(theirs.data.metrics)
        # mlnb.db_user: the team store's record of the database role (MLflow has none)
        assert {k: v for k, v in mine.data.tags.items() if k != "mlnb.db_user"} == {
            k: v for k, v in theirs.data.tags.items() if not k.startswith("mlflow.user")}
        assert (mine.info.status, mine.info.start_time, mine.info.end_time) == (
            theirs.info.status, theirs.info.start_time, theirs.info.end_time)


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_matches_mlflow(backends: tuple[Backend, Backend], filter_string: str) -> None:
    reference, ours = backends
    expected = reference.names(filter_string)
    assert ours.names(filter_string) == expected


@pytest.mark.parametrize("order_by", ORDERS, ids=lambda o: ",".join(o) or "default")
def test_order_matches_mlflow(backends: tuple[Backend, Backend], order_by: list[str]) -> None:
    reference, ours = backends
    assert ours.names("", order_by) == reference.names("", order_by)


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [("metrics.acc > 0.4", ["metrics.acc DESC"]), ("params.lr != '0.1'", ["params.lr DESC"]),
     ("tags.model LIKE '%e%'", ["attributes.end_time ASC"])],
)
def test_filter_and_order_together(backends: tuple[Backend, Backend], filter_string: str,
                                   order_by: list[str]) -> None:
    reference, ours = backends
    assert ours.names(filter_string, order_by) == reference.names(filter_string, order_by)


def test_paging_matches_mlflow(backends: tuple[Backend, Backend]) -> None:
    pages = []
    for backend in backends:
        names: list[list[str]] = []
        token = None
        while True:
            page = backend.client.search_runs([backend.experiment_id], "", max_results=3,
                                              order_by=["metrics.loss ASC"], page_token=token)
            names.append([r.info.run_name for r in page])
            token = page.token
            if not token:
                break
        pages.append([p for p in names if p])
    assert pages[1] == pages[0]


# --- where mlnb deliberately goes beyond MLflow ----------------------------------------------

# MLflow 3 accepts IN / NOT IN only on attributes.run_id. mlnb accepts them on every text field;
# the expected runs are MLflow's answers to the equivalent '=' (union) and '!=' (intersection)
# filters, in MLflow's default order.
IN_BEYOND_MLFLOW = [
    ("params.optimizer IN ('adam', 'sgd')", "union",
     ["params.optimizer = 'adam'", "params.optimizer = 'sgd'"]),
    ("params.optimizer NOT IN ('adam', 'sgd')", "intersection",
     ["params.optimizer != 'adam'", "params.optimizer != 'sgd'"]),
    ("tags.model IN ('vit_b', 'resnet18')", "union", ["tags.model = 'vit_b'", "tags.model = 'resnet18'"]),
    ("tags.model NOT IN ('vit_b', 'resnet18')", "intersection",
     ["tags.model != 'vit_b'", "tags.model != 'resnet18'"]),
    ("attributes.run_name IN ('r0', 'r11', 'nope')", "union",
     ["attributes.run_name = 'r0'", "attributes.run_name = 'r11'", "attributes.run_name = 'nope'"]),
    ("attributes.status IN ('KILLED', 'RUNNING')", "union",
     ["attributes.status = 'KILLED'", "attributes.status = 'RUNNING'"]),
    ("attributes.status NOT IN ('FINISHED')", "intersection", ["attributes.status != 'FINISHED'"]),
]


@pytest.mark.parametrize(("filter_string", "how", "parts"), IN_BEYOND_MLFLOW,
                         ids=[case[0] for case in IN_BEYOND_MLFLOW])
def test_in_lists_beyond_run_id(backends: tuple[Backend, Backend], filter_string: str, how: str,
                                parts: list[str]) -> None:
    reference, ours = backends
    with pytest.raises(Exception):  # noqa: B017 - MLflow refuses it: the reason this is not above
        reference.names(filter_string)
    sets = [set(reference.names(part)) for part in parts]
    wanted = set.union(*sets) if how == "union" else set.intersection(*sets)
    assert ours.names(filter_string) == [n for n in reference.names("") if n in wanted]



def test_mlflow_rejects_or_and_mlnb_supports_it(backends: tuple[Backend, Backend]) -> None:
    reference, ours = backends
    with pytest.raises(Exception):  # noqa: B017 - MLflow's own MlflowException
        reference.names("metrics.acc > 0.9 or params.lr = '0.1'")
    assert sorted(ours.names("metrics.acc > 0.9 or params.lr = '0.1'")) == ["r0", "r2", "r6"]
    union = set(reference.names("metrics.acc > 0.9")) | set(reference.names("params.lr = '0.1'"))
    assert set(ours.names("metrics.acc > 0.9 or params.lr = '0.1'")) == union


def test_not_and_parentheses_are_complements(backends: tuple[Backend, Backend]) -> None:
    reference, ours = backends
    everything = set(reference.names(""))
    matched = set(reference.names("tags.team = 'vision'"))
    assert set(ours.names("not tags.team = 'vision'")) == everything - matched
    both = set(reference.names("metrics.acc > 0.8")) & (
        set(reference.names("params.lr = '0.01'")) | set(reference.names("params.lr = '0.1'")))
    assert set(ours.names("metrics.acc > 0.8 and (params.lr = '0.01' or params.lr = '0.1')")) == both


def test_numeric_comparison_on_params(backends: tuple[Backend, Backend]) -> None:
    _, ours = backends
    assert sorted(ours.names("params.lr < 0.005")) == ["r2", "r5"]
    assert sorted(ours.names("params.lr >= 0.1")) == ["r0", "r10", "r13", "r14", "r6"]


def test_nan_metric_orders_after_numbers_and_before_missing(store_uri: str) -> None:
    client = mlnb.MlnbClient(store_uri)
    eid = client.create_experiment("nan")
    for name, value in (("a", 1.0), ("b", math.nan), ("c", 3.0), ("d", None)):
        run_id = client.create_run(eid, run_name=name).info.run_id
        if value is not None:
            client.log_batch(run_id, metrics=[mlnb_entities.Metric("m", value, 1, 0)])
    for direction, expected in (("ASC", ["a", "c", "b", "d"]), ("DESC", ["c", "a", "b", "d"])):
        runs = client.search_runs([eid], order_by=[f"metrics.m {direction}"])
        assert [r.info.run_name for r in runs] == expected
