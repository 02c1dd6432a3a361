"""Dataclass configs from YAML with --set overrides (setsel/config.py)."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from setsel.config import ConfigError, load_config, parse_overrides


@dataclass
class Engine:
    model: str = "hf:smollm2-135m"
    batch_size: int = 8
    temperature: float = 0.0


@dataclass
class Job:
    engine: Engine = field(default_factory=Engine)
    k: int = 5
    method: Literal["topk", "setr"] = "topk"
    limit: int | None = None
    datasets: list[str] = field(default_factory=list)
    verbose: bool = False


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("engine:\n  batch_size: 4\nk: 3\ndatasets: [a, b]\n")
    cfg = load_config(Job, path, ["engine.temperature=0.7", "limit=10", "method=setr", "verbose=true"])
    assert cfg.engine == Engine(batch_size=4, temperature=0.7)
    assert (cfg.k, cfg.limit, cfg.method, cfg.datasets, cfg.verbose) == (3, 10, "setr", ["a", "b"], True)
    assert load_config(Job, None, ["limit=null"]).limit is None
    assert load_config(Job, None, ["engine.temperature=1"]).engine.temperature == 1.0


def test_unknown_keys_name_key_and_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(Job, None, ["kk=3"])
    assert "kk" in str(info.value) and "'k'" in str(info.value) and "engine" in str(info.value)
    with pytest.raises(ConfigError, match=r"engine\.batchsize.*batch_size"):
        load_config(Job, None, ["engine.batchsize=3"])
    path = tmp_path / "bad.yaml"
    path.write_text("engine:\n  modle: x\n")
    with pytest.raises(ConfigError, match="modle"):
        load_config(Job, path)


@pytest.mark.parametrize("override", ["k=three", "engine.batch_size=1.5", "method=listwise", "verbose=maybe",
                                      "datasets=7", "engine=3"])
def test_wrong_types(override):
    with pytest.raises(ConfigError):
        load_config(Job, None, [override])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Job, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("k: [1,\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Job, bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Job, lst)


def test_parse_overrides():
    assert parse_overrides(["a.b=3", "a.c=x", "d=[1, 2]"]) == {"a": {"b": 3, "c": "x"}, "d": [1, 2]}
    for bad in ["novalue", "=3", "a..b=1"]:
        with pytest.raises(ConfigError):
            parse_overrides([bad])
