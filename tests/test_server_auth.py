"""Every route of the mlnb server extension is authenticated; the cookie/XSRF/Host/Origin matrix;
and artifact downloads never escape a run's folder (reliability.md §3 and §b-D)."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyter_harness import lab_server  # noqa: F401
from jupyter_server.base.handlers import APIHandler
from jupyter_server.serverapp import _has_tornado_web_authenticated
from tornado import web

import mlnb.server
from mlnb.store import Store, StoreLocation

pytest_plugins = ("pytest_jupyter.jupyter_server",)

SAMPLES = {r"([^/]+)": "f" * 32, r"(.+)": "a.txt", r"(.*)": "no/such/route"}
BODY_METHODS = ("POST", "PUT", "PATCH")


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    # Strict mode too: any undecorated method would be refused (and warned about) at startup.
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True, "jupyter_server_terminals": False},
                          "allow_unauthenticated_access": False}}


def implemented_methods(handler: type[web.RequestHandler]) -> list[str]:
    """The verbs a handler answers, except Jupyter's own public CORS preflight (OPTIONS)."""
    methods = []
    for verb in handler.SUPPORTED_METHODS:
        method = getattr(handler, verb.lower())
        if method is web.RequestHandler._unimplemented_method:
            continue
        if verb == "OPTIONS":
            # The explicit public allowlist: APIHandler.options, unchanged, answers preflights only.
            assert method is APIHandler.options and getattr(method, "__allow_unauthenticated", False)
            continue
        methods.append(verb)
    return methods


def extension_routes(app: Any) -> list[tuple[str, type[web.RequestHandler]]]:
    """(regex, handler) of every route under /mlnb/ registered in the running server."""
    found = []
    for rule in app.wildcard_router.rules + app.default_router.rules:
        rules = rule.target.rules if hasattr(rule.target, "rules") else [rule]
        for inner in rules:
            pattern = getattr(inner.matcher, "regex", None)
            if pattern is not None and "/mlnb/" in pattern.pattern:
                found.append((pattern.pattern, inner.target))
    return found


def sample_url(pattern: str) -> str:
    url = pattern.rstrip("$")
    for group, value in SAMPLES.items():
        url = url.replace(group, value)
    return url


def test_every_handler_method_is_decorated() -> None:
    routes = mlnb.server.handlers("/")
    assert len(routes) == len(mlnb.server.ROUTES) + 1 >= 16  # + the MLflow API's one route
    for pattern, handler in routes:
        methods = implemented_methods(handler)
        assert methods, pattern
        for method in methods:
            assert _has_tornado_web_authenticated(getattr(handler, method.lower())), \
                f"{method} {pattern} ({handler.__name__}) is not @web.authenticated"


async def test_no_token_is_403_on_every_route_and_verb(jp_serverapp: Any, http_server_client: Any,
                                                       jp_base_url: str) -> None:
    routes = extension_routes(jp_serverapp.web_app)
    assert len(routes) == len(mlnb.server.ROUTES) + 1
    checked = 0
    for pattern, handler in routes:
        url = sample_url(pattern)
        assert url.startswith(jp_base_url.rstrip("/")), url
        for method in implemented_methods(handler):
            for headers in ({}, {"Authorization": "token wrong"}):
                response = await http_server_client.fetch(
                    url, method=method, raise_error=False,
                    headers={**headers, "Content-Type": "application/json"},
                    body="{}" if method in BODY_METHODS else None, allow_nonstandard_methods=True)
                assert response.code == 403, f"{method} {url} -> {response.code}"
                assert b"Traceback" not in response.body
                checked += 1
    # 34 verbs over 29 routes (the traces' three GETs; GET .../versions/<v>/evaluation and GET
    # models/<name>/monitoring; the logged models' 4, the sweep's 1, the run diff's 1, the table
    # artifact's pages' 1; the saved views' GET and POST per experiment and GET, PATCH, DELETE per
    # view), 8 verbs over 7 GenAI routes (GET prompts, a prompt, a version; a prompt alias's PUT
    # and DELETE; GET an experiment's evaluations and genai/compare; POST genai/promote), plus
    # the catch-all's 6 (a JSON 404 for any other path), plus the MLflow API's 5 (GET, POST, PUT,
    # PATCH, DELETE under /mlnb/mlflow/), each without a token and with a wrong one.
    assert checked == 2 * (34 + 8 + 6 + 5)


