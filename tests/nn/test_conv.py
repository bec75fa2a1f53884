"""conv2d / conv1d forward: NumPy reference, PyTorch, every stride/padding/
dilation/groups combination, SIMD levels, threads, layouts, shape arithmetic,
errors."""
import itertools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml
import fastml.nn.functional as F
from fastml.nn.functional._conv import _algorithm
from tests import _reference as ref
from tests.conftest import tol


def _make(rng, dtype, xs, ws, bias=True):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    return x, w, b


def _pads(padding, ws, dilation):
    if padding == "same":
        out = []
        for k, d in zip(ws[2:], dilation):
            t = d * (k - 1)
            out.append((t // 2, t - t // 2))
        return tuple(out)
    if padding == "valid":
        return ((0, 0), (0, 0))
    p = (padding, padding) if isinstance(padding, int) else padding
    return ((p[0], p[0]), (p[1], p[1]))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# (input shape, weight shape, stride, padding, dilation, groups): edge cases by hand
CASES = [
    ((2, 3, 9, 11), (4, 3, 3, 3), 1, 1, 1, 1),                 # the common 3x3
    ((1, 1, 1, 1), (2, 1, 1, 1), 1, 0, 1, 1),                 # 1x1 image, 1x1 kernel
    ((1, 2, 1, 1), (3, 2, 3, 3), 1, 1, 1, 1),                 # 1x1 image, 3x3 kernel, pad 1
    ((2, 3, 2, 3), (5, 3, 5, 5), 1, 2, 1, 1),                 # kernel larger than the input
    ((1, 4, 3, 2), (2, 4, 7, 6), 2, 3, 1, 1),                 # larger kernel, strided
    ((1, 7, 17, 15), (9, 7, 1, 1), 1, 0, 1, 1),               # zero-copy 1x1, odd channels
    ((2, 17, 8, 33), (15, 17, 1, 1), 2, 0, 1, 1),             # strided 1x1
    ((2, 9, 12, 10), (16, 9, 3, 3), 1, 0, 1, 1),              # valid 3x3 (zero copy)
    ((2, 6, 13, 10), (6, 2, 3, 2), 2, (1, 2), (2, 1), 3),     # grouped, mixed everything
    ((2, 8, 10, 10), (8, 1, 3, 3), 1, 1, 1, 8),               # depthwise
    ((2, 8, 10, 9), (16, 1, 3, 3), 1, 1, 1, 8),               # depthwise, multiplier 2
    ((2, 8, 11, 10), (8, 1, 3, 3), 2, 1, 1, 8),               # strided depthwise
    ((1, 5, 20, 21), (5, 1, 5, 3), 1, (2, 1), (2, 3), 5),     # dilated depthwise
    ((3, 16, 30, 31), (32, 16, 5, 3), 2, 2, 1, 1),
    ((1, 3, 23, 29), (8, 3, 7, 7), 2, 3, 1, 1),               # the stem
    ((2, 4, 6, 9), (4, 2, 3, 3), 3, 2, 2, 2),                 # stride 3, dilation 2
    ((1, 6, 9, 8), (3, 6, 2, 2), 1, "same", 1, 1),            # 'same' with an even kernel
    ((1, 6, 9, 8), (3, 6, 4, 3), 1, "same", (2, 3), 1),
    ((2, 5, 7, 8), (4, 5, 3, 2), 1, "valid", 1, 1),
    ((1, 33, 5, 6), (31, 33, 3, 3), 1, 1, 1, 1),              # channels off the SIMD widths
    ((1, 4, 40, 3), (9, 4, 3, 1), (3, 1), (0, 1), 1, 1),      # tall thin
    ((2, 4, 5, 70), (3, 4, 1, 5), (1, 2), (0, 2), (1, 3), 1),  # wide, row spans many tiles
    ((1, 12, 6, 6), (12, 4, 3, 3), 1, 1, 1, 3),
    ((1, 2, 9, 9), (1, 2, 3, 3), 1, 1, 1, 1),                 # one output channel
    ((1, 3, 20, 70), (3, 1, 3, 3), 1, 0, 1, 3),               # depthwise 3x3, wide rows
    ((2, 4, 7, 37), (8, 1, 3, 3), 1, 2, 1, 4),                # depthwise 3x3, pad 2
]


def _check(x, w, b, stride, padding, dilation, groups, dtype, activation=None, **kw):
    y = F.conv2d(x, w, b, stride, padding, dilation, groups, activation=activation, **kw)
    r = ref.conv2d(x, w, b, _pair(stride), _pads(padding, w.shape, _pair(dilation)), _pair(dilation), groups)
    if activation == "relu":
        r = np.maximum(r, 0)
    assert y.dtype == dtype and y.shape == r.shape
    assert_allclose(y, r, **tol(dtype, np.prod(w.shape[1:])))
    return y


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_conv2d_matches_reference(case, dtype, simd_level, rng):
    xs, ws, stride, padding, dilation, groups = case
    x, w, b = _make(rng, dtype, xs, ws)
    _check(x, w, b, stride, padding, dilation, groups, dtype)


def _random_case(seed):
    r = np.random.default_rng(seed)
    groups = int(r.choice([1, 1, 2, 3]))
    cg, og = int(r.integers(1, 6)), int(r.integers(1, 10))
    kh, kw = int(r.integers(1, 6)), int(r.integers(1, 6))
    sh, sw = int(r.integers(1, 4)), int(r.integers(1, 4))
    dh, dw = int(r.integers(1, 3)), int(r.integers(1, 3))
    ph, pw = int(r.integers(0, 4)), int(r.integers(0, 4))
    h = max(1, dh * (kh - 1) + 1 - 2 * ph + int(r.integers(0, 20)))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw + int(r.integers(0, 40)))
    return ((int(r.integers(1, 4)), cg * groups, h, w), (og * groups, cg, kh, kw), (sh, sw), (ph, pw),
            (dh, dw), groups)


@pytest.mark.parametrize("seed", range(40))
def test_conv2d_random_shapes_match_reference(seed, dtype):
    xs, ws, stride, padding, dilation, groups = _random_case(seed)
    x, w, b = _make(np.random.default_rng(seed + 1000), dtype, xs, ws)
    _check(x, w, b, stride, padding, dilation, groups, dtype)


# padding='same' with stride > 1 is an error in PyTorch and here (test_errors)
COMBOS = [c for c in itertools.product([1, 2, 3], [0, 1, 2, "same", "valid"], [1, 2], [1, 2, 4])
          if not (c[1] == "same" and c[0] != 1)]


@pytest.mark.parametrize("stride,padding,dilation,groups", COMBOS)
def test_conv2d_every_parameter_combination_matches_torch(stride, padding, dilation, groups, rng):
    torch = pytest.importorskip("torch")
    x, w, b = _make(rng, np.float64, (2, 4, 11, 10), (8, 4 // groups, 3, 2))
    y = F.conv2d(x, w, b, stride, padding, dilation, groups)
    with warnings.catch_warnings():          # torch: 'same' with an even kernel pads a copy
        warnings.simplefilter("ignore", UserWarning)
        t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                       stride, padding, dilation, groups).numpy()
    assert_allclose(y, t, rtol=1e-12, atol=1e-12)


def test_bench_shapes_match_torch_float32(rng):
    """The benchmark's kernels (at smaller batch) against PyTorch in float32."""
    torch = pytest.importorskip("torch")
    for xs, ws, stride, pad, groups in [((1, 64, 20, 20), (64, 64, 3, 3), 1, 1, 1),
                                        ((1, 256, 14, 14), (64, 256, 1, 1), 1, 0, 1),
                                        ((1, 3, 40, 40), (64, 3, 7, 7), 2, 3, 1),
                                        ((1, 128, 14, 14), (128, 128, 3, 3), 2, 1, 1),
                                        ((1, 256, 14, 14), (256, 1, 3, 3), 1, 1, 256)]:
        x, w, b = _make(rng, np.float32, xs, ws)
        y = F.conv2d(x, w, b, stride, pad, 1, groups)
        t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                       stride, pad, 1, groups).numpy()
        assert_allclose(y, t, **tol(np.float32, np.prod(ws[1:])))


def test_fused_bias_relu(dtype, simd_level, rng):
    for xs, ws, groups in [((2, 9, 10, 12), (13, 9, 3, 3), 1), ((2, 8, 9, 9), (8, 1, 3, 3), 8)]:
        x, w, b = _make(rng, dtype, xs, ws)
        y = _check(x, w, b, 1, 1, 1, groups, dtype, activation="relu")
        assert (y >= 0).all() and (y == 0).any()
        plain = F.conv2d(x, w, b, 1, 1, 1, groups)
        assert_allclose(y, np.maximum(plain, 0), rtol=0, atol=0)


def test_relu_keeps_nan(rng):
    x, w, b = _make(rng, np.float32, (1, 3, 6, 6), (4, 3, 3, 3))
    x[0, 1, 2, 2] = np.nan
    y = F.conv2d(x, w, b, padding=1, activation="relu")
    assert np.isnan(y[0, :, 1:4, 1:4]).all()
    assert not np.isnan(y[0, :, 5, 5]).any()


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[8], CASES[9], CASES[13], CASES[14]],
                         ids=["3x3", "1x1", "grouped", "depthwise", "5x3s2", "stem"])
