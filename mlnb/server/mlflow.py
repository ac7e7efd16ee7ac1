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

from mlnb.mlflow_server import ApiRequest, Context, handle
from mlnb.mlflow_server.protocol import response_body, response_headers
from mlnb.server.base import MlnbHandler


class MlflowApiHandler(MlnbHandler):
    """``/mlnb/mlflow/<MLflow REST path>``: every MLflow endpoint mlnb answers."""

    async def answer(self, path: str) -> None:
        """Run the request through the MLflow API layer off the event loop, and send its answer.

        :param path: the path below ``/mlnb/mlflow/``.
        """
        request = self.request
        api_request = ApiRequest.from_http(request.method or "GET", path, request.query_arguments,
                                           request.body or b"", request.headers.get("Content-Type", ""))
        answer = await asyncio.to_thread(handle, Context(self.store(), self.user_name()), api_request)
        self.set_status(answer.status)
        for name, value in response_headers(answer).items():
            self.set_header(name, value)
        chunks = response_body(answer)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            self.write(chunk)
            await self.flush()
        self.finish()

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
