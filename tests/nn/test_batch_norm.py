"""batch_norm (inference and training, running statistics) and relu against
the NumPy reference and PyTorch; threads, SIMD levels, errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml.nn.functional as F
from tests import _reference as ref
from tests.conftest import tol

try:                # the NumPy references run everywhere; the PyTorch checks where it is installed
    import torch
except ImportError:
    torch = None


def _params(rng, c, dtype):
    return (rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5,
            rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 17), (3, 9, 11), (1, 16, 1, 1), (2, 5, 3, 4, 2)])
def test_inference_matches_reference_and_torch(shape, dtype, simd_level, rng):
    x = rng.standard_normal(shape).astype(dtype)
    mean, var, w, b = _params(rng, shape[1], dtype)
    y = F.batch_norm(x, mean, var, w, b, eps=1e-3)
    assert y.dtype == dtype and y.shape == x.shape
    assert_allclose(y, ref.batch_norm(x, mean, var, w, b, eps=1e-3), **tol(dtype, 4))
    if torch is not None:
        t = torch.nn.functional.batch_norm(torch.from_numpy(x), torch.from_numpy(mean),
                                           torch.from_numpy(var), torch.from_numpy(w),
                                           torch.from_numpy(b), False, 0.1, 1e-3).numpy()
        assert_allclose(y, t, **tol(dtype, 4))
    yr = F.batch_norm(x, mean, var, w, b, eps=1e-3, activation="relu")
    assert_array_equal(yr, np.where(y > 0, y, 0))
    assert_allclose(F.batch_norm(x, mean, var), ref.batch_norm(x, mean, var), **tol(dtype, 4))


@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (8, 17), (3, 9, 11)])
def test_training_matches_torch_and_updates_running_stats(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    mean, var, w, b = _params(rng, shape[1], dtype)
    rm, rv = mean.copy(), var.copy()
    y, bm, bv = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, return_stats=True)
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]
    assert_allclose(bm, x.astype(np.float64).mean(axis=axes), rtol=1e-12, atol=1e-12)
    assert_allclose(bv, x.astype(np.float64).var(axis=axes), rtol=1e-10)
    assert_allclose(y, ref.batch_norm(x, bm, bv, w, b), **tol(dtype, 64))
    # running statistics: momentum-weighted, the variance unbiased (PyTorch's rule)
    assert_allclose(rm, 0.8 * mean.astype(np.float64) + 0.2 * bm, **tol(dtype, 64))
    assert_allclose(rv, 0.8 * var.astype(np.float64) + 0.2 * bv * count / (count - 1), **tol(dtype, 64))
    if torch is not None:
        tm, tv = torch.from_numpy(mean.copy()), torch.from_numpy(var.copy())
        t = torch.nn.functional.batch_norm(torch.from_numpy(x), tm, tv, torch.from_numpy(w),
                                           torch.from_numpy(b), True, 0.2, 1e-5).numpy()
        assert_allclose(y, t, **tol(dtype, 64))
        assert_allclose(rm, tm.numpy(), **tol(dtype, 64))
        assert_allclose(rv, tv.numpy(), **tol(dtype, 64))
    # without running statistics: only normalises
    y2 = F.batch_norm(x, None, None, w, b, training=True)
    assert_allclose(y2, y, rtol=0, atol=0)


def test_training_statistics_are_float64_and_thread_independent(rng):
    x = (rng.standard_normal((16, 8, 40, 40)) * 1e-3 + 1e4).astype(np.float32)
    outs = []
    for nt in (1, 2):
        rm, rv = np.zeros(8), np.ones(8)
        outs.append(F.batch_norm(x, rm, rv, training=True, return_stats=True, n_threads=nt) + (rm, rv))
    for a, b in zip(*outs):
        assert a.tobytes() == b.tobytes()
    # two-pass float64 variance stays accurate far from the origin
    assert_allclose(outs[0][2], x.astype(np.float64).var(axis=(0, 2, 3)), rtol=1e-9)


def test_relu(dtype, simd_level, rng):
    x = rng.standard_normal((3, 4, 5, 6)).astype(dtype)
    x[0, 0, 0, :3] = [np.nan, np.inf, -np.inf]
    y = F.relu(x)
    t = np.maximum(x, 0)                          # NaN stays NaN, as in PyTorch
    assert_array_equal(y, t)
    if torch is not None:
        assert_array_equal(y, torch.relu(torch.from_numpy(x)).numpy())
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == np.inf and y[0, 0, 0, 2] == 0
    z = x.copy()
    assert F.relu(z, inplace=True) is z
    assert_array_equal(z, t)
    v = x.copy()[:, :, ::2]                       # non-contiguous in place
    F.relu(v, inplace=True)
    assert_array_equal(v, t[:, :, ::2])
    big = rng.standard_normal(300_000).astype(dtype)
    assert F.relu(big, n_threads=1).tobytes() == F.relu(big, n_threads=2).tobytes()


@pytest.mark.parametrize("call,exc,match", [
    (lambda x, p: F.batch_norm(x, None, None), ValueError, "running_mean"),
    (lambda x, p: F.batch_norm(x, p[:2], p), ValueError, "running_mean"),
    (lambda x, p: F.batch_norm(x, p, p, weight=p[:1]), ValueError, "weight"),
    (lambda x, p: F.batch_norm(x[:1, :, :1, :1], p, p.copy(), training=True), ValueError, "more than 1"),
    (lambda x, p: F.batch_norm(x[0, 0, 0], p, p), ValueError, "input"),
    (lambda x, p: F.batch_norm(x, p, p, eps=-1.0), ValueError, "eps"),
    (lambda x, p: F.batch_norm(x, p, p, momentum=2.0), ValueError, "momentum"),
    (lambda x, p: F.batch_norm(x, p, p, activation="tanh"), ValueError, "activation"),
    (lambda x, p: F.batch_norm(x, list(p), p.copy(), training=True), TypeError, "running_mean"),
    (lambda x, p: F.relu(x.astype(np.int64), inplace=True), TypeError, "inplace"),
])
def test_errors(call, exc, match):
    x = np.zeros((2, 3, 4, 4), np.float32)
    p = np.ones(3, np.float32)
    with pytest.raises(exc, match=match):
        call(x, p)
