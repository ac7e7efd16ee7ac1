"""The artifact methods of :class:`~mlnb.tracking.client.MlnbClient` (MLflow's ``log_artifact``,
``log_text``, ``log_dict``, ``log_figure``, ``log_table``, ``list_artifacts``,
``download_artifacts``): files go through the store's artifact root, written atomically with
their sha256, and no path escapes its run's folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from mlnb.entities import FileInfo
from mlnb.errors import InvalidParameterError, NotFoundError
from mlnb.store import Store
from mlnb.store.artifacts import iter_source_files, safe_relpath
from mlnb.tracking import formats


class ArtifactClientMixin:
    """Artifact methods of :class:`~mlnb.tracking.client.MlnbClient` (they use ``self.store``)."""

    store: Store

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy one file into the run's artifacts (under ``artifact_path`` if given).

        :param run_id: the run.
        :param local_path: the file to copy.
        :param artifact_path: a folder inside the run's artifacts; default the top.
        :raises NotFoundError: when ``local_path`` is not a file.
        """
        source = Path(local_path)
        if not source.is_file():
            raise NotFoundError(f"log_artifact: {str(source)!r} is not a file.")
        self.store.put_artifact_file(run_id, source, _join(artifact_path, source.name))

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy every file below a folder into the run's artifacts, keeping the layout.

        :param run_id: the run.
        :param local_dir: the folder to copy.
        :param artifact_path: a folder inside the run's artifacts; default the top.
        :raises NotFoundError: when ``local_dir`` is not a folder.
        """
        folder = Path(local_dir)
        if not folder.is_dir():
            raise NotFoundError(f"log_artifacts: {str(folder)!r} is not a folder.")
        prefix = safe_relpath(artifact_path, allow_empty=True) if artifact_path else ""
        for source, rel in iter_source_files(folder):
            self.store.put_artifact_file(run_id, source, _join(prefix, rel))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save text as an artifact of a run (UTF-8).

        :param run_id: the run.
        :param text: the text; anything else is an error.
        :param artifact_file: its path inside the run's artifacts.
        """
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"log_text takes text, not {type(text).__name__}; use log_dict for data or "
                "log_artifact for a file."
            )
        self.store.put_artifact_bytes(run_id, artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save data as a JSON artifact, or YAML when the file ends in ``.yaml``/``.yml``.

        :param run_id: the run.
        :param dictionary: JSON-ready data (for JSON, numpy arrays and scalars are converted).
        :param artifact_file: its path inside the run's artifacts.
        """
        safe_relpath(artifact_file)  # a bad path is the error to report, before any rendering
        self.store.put_artifact_bytes(
            run_id, artifact_file, formats.dict_bytes(dictionary, artifact_file))

    def log_figure(self, run_id: str, figure: Any, artifact_file: str,
                   save_kwargs: dict[str, Any] | None = None) -> None:
        """Save a matplotlib figure (any format it writes) or a Plotly figure (``.json`` or ``.html``).

        :param run_id: the run.
        :param figure: a matplotlib or Plotly figure.
        :param artifact_file: its path inside the run's artifacts; the extension picks the format.
        :param save_kwargs: extra keyword arguments for matplotlib's ``savefig`` (unused for
            Plotly).
        """
        safe_relpath(artifact_file)
        self.store.put_artifact_bytes(
            run_id, artifact_file, formats.figure_bytes(figure, artifact_file, save_kwargs))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Save a table as JSON; logging to the same file again appends its rows (as MLflow).

        :param run_id: the run.
        :param data: a pandas DataFrame or a dict of equal-length columns.
        :param artifact_file: its path inside the run's artifacts.
        :raises InvalidParameterError: when the file already holds other columns.
        """
        safe_relpath(artifact_file)
        columns = formats.table_columns(data)
        try:
            existing: bytes | None = self.store.artifact_path(run_id, artifact_file).read_bytes()
        except NotFoundError:
            existing = None
        self.store.put_artifact_bytes(run_id, artifact_file, formats.table_bytes(columns, existing))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly inside a run's artifacts (or inside ``path``).

        :param run_id: the run.
        :param path: a folder inside the run's artifacts; default the top.
        """
        return self.store.list_artifacts(run_id, path or "")

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """The local path of an artifact; with ``dst_path``, a copy made there.

        Unlike MLflow, nothing is copied without ``dst_path``: the path returned is inside the
        store, so do not write to it.

        :param run_id: the run.
        :param path: a file or folder inside the run's artifacts; default all of them.
        :param dst_path: a folder to copy into (symbolic links inside a copied folder are skipped).
        """
        source = self.store.artifact_path(run_id, path)
        if dst_path is None:
            return str(source)
        target = Path(dst_path) / (source.name if path else run_id)
        if source.is_dir():
            # mlnb never writes symlinks; one found here was planted and may point anywhere.
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=_symlinks)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return str(target)


def _symlinks(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if os.path.islink(os.path.join(folder, name))]


def _join(prefix: str | None, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}" if prefix else name


