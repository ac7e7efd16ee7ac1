"""A start line for processes that must act at the same moment: say ready, wait for 'go'."""

from __future__ import annotations

import os
import time
from pathlib import Path


def wait_for_go(folder: str | os.PathLike[str], name: str, timeout: float = 60.0) -> None:
    """Create ``ready-<name>`` in ``folder``, then wait until the file ``go`` appears."""
    base = Path(folder)
    (base / f"ready-{name}").touch()
    deadline = time.monotonic() + timeout
    while not (base / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: no 'go' within {timeout} s")
        time.sleep(0.001)
