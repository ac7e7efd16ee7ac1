"""No artifact path escapes its run's folder, through any function that takes one.

Each name of the corpus (reliability.md §b-C item 16, and more) is tried against every
path-taking function; each must raise UnsafePathError (or InvalidParameterError), and a sentinel
folder next to the artifact root must be byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_server import S3Prefix, assert_artifacts_left_the_machine

import mlnb
from mlnb.errors import InvalidParameterError, NotFoundError, StoreError, UnsafePathError
from mlnb.tracking import state as tracking_state
from mlnb.tracking.client import MlnbClient

CORPUS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\x",
    "%2e%2e/x",
    "%252e%252e/x",
    "%25252e%25252e/x",
    "a/../../b",
    "a/b/../../../c",
    "..",
    "../",
    "./../x",
    "file:///etc/passwd",
    "//proc/self/root/etc/passwd",
    "x#/../../y",
    "x?/../y",
    "a;/../b",
    "a\x00b",
    "a\rb",
    "a\nb",
    "C:\\x",
    "C:/x",
    "c:x",
    "\\\\server\\share\\x",
    "x" * 5000,
    "%2fetc%2fpasswd",
    "..%2f..%2fx",
    "..%5c..%5cx",
    "%2e%2e%5cx",
    "s3://bucket/x",
    "http://169.254.169.254/latest",
    "runs:/abc/model",
    "a/\u202e/b",
    "a\u200b/../b",
    "..\u2215x",  # division slash: harmless as a name, but must not be treated as a separator
    "~/../../x",
    "~/x",
    "...",
    "a..b/c",
    "a/..",
]

# Names that are odd but stay inside the run: accepted (and must land inside the run's folder).
HARMLESS = {"..\u2215x", "~/x", "...", "a..b/c"}
BAD = [name for name in CORPUS if name not in HARMLESS]


@pytest.fixture(params=["local", "s3"])
def artifact_backend(request: pytest.FixtureRequest) -> str:
    """Every test here runs with artifacts in a local folder and in S3 (SeaweedFS)."""
    return str(request.param)


@pytest.fixture
def setup(tmp_path: Path, artifact_s3: S3Prefix | None
          ) -> Iterator[tuple[MlnbClient, str, Path, Path]]:
    root = tmp_path / "store"  # artifact_s3 (for the s3 backend) set MLNB_ARTIFACT_URI
    client = MlnbClient(str(root))
    run_id = client.create_run("0").info.run_id
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "secret.txt").write_text("do not touch")
    (sentinel / "x").write_text("x")
    source = tmp_path / "source.txt"
    source.write_text("payload")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "f.txt").write_text("payload")
    yield client, run_id, sentinel, tmp_path
    client.store.close()
    if artifact_s3 is not None:
        assert_artifacts_left_the_machine(root)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (the whole tmp dir except the store) with its hash."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            full = Path(dirpath) / name
            if "store" in full.relative_to(folder).parts[:1]:
                continue
            out[str(full.relative_to(folder))] = hashlib.sha256(full.read_bytes()).hexdigest()
    return out


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([1, 2])
    return figure


def calls(client: MlnbClient, run_id: str, tmp: Path) -> dict[str, Callable[[str], Any]]:
    store = client.store
    return {
        "log_artifact": lambda p: client.log_artifact(run_id, tmp / "source.txt", artifact_path=p),
        "log_artifacts": lambda p: client.log_artifacts(run_id, tmp / "folder", artifact_path=p),
        "log_text": lambda p: client.log_text(run_id, "text", p),
        "log_dict": lambda p: client.log_dict(run_id, {"a": 1}, p),
        "log_table": lambda p: client.log_table(run_id, {"a": [1, 2]}, p),
        "log_figure": lambda p: client.log_figure(run_id, _figure(), p),
        "list_artifacts": lambda p: client.list_artifacts(run_id, p),
        "download_artifacts": lambda p: client.download_artifacts(run_id, p),
        "download_artifacts_dst": lambda p: client.download_artifacts(run_id, p, tmp / "dst"),
        "store.artifact_path": lambda p: store.artifact_path(run_id, p),
        "store.artifact_record": lambda p: store.artifact_record(run_id, p),
        "store.put_artifact_bytes": lambda p: store.put_artifact_bytes(run_id, p, b"data"),
        "store.put_artifact_file": lambda p: store.put_artifact_file(run_id, tmp / "source.txt", p),
    }


FUNCTIONS = ["log_artifact", "log_artifacts", "log_text", "log_dict", "log_table", "log_figure",
             "list_artifacts",
             "download_artifacts", "download_artifacts_dst", "store.artifact_path",
             "store.artifact_record", "store.put_artifact_bytes", "store.put_artifact_file"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_corpus_is_refused_everywhere(setup: tuple[MlnbClient, str, Path, Path], function: str,
                                      artifact_s3: S3Prefix | None) -> None:
    client, run_id, _, tmp = setup
    call = calls(client, run_id, tmp)[function]
    before = snapshot(tmp)
    run_dir = client.store.artifacts.run_dir(run_id)
    accepted = []
    for name in BAD:
        try:
            call(name)
        except (UnsafePathError, InvalidParameterError) as exc:
            assert "refused" in str(exc) or "limit" in str(exc) or "outside" in str(exc), str(exc)
        except NotFoundError:
            accepted.append((name, "NotFoundError"))
        else:
            accepted.append((name, "accepted"))
    assert accepted == []
    assert snapshot(tmp) == before
    assert client.store.cx.query("SELECT count(*) FROM artifacts")[0][0] == 0
    assert not run_dir.exists() or not any(run_dir.rglob("*"))
    if artifact_s3 is not None:
        assert artifact_s3.keys() == []


@pytest.mark.parametrize("bad_run", ["../../etc", "..", "", "/etc", "A" * 32, "0" * 31 + "/",
                                     "0" * 32 + "/../x"])
def test_run_ids_cannot_name_other_folders(setup: tuple[MlnbClient, str, Path, Path], bad_run: str
                                           ) -> None:
    client, _, _, tmp = setup
    before = snapshot(tmp)
    for call in (lambda: client.store.artifact_path(bad_run, "x"),
                 lambda: client.download_artifacts(bad_run, "passwd", tmp / "dst"),
                 lambda: client.store.put_artifact_bytes(bad_run, "x", b"x"),
                 lambda: client.log_text(bad_run, "x", "x.txt"),
                 lambda: client.list_artifacts(bad_run)):
        with pytest.raises((UnsafePathError, NotFoundError)):
            call()
    assert snapshot(tmp) == before


def test_get_artifact_uri_refuses_escaping_paths(tracking: Path) -> None:
    with mlnb.start_run() as run:
        assert mlnb.get_artifact_uri("plots/a.png").endswith(f"/{run.run_id}/plots/a.png")
        with pytest.raises(UnsafePathError):
            mlnb.get_artifact_uri("../../etc/passwd")


def test_errors_name_the_path_and_what_to_do(setup: tuple[MlnbClient, str, Path, Path]) -> None:
    client, run_id, _, _ = setup
    with pytest.raises(UnsafePathError) as err:
        client.log_text(run_id, "x", "../../etc/passwd")
    message = str(err.value)
    assert "'../../etc/passwd'" in message and "'..'" in message and "plots/loss.png" in message


@pytest.mark.parametrize("name", sorted(HARMLESS))
def test_odd_but_harmless_names_stay_inside(setup: tuple[MlnbClient, str, Path, Path], name: str
                                            ) -> None:
    client, run_id, _, tmp = setup
    before = snapshot(tmp)
    client.log_text(run_id, "ok", name)
    written = client.store.artifact_path(run_id, name)
    assert written.is_relative_to(client.store.artifacts.run_dir(run_id).resolve())
    assert written.read_text() == "ok"
    assert snapshot(tmp) == before


def test_normal_paths_work_everywhere(setup: tuple[MlnbClient, str, Path, Path]) -> None:
    client, run_id, _, tmp = setup
    client.log_artifact(run_id, tmp / "source.txt", artifact_path="in/dir")
    client.log_artifacts(run_id, tmp / "folder", artifact_path="all")
    client.log_text(run_id, "t", "notes/a b.txt")
    client.log_dict(run_id, {"a": 1}, "cfg/conf.yaml")
    client.log_table(run_id, {"a": [1]}, "tables/t.json")
    client.store.put_artifact_bytes(run_id, "./raw//x.bin", b"\x00\x01")
    paths = {f.path for f in client.list_artifacts(run_id)}
    assert paths == {"in", "all", "notes", "cfg", "tables", "raw"}
    assert [f.path for f in client.list_artifacts(run_id, "in/dir")] == ["in/dir/source.txt"]
    assert client.store.artifact_record(run_id, "raw/x.bin").file_size == 2
    local = client.download_artifacts(run_id, "notes/a b.txt", tmp / "dst")
    assert Path(local).read_text() == "t"


# --- symlinks -------------------------------------------------------------------------------


def test_planted_symlink_inside_run_folder_is_refused(setup: tuple[MlnbClient, str, Path, Path]
                                                      ) -> None:
    client, run_id, sentinel, tmp = setup
    client.log_text(run_id, "ok", "data/ok.txt")
    run_dir = client.store.artifact_path(run_id)  # the run's local folder (for S3: its cache)
    (run_dir / "data" / "link.txt").symlink_to(sentinel / "secret.txt")
    (run_dir / "linkdir").symlink_to(sentinel, target_is_directory=True)
    before = snapshot(tmp)
    for path in ("data/link.txt", "linkdir", "linkdir/secret.txt"):
        with pytest.raises(UnsafePathError, match="outside"):
            client.download_artifacts(run_id, path)
        with pytest.raises(UnsafePathError, match="outside"):
            client.download_artifacts(run_id, path, tmp / "dst")
        with pytest.raises(UnsafePathError, match="outside"):
            client.store.artifact_path(run_id, path)
    for path in ("linkdir/new.txt", "data/link.txt"):
        with pytest.raises(UnsafePathError):
            client.log_text(run_id, "overwrite", path)
    assert snapshot(tmp) == before
    assert (sentinel / "secret.txt").read_text() == "do not touch"


def test_downloading_a_folder_does_not_copy_symlinked_files(setup: tuple[MlnbClient, str, Path, Path]
                                                             ) -> None:
    client, run_id, sentinel, tmp = setup
    client.log_text(run_id, "ok", "data/ok.txt")
    run_dir = client.store.artifact_path(run_id)
    (run_dir / "data" / "link.txt").symlink_to(sentinel / "secret.txt")
    out = Path(client.download_artifacts(run_id, "data", tmp / "dst"))
    assert not (out / "link.txt").exists() and not (out / "link.txt").is_symlink()
    assert (out / "ok.txt").read_text() == "ok"


def test_log_artifacts_does_not_follow_directory_symlinks(setup: tuple[MlnbClient, str, Path, Path]
                                                          ) -> None:
    client, run_id, sentinel, tmp = setup
    folder = tmp / "folder"
    (folder / "outside").symlink_to(sentinel, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.warns(UserWarning, match=r"skipped linked folders \['loop', 'outside'\]"):
        client.log_artifacts(run_id, folder)
    paths = {row[0] for row in client.store.cx.query("SELECT path FROM artifacts")}
    assert paths == {"f.txt"}
    run_dir = client.store.artifacts.run_dir(run_id)
    assert not any(p.is_symlink() for p in run_dir.rglob("*"))


def test_log_artifacts_copies_contents_of_file_symlinks_not_the_link(
        setup: tuple[MlnbClient, str, Path, Path]) -> None:
    client, run_id, _, tmp = setup
    folder = tmp / "folder"
    (folder / "linked.txt").symlink_to(tmp / "source.txt")
    client.log_artifacts(run_id, folder)
    stored = client.store.artifact_path(run_id, "linked.txt")
    assert not stored.is_symlink() and stored.read_text() == "payload"


# --- disk full ------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {result.stderr.strip() or 'not permitted'}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_artifact_leaves_no_partial_file(tiny_disk: Path) -> None:
    client = MlnbClient(str(tiny_disk / "store"))
    try:
        run_id = client.create_run("0").info.run_id
        client.store.put_artifact_bytes(run_id, "small.bin", b"s" * 1000)
        with pytest.raises(StoreError, match=r"big.bin"):
            client.store.put_artifact_bytes(run_id, "big.bin", os.urandom(2 * 1024 * 1024))
        run_dir = client.store.artifacts.run_dir(run_id)
        assert sorted(p.name for p in run_dir.iterdir()) == ["small.bin"]
        assert [f.path for f in client.list_artifacts(run_id)] == ["small.bin"]
        assert client.store.integrity_check() == "ok"
        with pytest.raises(NotFoundError):
            client.store.artifact_record(run_id, "big.bin")
        client.store.put_artifact_bytes(run_id, "after.txt", b"space again")  # still usable
    finally:
        client.store.close()


def test_disk_full_metrics_are_kept_and_retried(tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    tracking_state.reset()
    client = MlnbClient(str(tiny_disk / "store"))
    try:
        run_id = client.create_run("0").info.run_id
        filler = tiny_disk / "filler"
        with pytest.raises(OSError):
            with open(filler, "wb") as handle:
                while True:
                    handle.write(b"\0" * 4096)
                    handle.flush()
        logged = 0
        with pytest.raises(StoreError, match="disk is full"):
            for step in range(200_000):
                client.log_metric(run_id, "m", float(step), step=step)
                logged += 1
                if step % 1000 == 999:
                    client.writer.flush()
        filler.unlink()
        client.writer.flush()
        history = client.get_metric_history(run_id, "m")
        assert len(history) == logged
        assert client.store.integrity_check() == "ok"
    finally:
        client.writer._pending.clear()
        client.store.close()


def test_mlnb_module_api_is_guarded_too(tracking: Path) -> None:
    with mlnb.start_run():
        for bad in ("../x", "/abs", "a/../../b"):
            with pytest.raises(UnsafePathError):
                mlnb.log_text("x", bad)
            with pytest.raises(UnsafePathError):
                mlnb.log_dict({}, bad)
        with pytest.raises(UnsafePathError):
            mlnb.list_artifacts(mlnb.active_run().run_id, "../..")  # type: ignore[union-attr]


@pytest.mark.parametrize("dest", ["dir/", "notes/.", "a/b/"])
def test_a_file_artifact_path_ending_in_a_slash_is_refused(tracking, dest):
    import mlnb

    with mlnb.start_run() as run:
        with pytest.raises(UnsafePathError, match="names a folder"):
            mlnb.log_text("x", dest)
    assert mlnb.list_artifacts(run.run_id) == []


def test_log_artifacts_says_when_it_skips_a_linked_folder(tracking, tmp_path):
    import mlnb

    source = tmp_path / "src"
    (source / "real").mkdir(parents=True)
    (source / "real" / "a.txt").write_text("a")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.txt").write_text("b")
    (source / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with mlnb.start_run() as run:
        with pytest.warns(UserWarning, match="skipped linked folders \\['link'\\]"):
            mlnb.log_artifacts(source)
    assert [f.path for f in mlnb.list_artifacts(run.run_id, "real")] == ["real/a.txt"]
    assert [f.path for f in mlnb.list_artifacts(run.run_id)] == ["real"]
