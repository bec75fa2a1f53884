"""Fuzz: fastml.linalg, fastml.metrics, fastml.neighbors functions."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from numpy.testing import assert_allclose

from fastml import linalg, metrics, neighbors
from tests import _reference as ref
from tests.fuzz._contract import FLOATS, arrays, call, finite_float, no_new_nan, tol

# public name -> the test that drives it (200 generated cases each)
COVERS = {"fastml.linalg.matmul": "test_matmul",
          "fastml.metrics.pairwise_distances": "test_pairwise_distances",
          "fastml.metrics.linear_kernel": "test_kernels", "fastml.metrics.polynomial_kernel": "test_kernels",
          "fastml.metrics.rbf_kernel": "test_kernels", "fastml.metrics.sigmoid_kernel": "test_kernels",
          "fastml.neighbors.knn": "test_knn", "fastml.neighbors.radius_neighbors": "test_radius_neighbors"}

dims = st.integers(0, 9)
METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine", "dot",
           "kl", "l2", "nope"]


@given(st.data())
def test_matmul(data):
    m, k, n = data.draw(dims), data.draw(dims), data.draw(dims)
    k2 = k if data.draw(st.integers(0, 5)) else data.draw(dims)          # sometimes mismatched
    a = data.draw(arrays((m, k)))
    b = data.draw(arrays((k2, n)))
    if data.draw(st.integers(0, 6)) == 0:                               # wrong or batched rank
        a = a.reshape((1,) * data.draw(st.integers(0, 2)) + a.shape)
    out = None
    if data.draw(st.booleans()):
        out = np.full((m, n), 7.0, dtype=data.draw(st.sampled_from(FLOATS)))
    before = None if out is None else out.copy()
    res, err = call(linalg.matmul, a, b, out=out, n_threads=data.draw(st.sampled_from([1, 2, None])))
    if err is not None:
        if out is not None:
            assert np.array_equal(out, before), "out= written before an error"
        return
    assert res.shape[-2:] == (a.shape[-2], b.shape[-1])
    if finite_float(a, b):
        expect = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert_allclose(res, expect, **tol(res.dtype, k))
    no_new_nan(res, a, b)


def _pair_inputs(data):
    m, n, d = data.draw(dims), data.draw(dims), data.draw(st.integers(0, 7))
    d2 = d if data.draw(st.integers(0, 6)) else data.draw(st.integers(0, 7))
    X = data.draw(arrays((m, d)))
    Y = None if data.draw(st.integers(0, 3)) == 0 else data.draw(arrays((n, d2)))
    return X, Y


@given(st.data())
def test_pairwise_distances(data):
    X, Y = _pair_inputs(data)
    metric = data.draw(st.sampled_from(METRICS))
    if metric == "kl" and data.draw(st.booleans()):                      # probability rows
        X = np.abs(X) if X.dtype.kind == "f" else X
        Y = np.abs(Y) if Y is not None and Y.dtype.kind == "f" else Y
    p = data.draw(st.sampled_from([None, 1, 2, 3, 1.5, 0.5, -1])) if metric == "minkowski" else None
    out = None
    if data.draw(st.integers(0, 3)) == 0:
        out = np.full((X.shape[0], (X if Y is None else Y).shape[0]), 7.0, np.float64)
    before = None if out is None else out.copy()
    res, err = call(metrics.pairwise_distances, X, Y, metric=metric, out=out, p=p,
                    n_threads=data.draw(st.sampled_from([1, 2])), extra_names=["metric", "p"])
    if err is not None:
        if out is not None:
            assert np.array_equal(out, before), "out= written before an error"
        return
    no_new_nan(res, X, Y)
    finite = res[np.isfinite(res)]
    if metric != "dot":
        assert (finite >= 0).all(), "negative distance"
    if metric == "cosine":
        assert (finite <= 2).all()
    Yr = X if Y is None else Y
    if finite_float(X, Yr) and metric not in ("kl",) and X.shape[1] > 0:
        name = "euclidean" if metric == "l2" else metric
        expect = ref.pairwise_distances(X.astype(np.float64), Yr.astype(np.float64), name,
                                        p=2.0 if p is None else float(p))
        scale = max(1.0, float(np.abs(expect).max(initial=0)))
        assert_allclose(res, expect, **tol(res.dtype, X.shape[1], big=scale))


KERNELS = {"linear": metrics.linear_kernel, "polynomial": metrics.polynomial_kernel,
           "rbf": metrics.rbf_kernel, "sigmoid": metrics.sigmoid_kernel}


@pytest.mark.parametrize("kind", list(KERNELS))
@given(data=st.data())
def test_kernels(kind, data):
    X, Y = _pair_inputs(data)
    kw = {}
    if kind != "linear":
        kw["gamma"] = data.draw(st.sampled_from([None, 0.1, 1.0, 0.0, -1.0, np.nan]))
    if kind in ("polynomial", "sigmoid"):
        kw["coef0"] = data.draw(st.sampled_from([0.0, 1.0, -2.5]))
    if kind == "polynomial":
        kw["degree"] = data.draw(st.sampled_from([1, 2, 3, 0, -1, 2.5]))
    res, err = call(KERNELS[kind], X, Y, **kw)
    if err is not None:
        return
    if float(kw.get("degree", 1)).is_integer():        # (negative base) ** 2.5 is NaN, as in sklearn
        no_new_nan(res, X, Y)
    Yr = X if Y is None else Y
    if finite_float(X, Yr) and X.shape[1] > 0 and kind != "polynomial":
        expect = ref.kernel(X.astype(np.float64), Yr.astype(np.float64), kind, **kw)
        scale = max(1.0, float(np.abs(expect).max(initial=0)))
        assert_allclose(res, expect, **tol(res.dtype, X.shape[1], big=scale))


@given(st.data())
def test_knn(data):
    X, Y = _pair_inputs(data)
    Y = X if Y is None else Y
    metric = data.draw(st.sampled_from(METRICS))
    k = data.draw(st.sampled_from([1, 2, 3, 0, -1, 50, 2.5, None]))
    res, err = call(neighbors.knn, X, Y, k, metric=metric, extra_names=["k", "metric"])
    if err is not None:
        return
    dist, idx = res
    assert dist.shape == idx.shape == (X.shape[0], k)
    assert ((idx >= 0) & (idx < Y.shape[0])).all()
    no_new_nan(dist, X, Y)
    if metric != "dot":
        fin = dist[np.isfinite(dist)]
        assert (fin >= 0).all()
    if finite_float(X, Y) and metric not in ("kl", "dot") and X.shape[1] > 0:
        name = "euclidean" if metric == "l2" else metric
        full = ref.pairwise_distances(X.astype(np.float64), Y.astype(np.float64), name)
        expect = np.sort(full, axis=1)[:, :k]
        scale = max(1.0, float(np.abs(full).max(initial=0)))
        assert_allclose(dist, expect, **tol(dist.dtype, X.shape[1], big=scale))
        # each reported index is at the reported distance
        assert_allclose(np.take_along_axis(full, idx, 1), dist, **tol(dist.dtype, X.shape[1], big=scale))


@given(st.data())
def test_radius_neighbors(data):
    X, Y = _pair_inputs(data)
    Y = X if Y is None else Y
    metric = data.draw(st.sampled_from(METRICS))
    radius = data.draw(st.sampled_from([0.0, 0.5, 2.0, 10.0, -1.0, np.nan, np.inf]))
    res, err = call(neighbors.radius_neighbors, X, Y, radius, metric=metric,
                    extra_names=["radius", "metric"])
    if err is not None:
        return
    indptr, idx, dist = res
    assert indptr.shape == (X.shape[0] + 1,) and indptr[0] == 0 and indptr[-1] == idx.size
    assert (np.diff(indptr) >= 0).all()
    assert ((idx >= 0) & (idx < Y.shape[0])).all()
    for i in range(X.shape[0]):
        row = dist[indptr[i]:indptr[i + 1]]
        assert (np.diff(row) >= 0).all(), "radius row not sorted"
        if metric != "dot":
            assert (row[np.isfinite(row)] >= 0).all()
    if finite_float(X, Y) and metric in ("euclidean", "sqeuclidean", "manhattan") and X.shape[1]:
        full = ref.pairwise_distances(X.astype(np.float64), Y.astype(np.float64), metric)
        inside = full <= radius * (1 - 1e-3) - 1e-3
        counts = np.diff(indptr)
        assert (counts >= inside.sum(axis=1)).all(), "a point well inside the radius is missing"
