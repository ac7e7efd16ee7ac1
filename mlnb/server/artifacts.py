"""REST handlers for a run's artifacts: listing, and downloads that can never run as a page.

A run's artifacts are user data: an ``evil.html`` or ``evil.svg`` opened from the API would run its
script with the server's origin and could call ``/mlnb/api`` with the user's cookie. So only a
small allowlist of passive types is served inline; everything else is an attachment, and every
response carries ``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy: sandbox``.
Paths go through the store (``safe_relpath``, ``resolve_inside``), never straight to the disk.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.entities import FileInfo
from mlnb.server.base import MlnbHandler

# Types shown inline (the panel's previews); charset added for text.
INLINE_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".txt": "text/plain", ".log": "text/plain", ".md": "text/plain",
    ".py": "text/plain", ".yaml": "text/plain", ".yml": "text/plain", ".json": "application/json",
    ".csv": "text/csv", ".tsv": "text/tab-separated-values",
}
CHUNK = 256 * 1024


def file_json(info: FileInfo) -> dict[str, Any]:
    """An artifact file or folder as JSON data.

    :param info: the file info.
    """
    return {"path": info.path, "is_dir": info.is_dir, "file_size": info.file_size, "sha256": info.sha256}


def content_headers(path: str) -> tuple[str, bool]:
    """``(content type, inline?)`` for an artifact name.

    :param path: the artifact's name.
    """
    suffix = Path(path).suffix.lower()
    if suffix in INLINE_TYPES:
        ctype = INLINE_TYPES[suffix]
        if ctype.startswith("text/") or ctype == "application/json":
            ctype += "; charset=utf-8"
        return ctype, True
    guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
    # Anything active (html, svg, js, xml, pdf...) is downloaded, never rendered by the browser.
    return guessed, False


class ArtifactListHandler(MlnbHandler):
    """``GET runs/<id>/artifacts?path=``: files and folders directly inside ``path``."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``GET runs/<run_id>/artifacts?path=``: the files and folders directly inside ``path``."""
        path = self.get_query_argument("path", "")
        store = self.store()
        files = await self.blocking(store.list_artifacts, run_id, path)
        self.send_json({"run_id": run_id, "path": path, "files": [file_json(f) for f in files]})


class ArtifactDownloadHandler(MlnbHandler):
    """``GET runs/<id>/artifact?path=`` or ``GET runs/<id>/artifact/<path>``: one file's bytes.

    ``?max_bytes=N`` sends only the file's first N bytes (a preview of a large file); the answer
    then says the file's full size in ``X-Mlnb-File-Size``.
    """

    @web.authenticated
    @authorized
    async def get(self, run_id: str, url_path: str | None = None) -> None:
        """``GET runs/<run_id>/artifact?path=`` (or ``artifact/<path>``): one recorded artifact file."""
        rel = url_path if url_path else self.get_query_argument("path", "")
        if not rel:
            raise web.HTTPError(400, "Name the artifact with ?path=<artifact path>.")
        max_bytes = self.int_arg("max_bytes", 0, 0)
        await self.send_artifact(run_id, rel, max_bytes or None)

    async def send_artifact(self, run_id: str, rel: str, max_bytes: int | None = None) -> None:
        """Stream one recorded artifact file (in chunks) with the headers that keep it passive.

        :param run_id: the run (or a logged model without a run) whose records hold the file.
        :param rel: the file's path inside its artifacts.
        :param max_bytes: send only the first this many bytes; None for the whole file.
        """
        store = self.store()

        def locate() -> tuple[FileInfo, Path]:
            record = store.artifact_record(run_id, rel)  # only files the store recorded
            local = store.artifact_path(run_id, record.path)
            if not local.is_file():
                raise web.HTTPError(404, "The artifact's file is missing from the artifact folder.")
            return record, local

        record, local = await self.blocking(locate)
        ctype, inline = content_headers(record.path)
        self.set_header("Content-Type", ctype)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", Path(record.path).name)[:200]
        disposition = "inline" if inline else "attachment"
        self.set_header("Content-Disposition", f'{disposition}; filename="{ascii_name}"')
        size = local.stat().st_size
        left = size if max_bytes is None else min(size, max_bytes)
        self.set_header("X-Mlnb-File-Size", str(size))
        with open(local, "rb") as handle:
            while left > 0 and (chunk := handle.read(min(CHUNK, left))):
                left -= len(chunk)
                self.write(chunk)
                await self.flush()
        self.finish()

    def set_default_headers(self) -> None:
        """Add ``X-Content-Type-Options: nosniff`` to every answer."""
        super().set_default_headers()
        self.set_header("X-Content-Type-Options", "nosniff")
