"""MLflow scripts run unchanged against mlnb (issue 13).

Each script in ``tests/scripts/mlflow_docs`` is written as MLflow's documentation writes code
(``import mlflow``, ``import mlflow.sklearn``, ``from mlflow.models import ...``). It runs twice in
subprocesses: once with the real MLflow (installed by the test extra) against an MLflow SQLite
database, once through ``python -m mlnb.mlflow_compat`` / ``mlnb exec`` against an mlnb store
named by the same variable, ``MLFLOW_TRACKING_URI``. The two stores are then compared field by
field, and so is what each script read back (it prints one JSON line).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.store import Store, StoreLocation

SCRIPTS = Path(__file__).parent / "scripts" / "mlflow_docs"
CHECKOUT = Path(__file__).resolve().parent.parent
# Tags only one side writes: who ran it, and each tool's own bookkeeping.
OWN_TAGS = ("mlflow.user", "mlnb.", "mlflow.source.git", "mlflow.log-model.history",
            "mlflow.loggedModels")


def _env(tmp: Path, uri: str) -> dict[str, str]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MPLBACKEND="Agg", PYTHONWARNINGS="ignore",
               PYTHONPATH=str(CHECKOUT))
    for name in ("MLNB_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLNB_EXPERIMENT_NAME"):
        env.pop(name, None)
    return env


def _run(command: list[str], tmp: Path, uri: str) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, env=_env(tmp, uri), cwd=tmp, capture_output=True, text=True,
                          timeout=300)


def _last_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


class Ran:
    """One script run by both: what each printed, and each store opened for reading."""

    def __init__(self, name: str, tmp: Path, mlnb_command: str) -> None:
        script = str(SCRIPTS / name)
        self.theirs_db = tmp / "mlflow" / "mlflow.db"
        self.theirs = _last_json(_run([sys.executable, script], tmp / "mlflow",
                                      f"sqlite:///{self.theirs_db}"))
        command = ([sys.executable, "-m", "mlnb.mlflow_compat", script] if mlnb_command == "python"
                   else [sys.executable, "-m", "mlnb", "exec", script])
        self.mine = _last_json(_run(command, tmp / "mlnb", f"sqlite:///{tmp / 'mlnb' / 'runs.db'}"))
        self.store = Store(StoreLocation(tmp / "mlnb" / "runs.db", tmp / "mlnb" / "runs-artifacts"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import mlflow  # the real MLflow, in this test process only (never hooked here)

        self.client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{self.theirs_db}")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("tracking_quickstart.py", tmp_path_factory.mktemp("quickstart"), "python")
    yield ran
    ran.store.close()


@pytest.fixture(scope="module")
def sklearn_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("sklearn_registry.py", tmp_path_factory.mktemp("sklearn"), "exec")
    yield ran
    ran.store.close()


def _tags(tags: dict[str, str], ids: dict[str, Any]) -> dict[str, str]:
    """The tags both tools write, with each side's run ids named by the script's key for them."""
    names = {v: k for k, v in ids.items() if isinstance(v, str)}
    return {k: names.get(v, v) for k, v in tags.items() if not k.startswith(OWN_TAGS)}


def _same_run(ran: Ran, their_id: str, my_id: str, skip_artifacts: tuple[str, ...] = (),
              random_name: bool = False, timings: tuple[str, ...] = ()) -> None:
    """The two runs hold the same params, metrics, tags, status and artifact listing.

    ``random_name``: both tools named the run at random (autolog), so names are not compared;
    ``timings``: metrics that measure time, whose keys must match but not their values.
    """
    theirs = ran.client.get_run(their_id)
    mine = ran.store.get_run(my_id)
    assert mine.data.params == theirs.data.params
    assert set(mine.data.metrics) == set(theirs.data.metrics)
    assert {k: v for k, v in mine.data.metrics.items() if k not in timings} == {
        k: v for k, v in theirs.data.metrics.items() if k not in timings}
    mine_tags, their_tags = _tags(mine.data.tags, ran.mine), _tags(theirs.data.tags, ran.theirs)
    their_tags["mlflow.source.name"] = Path(their_tags["mlflow.source.name"]).name
    mine_tags["mlflow.source.name"] = Path(mine_tags["mlflow.source.name"]).name
    if random_name:
        del mine_tags["mlflow.runName"], their_tags["mlflow.runName"]
    assert mine_tags == their_tags
    assert (mine.info.status, mine.info.lifecycle_stage) == (
        theirs.info.status, theirs.info.lifecycle_stage)
    assert random_name or mine.info.run_name == theirs.info.run_name
    for key in set(theirs.data.metrics) - set(timings):
        their_points = [(m.step, m.value) for m in ran.client.get_metric_history(their_id, key)]
        my_points = [(m.step, m.value) for m in ran.store.get_metric_history(my_id, key)]
        assert sorted(my_points) == sorted(their_points), key

    def listing(lister: Any, run_id: str, path: str = "") -> list[tuple[str, bool]]:
        found = []
        for f in lister(run_id, path):
            if f.path in skip_artifacts:
                continue
            found.append((f.path, f.is_dir))
            if f.is_dir:
                found += listing(lister, run_id, f.path)
        return sorted(found)

    assert listing(ran.store.list_artifacts, my_id) == listing(ran.client.list_artifacts, their_id)


def _same_output(ran: Ran, ignore: tuple[str, ...]) -> None:
    mine = {k: v for k, v in ran.mine.items() if k not in ignore}
    theirs = {k: v for k, v in ran.theirs.items() if k not in ignore}
    assert mine == theirs


# --- tracking: module names, client, entities, artifacts, synchronous= ------------------------


def test_quickstart_reads_back_what_mlflow_reads(quickstart: Ran) -> None:
    _same_output(quickstart, ("run_id", "child_id", "mlflow_module", "mlflow_modules"))


def test_quickstart_stores_match(quickstart: Ran) -> None:
    _same_run(quickstart, quickstart.theirs["run_id"], quickstart.mine["run_id"])
    _same_run(quickstart, quickstart.theirs["child_id"], quickstart.mine["child_id"])


def test_every_mlflow_module_was_mlnb(quickstart: Ran) -> None:
    assert quickstart.theirs["mlflow_modules"] == ["mlflow"]
    assert quickstart.mine["mlflow_modules"] == ["mlnb"]  # the real MLflow never loaded
    assert quickstart.mine["mlflow_module"] == "module:mlnb"


# --- scikit-learn, the registry, pyfunc ------------------------------------------------------


def test_sklearn_script_reads_back_what_mlflow_reads(sklearn_registry: Ran) -> None:
    mine, theirs = dict(sklearn_registry.mine), dict(sklearn_registry.theirs)
    assert {k: str(v) for k, v in mine.pop("registered_aliases").items()} == {
        k: str(v) for k, v in theirs.pop("registered_aliases").items()}
    assert mine.pop("version_run_id") == mine["run_id"]
    assert theirs.pop("version_run_id") == theirs["run_id"]
    mine.pop("run_id"), theirs.pop("run_id")
    assert mine == theirs


def test_sklearn_script_stores_match(sklearn_registry: Ran) -> None:
    # MLflow 3 keeps a model logged with name= outside the run's artifacts; mlnb inside ("model").
    _same_run(sklearn_registry, sklearn_registry.theirs["run_id"], sklearn_registry.mine["run_id"],
              skip_artifacts=("model",))
    mine = sklearn_registry.store.get_registered_model("iris-classifier")
    theirs = sklearn_registry.client.get_registered_model("iris-classifier")
    assert (mine.name, {k: str(v) for k, v in mine.aliases.items()}) == (
        theirs.name, {k: str(v) for k, v in theirs.aliases.items()})
    assert [v.version for v in mine.latest_versions] == [
        str(v.version) for v in theirs.latest_versions]


@pytest.fixture(scope="module")
def pyfunc_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("pyfunc_artifacts.py", tmp_path_factory.mktemp("pyfunc"), "python")
    yield ran
    ran.store.close()


def test_pyfunc_artifacts_resolve_uris_and_folders_as_mlflow_does(pyfunc_artifacts: Ran) -> None:
    _same_output(pyfunc_artifacts, ("run_id", "inner_id"))
    assert pyfunc_artifacts.mine["predictions"] == [3.5, 3.5]
    _same_run(pyfunc_artifacts, pyfunc_artifacts.theirs["run_id"], pyfunc_artifacts.mine["run_id"],
              skip_artifacts=("wrapper",))
    _same_run(pyfunc_artifacts, pyfunc_artifacts.theirs["inner_id"],
              pyfunc_artifacts.mine["inner_id"], skip_artifacts=("inner_model",))


@pytest.fixture(scope="module")
def sklearn_autolog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("sklearn_autolog.py", tmp_path_factory.mktemp("autolog"), "python")
    yield ran
    ran.store.close()


# MLflow 3 keeps autolog's models (model, best_estimator) as logged models outside the run's
# artifacts; mlnb keeps them inside.
AUTOLOG_MODELS = ("model", "best_estimator")
TIMINGS = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def test_sklearn_autolog_reads_back_what_mlflow_reads(sklearn_autolog: Ran) -> None:
    mine, theirs = sklearn_autolog.mine, sklearn_autolog.theirs
    for key in ("binary_artifacts", "search_artifacts"):
        mine[key] = [p for p in mine[key] if p not in AUTOLOG_MODELS]
    _same_output(sklearn_autolog, ("binary_id", "multiclass_id", "search_id", "child_ids"))
    assert sorted(mine["child_ids"]) == sorted(theirs["child_ids"])


def test_sklearn_autolog_stores_match(sklearn_autolog: Ran) -> None:
    mine, theirs = sklearn_autolog.mine, sklearn_autolog.theirs
    for key in ("binary_id", "multiclass_id", "search_id"):
        _same_run(sklearn_autolog, theirs[key], mine[key], skip_artifacts=AUTOLOG_MODELS,
                  random_name=True)
    for candidate, their_id in theirs["child_ids"].items():
        _same_run(sklearn_autolog, their_id, mine["child_ids"][candidate], random_name=True,
                  timings=TIMINGS)


def test_sklearn_autolog_records_the_training_data_as_mlflow_does(sklearn_autolog: Ran) -> None:
    """The same dataset inputs (digest, name, schema, profile, source type, context ``train``)
    on every run; each fit's model keeps a sample of that data as its reference."""
    mine, theirs = sklearn_autolog.mine, sklearn_autolog.theirs

    def fields(dataset: Any, tags: Any) -> tuple[Any, ...]:
        return (dataset.name, dataset.digest, dataset.source_type, dataset.schema,
                json.loads(dataset.profile or "null"), sorted(tags))

    pairs = [(theirs[k], mine[k]) for k in ("binary_id", "multiclass_id", "search_id")]
    pairs += [(their_id, mine["child_ids"][c]) for c, their_id in theirs["child_ids"].items()]
    for their_id, my_id in pairs:
        run = sklearn_autolog.client.get_run(their_id)
        their_inputs = [fields(d.dataset, {(t.key, t.value) for t in d.tags})
                        for d in (run.inputs.dataset_inputs if run.inputs else [])]
        my_inputs = [fields(d.dataset, d.tags.items()) for d in
                     sklearn_autolog.store.dataset_inputs_of_runs([my_id])[my_id]]
        assert my_inputs == their_inputs
    (found,) = sklearn_autolog.store.dataset_inputs_of_runs([mine["binary_id"]])[mine["binary_id"]]
    assert found.tags == {"mlflow.data.context": "train"}
    mlmodel = yaml.safe_load((sklearn_autolog.store.artifact_path(mine["binary_id"], "model")
                              / "MLmodel").read_text())
    assert mlmodel["reference_data"]["dataset_digest"] == found.dataset.digest


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_sklearn_autolog_artifacts_match(sklearn_autolog: Ran, tmp_path: Path) -> None:
    mine, theirs = sklearn_autolog.mine, sklearn_autolog.theirs

    def read(run: str, path: str) -> tuple[bytes, bytes]:
        their_file = sklearn_autolog.client.download_artifacts(theirs[run], path, str(tmp_path))
        return (sklearn_autolog.store.artifact_path(mine[run], path).read_bytes(),
                Path(their_file).read_bytes())

    for name in ("training_confusion_matrix.png", "training_roc_curve.png",
                 "training_precision_recall_curve.png"):
        my_png, their_png = read("binary_id", name)
        assert _png_size(my_png) == _png_size(their_png), name  # same figure size and dpi
    my_csv, their_csv = read("search_id", "cv_results.csv")
    my_lines, their_lines = my_csv.decode().splitlines(), their_csv.decode().splitlines()
    assert my_lines[0] == their_lines[0]  # the same columns, in the same order
    assert len(my_lines) == len(their_lines) == 5
    my_html, their_html = read("multiclass_id", "estimator.html")
    assert my_html.decode().count("LogisticRegression") == their_html.decode().count(
        "LogisticRegression") > 0


