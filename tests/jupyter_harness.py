"""A real ``jupyter lab`` server and Debian's Chromium driven by Playwright, for e2e tests.

Use the fixtures by importing them into a test module::

    from jupyter_harness import lab_server, browser_page  # noqa: F401

``lab_server`` starts JupyterLab on a free loopback port in a temporary root folder with its own
config, runtime and data folders (so no workspace is restored and no news toast covers the UI),
a known token, and ``MLNB_TRACKING_URI`` unset so the server finds the store the way a user's
would. It serves this checkout's build of the sidebar (``mlnb/labextension``) when there is one.
``browser_page`` opens a headless Chromium page (never a downloaded browser).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TOKEN = "mlnb-test-token"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the server's REST API with the token; returns the parsed JSON."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}", data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quiet_settings(config_dir: Path) -> None:
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def start_lab(root: Path, work: Path, extra_env: dict[str, str] | None = None) -> LabServer:
    config, runtime, data = work / "config", work / "runtime", work / "data"
    for folder in (config, runtime, data, root):
        folder.mkdir(parents=True, exist_ok=True)
    _quiet_settings(config)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLNB_TRACKING_URI"}
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"))
    env.update(extra_env or {})
    log = work / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    build = Path(__file__).resolve().parent.parent / "mlnb" / "labextension"
    if (build / "package.json").is_file():
        # This checkout's build of the sidebar, ahead of the copy that `pip install` put in the
        # environment's share/ folder (JupyterLab takes the first extension of a name it finds):
        # a TypeScript change is tested as soon as it is built, without reinstalling.
        extensions = work / "labextensions"
        extensions.mkdir(exist_ok=True)
        (extensions / "mlnb").symlink_to(build.resolve(), target_is_directory=True)
        cmd.append(f"--LabApp.extra_labextensions_path={extensions}")
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).read()
            return LabServer(url, TOKEN, root, process, log)
        except OSError:
            time.sleep(0.3)
    stop_lab(process)
    raise RuntimeError(f"jupyter lab did not answer within 60 s:\n{log.read_text()[-3000:]}")


def stop_lab(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab serving ``tmp_path/root``; stopped (kernels too) after the test."""
    server = start_lab(tmp_path / "root", tmp_path / "jupyter")
    try:
        yield server
    finally:
        stop_lab(server.process)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium (skipped where Chromium is missing)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make chromium` (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
