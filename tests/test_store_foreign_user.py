"""Another local user's ``.mlnb/`` above your work never captures your runs (issue 11, item 2).

The attack end to end: a second and a third user, created for the test, play the attacker who
plants a store in a shared folder and the victim who works below it. Each runs in its own
subprocess under its own uid; the victim must end up in a store of its own or fail clearly,
and the attacker's database must be left exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent

LOG_A_RUN = """
import mlnb
with mlnb.start_run(run_name="r") as run:
    mlnb.log_param("secret", "victim-data")
print(mlnb.get_tracking_uri())
"""


class User(NamedTuple):
    name: str
    uid: int
    gid: int


def _make_user(prefix: str) -> User:
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    made = subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a user on this machine: {made.stderr.strip()}")
    import pwd

    entry = pwd.getpwnam(name)
    return User(name, entry.pw_uid, entry.pw_gid)


@pytest.fixture
def users(checkout_reachable_by_others: None) -> Iterator[tuple[User, User]]:
    """(attacker, victim): two real users, removed after the test."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not all(
            shutil.which(tool) for tool in ("useradd", "userdel", "setpriv")):
        pytest.skip("running as a second user needs root, useradd and setpriv")
    made = [_make_user("mlnbatk"), _make_user("mlnbvic")]
    yield made[0], made[1]
    for user in made:
        subprocess.run(["userdel", user.name], capture_output=True)


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every test user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="mlnb-foreign-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_as(user: User, code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` as ``user`` (its own uid and gid, no extra groups) in ``cwd``."""
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
               "HOME": str(cwd), **env}
    # setpriv rather than subprocess's user=: on this kind of sandbox only setpriv's exec of a
    # root-installed interpreter works; both drop every capability and supplementary group.
    command = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups",
               sys.executable, "-c", code]
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=120)


def own_folder(path: Path, user: User, mode: int = 0o755) -> Path:
    path.mkdir()
    os.chown(path, user.uid, user.gid)
    path.chmod(mode)
    return path


def plant_store(attacker: User, folder: Path) -> Path:
    """The attacker logs one run in ``folder`` and opens the store to everyone."""
    made = run_as(attacker, LOG_A_RUN + "\nimport os\nfor d, _, fs in os.walk('.mlnb'):\n"
                  "    os.chmod(d, 0o777)\n    [os.chmod(os.path.join(d, f), 0o666) for f in fs]\n",
                  folder)
    assert made.returncode == 0, made.stderr
    assert (folder / ".mlnb").stat().st_uid == attacker.uid
    return folder / ".mlnb" / "mlnb.db"


def snapshot(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as cx:
        return sorted(cx.execute("SELECT run_id, status, name FROM runs").fetchall()) + sorted(
            cx.execute("SELECT run_id, key, value FROM params").fetchall())


def test_another_users_store_above_the_work_folder_is_refused(
        users: tuple[User, User], base: Path) -> None:
    attacker, victim = users
    shared = own_folder(base / "shared", attacker, 0o777)  # a shared, non-sticky folder
    planted = plant_store(attacker, shared)
    before = snapshot(planted)
    work = own_folder(shared / "project", victim)

    result = run_as(victim, LOG_A_RUN, work)
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert f"mlnb will not use the store {shared / '.mlnb'}" in message
    assert f"owned by {attacker.name} (uid {attacker.uid}), not by you ({victim.name}" in message
    assert "MLNB_TRACKING_URI" in message
    assert snapshot(planted) == before  # nothing of the victim's reached the attacker's store
    assert not (work / ".mlnb").exists()

    cli = run_as(victim, "from mlnb.cli import main; raise SystemExit(main(['runs', 'ls']))", work)
    assert cli.returncode != 0
    assert "mlnb will not use the store" in cli.stderr and "Traceback" not in cli.stderr

    # An explicit store of the victim's own works as before.
    mine = work / "mine"
    ok = run_as(victim, LOG_A_RUN, work, MLNB_TRACKING_URI=str(mine))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == str(mine)
    assert mine.stat().st_uid == victim.uid
    assert snapshot(planted) == before


def test_the_walk_stops_at_a_world_writable_sticky_folder(
        users: tuple[User, User], base: Path) -> None:
    attacker, victim = users
    sticky = base / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: anyone may create entries, only owners remove them
    planted = plant_store(attacker, sticky)
    before = snapshot(planted)
    work = own_folder(sticky / "work", victim)

    result = run_as(victim, LOG_A_RUN, work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(work / ".mlnb")  # its own, new store (rule 4)
    assert (work / ".mlnb").stat().st_uid == victim.uid
    with sqlite3.connect(work / ".mlnb" / "mlnb.db") as cx:
        assert cx.execute("SELECT value FROM params").fetchall() == [("victim-data",)]
    assert snapshot(planted) == before

    # Working in the sticky folder itself: its .mlnb is the attacker's, so it is refused too.
    there = run_as(victim, LOG_A_RUN, sticky)
    assert there.returncode != 0
    assert f"mlnb will not use the store {sticky / '.mlnb'}" in " ".join(there.stderr.split())
    assert snapshot(planted) == before


def test_a_found_store_behind_another_users_link_is_refused(
        users: tuple[User, User], base: Path) -> None:
    """A link is re-pointable by its owner at any time: the folder it names today (even the
    victim's own, private one) says nothing about where tomorrow's runs go."""
    attacker, victim = users
    team = own_folder(base / "team", attacker, 0o777)  # shared, not sticky
    target = own_folder(base / "victim-private", victim, 0o700)
    made = run_as(attacker, f"import os; os.symlink({str(target)!r}, '.mlnb')", team)
    assert made.returncode == 0, made.stderr
    work = own_folder(team / "work", victim)

    result = run_as(victim, LOG_A_RUN, work)
    assert result.returncode != 0
    said = " ".join(result.stderr.split())
    assert f"mlnb will not use the store {team / '.mlnb'}" in said
    assert "a symbolic link owned by" in said and f"uid {attacker.uid}" in said
    assert list(target.iterdir()) == []  # nothing was written through the link
