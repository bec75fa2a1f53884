"""Thread settings of fastml's one OpenMP team.

The setting is process-wide (one value shared by all Python threads), like
NumPy's BLAS and threadpoolctl.  The count a call uses is, in order:
``n_threads=`` of the call; else ``set_num_threads`` / ``with threads(n)``;
else the CPUs in the process affinity mask, capped by the cgroup CPU quota.
A threadpoolctl limit on the OpenMP runtime caps the latter two.

After ``os.fork()`` the child runs fastml on one thread: GNU OpenMP's thread
pool does not survive fork, and a parallel region in the child would hang.
Use multiprocessing's "spawn" or "forkserver" start methods for parallel
children.
"""
import contextlib
import math
import numbers
import os
import threading

from fastml._lib import _core

_lock = threading.Lock()
_setting = None      # None: the machine default


def _cgroup_cpu_limit():
    """CPUs allowed by a cgroup v2 (cpu.max) or v1 (cfs quota) limit, or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return None


def default_num_threads():
    """CPUs in the affinity mask, capped by the cgroup quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        n = min(n, limit)
    return max(1, n)


_DEFAULT = default_num_threads()


def get_num_threads():
    """Threads fastml calls use when no ``n_threads=`` is given (1 in a process
    forked after fastml was imported: libgomp's pool does not survive fork)."""
    if _core.forked():
        return 1
    n = _setting if _setting is not None else _DEFAULT
    return max(1, min(n, _core.omp_max_threads()))


def _check_n_threads(n, name="n_threads"):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {type(n).__name__}")
    n = int(n)
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def set_num_threads(n):
    """Set the process-wide thread count of fastml (and of its OpenMP runtime)."""
    global _setting
    n = _check_n_threads(n)
    with _lock:
        _setting = n
        _core.omp_set_threads(n)


@contextlib.contextmanager
def threads(n):
    """``with fastml.threads(n):`` runs the block with n threads, then restores."""
    global _setting
    n = _check_n_threads(n)
    with _lock:
        old = _setting
        old_omp = _core.omp_max_threads()
        _setting = n
        _core.omp_set_threads(n)
    try:
        yield n
    finally:
        with _lock:
            _setting = old
            _core.omp_set_threads(old_omp)


def resolve_n_threads(n_threads):
    """The thread count for one call: ``n_threads`` if given, else the setting."""
    if n_threads is None:
        return get_num_threads()
    return _check_n_threads(n_threads)
