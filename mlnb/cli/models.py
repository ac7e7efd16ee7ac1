"""``mlnb models ...`` (the registry), ``mlnb serve`` and ``mlnb predict``."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from typing import Any

from mlnb.cli.table import dump_json, render, visible
from mlnb.models.predict import predict_file
from mlnb.models.serve import make_server
from mlnb.tracking.client import current_client


def register(subparsers: Any) -> None:
    """Add ``mlnb models ...``, ``mlnb serve`` and ``mlnb predict`` to the command line.

    :param subparsers: the top-level parser's sub-parsers.
    """
    models = subparsers.add_parser("models", help="the model registry: models, versions, stages")
    sub = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("ls", help="list registered models")
    ls.add_argument("--filter", "-f", default=None, help="e.g. \"name LIKE 'churn%%'\"")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(handler=models_ls)

    versions = sub.add_parser("versions", help="list the versions of a registered model")
    versions.add_argument("name")
    versions.add_argument("--json", action="store_true", help="print JSON instead of a table")
    versions.set_defaults(handler=models_versions)

    stage = sub.add_parser("stage", help="move a version to None, Staging, Production or Archived")
    stage.add_argument("name")
    stage.add_argument("version")
    stage.add_argument("stage")
    stage.add_argument("--archive-existing", action="store_true",
                       help="archive the versions already in that stage")
    stage.add_argument("--force", action="store_true",
                       help="move it even if it fails the model's gate (recorded in its history)")
    stage.set_defaults(handler=models_stage)

    alias = sub.add_parser("alias", help="point an alias (e.g. champion) at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", help="version number; leave out with --delete")
    alias.add_argument("--delete", action="store_true", help="remove the alias")
    alias.add_argument("--force", action="store_true",
                       help="move it even if the version fails the model's gate (recorded)")
    alias.set_defaults(handler=models_alias)

    gate = sub.add_parser("gate", help="show or set the metric bounds a version's attached "
                          "evaluation must meet before it moves to named stages or aliases")
    gate.add_argument("name")
    gate.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE",
                      help="the metric must be at least VALUE; repeatable")
    gate.add_argument("--max", action="append", default=[], metavar="METRIC=VALUE",
                      help="the metric must be at most VALUE; repeatable")
    gate.add_argument("--applies-to", default="Production", metavar="TARGETS",
                      help="comma-separated stages and aliases it guards (default Production)")
    gate.add_argument("--delete", action="store_true", help="remove the model's gate")
    gate.set_defaults(handler=models_gate)

    attach = sub.add_parser("attach-evaluation",
                            help="attach an evaluation run to a version (what its gate checks)")
    attach.add_argument("name")
    attach.add_argument("version")
    attach.add_argument("run_id", metavar="RUN_ID")
    attach.set_defaults(handler=models_attach_evaluation)

    history = sub.add_parser("history", help="every stage and alias change of a model")
    history.add_argument("name")
    history.add_argument("--version", default=None)
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=models_history)

    dockerfile = sub.add_parser(
        "generate-dockerfile", help="write a Docker build context (Dockerfile, model, requirements)")
    dockerfile.add_argument("model_uri", metavar="MODEL_URI",
                            help="runs:/<run_id>/<path>, models:/<name>/<version|stage>, or a folder")
    dockerfile.add_argument("--output-directory", "-d", required=True, metavar="DIR",
                            help="a new (or empty) folder for the build context")
    dockerfile.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                            help="a Host name clients use to reach the container (loopback names "
                            "always work); repeatable")
    dockerfile.set_defaults(handler=models_generate_dockerfile)

    build = sub.add_parser("build-docker", help="build the model's image where a Docker daemon answers")
    build.add_argument("model_uri", metavar="MODEL_URI")
    build.add_argument("--name", "-n", required=True, help="the image name, e.g. churn-model:1")
    build.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="as for generate-dockerfile")
    build.set_defaults(handler=models_build_docker)

    serve = subparsers.add_parser("serve", help="serve a model over HTTP (POST /invocations)")
    serve.add_argument("model_uri", metavar="MODEL_URI",
                       help="runs:/<run_id>/<path>, models:/<name>/<version|stage>, models:/<name>@<alias>")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", "-p", type=int, default=5000, help="port (default 5000; 0 = any free)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="also accept requests with this Host header (loopback names always are; "
                       "so are the comma-separated names in MLNB_SERVE_ALLOWED_HOSTS)")
    serve.add_argument("--log-predictions", action="store_true",
                       help="append every request to the store's prediction log "
                       "(mlnb.monitor.predictions) and its latency to a run of mlnb-serving")
    serve.add_argument("--log-sample-rate", type=float, default=1.0, metavar="RATE",
                       help="with --log-predictions: the share of requests logged (default 1)")
    serve.add_argument("--log-max-rows", type=int, default=None, metavar="N",
                       help="with --log-predictions: keep at most N rows of this model's log")
    serve.add_argument("--log-max-age-days", type=float, default=None, metavar="DAYS",
                       help="with --log-predictions: remove rows older than this")
    serve.add_argument("--max-body-mb", type=float, default=20.0, help="largest request body (MB)")
    serve.add_argument("--request-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="a request must arrive whole within this time (default 30)")
    serve.add_argument("--max-connections", type=int, default=64, metavar="N",
                       help="connections served at once; more get 503 (default 64)")
    serve.add_argument("--trusted", action="store_true",
                       help="load a pickle your mlnb did not write, e.g. from a store made by "
                       "someone else (only if you trust its source)")
    serve.add_argument("--verbose", "-v", action="store_true", help="log each request to stderr")
    serve.add_argument("--no-fast-path", action="store_true",
                       help="always score through a DataFrame (no numeric array shortcut)")
    serve.set_defaults(handler=serve_model)

    predict = subparsers.add_parser("predict", help="score a CSV or JSON file with a model")
    predict.add_argument("model_uri", metavar="MODEL_URI")
    predict.add_argument("--input", "-i", required=True, metavar="FILE", help="a .csv or .json file")
    predict.add_argument("--output", "-o", default=None, metavar="FILE",
                         help=".csv or .json file (default: JSON on stdout)")
    predict.add_argument("--trusted", action="store_true",
                         help="load a pickle your mlnb did not write, e.g. from a store made by "
                         "someone else (only if you trust its source)")
    predict.set_defaults(handler=predict_model)


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def models_ls(args: argparse.Namespace) -> int:
    """``mlnb models ls``: registered models as a table or JSON.

    :param args: the parsed arguments.
    """
    models = current_client().search_registered_models(args.filter, max_results=10_000)
    if args.json:
        print(dump_json([m.to_dict() for m in models]))
        return 0
    rows = [(m.name, max((int(v.version) for v in m.latest_versions), default=""),
             ", ".join(f"{v.current_stage}:v{v.version}" for v in m.latest_versions
                       if v.current_stage != "None"),
             ", ".join(f"@{a}:v{v}" for a, v in m.aliases.items()), _time(m.last_updated_timestamp))
            for m in models]
    print(render(["name", "latest", "stages", "aliases", "updated"], rows))
    return 0


def models_versions(args: argparse.Namespace) -> int:
    """``mlnb models versions NAME``: a model's versions as a table or JSON.

    :param args: the parsed arguments.
    """
    client = current_client()
    name = client.get_registered_model(args.name).name
    versions = client.search_model_versions(f"name = '{_quote(name)}'")
    if args.json:
        print(dump_json([v.to_dict() for v in versions]))
        return 0
    rows = [(v.version, v.current_stage, ", ".join(v.aliases), v.run_id, _time(v.creation_timestamp),
             v.description) for v in versions]
    print(render(["version", "stage", "aliases", "run_id", "created", "description"], rows))
    return 0


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def models_stage(args: argparse.Namespace) -> int:
    """``mlnb models stage NAME VERSION STAGE``: move a version to a stage.

    :param args: the parsed arguments.
    """
    mv = current_client().transition_model_version_stage(args.name, args.version, args.stage,
                                                  archive_existing_versions=args.archive_existing,
                                                  force=args.force)
    print(f"{visible(mv.name)} version {mv.version} is now in {visible(mv.current_stage)}.")
    return 0


def models_alias(args: argparse.Namespace) -> int:
    """``mlnb models alias NAME ALIAS [VERSION]``: set an alias, or remove it with ``--delete``.

    :param args: the parsed arguments.
    """
    client = current_client()
    if args.delete:
        client.delete_registered_model_alias(args.name, args.alias)
        print(f"Removed alias @{visible(args.alias)} of {visible(args.name)}.")
        return 0
    if args.version is None:
        print("mlnb: error: give the VERSION the alias should point at (or --delete).", file=sys.stderr)
        return 2
    client.set_registered_model_alias(args.name, args.alias, args.version, force=args.force)
    print(f"{visible(args.name)}@{visible(args.alias)} -> version {visible(args.version)}.")
    return 0


def models_gate(args: argparse.Namespace) -> int:
    """``mlnb models gate NAME [--min M=V] [--max M=V] [--applies-to T,...] [--delete]``: set,
    remove or (with no bounds) show a model's gate.

    :param args: the parsed arguments.
    """
    client = current_client()
    if args.delete:
        client.delete_registered_model_gate(args.name)
        print(f"Removed the gate of {visible(args.name)}.")
        return 0
    thresholds: dict[str, dict[str, float]] = {}
    for bound, items in (("min", args.min), ("max", args.max)):
        for item in items:
            metric, sep, value = item.partition("=")
            try:
                thresholds.setdefault(metric.strip(), {})[bound] = float(value)
            except ValueError:
                sep = ""
            if not sep or not metric.strip():
                print(f"mlnb: error: --{bound} takes METRIC=NUMBER (e.g. accuracy=0.9), not "
                      f"{visible(item)}.", file=sys.stderr)
                return 2
    if thresholds:
        targets = [t.strip() for t in args.applies_to.split(",") if t.strip()]
        gate = client.set_registered_model_gate(args.name, thresholds, targets)
    else:
        found = client.get_registered_model_gate(args.name)
        if found is None:
            print(f"{visible(args.name)} has no gate.")
            return 0
        gate = found
    rules = "; ".join(f"{visible(m)} " + " and ".join(
        f"{'>=' if k == 'min' else '<='} {v:g}" for k, v in b.items()) for m, b in gate.thresholds.items())
    print(f"Gate of {visible(gate.name)} on {', '.join(visible(t) for t in gate.applies_to)}: {rules}.")
    return 0


def models_attach_evaluation(args: argparse.Namespace) -> int:
    """``mlnb models attach-evaluation NAME VERSION RUN_ID``.

    :param args: the parsed arguments.
    """
    current_client().attach_evaluation(args.name, args.version, args.run_id)
    print(f"Attached run {visible(args.run_id)} to {visible(args.name)} version {visible(args.version)}.")
    return 0


def models_history(args: argparse.Namespace) -> int:
    """``mlnb models history NAME [--version N]``: the stage, alias and version changes.

    :param args: the parsed arguments.
    """
    events = current_client().get_model_version_history(args.name, args.version)
    if args.json:
        print(dump_json([e.to_dict() for e in events]))
        return 0
    rows = [(_time(e.timestamp), e.version or "", e.kind, e.from_value or "", e.to_value or "", e.user_id)
            for e in events]
    print(render(["when", "version", "change", "from", "to", "who"], rows, max_width=60))
    return 0


def models_generate_dockerfile(args: argparse.Namespace) -> int:
    """``mlnb models generate-dockerfile MODEL_URI --output-directory DIR``.

    :param args: the parsed arguments.
    """
    # the container module: loaded for this command only
    from mlnb.models.container import PORT, generate_dockerfile

    path = generate_dockerfile(args.model_uri, args.output_directory, args.allowed_host)
    print(f"Wrote {visible(str(path))} with the model, its requirements and mlnb.\n"
          f"Build and run it where Docker runs:\n  docker build -t NAME {visible(str(path.parent))}\n"
          f"  docker run -p {PORT}:{PORT} NAME")
    return 0


def models_build_docker(args: argparse.Namespace) -> int:
    """``mlnb models build-docker MODEL_URI -n NAME``.

    :param args: the parsed arguments.
    """
    # the container module: loaded for this command only
    from mlnb.models.container import build_docker

    build_docker(args.model_uri, args.name, args.allowed_host)
    print(f"Built image {visible(args.name)}.")
    return 0


def serve_model(args: argparse.Namespace) -> int:
    """``mlnb serve MODEL_URI``: serve the model over HTTP until Ctrl-C.

    :param args: the parsed arguments.
    """
    # A container image sets MLNB_SERVE_ALLOWED_HOSTS (docker run -e can change it).
    from_env = [h.strip() for h in os.environ.get("MLNB_SERVE_ALLOWED_HOSTS", "").split(",") if h.strip()]
    try:
        server = make_server(
            args.model_uri, args.host, args.port, trusted=args.trusted,
            allowed_hosts={*args.allowed_host, *from_env}, max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            log_predictions=args.log_predictions, verbose=args.verbose,
            fast_path=not args.no_fast_path, request_timeout=args.request_timeout,
            max_connections=args.max_connections, log_sample_rate=args.log_sample_rate,
            log_max_rows=args.log_max_rows, log_max_age_days=args.log_max_age_days,
        )
    except OSError as exc:
        print(visible(f"mlnb: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}."),
              file=sys.stderr)
        return 2
    print(f"Serving {visible(args.model_uri)} on {server.url} (POST /invocations; Ctrl-C to stop)",
          flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("Warning: the server is reachable from other machines and has no authentication.",
              file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def predict_model(args: argparse.Namespace) -> int:
    """``mlnb predict MODEL_URI --input FILE``: score a file, printing the predictions without
    ``--output``.

    :param args: the parsed arguments.
    """
    text = predict_file(args.model_uri, args.input, args.output, trusted=args.trusted)
    if text:
        print(text)
    return 0
