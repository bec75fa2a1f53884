"""Exact nearest-neighbour search: ``knn`` and ``radius_neighbors``.

Both stream tiles of distances (the fused GEMM for the euclidean family,
cosine, dot and kl; a direct register-tiled kernel for the others) through a
reduction that keeps, per query row, a top-k heap or the entries within the
radius.  Memory is O(len(X) * k) plus the packed copy of Y: it does not grow
with len(X) * len(Y).

Exactness: for the GEMM metrics each row keeps extra candidates, re-ranks
them with distances recomputed from the differences in float64, and falls
back to an exact scan of the row when the error bound of the GEMM expansion
cannot separate its k-th neighbour from the rest.  Ties are broken by the
smaller index.  Results are bit-identical for any thread count.

On CPUs with AMX-BF16 (Sapphire Rapids and later, Linux), knn over the
euclidean family, cosine and dot with n_features >= 32 proposes its candidates
from bf16 tile products carrying rigorous error bounds (about 16x the float32
FMA rate); on AVX2 CPUs (no AVX-512) it takes them from int8 products of
7-bit per-row quantised rows with Cauchy-Schwarz error bounds (about twice the
float32 FMA rate; 32 <= n_features <= 4096).  The exact re-rank makes the
result identical to the float path.
"""
import math
import numbers

import numpy as np

from fastml import _profiler
from fastml._lib import _distance
from fastml._threads import resolve_n_threads
from fastml._validation import check_scalar
from fastml.metrics.pairwise import _GEMM_METRICS, _resolve_metric, check_pair


def _check_k(k, n_samples_Y):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n_samples_Y:
        raise ValueError(f"k must be <= len(Y) = {n_samples_Y}, got {k}")
    return k


def knn(X, Y, k, metric="euclidean", *, p=None, n_threads=None):
    """The k nearest rows of Y for each row of X.

    Parameters
    ----------
    X : array_like of shape (n_queries, n_features)
    Y : array_like of shape (n_samples, n_features)
    k : int, 1 <= k <= n_samples
    metric : str
        Any metric of ``fastml.metrics.pairwise_distances``; for 'dot' (a
        similarity) the largest inner products are the nearest.
    p : float, optional
        Minkowski order (> 0, default 2).
    n_threads : int, optional

    Returns
    -------
    distances : ndarray of shape (n_queries, k), the dtype of the input
        Sorted nearest first (largest first for 'dot').
    indices : ndarray of shape (n_queries, k), int64
        Row numbers in Y; ties are broken by the smaller index.
    """
    if not _profiler.ACTIVE:
        return _knn(X, Y, k, metric, p, n_threads)
    return _profiler.timed("knn", _knn, (X, Y, k, metric, p, n_threads), _knn_cost)


def _knn_cost(args, result):
    X, Y, k, metric, _, n_threads = args
    m, d = np.shape(X)
    n = np.shape(Y)[0]
    dist = result[0]
    item = dist.itemsize
    per = 2.0 if metric in _GEMM_METRICS else 3.0
    return dict(shapes=(np.shape(X), np.shape(Y)), dtype=str(dist.dtype),
                threads=resolve_n_threads(n_threads), metric=metric, k=k,
                flops=per * m * n * d, bytes=float((m * d + n * d) * item + m * k * (item + 8)))


def _knn(X, Y, k, metric, p, n_threads):
    metric, p = _resolve_metric(metric, p)
    if Y is None:
        raise TypeError("Y must be an array (the rows to search), got None")
    X, Y, _ = check_pair(X, Y, metric)
    k = _check_k(k, Y.shape[0])
    nt = resolve_n_threads(n_threads)
    dist = np.empty((X.shape[0], k), dtype=X.dtype)
    ind = np.empty((X.shape[0], k), dtype=np.int64)
    if X.shape[0]:
        _distance.knn(_distance.METRICS[metric], p, X, Y, k, dist, ind, nt)
    return dist, ind


def radius_neighbors(X, Y, radius, metric="euclidean", *, p=None, n_threads=None):
    """The rows of Y within ``radius`` of each row of X, in CSR form.

    Parameters
    ----------
    X : array_like of shape (n_queries, n_features)
    Y : array_like of shape (n_samples, n_features)
    radius : float
        Keep distance <= radius (>= 0); for 'dot', keep similarity >= radius.
    metric, p, n_threads : as for ``knn``.

    Returns
    -------
    indptr : ndarray of shape (n_queries + 1,), int64
    indices : ndarray of shape (indptr[-1],), int64
    distances : ndarray of shape (indptr[-1],), the dtype of the input
        Row i's neighbours are ``indices[indptr[i]:indptr[i+1]]``, sorted by
        distance (largest similarity first for 'dot'), ties by index.
    """
    if not _profiler.ACTIVE:
        return _radius(X, Y, radius, metric, p, n_threads)
    return _profiler.timed("radius_neighbors", _radius, (X, Y, radius, metric, p, n_threads),
                           _radius_cost)


def _radius_cost(args, result):
    X, Y, radius, metric, _, n_threads = args
    m, d = np.shape(X)
    n = np.shape(Y)[0]
    item = result[2].itemsize
    per = 2.0 if metric in _GEMM_METRICS else 3.0
    return dict(shapes=(np.shape(X), np.shape(Y)), dtype=str(result[2].dtype),
                threads=resolve_n_threads(n_threads), metric=metric, flops=per * m * n * d,
                bytes=float((m * d + n * d) * item + result[1].size * (item + 8)))


def _radius(X, Y, radius, metric, p, n_threads):
    metric, p = _resolve_metric(metric, p)
    if Y is None:
        raise TypeError("Y must be an array (the rows to search), got None")
    radius = check_scalar(radius, "radius", float, min_val=None if metric == "dot" else 0)
    if math.isnan(radius):
        raise ValueError("radius must be a number, got nan")
    X, Y, _ = check_pair(X, Y, metric)
    nt = resolve_n_threads(n_threads)
    if X.shape[0] == 0 or Y.shape[0] == 0:
        return (np.zeros(X.shape[0] + 1, dtype=np.int64), np.empty(0, dtype=np.int64),
                np.empty(0, dtype=X.dtype))
    return _distance.radius(_distance.METRICS[metric], p, X, Y, radius, nt)