def test_conv2d_threads_bitwise(case, rng):
    xs, ws, stride, padding, dilation, groups = case
    xs = (4,) + tuple(xs[1:2]) + tuple(3 * s for s in xs[2:])     # enough work for 2 threads
    x, w, b = _make(rng, np.float32, xs, ws)
    y1 = F.conv2d(x, w, b, stride, padding, dilation, groups, n_threads=1)
    y2 = F.conv2d(x, w, b, stride, padding, dilation, groups, n_threads=2)
    with fastml.threads(2):
        y3 = F.conv2d(x, w, b, stride, padding, dilation, groups)
    assert y1.tobytes() == y2.tobytes() == y3.tobytes()


def test_simd_levels_agree_with_scalar(rng):
    from fastml._config import set_simd_level
    from tests.conftest import LEVELS
    x, w, b = _make(rng, np.float32, (2, 12, 15, 17), (20, 12, 3, 3))
    before = fastml.simd_level()
    out = {}
    try:
        for lv in LEVELS:
            set_simd_level(lv)
            out[lv] = F.conv2d(x, w, b, 1, 1)
    finally:
        set_simd_level(before)
    for lv in LEVELS:
        assert_allclose(out[lv], out["scalar"], **tol(np.float32, 12 * 9))


def test_layouts_and_dtypes(rng):
    x, w, b = _make(rng, np.float64, (2, 5, 9, 8), (6, 5, 3, 3))
    r = ref.conv2d(x, w, b, (1, 1), ((1, 1), (1, 1)))
    xf = np.asfortranarray(x)
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)   # strided view
    xro = x.copy()
    xro.flags.writeable = False
    for xx in (xf, xt, xro, x[:, :, ::1, :]):
        assert_allclose(F.conv2d(xx, w, b, padding=1), r, **tol(np.float64, 45))
    # 1x1 zero-copy path on a non-contiguous view
    w1 = w[:, :, :1, :1]
    assert_allclose(F.conv2d(xt, w1), ref.conv2d(x, w1), **tol(np.float64, 5))
    # int input is float64; a float64 operand makes the result float64
    yi = F.conv2d(np.arange(2 * 5 * 9 * 8).reshape(2, 5, 9, 8) % 7, w.astype(np.float32), padding=1)
    assert yi.dtype == np.float64
    assert F.conv2d(x.astype(np.float32), w, padding=1).dtype == np.float64
    assert F.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1).dtype == np.float32


