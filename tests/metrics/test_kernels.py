"""Kernel (Gram) matrices against NumPy references and scikit-learn."""
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import pairwise as skp

import fastml
from fastml.metrics import linear_kernel, polynomial_kernel, rbf_kernel, sigmoid_kernel
from fastml.metrics import pairwise as fmp
from tests import _reference as ref
from tests.conftest import tol

KERNELS = {"linear": linear_kernel, "polynomial": polynomial_kernel, "rbf": rbf_kernel,
           "sigmoid": sigmoid_kernel}
SHAPES = [(1, 1, 1), (7, 9, 3), (17, 33, 15), (65, 257, 33), (130, 70, 64)]


def _xy(rng, m, n, d, dtype):
    # scaled so that the kernels are neither saturated nor trivial
    return ((rng.standard_normal((m, d)) / np.sqrt(d)).astype(dtype),
            (rng.standard_normal((n, d)) / np.sqrt(d)).astype(dtype))


@pytest.mark.parametrize("kind", KERNELS)
@pytest.mark.parametrize("m,n,d", SHAPES)
def test_matches_reference(kind, m, n, d, dtype, simd_level, rng):
    X, Y = _xy(rng, m, n, d, dtype)
    K = KERNELS[kind](X, Y)
    assert K.dtype == dtype and K.shape == (m, n)
    t = tol(dtype, d)
    assert_allclose(K, ref.kernel(X, Y, kind), rtol=t["rtol"], atol=t["atol"])


@pytest.mark.parametrize("kind,kw", [("linear", {}), ("polynomial", {"degree": 2, "gamma": 0.5, "coef0": 0.3}),
                                     ("polynomial", {}), ("rbf", {"gamma": 2.0}), ("rbf", {}),
                                     ("sigmoid", {"gamma": 0.1, "coef0": -1.0}), ("sigmoid", {})])
def test_agrees_with_sklearn(kind, kw, rng):
    X, Y = _xy(rng, 40, 30, 12, np.float64)
    ours = KERNELS[kind](X, Y, **kw)
    theirs = getattr(skp, f"{kind}_kernel")(X, Y, **kw)
    assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    ours32 = KERNELS[kind](X.astype(np.float32), **kw)
    assert ours32.dtype == np.float32
    assert_allclose(ours32, getattr(skp, f"{kind}_kernel")(X, **kw), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KERNELS)
def test_self_is_symmetric_and_threads_bitwise(kind, rng):
    X, _ = _xy(rng, 301, 1, 37, np.float32)
    K1 = KERNELS[kind](X, n_threads=1)
    K2 = KERNELS[kind](X, n_threads=2)
    assert K1.tobytes() == K2.tobytes()
    assert np.array_equal(K1, K1.T)
    if kind == "rbf":
        assert np.all(np.diag(K1) == 1)


def test_rbf_far_from_origin_float32(rng):
    X = (1e4 + rng.standard_normal((100, 32))).astype(np.float32)
    K = rbf_kernel(X, gamma=0.05)
    expect = np.exp(-0.05 * ref.pairwise_distances(X, X, "sqeuclidean"))
    assert_allclose(K, expect, rtol=1e-3, atol=1e-6)


def test_out_argument(rng):
    X, Y = _xy(rng, 10, 12, 5, np.float64)
    out = np.zeros((10, 12))
    assert rbf_kernel(X, Y, out=out) is out
    assert_allclose(out, ref.kernel(X, Y, "rbf"))


@pytest.mark.parametrize("call,exc,match", [
    (lambda X: rbf_kernel(X, gamma=-1.0), ValueError, "gamma must be >= 0"),
    (lambda X: rbf_kernel(X, gamma=float("nan")), ValueError, "gamma"),
    (lambda X: polynomial_kernel(X, degree=0.5), ValueError, "degree must be >= 1"),
    (lambda X: sigmoid_kernel(X, coef0=float("inf")), ValueError, "coef0 must be finite"),
    (lambda X: polynomial_kernel(X, coef0="a"), TypeError, "coef0"),
    (lambda X: linear_kernel(X, np.ones((2, 3))), ValueError, "features"),
    (lambda X: rbf_kernel(np.where(X > 0, np.inf, X)), ValueError, "X contains infinity"),
])
def test_errors(call, exc, match, rng):
    X = rng.standard_normal((5, 4))
    with pytest.raises(exc, match=match):
        call(X)


def test_module_exports_and_profile(rng):
    assert fmp.rbf_kernel is rbf_kernel and fastml.metrics.pairwise is fmp
    X = rng.standard_normal((20, 6)).astype(np.float32)
    with fastml.profile() as prof:
        rbf_kernel(X)
    (rec,) = prof.records
    assert rec["name"] == "rbf_kernel" and rec["flops"] == 2.0 * 20 * 20 * 6
