"""The packed-pixel tile (zero-copy convolutions: stride 1, no padding, e.g.
every 1x1): against the NumPy reference and bit for bit against the flat tile
it replaces; and the stride-2 Winograd pass whose products run on it (the
stride-1 one is in test_conv.py)."""
import contextlib

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml
import fastml.nn.functional as F
from fastml._lib import _conv
from fastml.nn.functional._conv import _algorithm
from tests import _reference as ref
from tests.conftest import tol
from tests.nn.test_conv import _check, _make

# (input, weight, groups)
CASES = [
    ((2, 7, 17, 15), (9, 7, 1, 1), 1),        # odd channels and pixels
    ((1, 16, 1, 23), (6, 16, 1, 1), 1),       # one row, one full tile of channels (avx2)
    ((1, 1, 1, 1), (5, 1, 1, 1), 1),          # one pixel, one input channel
    ((1, 600, 7, 7), (300, 600, 1, 1), 1),    # several tap blocks and weight blocks
    ((2, 8, 9, 9), (16, 4, 1, 1), 2),         # grouped
    ((3, 40, 3, 50), (13, 40, 3, 1), 1),      # 3x1: flat pixels are still output pixels
    ((2, 5, 6, 7), (7, 5, 2, 3), 1),          # 2x3 'valid': pad columns, the C tile
    ((1, 33, 12, 20), (40, 33, 3, 2), 1),     # 3x2 'valid', 33 channels
]
IDS = ["odd", "row", "pixel", "blocks", "grouped", "3x1", "2x3", "3x2valid"]


@contextlib.contextmanager
def _packed(on):
    before = _conv.set_packed(on)
    try:
        yield
    finally:
        _conv.set_packed(before)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("act", [None, "relu"])
def test_packed_matches_reference_and_flat_tile(case, act, dtype, simd_level, rng):
    xs, ws, groups = case
    assert _algorithm(xs, ws, groups=groups, dtype=dtype) == "packed"
    x, w, b = _make(rng, dtype, xs, ws)
    for bias in (b, None):
        y = F.conv2d(x, w, bias, groups=groups, activation=act)
        r = ref.conv2d(x, w, bias, groups=groups)
        if act == "relu":
            r = np.maximum(r, 0)
        assert y.dtype == dtype and y.shape == r.shape
        assert_allclose(y, r, **tol(dtype, np.prod(ws[1:])))
        with _packed(False):
            assert _algorithm(xs, ws, groups=groups, dtype=dtype) == "flat"
            yf = F.conv2d(x, w, bias, groups=groups, activation=act)
        assert y.tobytes() == yf.tobytes()


# band copies (padding or stride) with thousands of taps per output pack too
# (9 output channels: the channels-in-lanes tile would waste lanes, Winograd
# needs 16): (input, weight, stride, padding, dilation)
BAND_CASES = [
    ((1, 342, 9, 9), (9, 342, 3, 3), 2, 1, 1),      # 3078 taps, stride 2
    ((2, 350, 6, 7), (9, 350, 3, 3), 1, 1, 1),      # stride 1 'same'
    ((1, 100, 11, 12), (9, 100, 6, 6), 2, 2, 1),    # 3600 taps of a 6x6
    ((1, 345, 8, 9), (9, 345, 3, 3), 1, 2, 2),      # dilation 2
]


@pytest.mark.parametrize("case", BAND_CASES, ids=["s2", "same", "6x6", "dilated"])
def test_packed_band_copy_matches_reference_and_flat_tile(case, dtype, simd_level, rng):
    xs, ws, stride, padding, dilation = case
    assert _algorithm(xs, ws, stride, padding, dilation, dtype=dtype) == "packed"
    x, w, b = _make(rng, dtype, xs, ws)
    y = _check(x, w, b, stride, padding, dilation, 1, dtype, activation="relu", n_threads=1)
    y2 = F.conv2d(x, w, b, stride, padding, dilation, activation="relu", n_threads=2)
    assert y.tobytes() == y2.tobytes()
    with _packed(False):
        assert _algorithm(xs, ws, stride, padding, dilation, dtype=dtype) == "flat"
        yf = F.conv2d(x, w, b, stride, padding, dilation, activation="relu")
    assert y.tobytes() == yf.tobytes()


def test_packed_threads_bitwise(rng):
    x, w, b = _make(rng, np.float32, (4, 64, 20, 21), (24, 64, 1, 1))
    y1 = F.conv2d(x, w, b, n_threads=1)
    y2 = F.conv2d(x, w, b, n_threads=2)
    with fastml.threads(2):
        y3 = F.conv2d(x, w, b)
    assert y1.tobytes() == y2.tobytes() == y3.tobytes()
    with _packed(False):
        assert F.conv2d(x, w, b, n_threads=2).tobytes() == y1.tobytes()