def test_unbatched_and_empty(rng):
    x, w, b = _make(rng, np.float32, (1, 4, 7, 6), (5, 4, 3, 3))
    assert_allclose(F.conv2d(x[0], w, b, padding=1), F.conv2d(x, w, b, padding=1)[0], rtol=0, atol=0)
    y = F.conv2d(np.zeros((0, 4, 7, 6), np.float32), w, b, padding=1)
    assert y.shape == (0, 5, 7, 6)
    yz = F.conv2d(np.zeros((2, 0, 7, 6), np.float32), np.zeros((5, 0, 3, 3), np.float32), b, padding=1)
    assert yz.shape == (2, 5, 7, 6)
    assert_allclose(yz, np.broadcast_to(b[None, :, None, None], yz.shape))


def test_conv1d_matches_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    for xs, ws, stride, padding, dilation, groups in [
            ((2, 4, 31), (6, 4, 3), 1, 1, 1, 1), ((1, 6, 50), (6, 1, 5), 2, 2, 2, 6),
            ((3, 6, 17), (4, 3, 4), 1, "same", 3, 2), ((2, 3, 9), (5, 3, 1), 3, 0, 1, 1),
            ((2, 3, 9), (5, 3, 9), 1, "valid", 1, 1)]:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        y = F.conv1d(x, w, b, stride, padding, dilation, groups)
        t = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                       stride, padding, dilation, groups).numpy()
        assert y.shape == t.shape
        assert_allclose(y, t, **tol(dtype, np.prod(ws[1:])))
        assert_allclose(F.conv1d(x[0], w, b, stride, padding, dilation, groups), y[0], rtol=0, atol=0)


