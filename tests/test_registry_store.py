"""The registry: names, sources, versions, stages, aliases, search, history, concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import unicodedata

import pytest
from test_models_data import classifier

import mlnb
from mlnb.errors import AlreadyExistsError, InvalidParameterError, NotFoundError

pytestmark = pytest.mark.both_backends


@pytest.fixture
def client(tracking):
    return mlnb.MlnbClient()


@pytest.fixture
def logged(tracking):
    """Three logged models (runs:/ URIs), each in its own run with an 'acc' metric."""
    model, _ = classifier()
    uris = []
    for acc in (0.7, 0.8, 0.9):
        with mlnb.start_run():
            mlnb.log_metric("acc", acc)
            info = mlnb.sklearn.log_model(model, "model")
            uris.append(f"runs:/{info.run_id}/{info.artifact_path}")
    return uris


def test_register_numbers_versions_and_points_at_runs(client, logged):
    versions = [mlnb.register_model(uri, "churn") for uri in logged]
    assert [v.version for v in versions] == ["1", "2", "3"]
    # The folder is a logged model's: the version shows it as MLflow 3 does, models:/m-<id>.
    assert versions[0].storage_location == logged[0]
    assert versions[0].source == f"models:/{versions[0].model_id}"
    assert versions[0].run_id == logged[0].split("/")[1]
    assert client.get_registered_model("churn").latest_versions[0].version == "3"


@pytest.mark.parametrize("source", [
    "/etc", "file:///etc/passwd", "//proc/self/root/etc/passwd", "../../etc",
    "runs:/" + "0" * 32 + "/model", "http://169.254.169.254/latest", "s3://bucket/model",
])
def test_sources_outside_the_store_are_refused(client, logged, source):
    with pytest.raises((InvalidParameterError, NotFoundError)):
        mlnb.register_model(source, "m")
    client.create_registered_model("m2")
    with pytest.raises((InvalidParameterError, NotFoundError)):
        client.create_model_version("m2", source)
    assert client.search_model_versions("name = 'm2'") == []


def test_local_path_inside_the_store_becomes_a_runs_uri(client, logged):
    run_id = logged[0].split("/")[1]
    folder = client.download_artifacts(run_id, "model")
    mv = mlnb.register_model(folder, "m")
    assert mv.storage_location == f"runs:/{run_id}/model"
    assert mv.source == f"models:/{mv.model_id}"  # the logged model in that folder


@pytest.mark.parametrize("name", ["m%20", "a/b", "m@x", "m$(id)", "m;ls", "m`id`", "a\x00b",
                                  "a\u202eb", "", "   ", "x" * 300])
def test_bad_names_are_refused(client, name):
    with pytest.raises(InvalidParameterError):
        client.create_registered_model(name)


def test_names_are_canonical_and_unique_ignoring_case(client):
    nfd = unicodedata.normalize("NFD", "café")
    created = client.create_registered_model(f"  {nfd} ")
    assert created.name == unicodedata.normalize("NFC", "café")
    for twin in ("café", "CAFÉ", "Café"):
        with pytest.raises(AlreadyExistsError):
            client.create_registered_model(twin)
    with pytest.raises(NotFoundError, match="Did you mean 'café'"):
        client.get_registered_model("CAFÉ")


def test_stages_are_case_insensitive_and_closed(client, logged):
    for uri in logged[:2]:
        mlnb.register_model(uri, "m")
    assert client.transition_model_version_stage("m", 1, "sTaGiNg").current_stage == "Staging"
    with pytest.raises(InvalidParameterError, match="None, Staging, Production, Archived"):
        client.transition_model_version_stage("m", 1, "Prod")
    with pytest.raises(NotFoundError):
        client.transition_model_version_stage("m", 9, "Production")


def test_archive_existing_leaves_one_in_production(client, logged):
    for uri in logged:
        mlnb.register_model(uri, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Production")
    assert [v.version for v in client.get_latest_versions("m", ["Production"])] == ["2"]
    client.transition_model_version_stage("m", 3, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'm'")}
    assert stages == {"1": "Archived", "2": "Archived", "3": "Production"}


def test_aliases_set_move_resolve_delete(client, logged):
    for uri in logged[:2]:
        mlnb.register_model(uri, "m")
    client.set_registered_model_alias("m", "champion", 1)
    client.set_registered_model_alias("m", "champion", 2)
    assert client.get_model_version_by_alias("m", "champion").version == "2"
    assert client.get_model_version("m", 2).aliases == ["champion"]
    assert client.get_registered_model("m").aliases == {"champion": "2"}
    client.delete_registered_model_alias("m", "champion")
    with pytest.raises(NotFoundError):
        client.get_model_version_by_alias("m", "champion")
    for bad in ("latest", "v3", "a b", ""):
        with pytest.raises(InvalidParameterError):
            client.set_registered_model_alias("m", bad, 1)


def test_history_records_every_stage_and_alias_change(client, logged):
    shown = [mlnb.register_model(uri, "m").source for uri in logged[:2]]  # models:/m-<id>
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Production", archive_existing_versions=True)
    client.set_registered_model_alias("m", "champion", 2)
    client.delete_registered_model_alias("m", "champion")
    events = [(e.version, e.kind, e.from_value, e.to_value)
              for e in client.get_model_version_history("m")]
    assert events == [
        ("1", "create_version", None, shown[0]), ("2", "create_version", None, shown[1]),
        ("1", "stage", "None", "Production"), ("1", "stage", "Production", "Archived"),
        ("2", "stage", "None", "Production"), ("2", "alias:champion", None, "2"),
        ("2", "alias:champion", "2", None),
    ]
    assert all(e.timestamp > 0 for e in client.get_model_version_history("m", 1))
    assert {e.version for e in client.get_model_version_history("m", 1)} == {"1"}


def test_search_with_the_filter_grammar(client, logged):
    for uri in logged:
        mlnb.register_model(uri, "alpha")
    mlnb.register_model(logged[0], "beta", tags={"team": "risk"})
    client.set_registered_model_tag("beta", "team", "risk")
    client.transition_model_version_stage("alpha", 2, "Staging")
    names = [m.name for m in client.search_registered_models("tags.team = 'risk'")]
    assert names == ["beta"]
    assert [m.name for m in client.search_registered_models("name LIKE 'al%'")] == ["alpha"]
    found = client.search_model_versions("name = 'alpha' and version_number >= 2")
    assert [v.version for v in found] == ["3", "2"]
    assert [v.version for v in client.search_model_versions("current_stage = 'Staging'")] == ["2"]
    run_id = logged[0].split("/")[1]
    assert {(v.name, v.version) for v in client.search_model_versions(f"run_id = '{run_id}'")} == {
        ("alpha", "1"), ("beta", "1")}
    assert client.search_model_versions("tags.team = 'risk'")[0].name == "beta"


def test_rename_delete_and_descriptions(client, logged):
    for uri in logged[:2]:
        mlnb.register_model(uri, "old")
    client.update_registered_model("old", "the model")
    client.update_model_version("old", 1, "first try")
    client.set_registered_model_alias("old", "champion", 1)
    renamed = client.rename_registered_model("old", "new")
    assert renamed.description == "the model" and renamed.aliases == {"champion": "1"}
    assert client.get_model_version("new", 1).description == "first try"
    with pytest.raises(NotFoundError):
        client.get_registered_model("old")
    client.delete_model_version("new", 2)
    with pytest.raises(NotFoundError):
        client.get_model_version("new", 2)
    assert mlnb.register_model(logged[2], "new").version == "3"  # numbers are never reused
    client.delete_registered_model("new")
    assert client.search_registered_models() == []
    assert client.get_model_version_history("new")[-1].kind == "delete_model"


def test_concurrent_promotions_from_two_processes(client, logged, tracking):
    for uri in logged[:2]:
        mlnb.register_model(uri, "m")
    script = textwrap.dedent("""
        import sys, mlnb
        client = mlnb.MlnbClient()
        version = sys.argv[1]
        for _ in range(25):
            client.transition_model_version_stage("m", version, "Production",
                                                  archive_existing_versions=True)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, v]) for v in ("1", "2")]
    seen = set()
    while any(p.poll() is None for p in procs):
        in_production = client.search_model_versions("name = 'm' and current_stage = 'Production'")
        seen.add(len(in_production))
    assert [p.wait() for p in procs] == [0, 0]
    assert seen <= {0, 1}
    final = client.search_model_versions("name = 'm' and current_stage = 'Production'")
    assert len(final) == 1
    events = client.get_model_version_history("m")
    to_production = [e for e in events if e.kind == "stage" and e.to_value == "Production"]
    to_archived = [e for e in events if e.kind == "stage" and e.to_value == "Archived"]
    assert len(to_production) >= 2 and len(to_production) == len(to_archived) + 1


def test_search_pages_with_tokens(client, logged):
    for i in range(5):
        client.create_registered_model(f"m{i}")
    first = client.search_registered_models(max_results=3)
    assert [m.name for m in first] == ["m0", "m1", "m2"] and first.token == "3"
    rest = client.search_registered_models(max_results=3, page_token=first.token)
    assert [m.name for m in rest] == ["m3", "m4"] and rest.token is None


@pytest.mark.parametrize("version", ["99999999999999999999999", 2**63, "²", "٣", "1.0", True])
def test_versions_no_engine_can_hold_are_refused_by_name(client, logged, version):
    client.create_registered_model("sized")
    with pytest.raises(InvalidParameterError, match="Model version") as caught:
        client.get_model_version("sized", version)
    assert repr(version) in str(caught.value)
