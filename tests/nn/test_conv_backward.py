"""conv2d_backward / conv1d_backward: finite differences, the NumPy scatter
reference, PyTorch autograd, threads, SIMD levels, errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml.nn.functional as F
from tests import _reference as ref
from tests.conftest import tol
from tests.nn.test_conv import CASES, _make, _pads, _pair, _random_case


def _ref_backward(gy, x, w, stride, padding, dilation, groups):
    return ref.conv2d_backward(gy, x, w, _pair(stride), _pads(padding, w.shape, _pair(dilation)),
                               _pair(dilation), groups)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_backward_matches_reference(case, dtype, simd_level, rng):
    xs, ws, stride, padding, dilation, groups = case
    x, w, _ = _make(rng, dtype, xs, ws, bias=False)
    gy = rng.standard_normal(F.conv_output_shape(xs, ws, stride, padding, dilation, groups)).astype(dtype)
    gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    rx, rw, rb = _ref_backward(gy, x, w, stride, padding, dilation, groups)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (ws[0],)
    assert gx.dtype == gw.dtype == gb.dtype == dtype
    assert_allclose(gx, rx, **tol(dtype, ws[0] * ws[2] * ws[3]))
    assert_allclose(gw, rw, **tol(dtype, gy[:, 0].size))
    assert_allclose(gb, rb, **tol(dtype, gy[:, 0].size))


@pytest.mark.parametrize("seed", range(30))
def test_backward_random_shapes_match_torch(seed):
    torch = pytest.importorskip("torch")
    xs, ws, stride, padding, dilation, groups = _random_case(seed)
    rng = np.random.default_rng(seed + 2000)
    x, w, b = _make(rng, np.float64, xs, ws)
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(gy))
    gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(gw, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(gb, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[8], CASES[9], CASES[11], CASES[15]],
                         ids=["3x3", "big-kernel", "grouped", "depthwise", "dw-strided", "s3d2"])
def test_backward_finite_differences(case, rng):
    """d/dt of sum(gy * conv(x + t*dx, w + t*dw)) by central differences (float64)."""
    xs, ws, stride, padding, dilation, groups = case
    x, w, b = _make(rng, np.float64, xs, ws)
    gy = rng.standard_normal(F.conv_output_shape(xs, ws, stride, padding, dilation, groups))
    gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, dilation, groups)
    dx, dw, db = rng.standard_normal(x.shape), rng.standard_normal(w.shape), rng.standard_normal(b.shape)

    def loss(t):
        return float((gy * F.conv2d(x + t * dx, w + t * dw, b + t * db, stride, padding, dilation,
                                    groups)).sum())
    eps = 1e-4
    numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    analytic = (gx * dx).sum() + (gw * dw).sum() + (gb * db).sum()
    assert numeric == pytest.approx(analytic, rel=1e-7, abs=1e-7)


def test_backward_float32_matches_torch_at_bench_shape(rng):
    torch = pytest.importorskip("torch")
    x, w, _ = _make(rng, np.float32, (2, 64, 20, 20), (64, 64, 3, 3), bias=False)
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    y = torch.nn.functional.conv2d(tx, tw, None, 1, 1)
    gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.from_numpy(gy))
    gx, gw, gb = F.conv2d_backward(gy, x, w, 1, 1, output_mask=(True, True, False))
    assert gb is None
    assert_allclose(gx, tx.grad.numpy(), **tol(np.float32, 64 * 9))
    assert_allclose(gw, tw.grad.numpy(), rtol=1e-4, atol=1e-3 * np.abs(tw.grad.numpy()).max())


def test_backward_output_mask_and_threads(rng):
    x, w, _ = _make(rng, np.float32, (4, 16, 24, 24), (24, 16, 3, 3), bias=False)
    gy = rng.standard_normal((4, 24, 12, 12)).astype(np.float32)
    one = F.conv2d_backward(gy, x, w, 2, 1, n_threads=1)
    two = F.conv2d_backward(gy, x, w, 2, 1, n_threads=2)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()
    only_w = F.conv2d_backward(gy, x, w, 2, 1, output_mask=(False, True, False))
    assert only_w[0] is None and only_w[2] is None
    assert only_w[1].tobytes() == one[1].tobytes()
    gy1 = rng.standard_normal((4, 24, 24, 24)).astype(np.float32)
    for groups, wd in ((1, w), (8, w[:, :2])):
        a = F.conv2d_backward(gy1, x, wd, 1, 1, groups=groups, n_threads=1)
        b = F.conv2d_backward(gy1, x, wd, 1, 1, groups=groups, n_threads=2)
        assert all(p.tobytes() == q.tobytes() for p, q in zip(a, b))


def test_backward_relu_pattern(rng):
    """The fused-ReLU forward's gradient: pass grad_output * (output > 0)."""
    torch = pytest.importorskip("torch")
    x, w, b = _make(rng, np.float64, (2, 3, 8, 8), (5, 3, 3, 3))
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch.relu(torch.nn.functional.conv2d(tx, tw, tb, 1, 1))
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(gy))
    out = F.conv2d(x, w, b, padding=1, activation="relu")
    gx, gw, gb = F.conv2d_backward(gy * (out > 0), x, w, 1, 1)
    assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(gw, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(gb, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv1d_backward_matches_torch(rng):
    torch = pytest.importorskip("torch")
    for xs, ws, stride, padding, dilation, groups in [((2, 4, 31), (6, 4, 3), 2, 1, 1, 1),
                                                      ((1, 6, 40), (6, 1, 5), 1, "same", 2, 6)]:
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        y = torch.nn.functional.conv1d(tx, tw, None, stride, padding, dilation, groups)
        gy = rng.standard_normal(tuple(y.shape))
        y.backward(torch.from_numpy(gy))
        gx, gw, gb = F.conv1d_backward(gy, x, w, stride, padding, dilation, groups)
        assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        assert_allclose(gw, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        assert_allclose(gb, gy.sum(axis=(0, 2)), rtol=1e-12)


def test_backward_unbatched_and_empty(rng):
    x, w, _ = _make(rng, np.float64, (1, 3, 6, 7), (4, 3, 3, 3), bias=False)
    gy = rng.standard_normal((1, 4, 6, 7))
    full = F.conv2d_backward(gy, x, w, 1, 1)
    single = F.conv2d_backward(gy[0], x[0], w, 1, 1)
    assert_allclose(single[0], full[0][0], rtol=0, atol=0)
    assert_allclose(single[1], full[1], rtol=0, atol=0)
    gx, gw, gb = F.conv2d_backward(np.zeros((0, 4, 6, 7)), np.zeros((0, 3, 6, 7)), w, 1, 1)
    assert gx.shape == (0, 3, 6, 7) and (gw == 0).all() and (gb == 0).all()


def test_backward_errors(rng):
    x, w, _ = _make(rng, np.float32, (2, 3, 6, 6), (4, 3, 3, 3), bias=False)
    with pytest.raises(ValueError, match="grad_output"):
        F.conv2d_backward(np.zeros((2, 4, 5, 5), np.float32), x, w, 1, 1)
    with pytest.raises(ValueError, match="channel mismatch"):
        F.conv2d_backward(np.zeros((2, 4, 6, 6), np.float32), x, w[:, :2], 1, 1)
    with pytest.raises(ValueError, match="output_mask"):
        F.conv2d_backward(np.zeros((2, 4, 6, 6), np.float32), x, w, 1, 1, output_mask=(True,))


@pytest.mark.parametrize("idx", range(4))
def test_backward_on_winograd_shapes(idx, dtype, rng):
    """The data gradient of a 3x3 stride-1 convolution is itself one (Winograd path)."""
    from tests.nn.test_conv import WINO
    xs, ws, padding = WINO[idx]
    x, w, _ = _make(rng, dtype, xs, ws, bias=False)
    gy = rng.standard_normal(F.conv_output_shape(xs, ws, 1, padding)).astype(dtype)
    gx, gw, gb = F.conv2d_backward(gy, x, w, 1, padding)
    rx, rw, rb = _ref_backward(gy, x, w, 1, padding, 1, 1)
    assert_allclose(gx, rx, **tol(dtype, ws[0] * 9))
    assert_allclose(gw, rw, **tol(dtype, gy[:, 0].size))


def test_profiler_records_backward_passes(rng):
    import fastml
    x, w, _ = _make(rng, np.float32, (2, 3, 8, 8), (4, 3, 3, 3), bias=False)
    gy = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    with fastml.profile() as p:
        F.conv2d_backward(gy, x, w, 1, 1, n_threads=1)
        F.conv1d_backward(gy[:, :, 0], x[:, :, 0], w[:, :, 0], 1, 1)
        F.max_pool2d_backward(gy[:, :, :4, :4], gy, 2)
        F.avg_pool2d_backward(gy[:, :, :4, :4], gy, 2)
        F.adaptive_avg_pool2d_backward(gy[:, :, :2, :2], gy)
        F.relu(gy)
    names = [r["name"] for r in p.records]
    assert names == ["conv2d_backward", "conv1d_backward", "max_pool2d_backward", "avg_pool2d_backward",
                     "adaptive_avg_pool2d_backward", "relu"]
    assert p.records[0]["flops"] == 2 * F.conv2d_flops(x.shape, w.shape, padding=1)
    assert all(r["seconds"] > 0 and r["bytes"] > 0 for r in p.records)
