"""Artifacts in S3-compatible object storage (``MLNB_ARTIFACT_URI=s3://bucket/prefix``).

A run's file ``plots/a.png`` is the object ``<prefix>/<run_id>/plots/a.png``. Paths are checked
exactly as on disk (:func:`~mlnb.store.artifacts.safe_relpath`, run ids of 32 hex digits).

Writes are whole: a file of up to :data:`PART_SIZE` bytes is one ``PutObject``, a bigger one a
multipart upload streamed part by part (never more than two parts in memory), and S3 shows an
object only once its upload completes. A failed or interrupted upload is aborted, so no object a
reader would take as complete is left; a process killed mid-upload leaves an incomplete multipart
upload, which no reader sees (a bucket lifecycle rule, ``AbortIncompleteMultipartUpload``,
removes its parts). The sha256 and size are computed while streaming and recorded by the store.

Reads go through a private local cache (the store's ``artifact_root``): :meth:`local_path`
downloads the file, or every recorded file of a folder, checks each against the sha256 and size
the store recorded, and returns the local path. A cached copy that still matches is used
without a download; a download that does not match is an :class:`~mlnb.errors.ArtifactIntegrityError`
naming the file, and is never used. What the store recorded, not what the bucket lists, is what a
folder holds: an object nobody recorded is not downloaded.

The endpoint comes from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` and the credentials from
AWS's usual chain (environment, profile, instance role), both read by boto3 itself; boto3 is
imported on first use. Errors name what to fix and never include a secret.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlnb.errors import ArtifactIntegrityError, MlnbError, NotFoundError, StoreError
from mlnb.store.artifacts import (
    CHUNK,
    ArtifactRoot,
    StoredFile,
    makedirs_private,
    owner_folder,
    resolve_inside,
    safe_relpath,
    sha256_of,
    unlink_quietly,
)

__all__ = ["PART_SIZE", "RecordLookup", "S3ArtifactRoot"]

PART_SIZE = 5 << 20
"""Bytes per multipart part (S3's minimum for all parts but the last); a smaller file is one PUT."""

RecordLookup = Callable[[str, str], list[tuple[str, int, str]]]
"""``(run_id, path) -> [(file path, size, sha256)]``: the store's records of the file ``path``
or of every file below the folder ``path`` (every file of the run for ``""``)."""

_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
               "ExpiredToken", "TokenRefreshRequired", "InvalidSecurity", "AuthorizationHeaderMalformed"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_CREDENTIALS_HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or use any "
                     "other source of AWS's credential chain")
_ENDPOINT_HINT = "AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL"