def test_packed_keeps_nan_and_inf(rng):
    x, w, b = _make(rng, np.float32, (1, 20, 5, 19), (7, 20, 1, 1))
    x[0, 3, 2, 4] = np.nan
    x[0, 5, 4, 18] = np.inf
    y = F.conv2d(x, w, b, activation="relu")
    with _packed(False):
        yf = F.conv2d(x, w, b, activation="relu")
    assert np.isnan(y[0, :, 2, 4]).all()
    assert y.tobytes() == yf.tobytes()
    ok = np.ones(y.shape, bool)
    ok[0, :, 2, 4] = False
    ok[0, :, 4, 18] = False
    r = np.maximum(ref.conv2d(x, w, b), 0)
    assert_allclose(y[ok], r[ok], **tol(np.float32, 20))


def test_packed_data_gradient(dtype, rng):
    """The data gradient of a 1x1 stride-1 convolution is a zero-copy pass too."""
    x, w, _ = _make(rng, dtype, (2, 24, 9, 13), (10, 24, 1, 1))
    gy = rng.standard_normal((2, 10, 9, 13)).astype(dtype)
    gx, gw, gb = F.conv2d_backward(gy, x, w)
    rx, rw, rb = ref.conv2d_backward(gy, x, w)
    assert_allclose(gx, rx, **tol(dtype, 10))
    assert_allclose(gw, rw, **tol(dtype, 2 * 9 * 13))
    with _packed(False):
        fx, _, _ = F.conv2d_backward(gy, x, w)
    assert gx.tobytes() == fx.tobytes()


# 3x3 stride 2 through the Winograd-style pass (forced: most are below its
# tile count): (input, padding)
WINO2 = [((2, 16, 9, 9), 1), ((1, 20, 15, 22), 0), ((3, 33, 17, 30), 1), ((1, 16, 2, 2), 1),
         ((2, 16, 40, 7), (2, 0)), ((2, 128, 28, 28), 1), ((3, 16, 33, 34), 1)]


@pytest.mark.parametrize("case", WINO2, ids=[f"w2_{i}" for i in range(len(WINO2))])
@pytest.mark.parametrize("act", [None, "relu"])
def test_winograd_s2_matches_reference(case, act, dtype, simd_level, rng):
    xs, padding = case
    o = 23 if xs[1] < 100 else 128
    ws = (o, xs[1], 3, 3)
    x, w, b = _make(rng, dtype, xs, ws)
    before = _conv.set_winograd_s2(2)
    try:
        assert _algorithm(xs, ws, 2, padding, dtype=dtype) == "winograd_s2"
        y = _check(x, w, b, 2, padding, 1, 1, dtype, activation=act, n_threads=1)
        y2 = F.conv2d(x, w, b, 2, padding, activation=act, n_threads=2)
    finally:
        _conv.set_winograd_s2(before)
    assert y.tobytes() == y2.tobytes()


@pytest.mark.parametrize("shape, expect", [
    ((8, 128, 28, 28), True),      # the bench case: 8 x 7 x 7 = 392 tiles
    ((2, 64, 57, 57), True),       # 2 x 15 x 15 = 450 tiles, odd output size
    ((1, 128, 28, 28), False),     # 49 tiles: the weight transform would dominate
    ((8, 256, 14, 14), False),     # 128 tiles
    ((8, 8, 28, 28), False),       # too few channels
])
def test_winograd_s2_chosen_by_shape(shape, expect, dtype, rng):
    """By default the pass runs exactly where it was measured to win, and its
    result matches the direct kernels'."""
    ws = (16 if shape[1] < 16 else shape[1], shape[1], 3, 3)
    assert (_algorithm(shape, ws, 2, 1, dtype=dtype) == "winograd_s2") == expect
    before = _conv.set_winograd_s2(0)
    try:
        assert _algorithm(shape, ws, 2, 1, dtype=dtype) != "winograd_s2"
    finally:
        _conv.set_winograd_s2(before)
    if expect and shape[0] * shape[1] <= 256:        # the small ones: compare the results
        x, w, b = _make(rng, dtype, shape, ws)
        y = F.conv2d(x, w, b, 2, 1, n_threads=2)
        before = _conv.set_winograd_s2(0)
        try:
            yd = F.conv2d(x, w, b, 2, 1, n_threads=2)
        finally:
            _conv.set_winograd_s2(before)
        assert_allclose(y, yd, **tol(dtype, 4 * 9 * shape[1]))


def test_winograd_s2_in_chunks(dtype, rng):
    """Transforms beyond the pass's 16 MB budget run in chunks of images (three
    images of 3600 tiles at 16 channels, 7.8 MB each in float32, 15.7 MB in
    float64: chunks of 2 + 1 or 1 + 1 + 1 images), each chunk's output
    transform overlapping the next one's input transform; same answer and bits
    either thread count."""
    xs, ws = (3, 16, 240, 240), (16, 16, 3, 3)
    assert _algorithm(xs, ws, 2, 1, dtype=dtype) == "winograd_s2"
    x, w, b = _make(rng, dtype, xs, ws)
    y = _check(x, w, b, 2, 1, 1, 1, dtype, n_threads=1)
    assert y.tobytes() == F.conv2d(x, w, b, 2, 1, n_threads=2).tobytes()
