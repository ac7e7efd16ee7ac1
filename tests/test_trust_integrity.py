"""Issue 11: the per-user key (item 1), registered versions are immutable (item 8), and every
load path checks every file's sha256 and names the one that changed (item 9)."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from test_models_data import classifier, forest

import mlnb
from mlnb.cli import main as cli_main
from mlnb.errors import RunStateError, StoreError, StorePrivacyWarning, UntrustedModelError
from mlnb.store import open_store


def _folder(run_id: str, path: str = "model") -> Path:
    return open_store().artifact_path(run_id, path)


# --- item 1: the key, and records no key signed ------------------------------------------


def test_key_is_private_and_never_in_the_store(tracking, monkeypatch, tmp_path):
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "home" / "mlnb"))
    model, _ = classifier()
    with mlnb.start_run():
        mlnb.sklearn.log_model(model, "model")
    key = tmp_path / "home" / "mlnb" / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    secret = key.read_bytes()
    assert all(secret not in p.read_bytes() for p in tracking.rglob("*") if p.is_file())


def test_a_key_others_can_read_is_refused_before_writing(tracking, monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "key").write_bytes(bytes(32))
    (home / "key").chmod(0o644)  # anyone could have read it: it proves nothing
    monkeypatch.setenv("MLNB_HOME", str(home))
    run = mlnb.start_run()
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(StoreError, match=r"key must be a file you own that only you can read"):
        mlnb.sklearn.log_model(model, "model")
    assert mlnb.MlnbClient().list_artifacts(run.info.run_id) == []
    # An ordinary file needs no key: it is logged unsigned, and the key's problem is said.
    with pytest.warns(StorePrivacyWarning, match="key must be a file you own"):
        mlnb.log_text("y", "second.txt")


def test_records_no_key_signed_are_foreign_until_the_store_is_trusted(tracking, tmp_path, capsys):
    model, X = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    mlnb.sklearn.load_model(info.model_uri)  # this user's own store: no ceremony
    conn = sqlite3.connect(tracking / "mlnb.db")
    conn.execute("UPDATE artifacts SET mac = NULL")  # as rows from before 0004_trust are
    conn.commit()
    conn.close()
    with pytest.raises(UntrustedModelError, match=r"written by someone else.*mlnb trust"):
        mlnb.sklearn.load_model(info.model_uri)
    assert cli_main(["trust", str(tracking)]) == 0
    out = capsys.readouterr().out
    assert "4 of its 4 artifact records were not written by your mlnb" in out
    assert "runs code" in out and "--revoke" in out
    loaded = mlnb.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert cli_main(["trust", "--revoke", str(tracking)]) == 0
    with pytest.raises(UntrustedModelError, match="written by someone else"):
        mlnb.sklearn.load_model(info.model_uri)


def test_skops_untrusted_types_from_a_foreign_store_are_refused(tracking, monkeypatch, tmp_path):
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "user-a"))
    model, X = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", serialization_format="skops")
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "user-b"))
    for load in (mlnb.sklearn.load_model, mlnb.pyfunc.load_model):
        with pytest.raises(UntrustedModelError,
                           match=r"skops does not trust \(sklearn\.tree.*written by someone else"):
            load(info.model_uri)
    np.testing.assert_array_equal(
        mlnb.sklearn.load_model(info.model_uri, trusted=True).predict(X), model.predict(X))


def test_trust_follows_the_store_place_not_only_its_id(tracking, tmp_path, monkeypatch):
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "user-a"))
    model, _ = forest()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    monkeypatch.setenv("MLNB_HOME", str(tmp_path / "user-b"))
    assert cli_main(["trust", str(tracking)]) == 0
    mlnb.sklearn.load_model(info.model_uri)
    twin = tmp_path / "twin"  # same id, another place: someone could craft it
    shutil.copytree(tracking, twin)
    monkeypatch.setenv("MLNB_TRACKING_URI", str(twin))
    from mlnb.tracking import state

    state.reset()
    with pytest.raises(UntrustedModelError, match=f"mlnb trust {twin}"):
        mlnb.sklearn.load_model(info.model_uri)


# --- item 8: a registered version's files are immutable --------------------------------------


def _other_classifier():
    _, X = classifier()
    return LogisticRegression().fit(X, (X.iloc[:, 0] > X.iloc[:, 0].median()).astype(int))


def test_relogging_a_registered_model_is_refused_and_production_is_unchanged(tracking):
    model, X = classifier()
    with mlnb.start_run() as run:
        mlnb.sklearn.log_model(model, "model", registered_model_name="m")
    mlnb.MlnbClient().transition_model_version_stage("m", 1, "Production")
    with mlnb.start_run(run_id=run.info.run_id):
        with pytest.raises(RunStateError, match=r"'model'.*registered as 'm' version 1"):
            mlnb.sklearn.log_model(_other_classifier(), "model")
        with pytest.raises(RunStateError, match="registered version's files cannot change"):
            mlnb.log_text("x", "model/notes.txt")
        mlnb.sklearn.log_model(_other_classifier(), "model-2")  # another path is fine
    served = mlnb.pyfunc.load_model("models:/m/Production")
    np.testing.assert_array_equal(served.predict(X), model.predict(X))


def test_a_registered_folder_refuses_added_changed_and_removed_files(tracking):
    model, _ = classifier()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="m")
    folder = _folder(info.run_id)
    (folder / "notes.txt").write_text("slipped in")
    with pytest.raises(UntrustedModelError, match=r"notes.txt was added .* version 1 of 'm'"):
        mlnb.pyfunc.load_model("models:/m/1")
    (folder / "notes.txt").unlink()
    example = (folder / "requirements.txt").read_bytes()
    (folder / "requirements.txt").write_bytes(example + b" ")
    with pytest.raises(UntrustedModelError,
                       match=r"requirements.txt .* changed since version 1 of 'm' was registered"):
        mlnb.pyfunc.load_model("models:/m/1")
    (folder / "requirements.txt").unlink()
    with pytest.raises(UntrustedModelError, match=r"requirements.txt was removed"):
        mlnb.sklearn.load_model("models:/m/1")
    (folder / "requirements.txt").write_bytes(example)
    mlnb.pyfunc.load_model("models:/m/1")


# --- item 9: every load path checks every file ----------------------------------------------


def test_appending_to_model_skops_in_a_copied_folder_fails_to_load(tracking, tmp_path):
    model, _ = classifier()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    assert info.flavors["sklearn"]["serialization_format"] == "skops"
    copy = tmp_path / "copy"
    shutil.copytree(_folder(info.run_id), copy)
    mlnb.sklearn.load_model(str(copy))  # intact, it loads
    with open(copy / "model.skops", "ab") as handle:
        handle.write(b"\x00more")
    for load in (mlnb.sklearn.load_model, mlnb.pyfunc.load_model):
        with pytest.raises(UntrustedModelError, match=r"model.skops .* changed since the model was saved"):
            load(str(copy))


def test_every_uri_names_the_changed_file(tracking):
    model, _ = classifier()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model", registered_model_name="m")
    folder = _folder(info.run_id)
    with open(folder / "requirements.txt", "a") as handle:
        handle.write("evil-package==1\n")
    for uri in (info.model_uri, str(folder), "models:/m/1"):
        with pytest.raises(UntrustedModelError, match=r"^requirements.txt .* changed since"):
            mlnb.pyfunc.load_model(uri)


def test_versions_registered_before_pins_are_pinned_from_their_records(tmp_path):
    from sqlite_utils import Database

    from mlnb.store import Store, StoreLocation, schema

    db_path = tmp_path / "mlnb.db"
    conn = sqlite3.connect(db_path, isolation_level=None)
    schema.migrations.apply(Database(conn), stop_before="0005_registry_pins")
    run_id = "b" * 32
    conn.execute("INSERT INTO runs (run_id, experiment_id, name, status, start_time) "
                 "VALUES (?, 0, 'old', 'FINISHED', 1)", [run_id])
    for path, sha in (("model/MLmodel", "m1"), ("model/model.skops", "s1"), ("other.txt", "o1")):
        conn.execute("INSERT INTO artifacts (run_id, path, size, sha256, created, origin) "
                     "VALUES (?, ?, 1, ?, 1, 'model')", [run_id, path, sha])
    conn.execute("INSERT INTO registered_models (name, creation_time, last_updated_time) "
                 "VALUES ('old', 1, 1)")
    conn.execute("INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
                 "source, run_id) VALUES ('old', 1, 1, 1, ?, ?)", [f"runs:/{run_id}/model", run_id])
    conn.close()
    store = Store(StoreLocation(db_path, tmp_path / "artifacts"))
    try:
        assert store.model_version_pins("old", 1) == {"MLmodel": "m1", "model.skops": "s1"}
        with pytest.raises(RunStateError, match="registered as 'old' version 1"):
            store.put_artifact_bytes(run_id, "model/model.skops", b"new")
    finally:
        store.close()


def test_trust_of_a_folder_with_no_store_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["trust", str(tmp_path)]) == 2
    assert "There is no mlnb store at" in capsys.readouterr().err
    assert cli_main(["trust", "--revoke", str(tmp_path)]) == 2
    assert "You do not trust a store at" in capsys.readouterr().err


class _Payload:
    """Unpickling it would write a marker file: stands for code an attacker wants to run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "ran"))


