"""fastml: a CPU performance engine for machine-learning kernels.

C kernels (own SIMD GEMM with fused epilogues, one OpenMP team) behind a
NumPy-in / NumPy-out API.  See ``show_config()`` for what this build uses.
"""
__version__ = "0.1.0"

from fastml._threads import get_num_threads, set_num_threads, threads
from fastml._config import show_config, simd_level
from fastml._profiler import profile
from fastml import linalg
from fastml import cluster
from fastml import metrics, neighbors
from fastml import nn
from fastml import tree, ensemble

__all__ = ["__version__", "get_num_threads", "set_num_threads", "threads", "show_config",
           "simd_level", "profile", "linalg", "cluster", "metrics", "neighbors", "nn", "tree", "ensemble"]
