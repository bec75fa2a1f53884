"""The machine a run measured: CPU, SIMD, threads, peaks, library versions."""
import os

import numpy as np

from fastml.bench._peers import version


def _blas():
    """NumPy's BLAS as threadpoolctl sees it, e.g. "openblas 0.3.27 (SkylakeX)"."""
    try:
        from threadpoolctl import threadpool_info
        found = [f"{d.get('internal_api')} {d.get('version') or ''} ({d.get('architecture', '?')})".replace("  ", " ")
                 for d in threadpool_info() if d.get("user_api") == "blas"]
    except Exception as exc:   # informational only
        return f"unknown ({type(exc).__name__})"
    return ", ".join(found) or "none found"


def _load_average():
    """1-minute load average before the run (other processes competing for CPUs)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def machine_info(cases, peak=None):
    """Dict for the report header and the JSON's "machine": versions of fastml,
    NumPy and every peer module the cases name, and the peaks (measured once
    and cached by fastml._peak unless given)."""
    from fastml._config import config_dict
    if peak is None:
        from fastml._peak import machine_peak
        peak = machine_peak()
    cfg = config_dict()
    modules = sorted({p.module for c in cases for p in c.peers.values()} - {"numpy"})
    return {
        "cpu": cfg["cpu"],
        "simd": cfg["simd_selected"],
        "simd_detected": cfg["simd_detected"],
        "gemm_kernels": {"float32": cfg["gemm_f32"], "float64": cfg["gemm_f64"]},
        "compiler": cfg["compiler"],
        "openmp": cfg["openmp"],
        "threads": cfg["threads"],
        "cpus": peak.get("cpus"),
        "python": cfg["python"],
        "platform": cfg["platform"],
        "numpy_blas": _blas(),
        "load_average": _load_average(),
        "peaks": {k: peak.get(k) for k in ("gflops_float32_per_thread", "gflops_float64_per_thread", "mem_gbps")},
        "versions": {"fastml": cfg["fastml"], "numpy": np.__version__, **{m: version(m) for m in modules}},
    }