class _Wrapper(mlnb.pyfunc.PythonModel):
    def predict(self, context, model_input):  # type: ignore[no-untyped-def]
        return model_input


def test_files_given_as_artifacts_never_count_as_the_model_writers(tracking, tmp_path):
    """A PythonModel's `artifacts` are the user's bytes: a downloaded `MLmodel` and pickle among
    them must not make `<model>/artifacts` a model that loads untrusted."""
    import hashlib
    import pickle

    import yaml

    marker = tmp_path / "PWNED"
    downloaded = tmp_path / "dl"
    downloaded.mkdir()
    pickled = pickle.dumps(_Payload(marker))
    (downloaded / "python_model.pkl").write_bytes(pickled)
    (downloaded / "MLmodel").write_text(yaml.safe_dump({
        "flavors": {"python_function": {"loader_module": "mlnb.models.pyfunc",
                                        "data": "python_model.pkl"}},
        "files": {"python_model.pkl": {"sha256": hashlib.sha256(pickled).hexdigest(),
                                       "size": len(pickled)}}}))
    with mlnb.start_run():
        info = mlnb.pyfunc.log_model("model", python_model=_Wrapper(), artifacts={
            "meta": str(downloaded / "MLmodel"), "weights": str(downloaded / "python_model.pkl")})
    assert mlnb.pyfunc.load_model(info.model_uri).predict([[1.0]]) == [[1.0]]  # the real model
    with pytest.raises(UntrustedModelError, match="not written by mlnb's model writer"):
        mlnb.pyfunc.load_model(f"runs:/{info.run_id}/model/artifacts")
    assert not marker.exists()


