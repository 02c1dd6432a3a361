"""Start or join Ray the same way everywhere: loopback-only locally, the cluster when given.

``init_ray()`` with no address starts a local Ray bound to 127.0.0.1 (see
../shared/ENVIRONMENT.md: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` must be set before
``import ray``), with logical CPUs so actor pools cannot starve read tasks on a 2-core
machine. With ``address="auto"`` or ``RAY_ADDRESS`` set (``ray job submit``), it joins
the running cluster instead.
"""

from __future__ import annotations

import logging
import os
from typing import Any

LOCAL_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    # A loaded 2-core machine can take more than Serve's default 5 s to start its HTTP proxy.
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
    # The Serve proxy answers 503 + Retry-After, not 500, for requests lost with a replica
    # (setsel/distributed/serve_proxy.py); read by the proxy process, which inherits this env.
    "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "setsel.distributed.serve_proxy:proxy_middlewares",
}


def set_local_env() -> None:
    """Set the environment that keeps a local Ray on 127.0.0.1 (idempotent, never overrides)."""
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)


def init_ray(address: str | None = None, num_cpus: int | None = None, **kwargs: Any):
    """Initialise Ray once; return the ``ray`` module.

    Args:
        address: ``None`` → join ``RAY_ADDRESS`` if set, else start a local instance on
            127.0.0.1; ``"auto"`` or ``"ray://…"`` → join that cluster.
        num_cpus: logical CPUs for a local instance (default: max(4, os.cpu_count())).
    """
    from setsel.logs import current_log_file, quiet_library_loggers, ray_data_logging_config, verbose

    set_local_env()
    quiet = current_log_file() is not None and not verbose()
    if quiet:  # before ray.data is imported: it configures its terminal handler at import
        os.environ.setdefault("RAY_DATA_LOGGING_CONFIG", str(ray_data_logging_config(current_log_file().parent)))
    import ray

    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    runtime_env = kwargs.pop("runtime_env", None)
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True, **kwargs)
    else:
        if quiet:  # workers' and actors' output stays in Ray's session logs (named by ray_log_folder)
            kwargs.setdefault("log_to_driver", False)
            kwargs.setdefault("logging_level", logging.WARNING)
        ray.init(
            num_cpus=num_cpus or max(4, os.cpu_count() or 1),
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            runtime_env=runtime_env,
            **kwargs,
        )
    if quiet:
        quiet_library_loggers()
        route_driver_errors_to_log()
    return ray


def route_driver_errors_to_log() -> bool:
    """Send the error messages Ray pushes to this driver (printed as ``(raylet) ...`` by its error
    listener thread, whatever ``log_to_driver`` says) to the log file instead of the terminal.

    Serve's own shutdown produces one on every run: ``serve.shutdown()`` waits on
    ``ServeController.graceful_shutdown``, which by design only returns when the controller is
    killed, so Ray reports that task as failed. Quiet mode only (a log file set, not
    ``--verbose``); returns whether Ray's private hook was found (a Ray without it keeps printing).
    """
    try:
        from ray._private import worker as ray_worker
    except ImportError:  # pragma: no cover - Ray not installed
        return False
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None:
        return False
    if getattr(original, "_setsel_routed", False):
        return True
    ray_log = logging.getLogger("ray.driver_errors")

    def to_log(data: dict, ignore_prefix: bool = False) -> None:
        if data.get("pid") == "raylet":   # the error listener's messages; worker output is not forwarded
            for line in data.get("lines", []):
                ray_log.info("%s", line)
            return
        original(data, ignore_prefix=ignore_prefix)

    to_log._setsel_routed = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = to_log
    return True


def ray_log_folder() -> str | None:
    """The running local Ray's session log folder (workers, actors, Serve, Ray Data), if any."""
    import sys

    if "ray" not in sys.modules:
        return None
    ray = sys.modules["ray"]
    try:
        if not ray.is_initialized():
            return None
        from ray._private.worker import global_worker

        return str(global_worker.node.get_logs_dir_path())
    except Exception:  # noqa: BLE001 - only used to name the folder in a closing message
        return None
