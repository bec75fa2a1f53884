"""Peer libraries: is one installed, its version, and one thread count for all.

Peers are imported only here and only when a selected case needs them.
"""
import contextlib
import importlib
import importlib.util

NOT_INSTALLED = "not installed"


def installed(module):
    """True if ``module`` can be found (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def version(module):
    """The module's version string, or "not installed"."""
    if not installed(module):
        return NOT_INSTALLED
    try:
        return str(getattr(importlib.import_module(module), "__version__", "?"))
    except Exception as exc:   # a broken install is reported, not raised
        return f"error: {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def thread_limits(n, modules=()):
    """Run the block with every library on ``n`` threads, then restore.

    fastml through ``fastml.threads``; BLAS and OpenMP runtimes (NumPy, SciPy,
    scikit-learn, LightGBM) through threadpoolctl; torch and faiss through
    their own setters, for the names in ``modules`` (already importable).
    """
    import fastml
    from threadpoolctl import threadpool_limits

    with contextlib.ExitStack() as stack:
        if "torch" in modules:
            import torch
            stack.callback(torch.set_num_threads, torch.get_num_threads())
            torch.set_num_threads(n)
        if "faiss" in modules:
            import faiss
            stack.callback(faiss.omp_set_num_threads, faiss.omp_get_max_threads())
            faiss.omp_set_num_threads(n)
        # after the imports above, so threadpoolctl also sees the runtimes they load
        stack.enter_context(threadpool_limits(limits=n))
        stack.enter_context(fastml.threads(n))
        yield