@pytest.fixture(scope="module")
def logged_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("logged_models.py", tmp_path_factory.mktemp("logged"), "python")
    yield ran
    ran.store.close()


def test_logged_models_read_back_as_mlflow_3s(logged_models: Ran) -> None:
    _same_output(logged_models, ("run_id",))
    assert logged_models.mine["found_ids"] == [True]


def test_logged_models_stores_match(logged_models: Ran) -> None:
    # MLflow 3 keeps the model outside the run's artifacts; mlnb inside ("iris_model").
    _same_run(logged_models, logged_models.theirs["run_id"], logged_models.mine["run_id"],
              skip_artifacts=("iris_model",))
    [mine] = logged_models.store.logged_models_of_run(logged_models.mine["run_id"])
    [theirs] = logged_models.client.search_logged_models(
        experiment_ids=[logged_models.client.get_run(
            logged_models.theirs["run_id"]).info.experiment_id])
    assert (mine.name, mine.status, mine.model_type) == (
        theirs.name, str(theirs.status).rsplit(".", 1)[-1], theirs.model_type)
    assert mine.model_uri == f"models:/{mine.model_id}"
    my_version = logged_models.store.get_model_version("iris-logged", "1")
    their_version = logged_models.client.get_model_version("iris-logged", "1")
    assert (my_version.run_id == logged_models.mine["run_id"]) and (
        their_version.run_id == logged_models.theirs["run_id"])


