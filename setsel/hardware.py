"""What this machine's CPU can do fast (pure: reads ``/proc/cpuinfo``, imports nothing heavy).

bf16 matmuls run natively only on CPUs with ``avx512_bf16`` (AMD Zen 4+, Intel Cooper Lake+)
or AMX (``amx_bf16``, Intel Sapphire Rapids+); elsewhere PyTorch emulates them and bf16 is
slower than fp32. Measured here (AMD EPYC, avx512_bf16, 2 cores): SmolLM2-135M LoRA
forward+backward over ~850 tokens takes 4.3 s in fp32 and 3.3 s with bf16 weights under
autocast (``benchmarks/train_speed.py``).

Example:
    >>> cpu_bf16_supported("flags : fpu avx512f avx512_bf16")
    True
    >>> cpu_bf16_supported("flags : fpu avx2")
    False
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_supported(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has native bf16 matmul instructions (``cpuinfo``: text of /proc/cpuinfo)."""
    if cpuinfo is None:
        return _host_bf16()
    flags = set()
    for line in cpuinfo.splitlines():
        if line.split(":", 1)[0].strip() == "flags" and ":" in line:
            flags |= set(line.split(":", 1)[1].split())
    return any(f in flags for f in BF16_FLAGS)


@functools.lru_cache(maxsize=1)
def _host_bf16() -> bool:
    try:
        return cpu_bf16_supported(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def preferred_dtype(device: str = "cpu") -> str:
    """``"bf16"`` where bf16 matmuls are native (a CUDA device with bf16, or a CPU with
    :data:`BF16_FLAGS`), else ``"fp32"``."""
    if str(device).startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_bf16_supported() else "fp32"


ENGINE_DTYPES = ("auto", "float32", "bfloat16", "float16")
"""What the hf and vllm engines accept as ``dtype``."""


def resolve_dtype(dtype: str, device: str = "cpu") -> str:
    """The torch dtype name an engine loads in: ``auto`` becomes ``bfloat16`` where bf16
    matmuls are native on ``device`` (:func:`preferred_dtype`), else ``float32``; any other
    value of :data:`ENGINE_DTYPES` is returned as it is.

    >>> resolve_dtype("float32"), resolve_dtype("bfloat16", "cpu")
    ('float32', 'bfloat16')
    """
    if dtype not in ENGINE_DTYPES:
        raise ValueError(f"dtype must be one of {ENGINE_DTYPES}, got {dtype!r}")
    if dtype != "auto":
        return dtype
    return "bfloat16" if preferred_dtype(device) == "bf16" else "float32"


def matmul_gflops(precision: str, n: int = 2048, repeats: int = 3) -> float:
    """This machine's achieved GFLOP/s on an ``n``³ torch matmul in ``precision`` (``fp32`` /
    ``bf16``; best of ``repeats``, with torch's current thread count): the peak that
    benchmarks compare model throughput with."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return round(2 * n**3 / best / 1e9, 1)
