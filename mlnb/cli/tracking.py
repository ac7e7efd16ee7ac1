"""``mlnb experiments ...`` and ``mlnb runs ...``."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from mlnb.cli.table import dump_json, render, visible
from mlnb.entities import ViewType, json_safe_float
from mlnb.errors import NotFoundError
from mlnb.tracking.client import current_client


def register(subparsers: Any) -> None:
    """Add ``mlnb experiments ...`` and ``mlnb runs ...`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    experiments = subparsers.add_parser("experiments", help="list experiments")
    exp_sub = experiments.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = exp_sub.add_parser("ls", help="list experiments")
    ls.add_argument("--all", action="store_true", help="include deleted experiments")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=experiments_ls)

    runs = subparsers.add_parser("runs", help="list, show and delete runs")
    run_sub = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = run_sub.add_parser("ls", help="list runs, newest first")
    ls.add_argument("--experiment", "-e", metavar="NAME_OR_ID",
                    help="experiment name or id (default: all experiments)")
    ls.add_argument("--filter", "-f", metavar="FILTER", default="",
                    help="search filter, e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\"")
    ls.add_argument("--order-by", "-o", metavar="CLAUSE", action="append",
                    help="e.g. 'metrics.acc DESC' (repeatable)")
    ls.add_argument("--max-results", "-n", type=int, default=50, metavar="N")
    ls.add_argument("--deleted", action="store_true", help="list deleted runs instead")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=runs_ls)

    show = run_sub.add_parser("show", help="show one run: params, metrics, tags, artifacts")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(handler=runs_show)

    delete = run_sub.add_parser("delete", help="delete a run (it can be restored)")
    delete.add_argument("run_id", metavar="RUN_ID")
    delete.set_defaults(handler=runs_delete)

    restore = run_sub.add_parser("restore", help="restore a deleted run")
    restore.add_argument("run_id", metavar="RUN_ID")
    restore.set_defaults(handler=runs_restore)


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")


def _duration(start: int, end: int | None) -> str:
    if end is None:
        return ""
    seconds = (end - start) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def experiments_ls(args: argparse.Namespace) -> int:
    """``mlnb experiments ls``: experiments as a table or JSON.

    :param args: the parsed arguments.
    """
    client = current_client()
    experiments = client.search_experiments(ViewType.ALL if args.all else ViewType.ACTIVE_ONLY)
    if args.json:
        print(dump_json([e.to_dict() for e in experiments]))
        return 0
    rows = []
    for e in experiments:
        count = client.store.count_runs([e.experiment_id])
        rows.append([e.experiment_id, e.name, count, e.lifecycle_stage, _time(e.creation_time)])
    print(render(["ID", "NAME", "RUNS", "STAGE", "CREATED"], rows))
    return 0


def _experiment_ids(client: Any, name_or_id: str | None) -> list[str]:
    if name_or_id is None:
        return client.all_experiment_ids(ViewType.ALL)
    found = client.get_experiment_by_name(name_or_id)
    if found is not None:
        return [found.experiment_id]
    if name_or_id.isdigit():
        return [client.get_experiment(name_or_id).experiment_id]
    raise NotFoundError(f"No experiment named {name_or_id!r}; see `mlnb experiments ls`.")


def runs_ls(args: argparse.Namespace) -> int:
    """``mlnb runs ls``: the runs of experiments as a table or JSON.

    :param args: the parsed arguments.
    """
    client = current_client()
    ids = _experiment_ids(client, args.experiment)
    view = ViewType.DELETED_ONLY if args.deleted else ViewType.ACTIVE_ONLY
    runs = client.search_runs(ids, args.filter, view, args.max_results, args.order_by)
    if args.json:
        print(dump_json([run_json(r) for r in runs]))
        return 0
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[:4]
    headers = ["RUN_ID", "NAME", "STATUS", "STARTED", "DURATION", *metric_keys]
    rows = [[r.info.run_id, r.info.run_name, r.info.status, _time(r.info.start_time),
             _duration(r.info.start_time, r.info.end_time),
             *[_number(r.data.metrics.get(k)) for k in metric_keys]] for r in runs]
    print(render(headers, rows, max_width=32))
    if not runs:
        print("(no runs match)")
    return 0


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"  # 59999 stays 59999, not 6e+04


def run_json(run: Any) -> dict[str, Any]:
    """A run as JSON-ready data, with NaN and infinite metrics as strings.

    :param run: the run.
    """
    out: dict[str, Any] = run.to_dict()
    out["data"]["metrics"] = {k: json_safe_float(v) for k, v in run.data.metrics.items()}
    return out


def runs_show(args: argparse.Namespace) -> int:
    """``mlnb runs show RUN_ID``: one run's info, params, metrics, tags and artifacts.

    :param args: the parsed arguments.
    """
    client = current_client()
    run = client.get_run(args.run_id)
    artifacts = client.list_artifacts(args.run_id)
    if args.json:
        data = run_json(run)
        data["artifacts"] = [a.to_dict() for a in artifacts]
        print(dump_json(data))
        return 0
    info = run.info
    print(f"Run {visible(info.run_name)} ({visible(info.run_id)})")
    print(f"  status      {visible(info.status)}")
    print(f"  experiment  {visible(info.experiment_id)}")
    print(f"  started     {_time(info.start_time)}   duration {_duration(info.start_time, info.end_time)}")
    print(f"  artifacts   {visible(info.artifact_uri)}")
    for title, values in (("Params", run.data.params), ("Metrics", run.data.metrics),
                          ("Tags", run.data.tags)):
        if values:
            print(f"\n{title}")
            print(render(["KEY", "VALUE"], sorted(values.items()), max_width=60))
    if artifacts:
        print("\nArtifacts")
        print(render(["PATH", "SIZE"], [[a.path + ("/" if a.is_dir else ""), a.file_size or ""]
                                       for a in artifacts], max_width=60))
    return 0


def runs_delete(args: argparse.Namespace) -> int:
    """``mlnb runs delete RUN_ID``: delete a run (restorable).

    :param args: the parsed arguments.
    """
    current_client().delete_run(args.run_id)
    run_id = visible(args.run_id)
    print(f"Deleted run {run_id} (restore it with `mlnb runs restore {run_id}`).")
    return 0


def runs_restore(args: argparse.Namespace) -> int:
    """``mlnb runs restore RUN_ID``: restore a deleted run.

    :param args: the parsed arguments.
    """
    current_client().restore_run(args.run_id)
    print(f"Restored run {visible(args.run_id)}.")
    return 0
