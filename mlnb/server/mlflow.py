"""The MLflow REST API under ``/mlnb/mlflow/``: one handler over :mod:`mlnb.mlflow_server`.

An MLflow client sends ``Authorization: Bearer <MLFLOW_TRACKING_TOKEN>``, which Jupyter Server
accepts as its token (``IdentityProvider.auth_header_pat``); a browser's cookie session works too,
with Jupyter's XSRF check on every write. Every verb is ``@web.authenticated`` and
``@authorized``, as on ``/mlnb/api/``.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from tornado import web

from mlnb.mlflow_server import ApiRequest, ApiResponse, Context, handle
from mlnb.mlflow_server.protocol import dump
from mlnb.server.base import MlnbHandler

CHUNK = 256 * 1024


async def send(handler: web.RequestHandler, answer: ApiResponse) -> None:
    """Write an :class:`ApiResponse`: JSON, or a file's bytes as a download that never renders.

    :param handler: the request's handler.
    :param answer: the answer.
    """
    handler.set_status(answer.status)
    handler.set_header("X-Content-Type-Options", "nosniff")
    if answer.file is None:
        handler.set_header("Content-Type", "application/json; charset=UTF-8")
        handler.finish(dump(answer.payload if answer.payload is not None else {}))
        return
    # User bytes: always an attachment, sandboxed, never sniffed into a page.
    handler.set_header("Content-Type", "application/octet-stream")
    handler.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in answer.filename)[:200]
    handler.set_header("Content-Disposition", f'attachment; filename="{safe or "artifact"}"')
    with open(answer.file, "rb") as stream:
        while chunk := await asyncio.to_thread(stream.read, CHUNK):
            handler.write(chunk)
            await handler.flush()
    handler.finish()


def api_request(handler: web.RequestHandler, path: str) -> ApiRequest:
    """The framework-neutral request of a tornado request.

    :param handler: the request's handler.
    :param path: the path below the mount point (without its leading ``/``).
    """
    request = handler.request
    query = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in request.query_arguments.items()}
    ctype = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return ApiRequest(request.method or "GET", "/" + path, query, request.body or b"", ctype)


class MlflowApiHandler(MlnbHandler):
    """``/mlnb/mlflow/<MLflow REST path>``: every MLflow endpoint mlnb answers."""

    async def answer(self, path: str) -> None:
        """Run the request through the MLflow API layer off the event loop, and send its answer.

        :param path: the path below ``/mlnb/mlflow/``.
        """
        ctx = Context(self.store(), self.user_name())
        answer = await asyncio.to_thread(handle, ctx, api_request(self, path))
        await send(self, answer)

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        """Any GET endpoint.

        :param path: the MLflow path.
        """
        await self.answer(path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        """Any POST endpoint.

        :param path: the MLflow path.
        """
        await self.answer(path)

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        """Artifact uploads.

        :param path: the MLflow path.
        """
        await self.answer(path)

    @web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        """Any PATCH endpoint.

        :param path: the MLflow path.
        """
        await self.answer(path)

    @web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        """Any DELETE endpoint.

        :param path: the MLflow path.
        """
        await self.answer(path)
