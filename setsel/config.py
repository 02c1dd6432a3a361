"""Dataclass configs loaded from YAML and overridden by ``--set a.b=value``.

Every job declares its config as (nested) dataclasses; :func:`load_config` builds one
from a YAML file plus overrides. An unknown key anywhere is a :class:`ConfigError`
that names the key and the valid ones, so a typo never silently does nothing.

Example::

    @dataclass
    class EngineConfig:
        model: str = "hf:smollm2-135m"
        batch_size: int = 8

    @dataclass
    class JobConfig:
        engine: EngineConfig = field(default_factory=EngineConfig)
        k: int = 5

    load_config(JobConfig, "configs/job.yaml", ["engine.batch_size=4", "k=3"])
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override is invalid; the message says where and why."""


@dataclasses.dataclass
class RayConfig:
    """The one shape of every stage's Ray settings (``ray:`` in index, retrieve, synthesize and
    eval configs). The entry layer (:mod:`setsel.distributed.stages`) reads it once.

    Attributes:
        enabled: run the stage's fan-out on Ray (the ``jobs.*`` entry points turn it on).
        address: ``None`` = join ``RAY_ADDRESS`` if set, else start a local Ray on 127.0.0.1;
            ``"auto"`` / ``"ray://…"`` = that cluster.
        num_actors: size of the stage's fixed actor pool (one model per actor).
        num_cpus_per_actor: logical CPUs per actor; < 1 on a 2-core machine (whole-CPU actors
            starve Ray Data's read tasks: the deadlock note in ENVIRONMENT.md).
        num_gpus_per_actor: 1 on a GPU cluster (one model per GPU), 0 = none.
    """

    enabled: bool = False
    address: str | None = None
    num_actors: int = 1
    num_cpus_per_actor: float = 0.5
    num_gpus_per_actor: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.num_actors, bool) or not isinstance(self.num_actors, int) or self.num_actors < 1 \
                or not self.num_cpus_per_actor > 0 or self.num_gpus_per_actor < 0:
            raise ConfigError("ray.num_actors must be an int ≥ 1, ray.num_cpus_per_actor > 0, "
                              f"ray.num_gpus_per_actor ≥ 0; got {self.num_actors!r}, {self.num_cpus_per_actor!r}, "
                              f"{self.num_gpus_per_actor!r}")


def _parse_scalar(text: str) -> Any:
    """Parse an override value with YAML rules (``3`` → int, ``true`` → bool, ``[1,2]`` → list)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to annotation ``tp`` (dataclass, Optional, list, dict, scalar)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} fits none of {args}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return build_config(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def build_config(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """The config dataclass ``cls`` from plain nested ``data`` (YAML-shaped), type-checked.

    Nested dataclass fields are built from nested mappings; a missing key takes the field's
    default. Raises :class:`ConfigError` naming an unknown key (with the valid ones) or a
    value of the wrong type (with its dotted path, ``where``).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     k: int = 5
    >>> build_config(C, {"k": 3})
    C(k=3)
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s}"
            + (f" (and {unknown[1:]})" if len(unknown) > 1 else "")
            + f"; valid keys{' under ' + where if where else ''}: {sorted(fields)}"
        )
    kwargs = {
        name: _coerce(value, hints[name], f"{where}.{name}" if where else name) for name, value in data.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}: {key} is not a mapping")
        node = child
    node[keys[-1]] = value


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """``["a.b=3", "c=x"]`` → ``{"a": {"b": 3}, "c": "x"}``."""
    tree: dict[str, Any] = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} has an empty key")
        _set_path(tree, key, _parse_scalar(raw))
    return tree


def merge_config(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` laid over ``base``: nested mappings merge key by key, anything else replaces.

    >>> merge_config({"ray": {"num_actors": 2, "address": None}, "k": 5}, {"ray": {"num_actors": 4}})
    {'ray': {'num_actors': 4, 'address': None}, 'k': 5}
    """
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Build ``cls`` from YAML at ``path`` (optional) with ``overrides`` applied on top.

    Raises :class:`ConfigError` for unreadable YAML, unknown keys and wrong types.
    """
    return build_config(cls, merge_config(read_config_file(path), parse_overrides(overrides)))


def read_config_file(path: str | Path | None) -> dict[str, Any]:
    """The plain mapping of a YAML config file (``{}`` for ``None``), not yet checked against a class.

    Raises :class:`ConfigError` for a missing file, invalid YAML or a non-mapping top level.
    """
    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: invalid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping, got {type(loaded).__name__}")
        data = loaded
    return data


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as plain nested dicts (for metadata and logging)."""
    return dataclasses.asdict(cfg)


def dump_config(cfg: Any, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), encoding="utf-8")
