"""Table artifacts read page by page (``runs/<id>/artifact-table/<path>``), partial downloads of
large artifacts (``?max_bytes=``), and the paths both refuse; through a real Jupyter Server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_server_auth import CORPUS, raw_get
from tornado.httpclient import HTTPClientError

from mlnb.store import Store, StoreLocation

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("MLNB_TRACKING_URI", raising=False)
    return {"ServerApp": {"jpserver_extensions": {"mlnb": True}}}


@pytest.fixture
def store(jp_root_dir: Path) -> Store:
    return Store(StoreLocation(jp_root_dir / ".mlnb" / "mlnb.db", jp_root_dir / ".mlnb" / "artifacts"))


def csv_bytes(rows: int, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["i", "name", "note"])
    for i in range(rows):
        writer.writerow([i, f"row-{i}", "multi\nline, quoted" if i == 3 else ""])
    return out.getvalue().encode()


def parquet_bytes(rows: int, row_group_size: int) -> bytes:
    table = pa.table({"i": list(range(rows)), "x": [i / 2 for i in range(rows)],
                      "name": [f"n{i}" for i in range(rows)],
                      "when": pa.array([None] * rows, type=pa.timestamp("s"))})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size)
    return sink.getvalue()


async def page(jp_fetch: Any, run_id: str, path: str, **params: Any) -> dict[str, Any]:
    response = await jp_fetch("mlnb", "api", "runs", run_id, "artifact-table", path, params=params)
    assert response.code == 200
    return json.loads(response.body)


async def failure(jp_fetch: Any, run_id: str, path: str, **params: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlnb", "api", "runs", run_id, "artifact-table", path, params=params)
    body = json.loads(caught.value.response.body)
    return caught.value.code, body["message"]


async def test_csv_pages_with_total_and_quoted_newlines(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "data/t.csv", csv_bytes(120))
    first = await page(jp_fetch, run.run_id, "data/t.csv", limit=5)
    assert first["columns"] == ["i", "name", "note"]
    assert first["rows"][3] == ["3", "row-3", "multi\nline, quoted"]
    assert (first["offset"], first["limit"], first["total"], first["more"]) == (0, 5, 120, True)
    last = await page(jp_fetch, run.run_id, "data/t.csv", offset=115, limit=50)
    assert [r[0] for r in last["rows"]] == [str(i) for i in range(115, 120)]
    assert (last["total"], last["more"]) == (120, False)
    past = await page(jp_fetch, run.run_id, "data/t.csv", offset=500)
    assert (past["rows"], past["total"], past["more"]) == ([], 120, False)


async def test_tsv_and_page_size_is_capped(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "t.tsv", csv_bytes(2000, "\t"))
    body = await page(jp_fetch, run.run_id, "t.tsv", limit=100_000)
    assert body["format"] == "tsv" and body["limit"] == 500 and len(body["rows"]) == 500
    assert body["rows"][499][:2] == ["499", "row-499"]


async def test_parquet_pages_read_across_row_groups(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "t.parquet", parquet_bytes(1000, row_group_size=64))
    body = await page(jp_fetch, run.run_id, "t.parquet", offset=60, limit=10)
    assert body["format"] == "parquet"
    assert body["columns"] == ["i", "x", "name", "when"]
    assert body["rows"][0] == [60, 30.0, "n60", None]
    assert [r[0] for r in body["rows"]] == list(range(60, 70))  # groups 0 and 1, sliced
    assert (body["total"], body["more"]) == (1000, True)
    tail = await page(jp_fetch, run.run_id, "t.parquet", offset=990, limit=50)
    assert [r[0] for r in tail["rows"]] == list(range(990, 1000)) and tail["more"] is False


async def test_large_csv_is_paged_without_loading_it(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    big = csv_bytes(400_000)  # about 6 MB
    store.put_artifact_bytes(run.run_id, "big.csv", big)
    body = await page(jp_fetch, run.run_id, "big.csv", offset=399_990, limit=20)
    assert [r[0] for r in body["rows"]] == [str(i) for i in range(399_990, 400_000)]
    assert body["total"] == 400_000


async def test_bad_input_is_a_clear_400_or_404(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "notes.txt", b"hello")
    store.put_artifact_bytes(run.run_id, "broken.parquet", b"not parquet at all")
    store.put_artifact_bytes(run.run_id, "latin.csv", "a\n\xe9t\xe9\n".encode("latin-1"))
    assert await failure(jp_fetch, run.run_id, "notes.txt") == (
        400, "'notes.txt' is not a table; pages are read from .csv, .tsv and .parquet files.")
    code, message = await failure(jp_fetch, run.run_id, "broken.parquet")
    assert code == 400 and message.startswith("The file is not a readable Parquet file")
    code, message = await failure(jp_fetch, run.run_id, "latin.csv")
    assert code == 400 and "not UTF-8" in message
    code, message = await failure(jp_fetch, run.run_id, "missing.csv")
    assert code == 404
    code, message = await failure(jp_fetch, run.run_id, "notes.txt", offset=-1)
    assert (code, message) == (400, "offset must be at least 0.")
    code, message = await failure(jp_fetch, run.run_id, "notes.txt", limit="ten")
    assert (code, message) == (400, "limit must be an integer, not 'ten'.")


async def test_table_paths_never_leave_the_run(
    jp_serverapp: Any, http_server_client: Any, jp_root_dir: Path, jp_base_url: str,
    jp_http_port: int, jp_auth_header: dict[str, str], store: Store,
) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "ok.csv", b"a\n1\n")
    artifacts = jp_root_dir / ".mlnb" / "artifacts"
    (artifacts / "secret.csv").write_bytes(b"SECRET\n1\n")
    (jp_root_dir / "outside.csv").write_bytes(b"SECRET\n1\n")
    (artifacts / run.run_id / "link.csv").symlink_to(jp_root_dir / "outside.csv")
    token = jp_auth_header["Authorization"].split()[-1]
    base = f"{jp_base_url.rstrip('/')}/mlnb/api/runs/{run.run_id}/artifact-table"
    status, body = await asyncio.to_thread(raw_get, "127.0.0.1", jp_http_port, f"{base}/ok.csv", token)
    assert status == 200 and json.loads(body)["rows"] == [["1"]]
    for name in [*CORPUS, "link.csv", "../secret.csv"]:
        quoted = urllib.parse.quote(name, safe="")
        raw_path = re.sub(r"[\x00-\x20\x7f]", lambda m: f"%{ord(m.group()):02X}", name)
        for target in (f"{base}/{quoted}", f"{base}/{raw_path}"):
            status, body = await asyncio.to_thread(raw_get, "127.0.0.1", jp_http_port, target, token)
            assert status in (400, 404), f"{target[:120]!r} -> {status}"
            assert b"SECRET" not in body


async def test_large_download_streams_whole_and_previews_a_prefix(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("0", run_name="r")
    data = bytes(range(256)) * (40 * 1024)  # 10 MiB: many 256 KiB chunks
    store.put_artifact_bytes(run.run_id, "big.bin", data)
    whole = await jp_fetch("mlnb", "api", "runs", run.run_id, "artifact", params={"path": "big.bin"})
    assert whole.body == data
    assert whole.headers["X-Mlnb-File-Size"] == str(len(data))
    assert whole.headers["Content-Disposition"].startswith("attachment")
    part = await jp_fetch("mlnb", "api", "runs", run.run_id, "artifact", "big.bin",
                          params={"max_bytes": "300000"})
    assert part.body == data[:300_000]
    assert part.headers["X-Mlnb-File-Size"] == str(len(data))
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlnb", "api", "runs", run.run_id, "artifact", "big.bin",
                       params={"max_bytes": "-5"})
    assert caught.value.code == 400


async def test_parquet_without_pyarrow_says_what_to_install(
        jp_fetch: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    run = store.create_run("0", run_name="r")
    store.put_artifact_bytes(run.run_id, "t.parquet", parquet_bytes(3, row_group_size=2))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    assert await failure(jp_fetch, run.run_id, "t.parquet") == (
        400, "Showing a Parquet file needs pyarrow where Jupyter runs: pip install pyarrow.")
