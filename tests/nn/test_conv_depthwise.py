"""Depthwise 3x3 'same' convolution (pad 1, stride 1): the flat-plane kernel
against the NumPy reference and against the row kernel, without PyTorch (so
the sanitizer run covers it)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml.nn.functional as F
from tests import _reference as ref
from tests.conftest import tol

# (h, w): one pixel, one row, one column, rows shorter than a vector, rows not
# a multiple of it, the bench's 28x28, the largest plane of the flat kernel
# (128 x 128 = 16384 pixels) and one past it (the row kernel)
SHAPES = [(1, 1), (1, 9), (9, 1), (2, 3), (3, 3), (5, 7), (7, 7), (4, 8), (14, 14), (28, 28),
          (9, 33), (3, 257), (128, 128), (129, 129)]


def _dw(rng, dtype, n, c, h, w, mult=1):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((c * mult, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(c * mult).astype(dtype)
    return x, wt, b


@pytest.mark.parametrize("hw", SHAPES, ids=[f"{h}x{w}" for h, w in SHAPES])
@pytest.mark.parametrize("act", [None, "relu"])
def test_same_depthwise_matches_reference(hw, act, dtype, simd_level, rng):
    h, w = hw
    c = 3 if h * w > 1000 else 5
    x, wt, b = _dw(rng, dtype, 2, c, h, w)
    y = F.conv2d(x, wt, b, padding=1, groups=c, activation=act)
    r = ref.conv2d(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64),
                   pads=((1, 1), (1, 1)), groups=c)
    if act == "relu":
        r = np.maximum(r, 0)
    assert y.dtype == dtype and y.shape == x.shape
    assert_allclose(y, r, **tol(dtype, 9))
    # the same sums, in the same order, as the row kernel on explicitly padded
    # input (whose output is not 'same', so it never takes the flat kernel)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert np.array_equal(y, F.conv2d(xp, wt, b, padding=0, groups=c, activation=act))


def test_same_depthwise_threads_and_multiplier_bitwise(dtype, rng):
    # 4 x 64 x 2 = 512 output planes: 7.2e6 flops, above the 2e6 per thread a
    # call needs before it takes a second thread
    x, wt, b = _dw(rng, dtype, 4, 64, 28, 28, mult=2)
    one = F.conv2d(x, wt, b, padding=1, groups=64, n_threads=1)
    two = F.conv2d(x, wt, b, padding=1, groups=64, n_threads=2)
    assert np.array_equal(one, two)
    assert_allclose(one, ref.conv2d(x, wt, b, pads=((1, 1), (1, 1)), groups=64), **tol(dtype, 9))


def test_same_depthwise_non_contiguous_and_special_values(rng):
    x, wt, b = _dw(rng, np.float32, 2, 4, 11, 13)
    xt = np.asfortranarray(x)
    assert np.array_equal(F.conv2d(xt, wt, b, padding=1, groups=4),
                          F.conv2d(x, wt, b, padding=1, groups=4))
    x[0, 1, 5, 0] = np.nan                 # column 0: read by the left-column taps
    x[1, 2, 0, 12] = np.inf                # corner: the right taps of the next row must not see it
    y = F.conv2d(x, wt, None, padding=1, groups=4)
    r = ref.conv2d(x.astype(np.float64), wt.astype(np.float64), None, pads=((1, 1), (1, 1)), groups=4)
    assert np.array_equal(np.isnan(y), np.isnan(r))
    assert np.array_equal(np.isinf(y), np.isinf(r))
    fin = np.isfinite(r)
    assert_allclose(y[fin], r[fin], **tol(np.float32, 9))
