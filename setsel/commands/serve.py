"""``setsel serve``: deploy the selector endpoint on Ray Serve (loopback by default).

Reads the same Serve config file as ``serve run`` (configs/serve.yaml): the first
application's ``args`` (overridable with ``--set key=value``) and its ``Selector``
deployment options (autoscaling, actor resources).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/serve.yaml", help="Serve config file (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override an application arg, e.g. --set model=hf:/path --set batching.max_batch_size=1")
    parser.add_argument("--host", default=None, help="bind address (default: the config's, else 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the config's, else 8000)")
    parser.add_argument("--address", default=None, help="Ray cluster address to join (default: start a local Ray)")
    parser.add_argument("--no-block", action="store_true", help="deploy and return instead of serving until Ctrl-C")
    parser.add_argument("--log-dir", default="runs/serve",
                        help="folder of setsel.log: library and Ray logs (default: %(default)s; --verbose keeps them "
                             "on the terminal)")


def run(args: argparse.Namespace) -> int:
    import time

    from setsel.commands import log_note, start_log
    from setsel.distributed.serve_deploy import deploy_from_file, shutdown

    log_path = start_log(args.log_dir)
    url = deploy_from_file(args.config, overrides=args.overrides, host=args.host, port=args.port, address=args.address)
    print(f"setsel selector serving at {url} (docs: {url}/docs)\n{log_note(log_path)}", flush=True)
    if args.no_block:
        return 0
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        shutdown()
    return 0
