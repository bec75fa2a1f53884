"""This machine's peak: FMA throughput per thread and memory bandwidth.

Measured once (about half a second) and cached in ~/.cache/fastml (or
$FASTML_CACHE_DIR), keyed by CPU model, SIMD level and fastml version.
FASTML_PEAK_GFLOPS_F32 / _F64 give the per-thread values instead.
"""
import hashlib
import json
import os
import threading
import time

import numpy as np

from fastml._lib import _core


def _cache_path():
    from fastml import __version__
    from fastml._config import cpu_model
    key = f"{cpu_model()}|{_core.simd_selected()}|{__version__}"
    base = os.environ.get("FASTML_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "fastml")
    return os.path.join(base, "peak-" + hashlib.sha1(key.encode()).hexdigest()[:12] + ".json")


def _fma_gflops(dtype, seconds=0.05, threads=1):
    """Best of 3 runs of the FMA probe on `threads` concurrent Python threads (GIL released)."""
    iters = 1 << 16
    t0 = time.perf_counter()
    _core.fma_loop(dtype, iters)
    dt = max(time.perf_counter() - t0, 1e-6)
    iters = max(iters, int(iters * seconds / dt))
    best = 0.0
    for _ in range(3):
        results = []
        def run():
            results.append(_core.fma_loop(dtype, iters))
        ts = [threading.Thread(target=run) for _ in range(threads)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        best = max(best, sum(results) / dt / 1e9)
    return best


def _memory_gbps(nbytes=64 << 20):
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        dt = time.perf_counter() - t0
        best = max(best, 2 * nbytes / dt / 1e9)
    return best


def measure():
    from fastml._threads import default_num_threads
    return {
        "gflops_float32_per_thread": _fma_gflops("float32"),
        "gflops_float64_per_thread": _fma_gflops("float64"),
        "mem_gbps": _memory_gbps(),
        "cpus": default_num_threads(),
        "simd": _core.simd_selected(),
    }


def machine_peak(refresh=False):
    """Per-thread FMA GFLOP/s for float32/float64, memory GB/s, CPUs (cached)."""
    env32, env64 = os.environ.get("FASTML_PEAK_GFLOPS_F32"), os.environ.get("FASTML_PEAK_GFLOPS_F64")
    path = _cache_path()
    peak = None
    if not refresh:
        try:
            with open(path) as f:
                peak = json.load(f)
        except (OSError, ValueError):
            peak = None
    if peak is None:
        peak = measure()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(peak, f)
        except OSError:
            pass
    if env32:
        peak["gflops_float32_per_thread"] = float(env32)
    if env64:
        peak["gflops_float64_per_thread"] = float(env64)
    return peak