def test_ordinary_artifacts_log_where_no_key_can_be_had(tracking, monkeypatch, tmp_path):
    """A service account with no writable home still logs its files (unsigned, with a warning);
    only a model, whose pickle must be vouched for, needs the key."""
    from mlnb.store import trust

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("MLNB_HOME", str(blocker / "mlnb"))
    monkeypatch.setattr(trust, "_keys", {})
    with mlnb.start_run() as run:
        with pytest.warns(StorePrivacyWarning, match="unsigned"):
            mlnb.log_text("hi", "notes.txt")
        mlnb.log_dict({"a": 1}, "more.json")
        with pytest.raises(StoreError, match="mlnb's private folder"):
            mlnb.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "model")
    assert sorted(f.path for f in mlnb.list_artifacts(run.info.run_id)) == ["more.json", "notes.txt"]


def test_trust_shows_a_crafted_store_id_escaped(tracking, capsys):
    """The id comes from the store being judged: printed raw, it could rewrite the screen at the
    moment the user decides whether to trust it."""
    mlnb.MlnbClient().create_run("0")
    crafted = "abc\x1b]0;OWNED\x07\x1b[2J\x1b[32mAll records signed by you\x1b[0m"
    with sqlite3.connect(tracking / "mlnb.db") as conn:
        conn.execute("UPDATE store_meta SET value = ? WHERE key = 'store_id'", [crafted])
    assert cli_main(["trust", str(tracking)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "(id abc\\x1b]0;OWNED\\x07\\x1b[2J" in out


def test_a_pickle_named_model_skops_is_a_clear_error(tracking):
    model, _ = classifier()
    with mlnb.start_run():
        info = mlnb.sklearn.log_model(model, "model")
    folder = Path(mlnb.MlnbClient().download_artifacts(info.run_id, "model"))
    (folder / "model.skops").write_bytes(b"\x80\x04not a zip at all")
    with pytest.raises(mlnb.MlnbError) as caught:
        mlnb.sklearn.load_model(str(folder), trusted=True)
    assert "model.skops of the model at" in str(caught.value)
    assert "is not a readable skops file (BadZipFile)" in str(caught.value)
