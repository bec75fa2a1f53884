"""Pairwise distances and kernel (Gram) matrices on fastml's fused kernels.

``pairwise_distances(X, Y, metric=...)`` and the scikit-learn kernels
(``linear_kernel``, ``polynomial_kernel``, ``rbf_kernel``, ``sigmoid_kernel``).
The C side (csrc/distance) streams tiles of the GEMM X Y^T (or of a direct,
register-tiled kernel for manhattan / chebyshev / minkowski) through an
epilogue that writes the result: no second n-by-m temporary is built.

Accuracy: the euclidean family does not lose digits far from the origin (the
data are shifted by a common offset and entries where the GEMM expansion may
cancel are recomputed from the differences in float64).  Distances are never
negative, cosine distances lie in [0, 2], and ``Y=None`` gives an exactly
symmetric matrix with an exactly zero diagonal (for the true metrics).

dtype: float32 stays float32, float64 stays float64 (mixed: float64; integers
and bools: float64).  Results are bit-identical for any thread count.
"""
import math

import numpy as np

from fastml import _profiler
from fastml._config import register_simd_module
from fastml._memory import empty_aligned
from fastml._lib import _distance
from fastml._threads import resolve_n_threads
from fastml._validation import (as_float_array, check_finite, check_ndim, check_nonnegative,
                                check_option, check_out, check_scalar, result_dtype)

register_simd_module(_distance)

METRICS = ("euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine", "dot", "kl")
_ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}
# metrics computed from the GEMM X Y^T (2 m n d flops); the others cost ~3 m n d
_GEMM_METRICS = ("euclidean", "sqeuclidean", "cosine", "dot", "kl")


def _resolve_metric(metric, p):
    """(canonical metric name, p) after aliases; minkowski p=inf is chebyshev."""
    if isinstance(metric, str):
        metric = _ALIASES.get(metric, metric)
    check_option(metric, "metric", METRICS)
    if metric == "minkowski":
        p = 2.0 if p is None else check_scalar(p, "p", float, min_val=0, include_min=False)
        if math.isnan(p):
            raise ValueError("p must be > 0, got nan")
        if math.isinf(p):
            return "chebyshev", p
        return metric, p
    return metric, 2.0


def _check_rows(X, name, dtype=None):
    X = as_float_array(X, name, dtype=dtype)
    if X.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got a 1-D array of shape "
                         f"{X.shape}; reshape with {name}.reshape(-1, 1) for one feature or "
                         f"{name}.reshape(1, -1) for one sample")
    check_ndim(X, name, ndim=2)
    return X


def check_pair(X, Y, metric):
    """Validate the operands of a pairwise computation.

    Returns (X, Y, symmetric): C-contiguous arrays of one float dtype with the
    same number of features (>= 1), finite, non-negative for 'kl'.  Y is X
    (the same object) when Y is None."""
    X = _check_rows(X, "X")
    symmetric = Y is None
    if not symmetric:
        Y = _check_rows(Y, "Y")
        dt = result_dtype(X, Y)
        X, Y = X.astype(dt, copy=False), Y.astype(dt, copy=False)
        if X.shape[1] != Y.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features but Y has {Y.shape[1]}; "
                             "they must have the same n_features")
    if X.shape[1] == 0:
        raise ValueError(f"X has 0 features (shape {X.shape}); at least 1 is required")
    X = np.ascontiguousarray(X)
    check_finite(X, "X")
    if metric == "kl":
        check_nonnegative(X, "X")
    if symmetric:
        return X, X, True
    Y = np.ascontiguousarray(Y)
    check_finite(Y, "Y")
    if metric == "kl":
        check_nonnegative(Y, "Y")
    return X, Y, False


def _output(out, shape, dtype, inputs):
    """(array the kernel writes, caller's out or None to copy into afterwards)."""
    if out is None:
        return empty_aligned(shape, dtype), None
    check_out(out, shape, dtype)
    if out.flags.c_contiguous and not any(np.may_share_memory(out, a) for a in inputs):
        return out, None
    return empty_aligned(shape, dtype), out


def _cost(metric, X, Y, result):
    m, d = np.shape(X)
    n = m if Y is None else np.shape(Y)[0]
    item = np.dtype(result.dtype).itemsize
    per = 2.0 if metric in _GEMM_METRICS else 3.0
    return dict(flops=per * m * n * d, bytes=float((m * d + (0 if Y is None else n * d) + m * n) * item),
                shapes=(np.shape(X),) + (() if Y is None else (np.shape(Y),)), dtype=str(result.dtype))


# ---- pairwise_distances ------------------------------------------------------

