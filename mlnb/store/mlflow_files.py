"""Reading an MLflow file store (``mlruns/``) from its files, without MLflow (MLflow 3 may refuse
its own file store).

The layout (MLflow's ``FileStore``, and ``mlflow migrate-filestore``, which reads it the same way):
``<exp_id>/meta.yaml`` and ``tags/<key>``; ``.trash/<exp_id>/`` for deleted experiments;
``<exp_id>/<run_id>/meta.yaml``, ``params/<key>``, ``tags/<key>``, ``metrics/<key>`` (a line per
point, ``<timestamp> <value> <step>``, in logging order, ``nan``/``inf`` written as such) and the
run's artifacts at its ``artifact_uri``; MLflow 3's logged models in ``<exp_id>/models/<model_id>/``;
the registry in ``models/<name>/meta.yaml`` (aliases inside), ``tags/<key>``,
``version-<n>/meta.yaml`` and ``version-<n>/tags/<key>``. Keys may hold ``/``: they are paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlnb.entities import DatasetInput
from mlnb.store.mlflow_records import (
    MODEL_STATUS_NUMBERS,
    RUN_STATUS_NUMBERS,
    ArtifactFile,
    Columns,
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModel,
    MlflowReader,
    MlflowRun,
    MlflowVersion,
    SourceError,
    dataset_record,
    local_folder,
    walk_files,
)

_NOT_RUNS = {"tags", "models", "datasets", "traces"}


def looks_like_file_store(folder: Path) -> bool:
    """Whether a folder holds an MLflow file store: an experiment folder with a ``meta.yaml``
    naming an ``experiment_id``, a ``.trash`` folder or a registry (``models/*/meta.yaml``).

    :param folder: the folder given as SOURCE.
    """
    if (folder / ".trash").is_dir() or any((folder / "models").glob("*/meta.yaml")):
        return True
    for meta in folder.glob("*/meta.yaml"):
        data = _yaml(meta)
        if isinstance(data, dict) and "experiment_id" in data:
            return True
    return False


class FileStoreReader(MlflowReader):
    """An MLflow file store folder.

    :param root: the ``mlruns`` folder.
    :raises SourceError: when it is missing or holds no MLflow store.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise SourceError(f"{root} does not exist or is not a folder.")
        if not looks_like_file_store(root):
            raise SourceError(
                f"{root} is not an MLflow file store: it has no <experiment id>/meta.yaml, no "
                ".trash and no models/<name>/meta.yaml. Give the mlruns folder MLflow wrote "
                "(the one holding 0/meta.yaml).")
        self.root = root
        self.describe = str(root)
        self._exp_dirs: dict[str, Path] = {}

    # --- tracking ---------------------------------------------------------------------------

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment, the trash's included (as deleted)."""
        found = []
        for meta in sorted([*self.root.glob("*/meta.yaml"), *self.root.glob(".trash/*/meta.yaml")]):
            data = _yaml(meta)
            if not isinstance(data, dict) or "experiment_id" not in data:
                continue
            eid = str(data["experiment_id"])
            self._exp_dirs[eid] = meta.parent
            stage = str(data.get("lifecycle_stage") or "active")
            if meta.parent.parent.name == ".trash":
                stage = "deleted"
            found.append(MlflowExperiment(
                eid, str(data.get("name") or eid), stage, _int(data.get("creation_time")),
                _int(data.get("last_update_time") or data.get("creation_time")),
                _keyed_files(meta.parent / "tags")))
        return found

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        """The experiment's runs.

        :param experiment_id: the experiment.
        """
        folder = self._exp_dirs[experiment_id]
        runs = []
        for meta in sorted(folder.glob("*/meta.yaml")):
            if meta.parent.name in _NOT_RUNS:
                continue
            data = _yaml(meta)
            if not isinstance(data, dict) or ("run_id" not in data and "run_uuid" not in data):
                continue
            tags = _keyed_files(meta.parent / "tags")
            status = data.get("status")
            runs.append(MlflowRun(
                run_id=str(data.get("run_id") or data.get("run_uuid")),
                experiment_id=experiment_id,
                name=str(data.get("run_name") or tags.get("mlflow.runName") or ""),
                status=RUN_STATUS_NUMBERS.get(status, str(status)) if isinstance(status, int)
                else str(status or "FINISHED"),
                start_time=_int(data.get("start_time")),
                end_time=None if data.get("end_time") is None else _int(data.get("end_time")),
                lifecycle_stage=str(data.get("lifecycle_stage") or "active"),
                user_id=str(data.get("user_id") or ""),
                artifact_uri=str(data.get("artifact_uri") or meta.parent / "artifacts"),
                deleted_time=None if data.get("deleted_time") is None
                else _int(data.get("deleted_time")),
                params=_keyed_files(meta.parent / "params"), tags=tags))
            runs[-1].inputs, runs[-1].model_inputs = _inputs(meta.parent, folder)
        return runs

    def metrics(self, run: MlflowRun) -> dict[str, Columns]:
        """Every metric file of the run, its lines in order.

        :param run: the run.
        """
        folder = self._exp_dirs[run.experiment_id] / run.run_id / "metrics"
        return {key: _points(path, key) for key, path in _keyed_paths(folder).items()}

    def artifacts(self, owner: MlflowRun | MlflowLoggedModel) -> tuple[list[ArtifactFile], str | None]:
        """The files below the run's or logged model's local artifact folder.

        :param owner: the run or logged model.
        """
        if isinstance(owner, MlflowRun):
            uri, own = owner.artifact_uri, f"{owner.experiment_id}/{owner.run_id}/artifacts"
        else:
            uri, own = owner.artifact_location, f"{owner.experiment_id}/models/{owner.model_id}/artifacts"
        here = self._exp_dirs[owner.experiment_id].parent / own
        # A store moved or copied since still names its old place: where the recorded location
        # is this store's own folder for the run, the folder inside this store is read.
        if uri.rstrip("/").endswith("/" + own) and here.is_dir():
            return local_artifacts(here.as_uri())
        return local_artifacts(uri)

    def logged_models(self) -> list[MlflowLoggedModel]:
        """``<exp_id>/models/<model_id>/meta.yaml`` of every experiment read."""
        if not self._exp_dirs:
            self.experiments()
        found = []
        for eid, folder in sorted(self._exp_dirs.items()):
            for meta in sorted(folder.glob("models/*/meta.yaml")):
                data = _yaml(meta)
                if not isinstance(data, dict) or "model_id" not in data:
                    continue
                status = data.get("status")
                created = _int(data.get("creation_timestamp"))
                found.append(MlflowLoggedModel(
                    model_id=str(data["model_id"]), experiment_id=eid,
                    name=str(data.get("name") or data["model_id"]),
                    source_run_id=None if data.get("source_run_id") is None
                    else str(data["source_run_id"]),
                    model_type=None if data.get("model_type") is None else str(data["model_type"]),
                    status=MODEL_STATUS_NUMBERS.get(status, str(status)) if isinstance(status, int)
                    else str(status or "READY"),
                    creation_timestamp=created,
                    last_updated_timestamp=_int(data.get("last_updated_timestamp") or created),
                    artifact_location=str(data.get("artifact_location") or meta.parent / "artifacts"),
                    lifecycle_stage=str(data.get("lifecycle_stage") or "active"),
                    params=_keyed_files(meta.parent / "params"),
                    tags=_keyed_files(meta.parent / "tags")))
        return found

    def close(self) -> None:
        """Nothing to let go: every file and request is closed after its read."""

    # --- registry ---------------------------------------------------------------------------

    def registered_models(self) -> list[MlflowModel]:
        """``models/<name>/`` with its versions."""
        found = []
        for meta in sorted((self.root / "models").glob("*/meta.yaml")):
            data = _yaml(meta)
            if not isinstance(data, dict) or "name" not in data:
                continue
            created = _int(data.get("creation_timestamp"))
            model = MlflowModel(
                str(data["name"]), created, _int(data.get("last_updated_timestamp") or created),
                str(data.get("description") or ""), _keyed_files(meta.parent / "tags"),
                {str(k): int(v) for k, v in (data.get("aliases") or {}).items()})
            for alias_file in sorted((meta.parent / "aliases").glob("*")):
                if alias_file.is_file():  # older layouts: one file per alias
                    model.aliases.setdefault(alias_file.name, int(alias_file.read_text().strip()))
            for vmeta in sorted(meta.parent.glob("version-*/meta.yaml"),
                                key=lambda p: _int(p.parent.name.split("-", 1)[1])):
                v = _yaml(vmeta)
                if isinstance(v, dict) and "version" in v:
                    model.versions.append(_version(v, _keyed_files(vmeta.parent / "tags")))
            found.append(model)
        return found


def _version(v: dict[str, Any], tags: dict[str, str]) -> MlflowVersion:
    created = _int(v.get("creation_timestamp"))
    return MlflowVersion(
        version=_int(v["version"]), creation_time=created,
        last_updated_time=_int(v.get("last_updated_timestamp") or created),
        description=str(v.get("description") or ""), source=str(v.get("source") or ""),
        run_id=None if not v.get("run_id") else str(v["run_id"]),
        status=str(v.get("status") or "READY"), current_stage=str(v.get("current_stage") or "None"),
        user_id=str(v.get("user_id") or ""),
        storage_location=None if not v.get("storage_location") else str(v["storage_location"]),
        model_id=None if not v.get("model_id") else str(v["model_id"]), tags=tags)


def local_artifacts(uri: str) -> tuple[list[ArtifactFile], str | None]:
    """The files of an artifact location on this machine, or why they cannot be read.

    :param uri: the location MLflow recorded (``file:///...``, a path, ``mlflow-artifacts:/...``...).
    """
    folder = local_folder(uri)
    if folder is None:
        return [], (f"its artifacts are at {uri}, which is not a folder on this machine "
                    "(import from the MLflow server, http://..., to bring them)")
    files, links = walk_files(folder)
    if links:
        return files, f"symbolic links not copied: {', '.join(links[:5])}"
    return files, None


def _inputs(run_dir: Path, exp_dir: Path) -> tuple[list[DatasetInput], list[str]]:
    """A run's dataset inputs (``inputs/<id>/meta.yaml`` naming a dataset of the experiment's
    ``datasets/<id>/meta.yaml``) and model inputs, as MLflow's file store writes them; an input
    whose dataset is missing is left out, as MLflow's own reader does."""
    datasets, models = [], []
    for meta in sorted((run_dir / "inputs").glob("*/meta.yaml")):
        data = _yaml(meta)
        if not isinstance(data, dict):
            continue
        if data.get("source_type") == "MODEL" and data.get("source_id"):
            models.append(str(data["source_id"]))
        elif data.get("source_type") == "DATASET":
            found = _yaml(exp_dir / "datasets" / str(data.get("source_id")) / "meta.yaml")
            if isinstance(found, dict):
                tags = data.get("tags")
                datasets.append(DatasetInput(dataset_record(found), {
                    str(k): str(v) for k, v in (tags if isinstance(tags, dict) else {}).items()}))
    return datasets, models


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _keyed_paths(folder: Path) -> dict[str, Path]:
    files, _ = walk_files(folder)
    return {f.path: f.local for f in files if f.local is not None}


def _keyed_files(folder: Path) -> dict[str, str]:
    """``{key: value}`` of a params or tags folder (a file per key; a ``/`` in a key is a folder)."""
    return {key: path.read_text(encoding="utf-8") for key, path in _keyed_paths(folder).items()}


def _points(path: Path, key: str) -> Columns:
    steps: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            stamp, value = int(parts[0]), float(parts[1])
            step = int(parts[2]) if len(parts) > 2 else 0
        except (ValueError, IndexError):
            raise SourceError(f"metric file {path} line {number} is not "
                              f"'<timestamp> <value> <step>': {line[:80]!r}") from None
        stamps.append(stamp)
        values.append(value)
        steps.append(step)
    return steps, stamps, values
