"""A real local Ray head node with the job server, and a helper to submit jobs to it.

``ray start --head --block`` on 127.0.0.1 with its own free ports and its own short temp
dir (so it never meets another Ray on this machine), the loopback environment of
:func:`setsel.distributed.runtime.set_local_env`, and the dashboard's job server. Jobs go
through :class:`ray.job_submission.JobSubmissionClient` with this repository as the
``working_dir`` (small: venvs, .git, runs and caches excluded) and run with this
interpreter (``sys.executable``: the venv's python). Teardown stops only this node: SIGTERM
to its ``ray start --block`` process, then every process it started.

Use from a test (fixtures ``ray_head`` and ``submit_job``)::

    def test_my_job(ray_head, tmp_path):
        cmd = ray_head.job_command("evaluate", "--config", "configs/eval.yaml", "--set", f"out={tmp_path}")
        result = ray_head.submit_job(cmd, timeout=300)   # or submit_job(cmd, timeout=300)
        assert result.status == "SUCCEEDED", result.logs
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the job upload leaves out (Ray also honours .gitignore); keeps it ~1–2 MB.
EXCLUDES = [".venv", ".venv-*", ".git", "runs", ".cache", ".pytest_cache", ".hypothesis", "__pycache__",
            "*.egg-info", "*.parquet", "out"]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_command(job: str, *args: str) -> str:
    """``<this python> -m jobs.<job> <args…>``, shell-quoted: a job entrypoint."""
    return " ".join(shlex.quote(x) for x in (sys.executable, "-m", f"jobs.{job}", *map(str, args)))


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def http_json(url: str, body: dict | None = None, method: str | None = None, timeout: float = 30.0) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if body is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text.strip() else {}
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {"raw": text}


@dataclass
class JobResult:
    job_id: str
    status: str
    logs: str
    wall_s: float


class RayHead:
    """One ``ray start --head`` node on 127.0.0.1 with the job server (see the module doc).

    The helpers are attributes too (test modules cannot import this conftest by name):
    ``ray_head.job_command``, ``ray_head.free_port``, ``ray_head.http_get``, ``ray_head.http_json``.
    """

    job_command = staticmethod(job_command)
    free_port = staticmethod(free_port)
    http_get = staticmethod(http_get)
    http_json = staticmethod(http_json)

    def __init__(self, num_cpus: int = 4, env: dict[str, str] | None = None) -> None:
        from setsel.distributed.runtime import LOCAL_ENV

        self.temp_dir = tempfile.mkdtemp(prefix="rj", dir="/tmp")  # short: Unix socket paths ≤ 107 bytes
        self.gcs_port, self.dashboard_port = free_port(), free_port()
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"
        self.gcs_address = f"127.0.0.1:{self.gcs_port}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_JOB_CONFIG_JSON_ENV_VAR")}
        self.env.update(LOCAL_ENV)
        self.env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",  # a test node has nothing to drain on SIGTERM
            "TORCH_EXTENSIONS_DIR": os.environ.get("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions")),
            "SETSEL_CACHE_DIR": os.environ.get("SETSEL_CACHE_DIR", str(REPO / ".cache" / "setsel")),
            **(env or {}),
        })
        ray_cli = str(Path(sys.executable).parent / "ray")
        cmd = [ray_cli, "start", "--head", "--block", "--disable-usage-stats",
               "--node-ip-address", "127.0.0.1", "--port", str(self.gcs_port),
               "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
               "--dashboard-port", str(self.dashboard_port),
               "--ray-client-server-port", str(free_port()), "--node-manager-port", str(free_port()),
               "--object-manager-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
               "--dashboard-agent-grpc-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
               "--metrics-export-port", str(free_port()),
               "--num-cpus", str(num_cpus), "--num-gpus", "0", "--object-store-memory", str(512 * 1024**2),
               "--temp-dir", self.temp_dir]
        self.log_path = Path(self.temp_dir) / "ray_start.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["nice", "-n", "10", *cmd], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
        self.client = None

    def wait_ready(self, timeout: float = 180.0) -> None:
        from ray.job_submission import JobSubmissionClient

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited with {self.proc.returncode}:\n{self.log_path.read_text()[-4000:]}")
            try:
                status, _ = http_get(f"{self.dashboard_url}/api/version", timeout=2)
                if status == 200:
                    self.client = JobSubmissionClient(self.dashboard_url)
                    return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"the job server at {self.dashboard_url} did not come up in {timeout}s:\n"
                           f"{self.log_path.read_text()[-4000:]}")

    def runtime_env(self, env_vars: dict[str, str] | None = None) -> dict:
        keep = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TORCH_EXTENSIONS_DIR", "SETSEL_CACHE_DIR",
                "SETSEL_DATA_DIR", "TOKENIZERS_PARALLELISM")
        base = {k: self.env[k] for k in keep if k in self.env}
        return {"working_dir": str(REPO), "excludes": EXCLUDES, "env_vars": {**base, **(env_vars or {})}}

    def submit(self, entrypoint: str, env_vars: dict[str, str] | None = None) -> str:
        """Submit ``entrypoint`` with the repository as working dir; returns the job id."""
        return self.client.submit_job(entrypoint=entrypoint, runtime_env=self.runtime_env(env_vars))

    def wait(self, job_id: str, timeout: float, until: set[str] = TERMINAL) -> str:
        deadline = time.time() + timeout
        status = str(self.client.get_job_status(job_id))
        while status.rsplit(".", 1)[-1] not in until and time.time() < deadline:
            time.sleep(1)
            status = str(self.client.get_job_status(job_id))
        return status.rsplit(".", 1)[-1]

    def submit_job(self, entrypoint: str, timeout: float = 600, env_vars: dict[str, str] | None = None) -> JobResult:
        """Submit, wait for a terminal status (stopping the job at the timeout), return status and logs."""
        t0 = time.perf_counter()
        job_id = self.submit(entrypoint, env_vars)
        status = self.wait(job_id, timeout)
        if status not in TERMINAL:
            self.client.stop_job(job_id)
            status = f"TIMEOUT({status})"
        return JobResult(job_id, status, self.client.get_job_logs(job_id), round(time.perf_counter() - t0, 1))

    def stop(self) -> None:
        """Stop this node only: SIGTERM to `ray start --block`, then kill whatever it started."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        # Job entrypoints run in their own sessions; they are found by our unique temp dir too.
        for p in psutil.process_iter(["pid", "cmdline", "environ"]):
            try:
                text = " ".join(p.info["cmdline"] or []) + " " + " ".join(f"{k}={v}" for k, v in (p.info["environ"] or {}).items())
            except (psutil.Error, TypeError):
                continue
            if self.temp_dir in text or self.gcs_address in text:
                procs.append(p)
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        alive = []
        for p in {p.pid: p for p in procs}.values():
            try:
                if p.is_running() and p.pid != os.getpid():
                    p.terminate()
                    alive.append(p)
            except psutil.Error:
                pass
        _, still = psutil.wait_procs(alive, timeout=10)
        for p in still:
            try:
                p.kill()
            except psutil.Error:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_head():
    """A local head node with the job server for this test session (stopped at the end)."""
    from setsel.paths import data_dir

    env = {}
    if (d := data_dir()).is_dir():
        env["SETSEL_DATA_DIR"] = str(d)
    head = RayHead(num_cpus=4, env=env)  # logical CPUs: Ray Data + 2 training workers on 2 cores
    try:
        head.wait_ready()
        yield head
    finally:
        head.stop()


@pytest.fixture(scope="session")
def submit_job(ray_head):
    """``submit_job(entrypoint, timeout=600, env_vars=None) -> JobResult`` on the session's head node."""
    return ray_head.submit_job


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory):
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer (HF folder; fast, offline)."""
    from helpers.models import save_tiny_llama, smol_tokenizer

    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llm"), smol_tokenizer(), hidden_size=64)
