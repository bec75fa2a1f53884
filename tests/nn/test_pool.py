"""max_pool2d / avg_pool2d / adaptive_avg_pool2d and their backward passes:
explicit-loop references, PyTorch, NaN and tie rules, threads, SIMD levels,
errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml.nn.functional as F
from tests import _reference as ref
from tests.conftest import tol

try:                # the NumPy references run everywhere; the PyTorch checks where it is installed
    import torch
    T = torch.nn.functional
except ImportError:
    torch = T = None


def _p(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# (input shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 9, 11), 3, 2, 1, 1, False),
    ((2, 3, 9, 11), 3, 2, 1, 1, True),
    ((1, 2, 7, 8), 2, None, 0, 1, False),
    ((2, 2, 10, 10), 3, 1, 1, 2, False),
    ((1, 17, 1, 1), 1, 1, 0, 1, False),
    ((2, 4, 5, 33), (2, 3), (1, 2), (1, 1), (2, 1), True),
    ((1, 3, 16, 16), 4, 3, 2, 1, True),
    ((1, 5, 12, 40), 3, 2, 0, 1, False),
    ((1, 2, 13, 75), 3, 2, 1, 1, False),       # rows of many vectors: plain loads inside
    ((1, 2, 6, 70), 3, 1, 1, 1, False),
]


@pytest.mark.parametrize("case", MAX_CASES, ids=[f"case{i}" for i in range(len(MAX_CASES))])
def test_max_pool2d_matches_reference_and_torch(case, dtype, simd_level, rng):
    xs, k, s, p, d, cm = case
    x = rng.standard_normal(xs).astype(dtype)
    y, idx = F.max_pool2d(x, k, s, p, d, cm, return_indices=True)
    ry, ridx = ref.max_pool2d(x, _p(k), _p(s if s is not None else k), _p(p), _p(d), cm)
    assert y.dtype == dtype and idx.dtype == np.int64
    assert_array_equal(y, ry)
    assert_array_equal(idx, ridx)
    assert_array_equal(F.max_pool2d(x, k, s, p, d, cm), y)
    if torch is not None:
        ty, tidx = T.max_pool2d(torch.from_numpy(x), k, s, p, d, cm, return_indices=True)
        assert_array_equal(y, ty.numpy())
        assert_array_equal(idx, tidx.numpy())


def test_max_pool2d_nan_ties_and_infinity(simd_level):
    x = np.zeros((1, 1, 4, 4), np.float32)                 # all ties: the first wins
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert_array_equal(idx[0, 0], [[0, 2], [8, 10]])
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 3, 3] = np.nan
    x[0, 0, 2, 2] = np.nan
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    # a NaN wins its window (its last NaN, like PyTorch); other windows as usual
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1
    assert y[0, 0, 0, 1] == 7 and idx[0, 0, 0, 1] == 7
    assert y[0, 0, 1, 0] == 13 and idx[0, 0, 1, 0] == 13
    assert np.isnan(y[0, 0, 1, 1]) and idx[0, 0, 1, 1] == 15
    assert_array_equal(F.max_pool2d(x, 2), y)                      # the no-index path too
    big = np.random.default_rng(5).standard_normal((2, 3, 20, 41)).astype(np.float32)
    big[1, 2, 7, 13] = np.nan
    for k, s, p in ((3, 2, 1), (2, 1, 0), (3, 1, 1)):
        got = F.max_pool2d(big, k, s, p)
        fin, _ = ref.max_pool2d(np.where(np.isnan(big), -np.inf, big), _p(k), _p(s), _p(p))
        nan = ref.max_pool2d(np.isnan(big).astype(np.float32), _p(k), _p(s), _p(p))[0] > 0
        assert_array_equal(np.isnan(got), nan)
        assert_array_equal(got[~nan], fin[~nan])
        if torch is not None:
            assert_array_equal(got, T.max_pool2d(torch.from_numpy(big), k, s, p).numpy())
    x = np.full((1, 1, 3, 3), -np.inf, np.float32)         # nothing beats -inf
    y, idx = F.max_pool2d(x, 3, 1, 1, return_indices=True)
    assert np.all(y == -np.inf)
    assert idx[0, 0, 0, 0] == 0 and idx[0, 0, 2, 2] == 4   # first real element of each window
    if torch is not None:
        ty, tidx = T.max_pool2d(torch.from_numpy(x), 3, 1, 1, return_indices=True)
        assert_array_equal(y, ty.numpy())
        assert_array_equal(idx, tidx.numpy())


AVG_CASES = [
    ((2, 3, 9, 11), 3, 2, 1, False, True, None),
    ((2, 3, 9, 11), 3, 2, 1, False, False, None),
    ((2, 3, 9, 11), 3, 2, 1, True, True, None),
    ((2, 3, 9, 11), 3, 2, 1, True, False, None),
    ((1, 4, 8, 8), 2, None, 0, False, True, None),
    ((1, 4, 7, 10), (3, 2), (2, 3), (1, 1), True, False, 5),
    ((2, 17, 5, 5), 5, 1, 2, False, True, None),
    ((1, 2, 1, 1), 1, 1, 0, False, True, None),
]


@pytest.mark.parametrize("case", AVG_CASES, ids=[f"case{i}" for i in range(len(AVG_CASES))])
def test_avg_pool2d_matches_reference_and_torch(case, dtype, simd_level, rng):
    xs, k, s, p, cm, cip, div = case
    x = rng.standard_normal(xs).astype(dtype)
    y = F.avg_pool2d(x, k, s, p, cm, cip, div)
    r = ref.avg_pool2d(x, _p(k), _p(s if s is not None else k), _p(p), cm, cip, div)
    assert y.dtype == dtype
    assert_allclose(y, r, **tol(dtype, np.prod(_p(k))))
    if torch is not None:
        t = T.avg_pool2d(torch.from_numpy(x), k, s, p, cm, cip, div).numpy()
        assert_allclose(y, t, **tol(dtype, np.prod(_p(k))))


@pytest.mark.parametrize("out", [1, 2, (3, 5), (7, 4), (9, 11), (None, 2)])
def test_adaptive_avg_pool2d_matches_reference_and_torch(out, dtype, rng):
    x = rng.standard_normal((2, 5, 9, 11)).astype(dtype)
    y = F.adaptive_avg_pool2d(x, out)
    full = tuple(9 if o is None else o for o in _p(out)) if not isinstance(out, int) else (out, out)
    assert y.shape == (2, 5) + full
    assert_allclose(y, ref.adaptive_avg_pool2d(x, full), **tol(dtype, 99))
    if torch is not None:
        t = T.adaptive_avg_pool2d(torch.from_numpy(x), out).numpy()
        assert t.shape == y.shape
        assert_allclose(y, t, **tol(dtype, 99))


def test_global_average_pool(rng):
    x = rng.standard_normal((3, 7, 13, 17)).astype(np.float32) + 100.0
    y = F.adaptive_avg_pool2d(x, 1)
    assert_allclose(y[:, :, 0, 0], x.astype(np.float64).mean(axis=(2, 3)), rtol=1e-6)


# ---- backward ------------------------------------------------------------------------

@pytest.mark.parametrize("case", MAX_CASES, ids=[f"case{i}" for i in range(len(MAX_CASES))])
def test_max_pool2d_backward_scatters_to_the_argmax(case, rng):
    xs, k, s, p, d, cm = case
    x = rng.standard_normal(xs)
    _, ridx = ref.max_pool2d(x, _p(k), _p(s if s is not None else k), _p(p), _p(d), cm)
    gy = rng.standard_normal(ridx.shape)
    want = np.zeros(x.shape)                    # each output's gradient to its window's argmax
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            np.add.at(want[n, c].reshape(-1), ridx[n, c].reshape(-1), gy[n, c].reshape(-1))
    gx = F.max_pool2d_backward(gy, x, k, s, p, d, cm)
    assert_allclose(gx, want, rtol=1e-12, atol=1e-12)
    _, idx = F.max_pool2d(x, k, s, p, d, cm, return_indices=True)
    assert_allclose(F.max_pool2d_backward(gy, x, k, s, p, d, cm, indices=idx), gx, rtol=0, atol=0)
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        T.max_pool2d(tx, k, s, p, d, cm).backward(torch.from_numpy(gy))
        assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", AVG_CASES, ids=[f"case{i}" for i in range(len(AVG_CASES))])
def test_avg_pool2d_backward_matches_finite_differences_and_torch(case, rng):
    xs, k, s, p, cm, cip, div = case
    x = rng.standard_normal(xs)
    gy = rng.standard_normal(F.avg_pool2d(x, k, s, p, cm, cip, div).shape)
    gx = F.avg_pool2d_backward(gy, x, k, s, p, cm, cip, div)
    dx = rng.standard_normal(x.shape)            # linear: the difference quotient is exact
    eps = 1e-3
    num = ((gy * F.avg_pool2d(x + eps * dx, k, s, p, cm, cip, div)).sum()
           - (gy * F.avg_pool2d(x - eps * dx, k, s, p, cm, cip, div)).sum()) / (2 * eps)
    assert num == pytest.approx((gx * dx).sum(), rel=1e-8, abs=1e-8)
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        T.avg_pool2d(tx, k, s, p, cm, cip, div).backward(torch.from_numpy(gy))
        assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("out", [1, (3, 5), (7, 4), (9, 11)])
def test_adaptive_avg_pool2d_backward_matches_finite_differences_and_torch(out, rng):
    x = rng.standard_normal((2, 3, 9, 11))
    gy = rng.standard_normal(F.adaptive_avg_pool2d(x, out).shape)
    gx = F.adaptive_avg_pool2d_backward(gy, x)
    for _ in range(3):                           # linear: the difference quotient is exact
        dx = rng.standard_normal(x.shape)
        num = ((gy * F.adaptive_avg_pool2d(x + dx, out)).sum()
               - (gy * F.adaptive_avg_pool2d(x - dx, out)).sum()) / 2
        assert num == pytest.approx((gx * dx).sum(), rel=1e-10, abs=1e-10)
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        T.adaptive_avg_pool2d(tx, out).backward(torch.from_numpy(gy))
        assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool2d_backward_finite_differences(rng):
    x = rng.permutation(2 * 3 * 8 * 9).reshape(2, 3, 8, 9).astype(np.float64)  # no ties
    gy = rng.standard_normal((2, 3, 4, 5))
    gx = F.max_pool2d_backward(gy, x, 3, 2, 1)
    dx = rng.standard_normal(x.shape)
    eps = 1e-4
    num = ((gy * F.max_pool2d(x + eps * dx, 3, 2, 1)).sum()
           - (gy * F.max_pool2d(x - eps * dx, 3, 2, 1)).sum()) / (2 * eps)
    assert num == pytest.approx((gx * dx).sum(), rel=1e-8)


def test_pool_threads_bitwise(rng):
    x = rng.standard_normal((4, 32, 60, 61)).astype(np.float32)
    for fn in (lambda t: F.max_pool2d(x, 3, 2, 1, return_indices=True, n_threads=t),
               lambda t: (F.avg_pool2d(x, 3, 2, 1, n_threads=t),),
               lambda t: (F.adaptive_avg_pool2d(x, (5, 7), n_threads=t),),
               lambda t: (F.max_pool2d_backward(x[:, :, :30, :31], x, 3, 2, 1, n_threads=t),),
               lambda t: (F.avg_pool2d_backward(x[:, :, :30, :31], x, 3, 2, 1, n_threads=t),)):
        a, b = fn(1), fn(2)
        assert all(p.tobytes() == q.tobytes() for p, q in zip(a, b))


def test_unbatched(rng):
    x = rng.standard_normal((1, 3, 8, 9)).astype(np.float32)
    assert_array_equal(F.max_pool2d(x[0], 2), F.max_pool2d(x, 2)[0])
    assert_array_equal(F.avg_pool2d(x[0], 2), F.avg_pool2d(x, 2)[0])
    assert_array_equal(F.adaptive_avg_pool2d(x[0], 3), F.adaptive_avg_pool2d(x, 3)[0])
    gy = rng.standard_normal((3, 4, 4)).astype(np.float32)
    assert_array_equal(F.max_pool2d_backward(gy, x[0], 2), F.max_pool2d_backward(gy[None], x, 2)[0])


@pytest.mark.parametrize("call,match", [
    (lambda x: F.max_pool2d(x, 3, 1, 2), "padding"),
    (lambda x: F.avg_pool2d(x, 2, 1, 2), "padding"),
    (lambda x: F.max_pool2d(x, 0), "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, 0), "stride"),
    (lambda x: F.max_pool2d(x, 2, padding=-1), "padding"),
    (lambda x: F.max_pool2d(x, 9), "output size"),
    (lambda x: F.max_pool2d(x[0, 0], 2), "input must be 4-D"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), "output_size"),
    (lambda x: F.adaptive_avg_pool2d(x, (1, 2, 3)), "output_size"),
    (lambda x: F.max_pool2d_backward(np.zeros((2, 3, 2, 2)), x, 2), "grad_output"),
    (lambda x: F.max_pool2d_backward(np.zeros((2, 3, 3, 3)), x, 2,
                                     indices=np.zeros((2, 3, 2, 2), np.int64)), "indices"),
    (lambda x: F.max_pool2d_backward(np.zeros((2, 3, 3, 3)), x, 2,
                                     indices=np.full((2, 3, 3, 3), 99, np.int64)), "indices"),
    (lambda x: F.adaptive_avg_pool2d_backward(np.zeros((2, 3, 2)), x), "grad_output"),
])
def test_errors(call, match):
    x = np.zeros((2, 3, 7, 7), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x)