def test_pyfunc_artifact_with_a_foreign_scheme_is_refused(tracking: Path) -> None:
    from mlnb.pyfunc import PythonModel, log_model

    with pytest.raises(InvalidParameterError, match="'s3://b/k' has a scheme mlnb does not read"):
        log_model("m", python_model=PythonModel(), artifacts={"x": "s3://b/k"})
    with pytest.raises(InvalidParameterError, match="is neither a file nor a folder"):
        log_model("m", python_model=PythonModel(), artifacts={"x": str(tracking / "missing")})


# --- the ways in, and what is refused ----------------------------------------------------------


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_unimplemented_submodule_is_named_and_real_mlflow_never_loads(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import sys
        import mlflow
        try:
            import mlflow.utils.file_utils
        except ImportError as exc:
            print("refused:", exc)
        print("loaded:", sorted(n for n in sys.modules if n.startswith("mlflow.")))
        print("mlflow is", mlflow.__name__)
        import mlflow.utils
    """)
    result = _run([sys.executable, "-m", "mlnb", "exec", str(script)], tmp_path / "w",
                  str(tmp_path / "store"))
    assert result.returncode == 1
    assert "refused: No module named 'mlflow.utils': mlnb stands in for MLflow" in result.stdout
    assert "The real MLflow is not loaded in its place" in result.stdout
    assert "loaded: []" in result.stdout and "mlflow is mlnb" in result.stdout
    # the script's own traceback, from its own line: not the runner's frames
    assert f'File "{script}", line 10' in result.stderr
    assert "runpy" not in result.stderr and "mlnb/cli" not in result.stderr
    assert result.stderr.strip().endswith(
        "mlflow.types, mlflow.types.schema.") or "No module named 'mlflow.utils'" in result.stderr


def test_script_arguments_and_exit_status_pass_through(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import sys
        import mlflow.sklearn
        print(sys.argv[1:], mlflow.sklearn.__name__)
        sys.exit(3)
    """)
    for command in (["-m", "mlnb", "exec"], ["-m", "mlnb.mlflow_compat"]):
        result = _run([sys.executable, *command, str(script), "--alpha", "0.5"], tmp_path / "w",
                      str(tmp_path / "store"))
        assert result.returncode == 3
        assert "['--alpha', '0.5'] mlnb.sklearn" in result.stdout


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    result = _run([sys.executable, "-m", "mlnb", "exec", "nope.py"], tmp_path, str(tmp_path / "s"))
    assert result.returncode == 2
    assert result.stderr.strip() == "mlnb: error: no script 'nope.py' to run"