def pairwise_distances(X, Y=None, metric="euclidean", out=None, n_threads=None, *, p=None):
    """Distances between the rows of X and the rows of Y.

    Parameters
    ----------
    X : array_like of shape (n_samples_X, n_features)
    Y : array_like of shape (n_samples_Y, n_features), optional
        None: X against itself (symmetric result, exact zeros on the diagonal
        for the true metrics).
    metric : str
        'euclidean' ('l2'), 'sqeuclidean', 'manhattan' ('l1', 'cityblock'),
        'chebyshev', 'minkowski' (with ``p``), 'cosine' (1 - cos, in [0, 2];
        a zero row counts as orthogonal to everything), 'dot' (inner product,
        a similarity) or 'kl' (sum over features of scipy.special.rel_entr:
        KL divergence D(x || y) of non-negative rows; inf where y is 0 and x > 0).
    out : ndarray of shape (n_samples_X, n_samples_Y), optional
        Written in place; must have the result's dtype.  Untouched if an
        argument is rejected; a call stopped by Ctrl-C (KeyboardInterrupt) may
        leave it partly written (the kernel writes into it directly).
    n_threads : int, optional
        Threads for this call (default: ``fastml.get_num_threads()``).
    p : float, optional
        Minkowski order (> 0, default 2; inf gives chebyshev).

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y), float32 for float32 input.
    """
    if not _profiler.ACTIVE:
        return _pairwise(X, Y, metric, out, n_threads, p)
    return _profiler.timed("pairwise_distances", _pairwise, (X, Y, metric, out, n_threads, p),
                           _pairwise_cost)


def _pairwise_cost(args, result):
    X, Y, metric, _, n_threads, _ = args
    rec = _cost(_ALIASES.get(metric, metric), X, Y, result)
    rec["threads"] = resolve_n_threads(n_threads)
    rec["metric"] = metric
    return rec


def _pairwise(X, Y, metric, out, n_threads, p):
    metric, p = _resolve_metric(metric, p)
    X, Y, symmetric = check_pair(X, Y, metric)
    nt = resolve_n_threads(n_threads)
    shape = (X.shape[0], Y.shape[0])
    target, copy_to = _output(out, shape, X.dtype, (X, Y))
    if target.size:
        _distance.pairwise(_distance.METRICS[metric], p, X, Y, target, symmetric, nt)
    if copy_to is not None:
        copy_to[...] = target
        return copy_to
    return target


# ---- kernels -------------------------------------------------------------------

def _gamma(gamma, n_features):
    if gamma is None:
        return 1.0 / n_features
    gamma = check_scalar(gamma, "gamma", float, min_val=0)
    if math.isnan(gamma) or math.isinf(gamma):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma}")
    return gamma


def _finite_scalar(value, name, **kw):
    value = check_scalar(value, name, float, **kw)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _kernel(kind, X, Y, gamma, coef0, degree, out, n_threads):
    X, Y, symmetric = check_pair(X, Y, "dot")
    nt = resolve_n_threads(n_threads)
    shape = (X.shape[0], Y.shape[0])
    target, copy_to = _output(out, shape, X.dtype, (X, Y))
    if target.size:
        _distance.kernel(_distance.KERNELS[kind], gamma, coef0, degree, X, Y, target, symmetric, nt)
    if copy_to is not None:
        copy_to[...] = target
        return copy_to
    return target


def _run_kernel(name, kind, X, Y, gamma, coef0, degree, out, n_threads):
    """Resolve gamma, then run (profiled when a profile is open)."""
    n_features = np.shape(X)[1] if np.ndim(X) == 2 and np.shape(X)[1] else 1
    if kind != "linear":
        gamma = _gamma(gamma, n_features)
    args = (kind, X, Y, gamma, coef0, degree, out, n_threads)
    if not _profiler.ACTIVE:
        return _kernel(*args)

    def cost(a, result):
        rec = _cost("dot", X, Y, result)
        rec["threads"] = resolve_n_threads(n_threads)
        return rec
    return _profiler.timed(name, _kernel, args, cost)


def linear_kernel(X, Y=None, dense_output=True, *, out=None, n_threads=None):
    """K[i, j] = <X[i], Y[j]> (scikit-learn's linear_kernel; always dense)."""
    return _run_kernel("linear_kernel", "linear", X, Y, 0.0, 0.0, 1.0, out, n_threads)


def polynomial_kernel(X, Y=None, degree=3, gamma=None, coef0=1, *, out=None, n_threads=None):
    """K[i, j] = (gamma <X[i], Y[j]> + coef0) ** degree; gamma None means 1 / n_features."""
    degree = _finite_scalar(degree, "degree", min_val=1)
    coef0 = _finite_scalar(coef0, "coef0")
    return _run_kernel("polynomial_kernel", "polynomial", X, Y, gamma, coef0, degree, out, n_threads)


def rbf_kernel(X, Y=None, gamma=None, *, out=None, n_threads=None):
    """K[i, j] = exp(-gamma ||X[i] - Y[j]||^2); gamma None means 1 / n_features.

    The squared distances are the accurate ones of ``pairwise_distances``."""
    return _run_kernel("rbf_kernel", "rbf", X, Y, gamma, 0.0, 1.0, out, n_threads)


def sigmoid_kernel(X, Y=None, gamma=None, coef0=1, *, out=None, n_threads=None):
    """K[i, j] = tanh(gamma <X[i], Y[j]> + coef0); gamma None means 1 / n_features."""
    coef0 = _finite_scalar(coef0, "coef0")
    return _run_kernel("sigmoid_kernel", "sigmoid", X, Y, gamma, coef0, 1.0, out, n_threads)
