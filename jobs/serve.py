"""Deploy the selector endpoint on Ray Serve: ``python -m jobs.serve --config configs/serve.yaml [--set a.b=v]``.

The same app and config file as ``setsel serve`` and ``serve run`` (the first application's
``args`` = :class:`setsel.distributed.serve_schema.ServeAppConfig`, overridable with
``--set key=value``; its ``Selector`` deployment options; its ``http_options``). On a cluster:
``ray job submit --working-dir . -- python -m jobs.serve --config configs/serve_paper.yaml``.

Two ways to run it as a Ray job:

- blocking (default): deploy, then keep the job RUNNING while the app serves; stopping the
  job (``ray job stop``, SIGTERM) deletes the app, so the job's life is the endpoint's life.
- ``--detach``: deploy, wait until the app is RUNNING, and exit 0; the app stays on the
  cluster (Serve apps outlive their driver) until ``serve shutdown`` or a redeploy. Needs a
  cluster to join (``RAY_ADDRESS``, set by ``ray job submit``, or ``--address``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobs.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/serve.yaml", help="Serve config file (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override an application arg, e.g. --set model=hf:/path --set method=topk")
    parser.add_argument("--host", default=None, help="HTTP bind address (default: the config's, else 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: the config's, else 8000)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join (default: $RAY_ADDRESS, which `ray job submit` sets; else a local Ray)")
    parser.add_argument("--name", default="setsel", help="Serve application name (default: %(default)s)")
    parser.add_argument("--detach", action="store_true",
                        help="deploy, wait until RUNNING, exit; the app keeps serving on the cluster")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved app args, deployment options and HTTP options; deploy nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.config import ConfigError, config_to_dict
    from setsel.distributed.serve_deploy import read_serve_file

    args = build_parser().parse_args(argv)
    try:
        cfg, deployment, http = read_serve_file(args.config, args.overrides)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"jobs.serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    host = args.host or http.get("host", "127.0.0.1")
    port = args.port or int(http.get("port", 8000))
    if args.print_config:
        import json

        print(json.dumps({"args": config_to_dict(cfg), "deployment": deployment,
                          "http_options": {"host": host, "port": port}, "name": args.name}, indent=2))
        return 0
    address = args.address or os.environ.get("RAY_ADDRESS") or None
    if args.detach and not address:
        print("jobs.serve: error: --detach needs a Ray cluster to leave the app on "
              "(run it through `ray job submit`, or give --address / $RAY_ADDRESS)", file=sys.stderr)
        return EXIT_USAGE
    return serve(cfg, deployment, host, port, address, args.name, detach=args.detach)


def serve(cfg, deployment: dict, host: str, port: int, address: str | None, name: str, detach: bool) -> int:
    """Deploy; then return (``detach``) or serve until SIGTERM/SIGINT, deleting the app on the way out."""
    from setsel.distributed.serve_deploy import deploy

    stop = {"signal": None}

    def _on_signal(signum, frame):  # `ray job stop` sends SIGTERM, then SIGKILL a few seconds later
        stop["signal"] = signum

    def _trap() -> None:
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)

    if not detach:
        _trap()  # a stop during the deploy is honoured once the deploy returns
    t0 = time.perf_counter()
    url = deploy(cfg, deployment, host=host, port=port, address=address, name=name)
    print(f"jobs.serve: app {name!r} RUNNING at {url} after {time.perf_counter() - t0:.1f}s "
          f"(method={cfg.method}, model={cfg.model})", flush=True)
    if detach:
        print("jobs.serve: detached; the app keeps serving. Stop it with `serve shutdown -a <dashboard url>` "
              "(or DELETE <dashboard url>/api/serve/applications/)", flush=True)
        return 0
    _trap()  # again: ray.init installs its own SIGTERM handler in the driver
    while stop["signal"] is None:
        time.sleep(0.2)
    from ray import serve as ray_serve

    print(f"jobs.serve: {signal.Signals(stop['signal']).name} received; deleting app {name!r}", flush=True)
    if address:
        ray_serve.delete(name, _blocking=False)  # other apps on the cluster keep running
    else:
        ray_serve.shutdown()  # our own local Ray: take Serve down with it
    return 0


if __name__ == "__main__":
    sys.exit(main())
