"""The prediction log: batch logging, ground truth joined by request id, retention, sampling,
and ``mlnb serve --log-predictions`` under concurrent clients."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading

import pandas as pd
import pytest
from test_models_data import pipeline

import mlnb
from mlnb.errors import InvalidParameterError
from mlnb.models.serve import make_server, serve_in_thread
from mlnb.store import open_store

pytestmark = pytest.mark.both_backends


def _registered():
    model, X = pipeline()
    mlnb.sklearn.log_model(model, "model", input_example=X[:3], registered_model_name="p")
    return model, X


def test_batch_round_trip_with_ground_truth_joined(tracking):
    model, X = _registered()
    rows = X.reset_index(drop=True)
    done = mlnb.log_predictions("models:/p/1", rows, model.predict(rows),
                                request_ids=[f"r{i}" for i in range(len(rows))])
    assert (done.logged, done.sampled_out, done.pruned) == (60, 0, 0)
    assert mlnb.log_ground_truth(["r1", "r3", "unknown"], ["a", "b", "c"]) == 2

    frame = mlnb.monitor.predictions("models:/p/1")
    assert frame[["x1", "x2", "color"]].to_dict("records") == rows.to_dict("records")
    assert frame["prediction"].tolist() == model.predict(rows).tolist()
    assert frame["request_id"].tolist()[:5] == ["r0", "r1", "r2", "r3", "r4"]
    assert frame["target"].isna().tolist()[:5] == [True, False, True, False, True]
    assert frame["target"].dropna().tolist() == ["a", "b"]
    assert set(frame["model_name"]) == {"p"} and set(frame["model_version"]) == {"1"}
    # Usable as the current data of a drift report against the training data.
    report = mlnb.monitor.drift_report(X[["x1", "x2"]], frame)
    assert [c.column for c in report.columns] == ["x1", "x2"]


def test_targets_given_with_the_predictions_and_generated_ids(tracking):
    _model, X = _registered()
    done = mlnb.log_predictions("models:/p/1", X[:3], [0, 1, 1], targets=[0, 0, 1])
    assert len(set(done.request_ids)) == 3
    frame = mlnb.monitor.predictions("models:/p/1")
    assert frame["request_id"].tolist() == done.request_ids
    assert frame["target"].tolist() == [0, 0, 1]
    # Later ground truth replaces the earlier value.
    mlnb.log_ground_truth(done.request_ids[:1], [1])
    assert mlnb.monitor.predictions("models:/p/1")["target"].tolist() == [1, 0, 1]


def test_mismatched_lengths_and_bad_settings_are_refused(tracking):
    _model, X = _registered()
    with pytest.raises(InvalidParameterError, match="predictions has 2 rows for 3 input rows"):
        mlnb.log_predictions("models:/p/1", X[:3], [0, 1])
    with pytest.raises(InvalidParameterError, match="request_ids has 1 ids for 3 rows"):
        mlnb.log_predictions("models:/p/1", X[:3], [0, 1, 1], request_ids=["a"])
    with pytest.raises(InvalidParameterError, match=r"sample_rate must be a number in \(0, 1\]"):
        mlnb.log_predictions("models:/p/1", X[:3], [0, 1, 1], sample_rate=0)
    with pytest.raises(InvalidParameterError, match="max_rows must be a positive whole number"):
        mlnb.log_predictions("models:/p/1", X[:3], [0, 1, 1], max_rows=0)
    with pytest.raises(InvalidParameterError,
                       match="targets has 1 values for 2 request ids; give one per request id"):
        mlnb.log_ground_truth(["a", "b"], [1])
    assert mlnb.monitor.prediction_counts("models:/p/1").logged == 0  # nothing half-written


def test_retention_keeps_the_newest_rows_and_counts_the_rest(tracking):
    model, X = _registered()
    first = mlnb.log_predictions("models:/p/1", X[:6], model.predict(X[:6]), targets=list(range(6)))
    second = mlnb.log_predictions("models:/p/1", X[6:10], model.predict(X[6:10]), max_rows=5)
    assert second.pruned == 5
    frame = mlnb.monitor.predictions("models:/p/1")
    assert frame["request_id"].tolist() == first.request_ids[5:] + second.request_ids
    counts = mlnb.monitor.prediction_counts("models:/p/1")
    assert (counts.logged, counts.pruned, counts.kept, counts.sampled_out) == (10, 5, 5, 0)
    # The ground truth of pruned requests goes with them.
    rows = open_store().cx.query("SELECT COUNT(*) FROM prediction_ground_truth")
    assert rows[0][0] == 1


def test_retention_by_age(tracking):
    model, X = _registered()
    store = open_store()
    mlnb.log_predictions("models:/p/1", X[:4], model.predict(X[:4]))
    with store.transaction() as conn:  # these rows were logged two days ago
        conn.execute("UPDATE predictions SET timestamp = timestamp - 2 * 86400000")
    done = mlnb.log_predictions("models:/p/1", X[4:6], model.predict(X[4:6]), max_age_days=1)
    assert done.pruned == 4
    assert mlnb.monitor.predictions("models:/p/1")["request_id"].tolist() == done.request_ids


def test_sampling_counts_what_it_leaves_out(tracking):
    model, X = _registered()
    rows = pd.concat([X] * 10, ignore_index=True)
    done = mlnb.log_predictions("models:/p/1", rows, model.predict(rows), sample_rate=0.3)
    assert done.logged + done.sampled_out == len(rows)
    assert 0 < done.logged < len(rows)
    counts = mlnb.monitor.prediction_counts("models:/p/1")
    assert (counts.logged, counts.sampled_out, counts.kept) == (done.logged, done.sampled_out, done.logged)
    assert len(mlnb.monitor.predictions("models:/p/1")) == done.logged


def _post(port, rows, request_id=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["X-Request-Id"] = request_id
        conn.request("POST", "/invocations", json.dumps({"dataframe_records": rows}), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read()), response.getheader("X-Request-Id")
    finally:
        conn.close()


def test_in_process_server_logs_every_request_of_four_threads_once(tracking):
    model, X = _registered()
    server = make_server("models:/p/1", "127.0.0.1", 0, log_predictions=True)
    # The writer thread waits for a large queue only: what is queued at the stop is written by it.
    server.prediction_log.flush_every_s = 3600
    serve_in_thread(server)
    port = server.server_address[1]
    records = X[:1].to_dict("records")
    answered: list[str] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for i in range(50):
            status, body, rid = _post(port, records, f"w{worker}-{i}")
            assert status == 200 and body == {"predictions": model.predict(X[:1]).tolist()}
            with lock:
                answered.append(rid)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.shutdown()
    server.server_close()  # a clean stop: whatever is queued is written
    frame = mlnb.monitor.predictions("models:/p/1")
    assert len(answered) == 200
    assert sorted(frame["request_id"]) == sorted(answered)  # every request once, none lost
    assert frame["latency_ms"].notna().all()
    assert set(frame["model_version"]) == {"1"}


def test_cli_serve_logs_predictions_under_four_threads_and_joins_ground_truth(tracking):
    _model, X = _registered()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlnb", "serve", "models:/p/1", "--port", "0", "--log-predictions"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    answered: list[tuple[str, list]] = []
    lock = threading.Lock()
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving models:/p/1 on http://127.0.0.1:"), proc.stderr.read()
        port = int(line.split("http://127.0.0.1:")[1].split(" ")[0])

        def client(worker: int) -> None:
            for i in range(25):
                rows = X[i % 5:i % 5 + 1 + worker % 2].to_dict("records")  # 1 or 2 rows
                status, body, rid = _post(port, rows)
                assert status == 200
                with lock:
                    answered.append((rid, body["predictions"]))

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()
    expected = {}
    for rid, predictions in answered:
        for i, p in enumerate(predictions):
            expected[rid if len(predictions) == 1 else f"{rid}/{i}"] = p
    frame = mlnb.monitor.predictions("models:/p/1")
    assert len(answered) == 100 and len(expected) == 150
    assert sorted(frame["request_id"]) == sorted(expected)  # each row once, nothing lost
    assert dict(zip(frame["request_id"], frame["prediction"], strict=True)) == expected
    single = [rid for rid, p in answered if len(p) == 1][:3]
    assert mlnb.log_ground_truth(single, ["t0", "t1", "t2"]) == 3
    joined = mlnb.monitor.predictions("models:/p/1").set_index("request_id")["target"]
    assert [joined[r] for r in single] == ["t0", "t1", "t2"]
    # The latency metrics stay in the serving session's run.
    runs = mlnb.search_runs(experiment_names=["mlnb-serving"], output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert len(mlnb.get_metric_history(runs[0].info.run_id, "latency_ms")) == 100


def test_serving_sample_rate_counts_the_requests_it_leaves_out(tracking):
    _model, X = _registered()
    server = make_server("models:/p/1", "127.0.0.1", 0, log_predictions=True, log_sample_rate=0.5,
                         log_max_rows=1000)
    serve_in_thread(server)
    for _ in range(60):
        assert _post(server.server_address[1], X[:1].to_dict("records"))[0] == 200
    server.shutdown()
    server.server_close()
    counts = mlnb.monitor.prediction_counts("models:/p/1")
    assert counts.logged + counts.sampled_out == 60 and 0 < counts.logged < 60
    assert counts.kept == counts.logged
    with pytest.raises(InvalidParameterError, match="sample_rate must be a number"):
        make_server("models:/p/1", "127.0.0.1", 0, log_predictions=True, log_sample_rate=1.5)


@pytest.mark.sqlite_only
def test_migration_0009_is_last_and_recorded(tracking):
    from mlnb.store import schema

    names = [m.name for m in schema.migrations._migrations]
    assert names[names.index("0009_prediction_log") + 1:] == ["0010_run_heartbeat", "0011_traces",
                                                              "0012_datasets", "0013_logged_model_runless",
                                                              "0014_saved_views", "0015_chunk_extremes",
                                                              "0016_logged_model_lifecycle"]
    rows = open_store().cx.query("SELECT name FROM _sqlite_migrations WHERE name = ?",
                                 ["0009_prediction_log"])
    assert rows == [("0009_prediction_log",)]


def test_fast_path_requests_are_logged_row_by_row_as_sent(tracking):
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    mlnb.sklearn.log_model(model, "model", input_example=X[:2], registered_model_name="fast")
    server = make_server("models:/fast/1", "127.0.0.1", 0, log_predictions=True)
    assert server.fast_predict is not None  # the numeric array path, whose body is logged raw
    serve_in_thread(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    body = {"dataframe_split": {"columns": ["a", "b"], "data": [[2.5, 1], [0.5, 0.0]]}}
    conn.request("POST", "/invocations", json.dumps(body),
                 {"Content-Type": "application/json", "X-Request-Id": "req-1"})
    assert conn.getresponse().status == 200
    conn.close()
    server.shutdown()
    server.server_close()
    rows = open_store(os.environ["MLNB_TRACKING_URI"]).read_predictions("models:/fast/1")
    expected = model.predict(pd.DataFrame(body["dataframe_split"]["data"], columns=["a", "b"]))
    assert [(r[1], r[4], r[5]) for r in rows] == [
        ("req-1/0", '{"a":2.5,"b":1}', str(expected[0])), ("req-1/1", '{"a":0.5,"b":0.0}',
                                                          str(expected[1]))]