async def test_mlflow_api_takes_the_jupyter_token_as_mlflows_bearer(
        jp_serverapp: Any, http_server_client: Any, jp_base_url: str,
        jp_auth_header: dict[str, str]) -> None:
    from mlnb.mlflow_server import ROUTES as MLFLOW_ROUTES

    token = jp_auth_header["Authorization"].split()[-1]
    base = f"{jp_base_url.rstrip('/')}/mlnb/mlflow"
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    got = await http_server_client.fetch(f"{base}/api/2.0/mlflow/experiments/get?experiment_id=0",
                                         headers=bearer, raise_error=False)
    assert got.code == 200 and json.loads(got.body)["experiment"]["name"] == "Default"
    for method, path in [*MLFLOW_ROUTES, ("GET", "/api/2.0/mlflow/no-such")]:
        url = base + path.replace("<model_id>", "m-" + "0" * 32).replace("<key>", "k").replace(
            "<path>", "0/" + "f" * 32 + "/artifacts/a.txt")
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = await http_server_client.fetch(
                url, method=method, headers={**headers, "Content-Type": "application/json"},
                body="{}" if method in BODY_METHODS else None, raise_error=False,
                allow_nonstandard_methods=True)
            assert answer.code == 403, (method, url)
        answer = await http_server_client.fetch(
            url, method=method, headers=bearer, body="{}" if method in BODY_METHODS else None,
            raise_error=False, allow_nonstandard_methods=True)
        assert answer.code not in (401, 403) and answer.code < 500, (method, url, answer.body[:300])
        assert answer.code == 200 or set(json.loads(answer.body)) >= {"error_code", "message"}
    unknown = await http_server_client.fetch(f"{base}/api/2.0/mlflow/no-such", headers=bearer,
                                             raise_error=False)
    assert unknown.code == 404 and json.loads(unknown.body)["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.e2e
def test_mlflow_api_cookie_writes_need_xsrf(lab_server: Any) -> None:  # noqa: F811
    url = lab_server.url
    session = cookie_session(url, lab_server.token)
    xsrf = session.cookies["_xsrf"]
    api = f"{url}/mlnb/mlflow/api/2.0/mlflow"
    json_type = {"Content-Type": "application/json"}
    body = json.dumps({"name": "from-a-page"})
    assert session.post(f"{api}/experiments/create", data=body, headers=json_type,
                        timeout=10).status_code == 403
    evil = session.post(f"{api}/experiments/create", data=body, timeout=10,
                        headers={**json_type, "X-XSRFToken": xsrf, "Origin": "http://evil.example"})
    assert evil.status_code == 404
    read = session.get(f"{api}/experiments/get-by-name?experiment_name=from-a-page", timeout=10)
    assert read.status_code == 404 and read.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    made = session.post(f"{api}/experiments/create", data=body, timeout=10,
                        headers={**json_type, "X-XSRFToken": xsrf})
    assert made.status_code == 200, made.text
    run = session.post(f"{api}/runs/create", timeout=10, headers={**json_type, "X-XSRFToken": xsrf},
                       data=json.dumps({"experiment_id": made.json()["experiment_id"]})).json()["run"]
    upload = f"{url}/mlnb/mlflow/api/2.0/mlflow-artifacts/artifacts/{made.json()['experiment_id']}/" \
             f"{run['info']['run_id']}/artifacts/a.txt"
    assert session.put(upload, data=b"x", timeout=10).status_code == 403  # no XSRF: refused
    assert session.put(upload, data=b"x", headers={"X-XSRFToken": xsrf}, timeout=10).status_code == 200


# --- the cookie matrix against a real `jupyter lab` --------------------------------------------


def cookie_session(url: str, token: str) -> requests.Session:
    """Log in through the login form, as a browser does; the session then holds the auth cookie."""
    session = requests.Session()
    session.get(f"{url}/login", timeout=10)
    xsrf = session.cookies.get("_xsrf")
    assert xsrf
    response = session.post(f"{url}/login", data={"password": token, "_xsrf": xsrf},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:300]
    assert session.get(f"{url}/mlnb/api/version", timeout=10).status_code == 200
    return session


@pytest.mark.e2e
def test_cookie_auth_needs_xsrf_origin_and_host(lab_server: Any) -> None:  # noqa: F811
    folder = lab_server.root / ".mlnb"
    store = Store(StoreLocation(folder / "mlnb.db", folder / "artifacts"))
    run = store.create_run("0", run_name="victim")
    store.set_run_lifecycle(run.run_id, "deleted")
    url = lab_server.url
    session = cookie_session(url, lab_server.token)
    xsrf = session.cookies["_xsrf"]
    restore = f"{url}/mlnb/api/runs/{run.run_id}/restore"
    delete = f"{url}/mlnb/api/runs/{run.run_id}"
    json_type = {"Content-Type": "application/json"}

    assert session.post(restore, data="{}", headers=json_type, timeout=10).status_code == 403
    assert session.delete(delete, headers=json_type, timeout=10).status_code == 403
    assert store.get_run_info(run.run_id).lifecycle_stage == "deleted"
    # The CVE-2023-43472 pattern: a text/plain write (no CORS preflight) is refused even with XSRF.
    plain = session.post(restore, data="{}", timeout=10,
                         headers={"Content-Type": "text/plain", "X-XSRFToken": xsrf})
    assert plain.status_code == 415 and plain.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    # A foreign Origin (cross-site page using the cookie) -> 404; foreign Host (DNS rebinding) -> 403.
    evil = session.post(restore, data="{}", timeout=10,
                        headers={**json_type, "X-XSRFToken": xsrf, "Origin": "http://evil.example"})
    assert evil.status_code == 404
    host = requests.get(f"{url}/mlnb/api/version", timeout=10,
                        headers={"Host": "evil.example", "Authorization": f"token {lab_server.token}"})
    assert host.status_code == 403
    assert store.get_run_info(run.run_id).lifecycle_stage == "deleted"

    ok = session.post(restore, data="{}", headers={**json_type, "X-XSRFToken": xsrf}, timeout=10)
    assert ok.status_code == 200 and ok.json()["lifecycle_stage"] == "active"
    assert store.get_run_info(run.run_id).lifecycle_stage == "active"
    gone = session.delete(delete, headers={**json_type, "X-XSRFToken": xsrf}, timeout=10)
    assert gone.status_code == 200
    assert store.get_run_info(run.run_id).lifecycle_stage == "deleted"
    log = lab_server.log.read_text()
    assert lab_server.token not in log.replace(f"token={lab_server.token}", "")
    login_cookie = next(c for c in session.cookies if c.name.startswith("username"))
    assert login_cookie.value and login_cookie.value not in log


# --- path traversal against artifact download --------------------------------------------------

CORPUS = [
    "../../etc/passwd", "/etc/passwd", "..\\..\\x", "%2e%2e/x", "%252e%252e/x", "a/../../b",
    "file:///etc/passwd", "//proc/self/root/etc/passwd", "x#/../../y", "x?/../y", "a;/../b",
    "a\x00b", "a\r\nb", "C:\\x", "x" * 5000, "../secret.txt", "..", ".", "a/./../../secret.txt",
    "%2e%2e%2fsecret.txt", "....//secret.txt",
]


def raw_get(host: str, port: int, target: str, token: str) -> tuple[int, bytes]:
    """A GET with the path sent byte for byte (no client-side normalisation of `..`)."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.putheader("Authorization", f"token {token}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


async def test_artifact_download_path_traversal_corpus(
    jp_serverapp: Any, http_server_client: Any, jp_root_dir: Path, jp_base_url: str, jp_http_port: int,
    jp_auth_header: dict[str, str],
) -> None:
    # http_server_client: requesting it makes the test server listen on jp_http_port.
    store = Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db", jp_root_dir / ".mlnb" / "artifacts"))
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "ok.txt", b"fine")
    (jp_root_dir / ".mlnb" / "artifacts" / "secret.txt").write_bytes(b"SECRET")
    (jp_root_dir / ".mlnb" / "artifacts" / run.run_id / "link.txt").symlink_to(jp_root_dir / "outside.txt")
    (jp_root_dir / "outside.txt").write_bytes(b"SECRET")
    token = jp_auth_header["Authorization"].split()[-1]
    base = f"{jp_base_url.rstrip('/')}/mlnb/api/runs/{run.run_id}/artifact"
    status, body = await asyncio.to_thread(raw_get, "127.0.0.1", jp_http_port, f"{base}?path=ok.txt", token)
    assert (status, body) == (200, b"fine")
    seen = set()
    for name in [*CORPUS, "link.txt"]:
        quoted = urllib.parse.quote(name, safe="")
        raw_path = re.sub(r"[\x00-\x20\x7f]", lambda m: f"%{ord(m.group()):02X}", name)
        for target in (f"{base}?path={quoted}", f"{base}/{quoted}", f"{base}/{raw_path}"):
            # In a thread: the server runs on this test's event loop.
            status, body = await asyncio.to_thread(raw_get, "127.0.0.1", jp_http_port, target, token)
            assert status in (400, 404), f"{target[:120]!r} -> {status}"
            assert b"SECRET" not in body and b"root:" not in body
            seen.add(status)
            if body.startswith(b"{"):
                assert set(json.loads(body)) >= {"message"}
    assert seen <= {400, 404}
