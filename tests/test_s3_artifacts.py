"""Artifacts in S3-compatible object storage (MLNB_ARTIFACT_URI=s3://bucket/prefix), against a
real SeaweedFS on loopback (tests/s3_server.py): what is written, what is read back and checked,
what is left after a failure, and the one clear error for each bad input."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from s3_server import S3Prefix, S3Server, _free_ports, s3_environment
from test_models_data import forest, pipeline

import mlnb
from mlnb.errors import (
    ArtifactIntegrityError,
    InvalidParameterError,
    NotFoundError,
    StoreError,
    UntrustedModelError,
)
from mlnb.store import Store, StoreLocation
from mlnb.store.artifacts import sha256_of
from mlnb.store.location import resolve, with_artifact_uri
from mlnb.store.object_store import PART_SIZE


@pytest.fixture
def artifact_backend() -> str:
    return "s3"


def _object(place: S3Prefix, key: str) -> bytes:
    client = place.server.client()
    body: bytes = client.get_object(Bucket=place.server.bucket, Key=f"{place.prefix}/{key}")["Body"].read()
    return body


def _replace_object(place: S3Prefix, key: str, data: bytes) -> None:
    place.server.client().put_object(Bucket=place.server.bucket, Key=f"{place.prefix}/{key}", Body=data)


def _figure():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([1, 2])
    return figure


# --- the fluent API and the client on an S3 root ---------------------------------------------


def test_logged_files_are_objects_and_read_back(tracking: Path, artifact_s3: S3Prefix,
                                                tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "src" / "sub").mkdir()
    (tmp_path / "src" / "sub" / "b.txt").write_text("bee")
    with mlnb.start_run() as run:
        mlnb.log_artifact(str(tmp_path / "src" / "a.csv"), artifact_path="data")
        mlnb.log_artifacts(str(tmp_path / "src"), artifact_path="all")
        mlnb.log_text("hello", "notes/hello.txt")
        mlnb.log_dict({"lr": 0.1}, "config.json")
        mlnb.log_figure(_figure(), "plots/line.png")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"{artifact_s3.url}/{run_id}"
    assert mlnb.get_experiment(run.info.experiment_id).artifact_location == artifact_s3.url
    assert artifact_s3.keys() == [f"{run_id}/{name}" for name in (
        "all/a.csv", "all/sub/b.txt", "config.json", "data/a.csv", "notes/hello.txt",
        "plots/line.png")]
    client = mlnb.MlnbClient()
    record = client.store.artifact_record(run_id, "plots/line.png")
    png = _object(artifact_s3, f"{run_id}/plots/line.png")
    assert png.startswith(b"\x89PNG") and record.file_size == len(png)
    assert [f.path for f in client.list_artifacts(run_id)] == ["all", "config.json", "data",
                                                                "notes", "plots"]
    assert [f.path for f in mlnb.artifacts.list_artifacts(run_id=run_id, artifact_path="all")] == [
        "all/a.csv", "all/sub"]
    assert Path(client.download_artifacts(run_id, "notes/hello.txt")).read_text() == "hello"
    copied = Path(client.download_artifacts(run_id, "all", str(tmp_path / "dst")))
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*")) == [
        "a.csv", "sub", "sub/b.txt"]
    uri = f"{run.info.artifact_uri}/config.json"
    assert mlnb.artifacts.load_dict(uri) == {"lr": 0.1}
    assert mlnb.artifacts.load_text(f"runs:/{run_id}/all/sub/b.txt") == "bee"
    local = Path(mlnb.artifacts.download_artifacts(artifact_uri=f"{run.info.artifact_uri}/all"))
    assert (local / "sub" / "b.txt").read_text() == "bee"
    # The local copy is the private cache, inside the store's artifact root as callers expect.
    assert local.is_relative_to(client.store.location.artifact_root.resolve())
    with pytest.raises(InvalidParameterError, match="its own store only"):
        mlnb.artifacts.download_artifacts(artifact_uri=f"s3://other-bucket/x/{run_id}/config.json")


def test_the_cache_is_reused_while_it_matches_and_a_changed_copy_is_fetched_again(
        tracking: Path, artifact_s3: S3Prefix) -> None:
    with mlnb.start_run() as run:
        mlnb.log_text("v1", "a.txt")
    client = mlnb.MlnbClient()
    local = Path(client.download_artifacts(run.info.run_id, "a.txt"))
    # The object is gone from the bucket: the cached copy, which still matches, is used.
    artifact_s3.server.client().delete_object(Bucket=artifact_s3.server.bucket,
                                              Key=f"{artifact_s3.prefix}/{run.info.run_id}/a.txt")
    assert Path(client.download_artifacts(run.info.run_id, "a.txt")).read_text() == "v1"
    # A cached copy changed locally is not used: mlnb goes back to the bucket for it.
    local.write_text("v2")
    with pytest.raises(NotFoundError, match="recorded in the store but missing from"):
        client.download_artifacts(run.info.run_id, "a.txt")
    _replace_object(artifact_s3, f"{run.info.run_id}/a.txt", b"v1")
    assert Path(client.download_artifacts(run.info.run_id, "a.txt")).read_text() == "v1"


def test_a_folder_holds_only_the_recorded_files(tracking: Path, artifact_s3: S3Prefix) -> None:
    with mlnb.start_run() as run:
        mlnb.log_text("a", "d/a.txt")
    # An object nobody recorded, and a stray file in the cache, are not part of the folder.
    _replace_object(artifact_s3, f"{run.info.run_id}/d/planted.txt", b"x")
    folder = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "d"))
    (folder / "stray.txt").write_text("stray")
    folder = Path(mlnb.MlnbClient().download_artifacts(run.info.run_id, "d"))
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
    with pytest.raises(NotFoundError, match=r"has no artifact 'd/planted\.txt'"):
        mlnb.MlnbClient().download_artifacts(run.info.run_id, "d/planted.txt")


def test_a_changed_object_is_refused_naming_the_file(tracking: Path, artifact_s3: S3Prefix
                                                     ) -> None:
    with mlnb.start_run() as run:
        mlnb.log_text("the real notes", "notes/n.txt")
    _replace_object(artifact_s3, f"{run.info.run_id}/notes/n.txt", b"the tampered notes")
    with pytest.raises(ArtifactIntegrityError) as err:
        mlnb.artifacts.load_text(f"runs:/{run.info.run_id}/notes/n.txt")
    assert f"Artifact 'notes/n.txt' of run {run.info.run_id}" in str(err.value)
    assert "changed in the bucket" in str(err.value)
    cache = mlnb.MlnbClient().store.location.artifact_root
    assert not list(cache.rglob("n.txt")) and not list(cache.rglob(".tmp-*"))


# --- models ------------------------------------------------------------------------------------


def test_models_log_register_load_from_s3(tracking: Path, artifact_s3: S3Prefix) -> None:
    model, X = pipeline()
    with mlnb.start_run() as run:
        info = mlnb.sklearn.log_model(model, "model", input_example=X[:3],
                                      registered_model_name="churn")
    expected = model.predict(X)
    assert any(k.startswith(f"{run.info.run_id}/model/") for k in artifact_s3.keys())
    for uri in ("models:/churn/1", info.model_uri, f"{run.info.artifact_uri}/model"):
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)
    version = mlnb.register_model(f"{run.info.artifact_uri}/model", "churn-again")
    assert (version.source, version.storage_location) == (
        info.model_uri, f"runs:/{run.info.run_id}/model")  # the logged model, as MLflow 3 shows
    np.testing.assert_array_equal(mlnb.sklearn.load_model("models:/churn-again/1").predict(X),
                                  expected)
    # A model logged outside a run: its own folder, models/<model_id>/ under the prefix.
    solo = mlnb.sklearn.log_model(model, "solo", registered_model_name="solo")
    assert any(k.startswith(f"models/{solo.model_id}/") for k in artifact_s3.keys())
    for uri in (solo.model_uri, "models:/solo/1"):
        np.testing.assert_array_equal(mlnb.pyfunc.load_model(uri).predict(X), expected)


class _Evil:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.sentinel,))


def test_a_model_changed_in_the_bucket_is_refused(tracking: Path, artifact_s3: S3Prefix,
                                                  tmp_path: Path) -> None:
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="f")
    assert info.flavors["sklearn"]["serialization_format"] == "pickle"
    sentinel = tmp_path / "pwned"
    _replace_object(artifact_s3, f"{info.run_id}/model/model.pkl", pickle.dumps(_Evil(sentinel)))
    for uri in ("models:/f/1", info.model_uri):
        for load in (mlnb.sklearn.load_model, mlnb.pyfunc.load_model):
            with pytest.raises(ArtifactIntegrityError, match=r"'model/model\.pkl'"):
                load(uri)
    with pytest.raises(ArtifactIntegrityError):  # not even when the caller trusts the model
        mlnb.sklearn.load_model("models:/f/1", trusted=True)
    assert not sentinel.exists()


def test_a_changed_mlmodel_is_not_registered(tracking: Path, artifact_s3: S3Prefix) -> None:
    model, _ = pipeline()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    mlmodel = _object(artifact_s3, f"{info.run_id}/model/MLmodel")
    _replace_object(artifact_s3, f"{info.run_id}/model/MLmodel", mlmodel + b"\n# edited\n")
    with pytest.raises((ArtifactIntegrityError, UntrustedModelError), match="MLmodel"):
        mlnb.register_model(info.model_uri, "edited")


# --- large and interrupted uploads ---------------------------------------------------------------


def test_a_large_file_is_streamed_multipart_with_bounded_memory(
        store: Store, artifact_s3: S3Prefix, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:
        for _ in range(24):
            out.write(os.urandom(1 << 20))
    run_id = store.create_run("0").run_id
    store.artifacts.client()  # botocore's service description (~10 MB) is loaded before measuring
    tracemalloc.start()
    try:
        stored = store.put_artifact_file(run_id, big, "data/big.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # At most the part being sent and the part being filled (2 x 5 MiB), never the 24 MiB file.
    assert peak < 2 * PART_SIZE + (3 << 20), peak
    assert (stored.size, stored.sha256) == (24 << 20, sha256_of(big))
    head = artifact_s3.server.client().head_object(
        Bucket=artifact_s3.server.bucket, Key=f"{artifact_s3.prefix}/{run_id}/data/big.bin")
    assert head["ContentLength"] == 24 << 20
    assert head["ETag"].strip('"').endswith("-5")  # five parts: 4 x 5 MiB + 4 MiB
    assert artifact_s3.pending_uploads() == []
    assert sha256_of(store.artifact_path(run_id, "data/big.bin")) == stored.sha256


def test_a_failed_upload_is_aborted_and_leaves_nothing(store: Store, artifact_s3: S3Prefix
                                                       ) -> None:
    run_id = store.create_run("0").run_id

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(12):
            yield os.urandom(1 << 20)
        raise OSError(5, "Input/output error")

    with pytest.raises(StoreError, match=r"Could not write artifact 'half\.bin': Input/output error"):
        store.artifacts.put_stream(run_id, "half.bin", chunks())
    assert artifact_s3.keys() == []
    assert artifact_s3.pending_uploads() == []


UPLOADER = """
import sys
from mlnb.store import open_store
store = open_store(sys.argv[1])
run_id = store.create_run("0").run_id
print(run_id, flush=True)
store.put_artifact_file(run_id, sys.argv[2], "big.bin")
print("done", flush=True)
"""


def test_a_writer_killed_mid_upload_leaves_no_object_and_no_record(
        store_dir: Path, artifact_s3: S3Prefix, tmp_path: Path) -> None:
    fifo = tmp_path / "source"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", UPLOADER, str(store_dir), str(fifo)],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        with open(fifo, "wb") as feed:
            for _ in range(12):  # two parts sent, a third being filled
                feed.write(os.urandom(1 << 20))
            feed.flush()
            deadline = time.monotonic() + 30
            while not artifact_s3.pending_uploads() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert artifact_s3.pending_uploads() == [f"{artifact_s3.prefix}/{run_id}/big.bin"]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    except BrokenPipeError:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert artifact_s3.keys() == []
    store = mlnb.MlnbClient(str(store_dir)).store
    assert store.list_artifacts(run_id) == []
    with pytest.raises(NotFoundError):
        store.artifact_path(run_id, "big.bin")


# --- bad input: one clear error each --------------------------------------------------------------


def _log_fails(match: str) -> StoreError:
    with pytest.raises(StoreError, match=match) as err:
        with mlnb.start_run():
            mlnb.log_text("x", "x.txt")
    # The botocore exception is not chained into what the user sees.
    assert err.value.__cause__ is None and err.value.__suppress_context__
    return err.value


def test_a_missing_bucket_is_named(tracking: Path, s3_env: S3Prefix,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", "s3://no-such-bucket/team")
    error = _log_fails("The S3 bucket 'no-such-bucket' does not exist at http://127.0.0.1:")
    assert "set MLNB_ARTIFACT_URI to an existing bucket" in str(error)


def test_wrong_credentials_are_named_and_never_shown(tracking: Path, s3_env: S3Prefix,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-4242")
    error = _log_fails("S3 refused the credentials for s3://mlnb/")
    assert "SignatureDoesNotMatch" in str(error) and "AWS_SECRET_ACCESS_KEY" in str(error)
    assert "not-the-secret-4242" not in str(error)


def test_no_credentials_at_all(tracking: Path, s3_env: S3Prefix,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    _log_fails("No usable AWS credentials were found for the artifact store s3://mlnb/")


def test_an_unreachable_endpoint_is_named(tracking: Path, s3_env: S3Prefix,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_ports(1)[0]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    error = _log_fails(f"Cannot reach the S3 endpoint http://127.0.0.1:{port} while writing 'x.txt'")
    assert "AWS_ENDPOINT_URL_S3" in str(error)


@pytest.mark.parametrize(("uri", "message"), [
    ("s3://", "names no bucket"),
    ("s3:///prefix", "names no bucket"),
    ("s3://Bad_Bucket/x", "is not a valid S3 bucket name"),
    ("s3://b/x", "is not a valid S3 bucket name"),
    ("s3://bucket/../other", "has a prefix mlnb refuses"),
    ("s3://bucket/x?versionId=1", "has a query or fragment"),
    ("gs://bucket/x", "has the scheme 'gs'"),
])
def test_bad_artifact_uris_are_refused_when_the_store_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str, message: str) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", uri)
    with pytest.raises(InvalidParameterError, match=message) as err:
        resolve(str(tmp_path / "store"))
    assert "MLNB_ARTIFACT_URI" in str(err.value)


def test_credentials_in_the_uri_are_refused_without_repeating_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", "s3://AKIDEXAMPLE:hunter2secret@bucket/x")
    with pytest.raises(InvalidParameterError, match="holds credentials") as err:
        resolve(str(tmp_path / "store"))
    assert "hunter2secret" not in str(err.value) and "AKIDEXAMPLE" not in str(err.value)


def test_the_secret_is_never_stored(tracking: Path, artifact_s3: S3Prefix) -> None:
    with mlnb.start_run() as run:
        mlnb.log_text("x", "x.txt")
    store = mlnb.MlnbClient().store
    store.cx.query("PRAGMA wal_checkpoint(TRUNCATE)")
    secret = artifact_s3.server.secret_key.encode()
    for path in store.location.db_path.parent.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    assert run.info.artifact_uri.startswith("s3://mlnb/")


# --- where the artifacts are, and what import mlnb loads ---------------------------------------


def test_file_and_s3_artifact_uris_set_the_root(tmp_path: Path) -> None:
    default = StoreLocation(tmp_path / "s" / "mlnb.db", tmp_path / "s" / "artifacts")
    elsewhere = with_artifact_uri(default, (tmp_path / "arts").as_uri(), tmp_path)
    assert (elsewhere.artifact_root, elsewhere.artifact_url) == (tmp_path / "arts", None)
    in_s3 = with_artifact_uri(default, "s3://team-bucket/ml/runs/", tmp_path)
    assert in_s3.artifact_url == "s3://team-bucket/ml/runs"
    assert in_s3.artifact_root == tmp_path / "s" / "artifacts-cache"
    assert in_s3.uri == str(tmp_path / "s")  # still the store folder for kernels and the CLI
    db_file = StoreLocation(tmp_path / "runs.db", tmp_path / "runs-artifacts")
    assert with_artifact_uri(db_file, "s3://team-bucket", tmp_path).artifact_root == (
        tmp_path / "runs-artifacts-cache")


def test_a_file_artifact_uri_keeps_artifacts_in_that_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_ARTIFACT_URI", (tmp_path / "shared-arts").as_uri())
    client = mlnb.MlnbClient(str(tmp_path / "store"))
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "hi", "a.txt")
    assert (tmp_path / "shared-arts" / run_id / "a.txt").read_text() == "hi"
    assert client.get_run(run_id).info.artifact_uri == (tmp_path / "shared-arts" / run_id).as_uri()
    client.store.close()


IMPORT_PROBE = """
import json, sys
import mlnb
loaded = "boto3" in sys.modules or "botocore" in sys.modules
mlnb.set_tracking_uri(sys.argv[1])
with mlnb.start_run():
    mlnb.log_text("x", "x.txt")