def test_conv_output_shape_cnn_arithmetic():
    assert F.conv_output_shape((1, 1, 28, 28), (8, 1, 3, 3), padding=1) == (1, 8, 28, 28)
    assert F.conv_output_shape((1, 3, 32, 32), (6, 3, 3, 3)) == (1, 6, 30, 30)
    assert F.conv_output_shape((4, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3) == (4, 64, 112, 112)
    assert F.conv_output_shape((2, 8, 10, 10), (8, 1, 3, 3), padding="same", groups=8) == (2, 8, 10, 10)
    assert F.conv_output_shape((2, 8, 10, 9), (4, 8, 3, 3), stride=2, dilation=2) == (2, 4, 3, 3)
    assert F.conv_output_shape((2, 4, 50), (6, 4, 5), stride=2, padding=1) == (2, 6, 24)
    x = np.zeros((1, 1, 28, 28), np.float32)
    assert F.conv2d(x, np.zeros((2, 1, 3, 3), np.float32), padding=1).shape == (1, 2, 28, 28)
    assert F.conv2d(np.zeros((1, 1, 32, 32)), np.zeros((1, 1, 3, 3))).shape == (1, 1, 30, 30)


def test_flops_and_profiler(rng):
    assert F.conv2d_flops((2, 3, 8, 8), (4, 3, 3, 3), padding=1) == 2.0 * 2 * 4 * 64 * 27
    assert F.conv2d_flops((2, 4, 8, 8), (4, 1, 3, 3), padding=1, groups=4, bias=True) == \
        2.0 * 2 * 4 * 64 * 9 + 2 * 4 * 64
    x, w, b = _make(rng, np.float32, (2, 3, 8, 8), (4, 3, 3, 3))
    with fastml.profile() as p:
        F.conv2d(x, w, b, padding=1, n_threads=1)
        F.max_pool2d(x, 2)
    rec = p.records[0]
    assert rec["name"] == "conv2d" and rec["threads"] == 1 and rec["dtype"] == "float32"
    assert rec["flops"] == F.conv2d_flops(x.shape, w.shape, padding=1, bias=True)
    assert rec["seconds"] > 0 and rec["bytes"] > 0
    assert p.records[1]["name"] == "max_pool2d"


@pytest.mark.parametrize("call,match", [
    (lambda x, w: F.conv2d(x, w[:, :2]), "channel mismatch"),
    (lambda x, w: F.conv2d(x, w, groups=2), "groups"),
    (lambda x, w: F.conv2d(x[:, :3], w[:4, :1], groups=3), "groups \\(3\\) must divide the output"),
    (lambda x, w: F.conv2d(x, w, padding=-1), "padding"),
    (lambda x, w: F.conv2d(x, w, padding=(1, -2)), "padding"),
    (lambda x, w: F.conv2d(x, w, stride=0), "stride"),
    (lambda x, w: F.conv2d(x, w, dilation=0), "dilation"),
    (lambda x, w: F.conv2d(x[:, :, :2, :2], w), "output size"),
    (lambda x, w: F.conv2d(x, w, dilation=4), "output size"),
    (lambda x, w: F.conv2d(x[0, 0], w), "input must be 4-D"),
    (lambda x, w: F.conv2d(x[None], w), "input must be 4-D"),
    (lambda x, w: F.conv2d(x, w[0]), "weight must be 4-D"),
    (lambda x, w: F.conv2d(x, w, np.zeros(3)), "bias"),
    (lambda x, w: F.conv2d(x, w, stride=2, padding="same"), "same"),
    (lambda x, w: F.conv2d(x, w, padding="full"), "padding"),
    (lambda x, w: F.conv2d(x, w, activation="gelu"), "activation"),
    (lambda x, w: F.conv2d(x, w, groups=0), "groups"),
    (lambda x, w: F.conv1d(x, w), "input must be 3-D"),
    (lambda x, w: F.conv2d(x, w, n_threads=0), "n_threads"),
])
def test_errors(call, match):
    x = np.zeros((2, 4, 5, 5), np.float32)
    w = np.zeros((6, 4, 3, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x, w)


def test_type_errors():
    x = np.zeros((2, 4, 5, 5), np.float32)
    w = np.zeros((6, 4, 3, 3), np.float32)
    with pytest.raises(TypeError, match="stride"):
        F.conv2d(x, w, stride=1.5)
    with pytest.raises(TypeError, match="groups"):
        F.conv2d(x, w, groups=1.0)
    with pytest.raises(TypeError, match="input"):
        F.conv2d(x.astype(np.complex64), w)


# Shapes on the Winograd F(2x2, 3x3) path (3x3, stride 1, >= 16 channels, rows
# long enough that padded tile vectors waste at most a quarter) at every level:
# odd sizes (half tiles, partial output vectors), every padding, output channels
# not a multiple of the product tile, bias and ReLU, 1 vs 2 threads bitwise.
WINO = [((2, 16, 24, 24), (16, 16, 3, 3), 1), ((1, 17, 31, 40), (23, 17, 3, 3), 1),
        ((2, 32, 27, 25), (16, 32, 3, 3), 0), ((1, 16, 30, 33), (20, 16, 3, 3), 2),
        ((1, 20, 3, 64), (18, 20, 3, 3), 1), ((1, 16, 50, 30), (33, 16, 3, 3), (2, 0)),
        # more input channels than one panel of the packed-pixel tile holds (tap blocks)
        ((1, 300, 10, 12), (20, 300, 3, 3), 1)]


@pytest.mark.parametrize("case", WINO, ids=[f"wino{i}" for i in range(len(WINO))])
@pytest.mark.parametrize("act", [None, "relu"])
def test_winograd_shapes_match_reference(case, act, dtype, simd_level, rng):
    xs, ws, padding = case
    assert _algorithm(xs, ws, 1, padding, dtype=dtype) == "winograd"
    x, w, b = _make(rng, dtype, xs, ws)
    y = _check(x, w, b, 1, padding, 1, 1, dtype, activation=act, n_threads=1)
    y2 = F.conv2d(x, w, b, 1, padding, activation=act, n_threads=2)
    assert y.tobytes() == y2.tobytes()


def test_winograd_float32_accuracy_and_threads(rng):
    x, w, b = _make(rng, np.float32, (4, 64, 56, 56), (64, 64, 3, 3))
    w *= 1.0 / 24
    y = F.conv2d(x, w, b, padding=1, n_threads=1)
    r = ref.conv2d(x, w, b, (1, 1), ((1, 1), (1, 1)))
    err = np.abs(y - r).max() / np.abs(r).max()
    assert err < 5e-6, err
    assert F.conv2d(x, w, b, padding=1, n_threads=2).tobytes() == y.tobytes()


# Candidates for the channels-in-lanes tile (short or strided rows, many
# channels; partial channel panels, tiles across rows): the test runs those the
# work estimate sends to it at the current SIMD level and dtype (the scalar
# level never picks it: one-lane "vectors" waste no pad columns).
CTILE = [((2, 20, 13, 14), (64, 20, 3, 3), 2, 0), ((1, 16, 30, 14), (96, 16, 3, 3), 2, 0),
         ((2, 20, 28, 28), (64, 20, 3, 3), 2, 1), ((1, 24, 30, 27), (33, 24, 3, 3), 2, 1),
         ((1, 16, 9, 10), (32, 16, 3, 3), 1, 1), ((2, 16, 16, 17), (48, 16, 3, 3), 2, 1),
         ((2, 32, 14, 14), (40, 32, 3, 3), 2, 0)]


def test_channels_in_lanes_tile_matches_reference(dtype, simd_level, rng):
    ran = 0
    for xs, ws, stride, padding in CTILE:
        if _algorithm(xs, ws, stride, padding, dtype=dtype) != "channels_in_lanes":
            continue
        ran += 1
        x, w, b = _make(rng, dtype, xs, ws)
        _check(x, w, b, stride, padding, 1, 1, dtype)
        _check(x, w, b, stride, padding, 1, 1, dtype, activation="relu")
        gy = rng.standard_normal(F.conv_output_shape(xs, ws, stride, padding)).astype(dtype)
        gx, gw, _ = F.conv2d_backward(gy, x, w, stride, padding)
        rx, rw, _ = ref.conv2d_backward(gy, x, w, _pair(stride), _pads(padding, ws, (1, 1)))
        assert_allclose(gx, rx, **tol(dtype, ws[0] * ws[2] * ws[3]))
        assert_allclose(gw, rw, **tol(dtype, gy[:, 0].size))
    assert ran >= (0 if simd_level == "scalar" else 2), ran


def test_each_algorithm_is_reached():
    """The shape tests above cover every forward kernel (the chooser can change)."""
    assert _algorithm(WINO[0][0], WINO[0][1], 1, WINO[0][2]) == "winograd"
    assert _algorithm((2, 8, 10, 10), (8, 1, 3, 3), 1, 1, 1, 8) == "rows"
    assert _algorithm((1, 3, 23, 29), (8, 3, 7, 7), 2, 3) == "flat"
    assert _algorithm((1, 7, 17, 15), (9, 7, 1, 1)) == "packed"
    if fastml.simd_level() != "scalar":
        assert _algorithm(CTILE[0][0], CTILE[0][1], 2, 0) == "channels_in_lanes"
    if fastml.simd_level() == "avx512":      # the work estimate of avx2 keeps the flat tile here
        assert _algorithm((8, 128, 28, 28), (128, 128, 3, 3), 2, 1) == "channels_in_lanes"