class S3ArtifactRoot(ArtifactRoot):
    """Every run's artifacts under one S3 URI, read through a private local cache folder.

    :param url: ``s3://bucket`` or ``s3://bucket/prefix``, as
        :func:`mlnb.store.location.parse_artifact_uri` normalised it.
    :param cache: the local folder downloaded files are kept in, one sub-folder per run.
    :param records: how to look up the sizes and hashes the store recorded.
    """

    def __init__(self, url: str, cache: Path, records: RecordLookup) -> None:
        super().__init__(cache)
        self.url = url
        parts = urlsplit(url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self._records = records
        self._client: Any = None
        self._client_lock = threading.Lock()

    # --- writing ----------------------------------------------------------------------------

    def put_stream(self, run_id: str, dest: str, chunks: Iterator[bytes]) -> StoredFile:
        """Upload chunks as the run's artifact ``dest`` (multipart beyond :data:`PART_SIZE`);
        return its size and hash. Nothing is left under the key if the upload fails.

        :param run_id: the run.
        :param dest: the artifact's path inside the run (a file, not a folder).
        :param chunks: the content.
        :raises UnsafePathError: for a path that could leave the run's folder, or names a folder.
        :raises StoreError: when S3 cannot be reached or refuses the upload.
        """
        rel = self.file_relpath(run_id, dest)
        run_dir = self.run_dir(run_id)
        if run_dir.exists():
            resolve_inside(run_dir, rel)  # as on disk: a link planted in the cache is refused
        key = self.key(run_id, rel)
        stream = _Stream(chunks)
        upload: _Multipart | None = None
        try:
            parts = stream.parts()
            first = next(parts)
            second = next(parts, None)
            if second is None:  # it fits in one part: one PUT
                self._call(f"writing {rel!r}", "put_object", Bucket=self.bucket, Key=key,
                           Body=first)
            else:
                upload = _Multipart(self, key, rel)
                upload.send(first)
                del first  # the part in flight and the part being filled: no more in memory
                upload.send(second)
                del second
                for part in parts:
                    upload.send(part)
                upload.complete()
                upload = None
        except OSError as exc:  # reading the source failed
            raise StoreError(f"Could not write artifact {rel!r}: {exc.strerror or exc}.") from None
        finally:
            if upload is not None:  # failed or interrupted: S3 drops the parts sent so far
                upload.abort()
        return StoredFile(rel, stream.size, stream.digest.hexdigest())

    def remove(self, run_id: str, paths: list[str]) -> None:
        """Delete objects of a run (their records are gone already) and their cached copies.

        :param run_id: the run.
        :param paths: the files' paths inside the run, as recorded.
        :raises StoreError: when S3 cannot be reached or refuses.
        """
        for rel in paths:
            self._call(f"removing {rel!r}", "delete_object", Bucket=self.bucket,
                       Key=self.key(run_id, safe_relpath(rel)))
        super().remove(run_id, paths)

    # --- reading ----------------------------------------------------------------------------

    def local_path(self, run_id: str, path: str = "") -> Path:
        """Download the file or folder an artifact path names into the cache, check each file
        against the store's record, and return its local path.

        :param run_id: the run.
        :param path: a path inside the run's artifacts; default the run's folder.
        :raises NotFoundError: when the store recorded no such file or folder.
        :raises ArtifactIntegrityError: when a downloaded file is not what the store recorded.
        """
        rel = safe_relpath(path, allow_empty=True)
        run_dir = self.run_dir(run_id)
        if run_dir.exists():
            resolve_inside(run_dir, rel)  # a link planted in the cache is refused, as on disk
        records = self._records(run_id, rel)
        if not records:
            raise NotFoundError(f"Run {run_id} has no artifact {rel!r}.")
        exact = [r for r in records if r[0] == rel]
        for name, size, sha in exact or records:  # the file, or every file of the folder
            self._materialise(run_id, name, size, sha)
        if not exact:
            self._prune(run_id, rel, {name for name, _, _ in records})
        return resolve_inside(run_dir, rel)

    def key(self, run_id: str, rel: str) -> str:
        """The object key of a run's artifact.

        :param run_id: the run.
        :param rel: the artifact's path inside the run, already checked.
        """
        return "/".join(p for p in (self.prefix, owner_folder(run_id), rel) if p)

    def _materialise(self, run_id: str, name: str, size: int, sha: str) -> None:
        run_dir = self.run_dir(run_id)
        makedirs_private((run_dir / name).parent)
        target = resolve_inside(run_dir, name)
        if target.is_symlink():
            target.unlink()
        elif target.is_file() and target.stat().st_size == size and sha256_of(target) == sha:
            return  # the cached copy is still the file the store recorded
        self._download(run_id, name, size, sha, target)

    def _download(self, run_id: str, name: str, size: int, sha: str, target: Path) -> None:
        doing = f"reading artifact {name!r} of run {run_id}"
        digest = hashlib.sha256()
        got = 0
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                response = self._call(doing, "get_object", Bucket=self.bucket,
                                      Key=self.key(run_id, name))
                for chunk in self._guarded(doing, response["Body"].iter_chunks(CHUNK)):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
            if got != size or digest.hexdigest() != sha:
                raise ArtifactIntegrityError(
                    f"Artifact {name!r} of run {run_id} in {self.url} is not the file the store "
                    f"recorded: it has {got} bytes with sha256 {digest.hexdigest()}, the record "
                    f"says {size} bytes with sha256 {sha}. It was changed in the bucket after "
                    "mlnb wrote it, and was not used. Restore the object, or log the file again.")
            os.replace(tmp_name, target)
        except NotFoundError:
            unlink_quietly(tmp_name)
            raise NotFoundError(
                f"Artifact {name!r} of run {run_id} is recorded in the store but missing from "
                f"{self.url}: the object was deleted from the bucket.") from None
        except OSError as exc:
            unlink_quietly(tmp_name)
            raise StoreError(f"Could not write the cached copy of artifact {name!r} in "
                             f"{target.parent}: {exc.strerror or exc}.") from None
        except BaseException:
            unlink_quietly(tmp_name)
            raise

    def _prune(self, run_id: str, rel: str, recorded: set[str]) -> None:
        """Remove cached files below ``rel`` that the store does not record, so the folder a
        caller gets holds exactly the recorded, checked files (links are removed, not followed)."""
        run_dir = self.run_dir(run_id)
        folder = run_dir / rel if rel else run_dir
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            for name in [d for d in dirnames if (here / d).is_symlink()]:
                (here / name).unlink()
                dirnames.remove(name)
            for name in filenames:
                full = here / name
                if name.startswith(".tmp-") and not full.is_symlink():
                    continue  # another process's download in progress
                if full.relative_to(run_dir).as_posix() not in recorded:
                    full.unlink()

    # --- the S3 client --------------------------------------------------------------------------

    def client(self) -> Any:
        """The boto3 S3 client (made on first use; boto3 reads the endpoint and credentials)."""
        with self._client_lock:
            if self._client is None:
                try:
                    import boto3  # loaded only for an s3:// root, never by import mlnb
                    from botocore.config import Config  # boto3's own dependency, as boto3
                except ImportError:
                    raise StoreError(
                        f"The artifact root {self.url} is in S3, which needs boto3: "
                        "pip install 'mlnb[team]'.") from None
                config = Config(connect_timeout=10, read_timeout=60,
                                retries={"max_attempts": 4, "mode": "standard"})
                try:
                    self._client = boto3.session.Session().client("s3", config=config)
                except Exception as exc:  # botocore's errors: a bad endpoint URL, region, profile
                    raise self._error(exc, "connecting") from None
            return self._client

    def _call(self, doing: str, operation: str, **params: Any) -> Any:
        client = self.client()
        try:
            return getattr(client, operation)(**params)
        except Exception as exc:
            raise self._error(exc, doing) from None

    def _guarded(self, doing: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        except Exception as exc:
            raise self._error(exc, doing) from None

    def endpoint(self) -> str:
        """The endpoint in use, without any user or password part."""
        url = str(self._client.meta.endpoint_url) if self._client is not None else ""
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}" if host else "AWS's default endpoint"

    def _error(self, exc: Exception, doing: str) -> Exception:
        """One clear mlnb error for a botocore failure (anything else is returned as it is)."""
        if isinstance(exc, MlnbError):
            return exc
        from botocore import exceptions as bx  # loaded with boto3 by client()

        where = f"{self.url} (endpoint {self.endpoint()})"
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                            bx.CredentialRetrievalError)):
            return StoreError(
                f"No usable AWS credentials were found for the artifact store {self.url} while "
                f"{doing}: {_CREDENTIALS_HINT}.")
        if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                            bx.ReadTimeoutError, bx.ConnectionClosedError)):
            return StoreError(
                f"Cannot reach the S3 endpoint {self.endpoint()} while {doing}: check "
                f"{_ENDPOINT_HINT} and that the server is up.")
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return StoreError(
                    f"The S3 bucket {self.bucket!r} does not exist at {self.endpoint()} (while "
                    f"{doing}): create it, or set MLNB_ARTIFACT_URI to an existing bucket.")
            if code in _AUTH_CODES or status == 403:
                return StoreError(
                    f"S3 refused the credentials for {where} while {doing} ({code or status}): "
                    f"check the access key and secret ({_CREDENTIALS_HINT}) and that they may "
                    f"use the bucket {self.bucket!r}.")
            if code in _MISSING_CODES:
                return NotFoundError(f"{where} has no object for {doing}.")
            return StoreError(f"S3 failed {doing} in {where}: {code or status}.")
        if isinstance(exc, (bx.BotoCoreError, ValueError)):
            # A bad endpoint URL or region, a broken response stream: the class names it; the
            # text is left out, since botocore's may quote configuration.
            return StoreError(f"S3 failed {doing} in {where}: {type(exc).__name__}.")
        return exc


