"""Shared test setup: offline, loopback-only, bounded.

Environment set before anything heavy is imported (../shared/ENVIRONMENT.md):
HF_HUB_OFFLINE (nothing is fetched from a hub), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
(Ray binds to 127.0.0.1), TORCH_EXTENSIONS_DIR (DeepSpeed builds cached in the repo),
TOKENIZERS_PARALLELISM=false, HAYSTACK_TELEMETRY_ENABLED=False (Haystack sends usage data
on pipeline runs otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
os.environ.setdefault("SETSEL_CACHE_DIR", str(REPO / ".cache" / "setsel"))


def _data_dir() -> Path:
    return Path(os.environ.get("SETSEL_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared benchmark data (../shared/data, or $SETSEL_DATA_DIR). Skips if absent."""
    path = _data_dir()
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path} (set SETSEL_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole session: 127.0.0.1, logical CPUs, no dashboard."""
    from setsel.distributed.runtime import init_ray

    ray = init_ray(num_cpus=4)
    yield ray
    ray.shutdown()