print(json.dumps([loaded, "boto3" in sys.modules or "botocore" in sys.modules]))
"""


def test_boto3_is_loaded_only_for_an_s3_root(tmp_path: Path, s3_server: S3Server) -> None:
    env = {**os.environ, **s3_environment(s3_server, tmp_path)}
    for artifact_uri, expected in (((tmp_path / "arts").as_uri(), [False, False]),
                                   (f"s3://{s3_server.bucket}/import-probe", [False, True])):
        env["MLNB_ARTIFACT_URI"] = artifact_uri
        result = subprocess.run([sys.executable, "-c", IMPORT_PROBE, str(tmp_path / artifact_uri[:2])],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == expected


def test_deleting_an_artifact_removes_its_object_and_cached_copy(tracking: Path,
                                                                 artifact_s3: S3Prefix) -> None:
    with mlnb.start_run() as run:
        mlnb.log_text("a", "sub/a.txt")
        mlnb.log_text("b", "sub/deeper/b.txt")
        mlnb.log_text("keep", "keep.txt")
    run_id = run.info.run_id
    store = mlnb.MlnbClient().store
    cached = store.artifact_path(run_id, "sub")  # downloaded into the cache
    assert (cached / "a.txt").read_text() == "a"
    assert sorted(store.delete_artifacts(run_id, "sub")) == ["sub/a.txt", "sub/deeper/b.txt"]
    assert artifact_s3.keys() == [f"{run_id}/keep.txt"]
    assert not cached.exists()
    with pytest.raises(NotFoundError):
        store.artifact_path(run_id, "sub/a.txt")