class _Multipart:
    """One multipart upload: parts sent in order, then completed, or aborted."""

    def __init__(self, root: S3ArtifactRoot, key: str, rel: str) -> None:
        self.root = root
        self.key = key
        self.doing = f"writing {rel!r}"
        created = root._call(self.doing, "create_multipart_upload", Bucket=root.bucket, Key=key)
        self.upload_id = str(created["UploadId"])
        self.parts: list[dict[str, Any]] = []

    def send(self, data: bytearray) -> None:
        number = len(self.parts) + 1
        sent = self.root._call(self.doing, "upload_part", Bucket=self.root.bucket, Key=self.key,
                               UploadId=self.upload_id, PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def complete(self) -> None:
        self.root._call(self.doing, "complete_multipart_upload", Bucket=self.root.bucket,
                        Key=self.key, UploadId=self.upload_id,
                        MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        """Give the upload up (best effort: the error being raised is what the caller sees)."""
        try:
            self.root.client().abort_multipart_upload(Bucket=self.root.bucket, Key=self.key,
                                                      UploadId=self.upload_id)
        except Exception:
            pass


class _Stream:
    """The content of an upload cut into parts, hashed and counted on the way."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.digest = hashlib.sha256()
        self.size = 0

    def parts(self) -> Iterator[bytearray]:
        """Parts of exactly :data:`PART_SIZE` bytes, the last one shorter (one empty part for
        empty content). Each part is handed over, not copied, so at most the part being sent
        and the one being filled are in memory."""
        buffer = bytearray()
        sent = False
        for chunk in self.chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            view = memoryview(chunk)
            while view.nbytes:
                take = min(PART_SIZE - len(buffer), view.nbytes)
                buffer += view[:take]
                view = view[take:]
                if len(buffer) == PART_SIZE:
                    yield buffer
                    buffer = bytearray()
                    sent = True
        if buffer or not sent:
            yield buffer
