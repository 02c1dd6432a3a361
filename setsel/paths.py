"""Where setsel finds benchmark data and keeps caches. Standard library only.

- Benchmark data: ``$SETSEL_DATA_DIR``, else ``../shared/data`` next to the repository
  checkout (the project's convention), else ``./data``.
- Cache (converted model weights, compiled extensions): ``$SETSEL_CACHE_DIR``, else
  ``~/.cache/setsel``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    env = os.environ.get("SETSEL_DATA_DIR")
    if env:
        return Path(env)
    shared = REPO_ROOT.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return Path.cwd() / "data"


def cache_dir() -> Path:
    path = Path(os.environ.get("SETSEL_CACHE_DIR") or Path.home() / ".cache" / "setsel")
    path.mkdir(parents=True, exist_ok=True)
    return path
