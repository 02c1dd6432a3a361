"""Deploy the selector app from a Serve config file (used by ``setsel serve`` and tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setsel.config import ConfigError, build_config, merge_config, parse_overrides
from setsel.distributed.serve_schema import ServeAppConfig

_DEPLOYMENT_KEYS = {"num_replicas", "max_ongoing_requests", "ray_actor_options", "autoscaling_config",
                    "max_queued_requests", "health_check_period_s", "graceful_shutdown_timeout_s"}


def read_serve_file(path: str | Path, overrides: list[str] | None = None) -> tuple[ServeAppConfig, dict[str, Any], dict[str, Any]]:
    """Parse a Serve config file → (app config, Selector deployment options, http_options)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"serve config not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from None
    apps = data.get("applications") or []
    if not apps:
        raise ConfigError(f"{p}: no applications")
    app = apps[0]
    args = merge_config(app.get("args") or {}, parse_overrides(overrides))
    cfg = build_config(ServeAppConfig, args)
    deployment: dict[str, Any] = {}
    for dep in app.get("deployments") or []:
        if dep.get("name") == "Selector":
            unknown = sorted(set(dep) - _DEPLOYMENT_KEYS - {"name"})
            if unknown:
                raise ConfigError(f"{p}: unknown deployment option(s) {unknown}; valid: {sorted(_DEPLOYMENT_KEYS)}")
            deployment = {k: v for k, v in dep.items() if k != "name"}
    return cfg, deployment, dict(data.get("http_options") or {})


def deploy(cfg: ServeAppConfig, deployment: dict[str, Any] | None = None, host: str = "127.0.0.1",
           port: int = 8000, address: str | None = None, name: str = "setsel") -> str:
    """Start Serve (HTTP on host:port) and deploy the app; returns the base URL."""
    from setsel.distributed.runtime import init_ray

    init_ray(address=address)
    from ray import serve

    from setsel.distributed.serve import SelectorDeployment

    from setsel.logs import quiet_library_loggers

    quiet_library_loggers()   # `import ray.serve` installs a terminal handler ("Started Serve ..."): log file
    serve.start(http_options={"host": host, "port": port})   # proxy middleware: runtime.LOCAL_ENV
    app = SelectorDeployment.options(**(deployment or {})).bind(cfg)
    serve.run(app, name=name, route_prefix="/", blocking=False)
    return f"http://{host}:{port}"


def shutdown() -> None:
    """Stop every Serve application and the HTTP proxy (Ray itself keeps running)."""
    from ray import serve

    serve.shutdown()


def deploy_from_file(path: str | Path, overrides: list[str] | None = None, host: str | None = None,
                     port: int | None = None, address: str | None = None) -> str:
    cfg, deployment, http = read_serve_file(path, overrides)
    return deploy(cfg, deployment, host=host or http.get("host", "127.0.0.1"), port=port or int(http.get("port", 8000)),
                  address=address)
