"""Dataclass configs from YAML with ``--set a.b=value`` overrides (setsel/config.py)."""

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from setsel.config import ConfigError, config_to_dict, dump_config, load_config, parse_overrides


@dataclass
class Sampling:
    temperature: float = 0.0
    top_p: float = 1.0


@dataclass
class Engine:
    model: str = "hf:smollm2-135m"
    batch_size: int = 8
    sampling: Sampling = field(default_factory=Sampling)


@dataclass
class Job:
    engine: Engine = field(default_factory=Engine)
    k: int = 5
    method: Literal["topk", "setr"] = "topk"
    limit: int | None = None
    threshold: Optional[float] = None
    datasets: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    extras: dict[str, int] = field(default_factory=dict)
    verbose: bool = False
    teacher: Optional[Engine] = None


@dataclass
class Checked:
    k: int = 1

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be ≥ 1, got {self.k}")


def _yaml(tmp_path, text, name="job.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_overrides():
    assert load_config(Job) == Job()
    assert load_config(Job, None, []) == Job()


def test_nested_yaml_file(tmp_path):
    path = _yaml(tmp_path, "engine:\n  batch_size: 4\n  sampling:\n    top_p: 0.9\nk: 3\n"
                           "datasets: [hotpotqa, musique]\nseeds: [1, 2]\nextras: {a: 1}\nthreshold: 0.5\n")
    cfg = load_config(Job, path)
    assert cfg.engine == Engine(batch_size=4, sampling=Sampling(top_p=0.9))
    assert (cfg.k, cfg.datasets, cfg.seeds, cfg.extras, cfg.threshold) == (3, ["hotpotqa", "musique"], [1, 2],
                                                                          {"a": 1}, 0.5)
    assert cfg.method == "topk" and cfg.limit is None and cfg.teacher is None  # untouched defaults
    assert load_config(Job, _yaml(tmp_path, "", "empty.yaml")) == Job()  # empty file = all defaults


def test_overrides_are_yaml_typed_and_win_over_the_file(tmp_path):
    path = _yaml(tmp_path, "engine:\n  batch_size: 4\n  sampling: {temperature: 0.2, top_p: 0.8}\nk: 3\n")
    cfg = load_config(Job, path, ["engine.sampling.temperature=0.7", "limit=10", "method=setr", "verbose=true",
                                  "datasets=[a, b]", "threshold=1", "engine.model=hf:other", "extras={x: 2}"])
    # The override changed one nested field; its sibling from the file survived the merge.
    assert cfg.engine == Engine(model="hf:other", batch_size=4, sampling=Sampling(temperature=0.7, top_p=0.8))
    assert (cfg.k, cfg.limit, cfg.method, cfg.verbose, cfg.datasets, cfg.extras) == (3, 10, "setr", True,
                                                                                    ["a", "b"], {"x": 2})
    assert cfg.threshold == 1.0 and isinstance(cfg.threshold, float)  # int → float field
    assert load_config(Job, path, ["k=7"]).k == 7  # override beats the file
    assert load_config(Job, None, ["limit=null"]).limit is None
    assert load_config(Job, None, ["limit=~"]).limit is None
    assert load_config(Job, None, ["engine.model=42"]).engine.model == "42"  # scalar → str field
    assert load_config(Job, None, ["engine.model=a=b"]).engine.model == "a=b"  # split on the first '='
    assert load_config(Job, None, ["verbose=false"]).verbose is False


def test_optional_nested_dataclass():
    cfg = load_config(Job, None, ["teacher.model=openai:gpt@http://x", "teacher.sampling.top_p=0.5"])
    assert cfg.teacher == Engine(model="openai:gpt@http://x", sampling=Sampling(top_p=0.5))
    assert load_config(Job, None, ["teacher=null"]).teacher is None
    with pytest.raises(ConfigError, match="teacher"):
        load_config(Job, None, ["teacher=3"])


def test_unknown_top_level_key_names_it_and_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(Job, None, ["kk=3"])
    msg = str(info.value)
    assert "unknown config key kk" in msg
    for valid in ["datasets", "engine", "extras", "k", "limit", "method", "seeds", "teacher", "threshold", "verbose"]:
        assert repr(valid) in msg


def test_unknown_nested_key_names_the_path_and_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(Job, None, ["engine.batchsize=3"])
    msg = str(info.value)
    assert "engine.batchsize" in msg and "valid keys under engine: ['batch_size', 'model', 'sampling']" in msg
    with pytest.raises(ConfigError, match=r"engine\.sampling\.temp\b.*\['temperature', 'top_p'\]"):
        load_config(Job, None, ["engine.sampling.temp=0.5"])
    with pytest.raises(ConfigError, match="engine.modle"):  # also from a file
        load_config(Job, _yaml(tmp_path, "engine:\n  modle: x\n"))


@pytest.mark.parametrize(
    "override,where",
    [
        ("k=three", "k: expected an integer"),
        ("k=1.5", "k: expected an integer"),
        ("k=true", "k: expected an integer"),
        ("engine.batch_size=[1]", "engine.batch_size: expected an integer"),
        ("engine.sampling.temperature=hot", "engine.sampling.temperature: expected a number"),
        ("method=listwise", "method: 'listwise' is not one of ['topk', 'setr']"),
        ("verbose=maybe", "verbose: expected true/false"),
        ("verbose=1", "verbose: expected true/false"),
        ("datasets=7", "datasets: expected a list"),
        ("seeds=[1, x]", "seeds[1]: expected an integer"),
        ("extras=[1]", "extras: expected a mapping"),
        ("engine=3", "engine: expected a mapping for Engine"),
        ("engine.model=[a]", "engine.model: expected a string"),
        ("limit=ten", "limit: 'ten' fits none of"),
        ("threshold=[0.5]", "threshold: [0.5] fits none of"),
    ],
)
def test_wrong_types_name_the_field(override, where):
    with pytest.raises(ConfigError) as info:
        load_config(Job, None, [override])
    assert where in str(info.value)


def test_wrong_type_in_file(tmp_path):
    with pytest.raises(ConfigError, match=r"engine\.sampling\.top_p: expected a number, got 'high'"):
        load_config(Job, _yaml(tmp_path, "engine:\n  sampling:\n    top_p: high\n"))


def test_dataclass_validation_becomes_config_error():
    assert load_config(Checked, None, ["k=2"]).k == 2
    with pytest.raises(ConfigError, match="k must be ≥ 1, got 0"):
        load_config(Checked, None, ["k=0"])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*missing.yaml"):
        load_config(Job, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(Job, tmp_path)  # a directory is not a config file
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML"):
        load_config(Job, _yaml(tmp_path, "k: [1,\n", "bad.yaml"))
    with pytest.raises(ConfigError, match="top level must be a mapping, got list"):
        load_config(Job, _yaml(tmp_path, "- 1\n- 2\n", "list.yaml"))
    with pytest.raises(ConfigError, match="top level must be a mapping, got str"):
        load_config(Job, _yaml(tmp_path, "just text\n", "scalar.yaml"))


def test_parse_overrides():
    assert parse_overrides(["a.b=3", "a.c=x", "d=[1, 2]", "e=", "f=1.5", "g=off"]) == {
        "a": {"b": 3, "c": "x"}, "d": [1, 2], "e": None, "f": 1.5, "g": False}
    assert parse_overrides([" a.b =1"]) == {"a": {"b": 1}}  # surrounding spaces of the key are ignored
    assert parse_overrides(["a.b=1", "a.b=2"]) == {"a": {"b": 2}}  # the last one wins
    assert parse_overrides(["x=[unclosed"]) == {"x": "[unclosed"}  # invalid YAML stays a string
    assert parse_overrides(None) == {}
    for bad, msg in [("novalue", "must look like key.path=value"), ("=3", "empty key"), ("a..b=1", "empty key"),
                     (".a=1", "empty key")]:
        with pytest.raises(ConfigError, match=msg):
            parse_overrides([bad])
    with pytest.raises(ConfigError, match="a is not a mapping"):
        parse_overrides(["a=1", "a.b=2"])


def test_dump_and_reload(tmp_path):
    cfg = load_config(Job, None, ["engine.batch_size=2", "datasets=[x]", "teacher.model=m"])
    path = tmp_path / "out.yaml"
    dump_config(cfg, path)
    assert load_config(Job, path) == cfg
    assert config_to_dict(cfg)["engine"] == {"model": "hf:smollm2-135m", "batch_size": 2,
                                             "sampling": {"temperature": 0.0, "top_p": 1.0}}


def test_every_ray_stage_has_the_same_ray_block():
    """Issue 20: one RayConfig shape for index, retrieve, synthesize and eval."""
    import dataclasses
    import typing

    from setsel.config import ConfigError, RayConfig, build_config
    from setsel.evaluation.job import EvalJobConfig
    from setsel.retrieval.job import IndexJobConfig, RetrieveJobConfig
    from setsel.synthesis.job import SynthesisConfig

    for cls in (IndexJobConfig, RetrieveJobConfig, SynthesisConfig, EvalJobConfig):
        assert typing.get_type_hints(cls)["ray"] is RayConfig, cls.__name__
    assert [f.name for f in dataclasses.fields(RayConfig)] == [
        "enabled", "address", "num_actors", "num_cpus_per_actor", "num_gpus_per_actor"]
    assert SynthesisConfig().ray.enabled and not EvalJobConfig().ray.enabled and EvalJobConfig().ray.num_actors == 2
    with pytest.raises(ConfigError, match="ray.num_actors must be an int ≥ 1"):
        build_config(EvalJobConfig, {"ray": {"num_actors": 0}})
    with pytest.raises(ConfigError, match="unknown config key"):
        build_config(SynthesisConfig, {"use_ray": False})  # the old flat field is gone, not silently ignored


def test_eval_refuses_ray_without_the_entry_layer(tmp_path):
    from setsel.config import ConfigError, RayConfig
    from setsel.evaluation.job import EvalJobConfig, run_eval

    cfg = EvalJobConfig(dataset="demo", out=str(tmp_path / "o"), ray=RayConfig(enabled=True))
    with pytest.raises(ConfigError, match="setsel.distributed.stages.run_eval"):
        run_eval(cfg)
