"""Build and runtime configuration: SIMD level, OpenMP, threads."""
import os
import platform
import sys

from fastml._lib import _core

# Every binding module registers here so that one call switches all of them.
_SIMD_MODULES = [_core]


def register_simd_module(module):
    """Called by each family's Python module with its compiled binding."""
    if module not in _SIMD_MODULES:
        module.set_simd(_core.simd_selected())
        _SIMD_MODULES.append(module)


def simd_level():
    """The SIMD level kernels use now: 'scalar', 'avx2' or 'avx512'."""
    return _core.simd_selected()


def set_simd_level(level):
    """Force a SIMD level for every kernel (capped at what the CPU has).

    Meant for tests and comparisons; FASTML_SIMD does the same at import."""
    if level not in _core.SIMD_LEVELS:
        raise ValueError(f"level must be one of {_core.SIMD_LEVELS}, got {level!r}")
    used = None
    for m in _SIMD_MODULES:
        used = m.set_simd(level)
    return used


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config_dict():
    from fastml import __version__
    from fastml._threads import get_num_threads
    info = _core.build_info()
    return {
        "fastml": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "compiler": info["compiler"],
        "openmp": ("OpenMP %d" % info["openmp_version"]) if info["openmp"] else "disabled (single-threaded build)",
        "simd_detected": _core.simd_detected(),
        "simd_selected": _core.simd_selected(),
        "FASTML_SIMD": os.environ.get("FASTML_SIMD", ""),
        "threads": get_num_threads(),
        "gemm_f32": _core.gemm_kernel_info("float32")["name"],
        "gemm_f64": _core.gemm_kernel_info("float64")["name"],
    }


def show_config(file=None):
    """Print version, compiler, OpenMP runtime, SIMD levels and thread count."""
    cfg = config_dict()
    width = max(len(k) for k in cfg)
    for key, value in cfg.items():
        print(f"{key:<{width}} : {value}", file=file or sys.stdout)
