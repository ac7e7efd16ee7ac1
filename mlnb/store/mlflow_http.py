"""Reading a running MLflow server through its REST API (plain HTTP, no MLflow needed).

Calls (MLflow's ``service.proto`` and server routes): ``experiments/search`` and
``runs/search`` with every view type, ``metrics/get-history`` per key (paged), ``artifacts/list``
and ``/get-artifact`` for a run's files, ``logged-models/search``,
``logged-models/<id>/artifacts/directories`` and ``/ajax-api/.../artifacts/files`` for MLflow 3's
logged models, ``registered-models/search`` and ``model-versions/search`` for the registry.
``MLFLOW_TRACKING_TOKEN`` (bearer) or ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` (basic) are sent
as MLflow's client sends them. The server returns ``NaN`` and ``±Infinity`` as MLflow keeps them.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

from mlnb.entities import DatasetInput
from mlnb.store.location import mask_password
from mlnb.store.mlflow_records import (
    MODEL_STATUS_NUMBERS,
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
)

_TIMEOUT_S = 60
_PAGE = 1000


class HttpReader(MlflowReader):
    """An MLflow tracking server.

    :param url: its base URL, e.g. ``http://127.0.0.1:5000``.
    :raises SourceError: when it cannot be reached or does not answer as MLflow.
    """

    def __init__(self, url: str) -> None:
        self.base = url.rstrip("/")
        self.describe = mask_password(self.base)
        self._headers = _auth_headers()
        self._experiment_ids: list[str] = []
        try:
            self._json("GET", "/api/2.0/mlflow/experiments/search", {"max_results": 1})
        except SourceError as exc:
            if str(exc).startswith("cannot reach"):
                raise
            raise SourceError(f"{self.describe} does not answer as an MLflow server: {exc}") from None

    # --- HTTP -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, query: dict[str, Any] | None = None,
                 body: dict[str, Any] | None = None) -> Any:
        url = self.base + path + ("?" + urlencode(query, doseq=True) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # the URL the user gave
        except urllib.error.HTTPError as exc:
            # MLflow's errors are JSON with a message; anything else (an HTML page) is not shown.
            try:
                detail = str(json.loads(exc.read(20_000)).get("message", ""))
            except (ValueError, AttributeError, OSError):
                detail = str(exc.reason)
            text = " ".join(detail.split())[:300]
            raise SourceError(f"{method} {path} answered {exc.code}: {text}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"cannot reach {self.describe}: {reason}") from None

    def _json(self, method: str, path: str, query: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._request(method, path, query, body) as response:
            raw = response.read()
        try:
            found = json.loads(raw or b"{}")
        except ValueError:
            raise SourceError(f"{method} {path} did not answer JSON") from None
        if not isinstance(found, dict):
            raise SourceError(f"{method} {path} did not answer a JSON object")
        return found

    def _pages(self, method: str, path: str, field: str, params: dict[str, Any]
               ) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            args = {**params, **({"page_token": token} if token else {})}
            page = (self._json("POST", path, body=args) if method == "POST"
                    else self._json("GET", path, query=args))
            yield from page.get(field, [])
            token = page.get("next_page_token")
            if not token:
                return

    # --- tracking ---------------------------------------------------------------------------

    def experiments(self) -> list[MlflowExperiment]:
        """Every experiment (``view_type=ALL``)."""
        found = [MlflowExperiment(
            str(e["experiment_id"]), str(e.get("name", "")), str(e.get("lifecycle_stage", "active")),
            int(e.get("creation_time", 0)), int(e.get("last_update_time", e.get("creation_time", 0))),
            _pairs(e.get("tags")))
            for e in self._pages("POST", "/api/2.0/mlflow/experiments/search", "experiments",
                                 {"max_results": _PAGE, "view_type": "ALL"})]
        self._experiment_ids = [e.experiment_id for e in found]
        return found

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        """The experiment's runs (``run_view_type=ALL``).

        :param experiment_id: the experiment.
        """
        runs = []
        for r in self._pages("POST", "/api/2.0/mlflow/runs/search", "runs",
                             {"experiment_ids": [experiment_id], "run_view_type": "ALL",
                              "max_results": _PAGE}):
            info, data = r.get("info", {}), r.get("data", {})
            tags = _pairs(data.get("tags"))
            runs.append(MlflowRun(
                str(info.get("run_id") or info.get("run_uuid")), experiment_id,
                str(info.get("run_name") or tags.get("mlflow.runName") or ""),
                str(info.get("status", "FINISHED")), int(info.get("start_time", 0)),
                None if info.get("end_time") is None else int(info["end_time"]),
                str(info.get("lifecycle_stage", "active")), str(info.get("user_id", "")),
                str(info.get("artifact_uri", "")), None, _pairs(data.get("params")), tags,
                sorted({str(m["key"]) for m in data.get("metrics", [])})))
            runs[-1].inputs = _dataset_inputs(r.get("inputs") or {})
            # A search leaves out the logged models a run used: runs/get has them.
            got = self._json("GET", "/api/2.0/mlflow/runs/get", {"run_id": runs[-1].run_id})
            runs[-1].model_inputs = [str(m["model_id"]) for m in
                                     (got.get("run", {}).get("inputs") or {}).get("model_inputs", [])
                                     if isinstance(m, dict) and m.get("model_id")]
        return runs

    def metrics(self, run: MlflowRun) -> dict[str, Columns]:
        """Each metric's history, per key.

        :param run: the run.
        """
        found: dict[str, Columns] = {}
        for key in run.metric_keys:
            steps: list[int] = []
            stamps: list[int] = []
            values: list[float] = []
            for m in self._pages("GET", "/api/2.0/mlflow/metrics/get-history", "metrics",
                                 {"run_id": run.run_id, "metric_key": key, "max_results": 25000}):
                steps.append(int(m.get("step", 0)))
                stamps.append(int(m.get("timestamp", 0)))
                values.append(float(m.get("value", 0.0)))  # "NaN", "Infinity" parse too
            found[key] = (steps, stamps, values)
        return found

    def artifacts(self, owner: MlflowRun | MlflowLoggedModel) -> tuple[list[ArtifactFile], str | None]:
        """Every file below the run's or logged model's artifacts, listed folder by folder.

        :param owner: the run or logged model.
        """
        files: list[ArtifactFile] = []
        folders = [""]
        while folders:
            folder = folders.pop()
            for entry in self._listing(owner, folder):
                path = str(entry.get("path", ""))
                if entry.get("is_dir"):
                    folders.append(path)
                else:
                    files.append(ArtifactFile(path))
        return sorted(files, key=lambda f: f.path), None

    def _listing(self, owner: MlflowRun | MlflowLoggedModel, folder: str) -> list[dict[str, Any]]:
        if isinstance(owner, MlflowRun):
            query: dict[str, Any] = {"run_id": owner.run_id, **({"path": folder} if folder else {})}
            return list(self._pages("GET", "/api/2.0/mlflow/artifacts/list", "files", query))
        query = {"artifact_directory_path": folder} if folder else {}
        return list(self._json(
            "GET", f"/api/2.0/mlflow/logged-models/{quote(owner.model_id)}/artifacts/directories",
            query).get("files", []))

    @contextmanager
    def open(self, owner: MlflowRun | MlflowLoggedModel, file: ArtifactFile) -> Iterator[Iterator[bytes]]:
        """Stream one file from the server.

        :param owner: the run or logged model.
        :param file: the file.
        """
        if isinstance(owner, MlflowRun):
            response = self._request("GET", "/get-artifact",
                                     {"path": file.path, "run_uuid": owner.run_id})
        else:
            response = self._request(
                "GET", f"/ajax-api/2.0/mlflow/logged-models/{quote(owner.model_id)}/artifacts/files",
                {"artifact_file_path": file.path})
        with response:
            yield iter(lambda: response.read(1 << 20), b"")

    def logged_models(self) -> list[MlflowLoggedModel]:
        """MLflow 3's logged models of every experiment (none from an older server)."""
        if not self._experiment_ids:
            self.experiments()
        found = []
        try:
            for m in self._pages("POST", "/api/2.0/mlflow/logged-models/search", "models",
                                 {"experiment_ids": self._experiment_ids, "max_results": 100}):
                info, data = m.get("info", {}), m.get("data", {})
                status = info.get("status", "READY")
                created = int(info.get("creation_timestamp_ms", 0))
                found.append(MlflowLoggedModel(
                    str(info["model_id"]), str(info.get("experiment_id", "")),
                    str(info.get("name", info["model_id"])), info.get("source_run_id") or None,
                    info.get("model_type") or None,
                    MODEL_STATUS_NUMBERS.get(status, str(status)).replace("LOGGED_MODEL_", ""),
                    created, int(info.get("last_updated_timestamp_ms", created)),
                    str(info.get("artifact_uri", "")), "active",
                    _pairs(data.get("params")), _pairs(info.get("tags"))))
        except SourceError as exc:
            if " 404" not in str(exc):  # a server older than MLflow 3 has no logged models
                raise
        return found

    def close(self) -> None:
        """Nothing to let go: every file and request is closed after its read."""

    # --- registry ---------------------------------------------------------------------------

    def registered_models(self) -> list[MlflowModel]:
        """Registered models with tags and aliases, and every version of each."""
        models = []
        for m in self._pages("GET", "/api/2.0/mlflow/registered-models/search",
                             "registered_models", {"max_results": _PAGE}):
            created = int(m.get("creation_timestamp", 0))
            model = MlflowModel(
                str(m["name"]), created, int(m.get("last_updated_timestamp", created)),
                str(m.get("description", "")), _pairs(m.get("tags")),
                {str(a["alias"]): int(a["version"]) for a in m.get("aliases", [])})
            name = model.name.replace("\\", "\\\\").replace("'", "\\'")
            for v in self._pages("GET", "/api/2.0/mlflow/model-versions/search", "model_versions",
                                 {"filter": f"name='{name}'", "max_results": 10000}):
                model.versions.append(_version(v))
            model.versions.sort(key=lambda v: v.version)
            models.append(model)
        return models


def _version(v: dict[str, Any]) -> MlflowVersion:
    created = int(v.get("creation_timestamp", 0))
    return MlflowVersion(
        int(v["version"]), created, int(v.get("last_updated_timestamp", created)),
        str(v.get("description", "")), str(v.get("source", "")), v.get("run_id") or None,
        str(v.get("status", "READY")), str(v.get("current_stage", "None")),
        str(v.get("user_id", "")), v.get("storage_location") or None, v.get("model_id") or None,
        _pairs(v.get("tags")))


def _dataset_inputs(inputs: dict[str, Any]) -> list[DatasetInput]:
    """A ``RunInputs`` message's dataset inputs."""
    found = []
    for item in inputs.get("dataset_inputs") or []:
        if isinstance(item, dict) and isinstance(item.get("dataset"), dict):
            found.append(DatasetInput(dataset_record(item["dataset"]), _pairs(item.get("tags"))))
    return found


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or [] if "key" in i}


def _auth_headers() -> dict[str, str]:
    """The credentials MLflow's client would send, from the same environment variables."""
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = (os.environ.get("MLFLOW_TRACKING_USERNAME"),
                      os.environ.get("MLFLOW_TRACKING_PASSWORD"))
    if user and password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}