def test_use_as_mlflow_refuses_after_the_real_mlflow_was_imported(tmp_path: Path) -> None:
    code = ("import warnings; warnings.simplefilter('ignore'); import mlflow, mlnb\n"
            "try:\n    mlnb.use_as_mlflow()\nexcept ImportError as exc:\n    print(exc)\n")
    result = _run([sys.executable, "-c", code], tmp_path, str(tmp_path / "s"))
    assert "The real MLflow is already imported in this process (mlflow" in result.stdout
    assert "Restart the process" in result.stdout


def test_use_as_mlflow_in_a_notebook_and_the_magic(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_cell("%load_ext mlnb")
        shell.run_cell("%mlnb mlflow")
        shell.run_cell("import mlflow, mlflow.sklearn, mlflow.pyfunc\\n"
                       "from mlflow.models import infer_signature\\n"
                       "from mlflow.tracking import MlflowClient\\n"
                       "import mlnb\\n"
                       "print('same', mlflow is mlnb, mlflow.sklearn is mlnb.sklearn,"
                       " MlflowClient is mlnb.MlflowClient)")
        shell.run_cell("%mlnb mlflow extra")
    """)
    result = _run([sys.executable, "-c", code], tmp_path, str(tmp_path / "s"))
    assert "now uses mlnb in this kernel" in result.stdout
    assert "same True True True" in result.stdout
    assert "UsageError: %mlnb mlflow: unrecognized arguments: extra" in result.stderr + result.stdout


def test_use_as_mlflow_is_undone_and_redone(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlnb import mlflow_compat

    if any(n == "mlflow" or n.startswith("mlflow.") for n in sys.modules):
        real = {n: m for n, m in sys.modules.items() if n == "mlflow" or n.startswith("mlflow.")}
        for name in real:
            monkeypatch.delitem(sys.modules, name)
    try:
        mlnb.use_as_mlflow()
        mlnb.use_as_mlflow()  # twice: nothing more
        assert sum(isinstance(f, mlflow_compat.MlflowFinder) for f in sys.meta_path) == 1
        import mlflow.entities

        assert mlflow.entities is sys.modules["mlnb.entities"]
        assert sys.modules["mlnb.entities"].__spec__.name == "mlnb.entities"
    finally:
        mlflow_compat.stop_using_as_mlflow()
    assert not any(isinstance(f, mlflow_compat.MlflowFinder) for f in sys.meta_path)
    assert "mlflow.entities" not in sys.modules


# --- MLFLOW_TRACKING_URI -------------------------------------------------------------------------

LOG_ONE = "import mlnb as mlflow\nmlflow.log_param('a', 1)\nprint(mlflow.get_tracking_uri())\n"


def test_mlflow_tracking_uri_names_the_store(tmp_path: Path) -> None:
    result = _run([sys.executable, "-c", LOG_ONE], tmp_path, f"sqlite:///{tmp_path}/new.db")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sqlite:///{tmp_path}/new.db"
    assert not (tmp_path / ".mlnb").exists()
    env = _env(tmp_path, f"sqlite:///{tmp_path}/new.db")
    env["MLNB_TRACKING_URI"] = str(tmp_path / "ours")  # MLNB_TRACKING_URI wins
    result = subprocess.run([sys.executable, "-c", LOG_ONE], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(tmp_path / "ours")


@pytest.mark.parametrize("uri", ["http://localhost:5000", "https://mlflow.example.com",
                                 "databricks", "databricks://profile"])
def test_mlflow_tracking_uri_of_a_server_is_a_clear_error(tmp_path: Path, uri: str) -> None:
    result = _run([sys.executable, "-c", LOG_ONE], tmp_path, uri)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"mlnb.errors.InvalidParameterError: MLFLOW_TRACKING_URI is {uri!r}, an MLflow tracking "
        "server or database: mlnb keeps runs in its own local store and cannot log into MLflow's. "
        "Unset MLFLOW_TRACKING_URI, or set MLNB_TRACKING_URI (which wins over it) to an mlnb "
        "store: a folder such as '.mlnb' or a new database file such as 'sqlite:///mlnb.db'. To "
        "keep logging there, run the script with MLflow itself.")
    assert not (tmp_path / ".mlnb").exists()  # never a silent fallback


def test_mlflow_database_is_refused_untouched(quickstart: Ran, tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(quickstart.theirs_db.read_bytes())
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = _run([sys.executable, "-m", "mlnb", "runs", "ls"], tmp_path, f"sqlite:///{db}")
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"mlnb: error: {db} is an MLflow tracking database, not an mlnb store; mlnb left it "
        "untouched. mlnb keeps runs in its own local store")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]  # no -wal, no artifacts


def test_set_tracking_uri_to_a_server_names_what_to_do() -> None:
    with pytest.raises(InvalidParameterError, match="never sends them to a server"):
        mlnb.set_tracking_uri("databricks-uc")


# --- synchronous= ---------------------------------------------------------------------------------


def test_synchronous_true_writes_before_returning(tracking: Path, store_dir: Path) -> None:
    with mlnb.start_run() as run:
        assert mlnb.log_metric("loss", 0.5, step=1, synchronous=True) is None
        other = Store(StoreLocation(store_dir / "mlnb.db", store_dir / "artifacts"))
        try:  # another connection sees the point at once
            assert [(m.step, m.value) for m in other.get_metric_history(run.info.run_id, "loss")] \
                == [(1, 0.5)]
        finally:
            other.close()
        operations = mlnb.log_metrics({"a": 1.0}, synchronous=False)
        assert operations is not None
        operations.wait()
        assert mlnb.log_param("p", 1) == 1
        assert mlnb.log_param("q", 2, synchronous=False) is not None
        with pytest.raises(InvalidParameterError, match="synchronous must be True, False or None"):
            mlnb.set_tag("t", "v", synchronous="yes")  # type: ignore[arg-type]
    mlnb.flush_async_logging()


@pytest.fixture(scope="module")
def runless_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("logged_models_runless.py", tmp_path_factory.mktemp("runless"), "exec")
    yield ran
    ran.store.close()


def test_models_without_a_run_read_back_as_mlflow_3s(runless_models: Ran) -> None:
    _same_output(runless_models, ())
    assert runless_models.mine["runs_after_log"] == 0 and runless_models.mine["version_run"] is None
    assert runless_models.mine["found"] == ["agent", "outside_a_run"]


@pytest.fixture(scope="module")
def deleted_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    ran = Ran("logged_models_delete_log_into.py", tmp_path_factory.mktemp("deleted"), "exec")
    yield ran
    ran.store.close()


def test_deleted_and_logged_into_models_read_back_as_mlflow_3s(deleted_models: Ran) -> None:
    _same_output(deleted_models, ())
    assert deleted_models.mine["found"] == ["agent", "kept", "service"]
    assert deleted_models.mine["load_deleted"] == "RESOURCE_DOES_NOT_EXIST"
    assert deleted_models.mine["version_loads"] == 150  # a version registered before still loads
    assert (deleted_models.mine["into_status"], deleted_models.mine["into_params"]) == (
        "READY", {"alpha": "0.5"})
    assert deleted_models.mine["into_deleted"] == "RESOURCE_DOES_NOT_EXIST"
    stages = deleted_models.store.cx.query(
        "SELECT name, lifecycle_stage FROM logged_models ORDER BY name")
    assert stages == [("agent", "active"), ("gone", "deleted"), ("in_run", "deleted"),
                      ("kept", "active"), ("outside", "deleted"), ("service", "active")]


def test_models_without_a_run_leave_no_run_in_either_store(runless_models: Ran) -> None:
    assert runless_models.store.cx.query("SELECT count(*) FROM runs")[0][0] == 0
    [theirs] = [e for e in runless_models.client.search_experiments()
                if e.name == "docs-runless-models"]
    assert runless_models.client.search_runs([theirs.experiment_id]) == []
