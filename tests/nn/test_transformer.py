"""softmax / log_softmax, layer_norm (+ backward), gelu, dropout, linear,
multi_head_attention and sinusoidal_positional_encoding: NumPy references,
torch, threads, SIMD levels, errors."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastml.nn import functional as F
from tests import _reference as ref
from tests.conftest import tol


def _torch():
    return pytest.importorskip("torch")


# ---- softmax / log_softmax ---------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 17), -1), ((3, 17), 0), ((2, 33, 5), 1),
                                       ((4, 1), -1), ((2, 3, 300), 2), ((0, 5), -1)])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_matches_reference(shape, dim, log, dtype, simd_level, rng):
    x = (5 * rng.standard_normal(shape)).astype(dtype)
    fn = F.log_softmax if log else F.softmax
    got = fn(x, dim)
    assert got.shape == x.shape and got.dtype == dtype
    assert_allclose(got, ref.softmax(x, dim, log), **tol(dtype, shape[dim] if shape[dim] else 1))


def test_softmax_is_stable_and_agrees_with_torch(dtype, rng):
    torch = _torch()
    x = (rng.standard_normal((6, 50)) * 1e4).astype(dtype)
    x[0, :] = -np.inf
    x[0, 3] = 1.0                       # one finite entry among -inf
    for fn, tfn in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
        got = fn(x, -1)
        want = tfn(torch.from_numpy(x), -1).numpy()
        assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.isfinite(F.softmax(x)).all()
    assert F.softmax(x)[0, 3] == 1.0


def test_softmax_all_minus_inf_gives_nan_like_torch(dtype):
    x = np.full((2, 4), -np.inf, dtype=dtype)
    x[1] = 0
    y = F.softmax(x)
    assert np.isnan(y[0]).all() and (y[1] == 0.25).all()


def test_softmax_threads_bitwise(rng):
    x = rng.standard_normal((513, 777)).astype(np.float32)
    assert F.softmax(x, n_threads=1).tobytes() == F.softmax(x, n_threads=2).tobytes()


def test_softmax_errors():
    with pytest.raises(ValueError, match="dim"):
        F.softmax(np.ones((2, 3)), dim=2)
    with pytest.raises(TypeError, match="dim"):
        F.softmax(np.ones((2, 3)), dim=1.0)
    with pytest.raises(TypeError, match="input"):
        F.softmax(np.ones(3, dtype=complex))


# ---- layer_norm ----------------------------------------------------------------------

LN_SHAPES = [((5, 8), 8), ((3, 4, 33), 33), ((2, 3, 4, 5), (4, 5)), ((1, 1), 1), ((7, 1024), 1024),
             ((0, 6), 6)]


@pytest.mark.parametrize("shape,nshape", LN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_reference(shape, nshape, affine, dtype, simd_level, rng):
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)
    ns = (nshape,) if isinstance(nshape, int) else nshape
    w = rng.standard_normal(ns).astype(dtype) if affine else None
    b = rng.standard_normal(ns).astype(dtype) if affine else None
    got = F.layer_norm(x, nshape, w, b, eps=1e-5)
    assert got.dtype == dtype and got.shape == x.shape
    assert_allclose(got, ref.layer_norm(x, len(ns), w, b), **tol(dtype, 16))


def test_layer_norm_float64_statistics_for_float32(rng):
    """A large offset: float32 sums would cancel; float64 statistics do not."""
    x = (1e4 + rng.standard_normal((16, 4096))).astype(np.float32)
    got = F.layer_norm(x, 4096)
    assert_allclose(got, ref.layer_norm(x, 1), rtol=2e-3, atol=2e-3)
    assert abs(got.mean()) < 1e-4 and abs(got.std() - 1) < 1e-3


def test_layer_norm_agrees_with_torch(dtype, rng):
    torch = _torch()
    x = rng.standard_normal((4, 6, 40)).astype(dtype)
    w, b = rng.standard_normal(40).astype(dtype), rng.standard_normal(40).astype(dtype)
    want = torch.nn.functional.layer_norm(torch.from_numpy(x), (40,), torch.from_numpy(w),
                                          torch.from_numpy(b), eps=1e-6).numpy()
    assert_allclose(F.layer_norm(x, 40, w, b, 1e-6), want, **tol(dtype, 40))


@pytest.mark.parametrize("shape,nshape", [((5, 8), 8), ((3, 4, 33), 33), ((2, 3, 4, 5), (4, 5)),
                                          ((600, 70), 70)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_backward_matches_reference(shape, nshape, affine, dtype, rng):
    x = (1 + rng.standard_normal(shape)).astype(dtype)
    ns = (nshape,) if isinstance(nshape, int) else nshape
    w = rng.standard_normal(ns).astype(dtype) if affine else None
    b = rng.standard_normal(ns).astype(dtype) if affine else None
    dy = rng.standard_normal(shape).astype(dtype)
    dx, dw, db = F.layer_norm_backward(dy, x, nshape, w, b)
    rdx, rdw, rdb = ref.layer_norm_backward(dy, x, len(ns), w)
    assert_allclose(dx, rdx, **tol(dtype, 64))
    if affine:
        assert dw.shape == ns and db.shape == ns and dw.dtype == dtype
        assert_allclose(dw, rdw.reshape(ns), **tol(dtype, shape[0]))
        assert_allclose(db, rdb.reshape(ns), **tol(dtype, shape[0]))
    else:
        assert dw is None and db is None


def test_layer_norm_backward_agrees_with_torch_and_finite_differences(rng):
    torch = _torch()
    x = rng.standard_normal((3, 9))
    w, b = rng.standard_normal(9), rng.standard_normal(9)
    dy = rng.standard_normal((3, 9))
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    out = torch.nn.functional.layer_norm(tx, (9,), tw, tb)
    want = torch.autograd.grad(out, (tx, tw, tb), torch.from_numpy(dy))
    got = F.layer_norm_backward(dy, x, 9, w, b)
    for a, t in zip(got, want):
        assert_allclose(a, t.numpy(), rtol=1e-10, atol=1e-12)
    h, num = 1e-6, np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = ((F.layer_norm(xp, 9, w, b) - F.layer_norm(xm, 9, w, b)) * dy).sum() / (2 * h)
    assert_allclose(got[0], num, rtol=1e-6, atol=1e-8)


def test_layer_norm_threads_bitwise(rng):
    x = rng.standard_normal((3000, 65)).astype(np.float32)
    w = rng.standard_normal(65).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    assert F.layer_norm(x, 65, w, n_threads=1).tobytes() == F.layer_norm(x, 65, w, n_threads=2).tobytes()
    one = F.layer_norm_backward(dy, x, 65, w, w, n_threads=1)
    two = F.layer_norm_backward(dy, x, 65, w, w, n_threads=2)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


def test_layer_norm_errors(rng):
    x = np.ones((2, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match="weight"):
        F.layer_norm(x, 5, np.ones(4))
    with pytest.raises(ValueError, match="bias"):
        F.layer_norm(x, 5, None, np.ones((5, 1)))
    with pytest.raises(ValueError, match="eps"):
        F.layer_norm(x, 5, eps=-1.0)
    with pytest.raises(ValueError, match="grad_out"):
        F.layer_norm_backward(np.ones((2, 4)), x, 5)


# ---- gelu / dropout ------------------------------------------------------------------

@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_reference_and_torch(approximate, dtype, simd_level, rng):
    x = np.concatenate([rng.standard_normal(997) * 4, [-30, -10, -5, 0, 5, 10, 30]]).astype(dtype)
    got = F.gelu(x, approximate)
    want = ref.gelu(x, approximate)
    # relative where gelu is not tiny, absolute where it is (x -> -inf)
    assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-13,
                    atol=1e-30 if approximate == "none" else 1e-7 if dtype == np.float32 else 1e-15)
    torch = _torch()
    t = torch.nn.functional.gelu(torch.from_numpy(x), approximate=approximate).numpy()
    assert_allclose(got, t, rtol=1e-5, atol=1e-6)
    assert F.gelu(x.reshape(-1, 4)[:, ::2], approximate).shape == (251, 2)


def test_gelu_errors():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.ones(3), "erf")


def test_dropout_rate_scale_and_reproducibility(dtype, rng):
    x = rng.standard_normal((300, 1000)).astype(dtype) + 3
    for p in (0.1, 0.5, 0.9):
        y = F.dropout(x, p, seed=5)
        kept = y != 0
        assert abs(kept.mean() - (1 - p)) < 4 * math.sqrt(p * (1 - p) / x.size)
        assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    a = F.dropout(x, 0.3, seed=9, n_threads=1)
    assert a.tobytes() == F.dropout(x, 0.3, seed=9, n_threads=2).tobytes()
    assert not np.array_equal(a != 0, F.dropout(x, 0.3, seed=10) != 0)
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0, seed=1) == 0).all()
    assert_array_equal(F.dropout(x, 0.0), x)


def test_dropout_errors():
    for p in (-0.1, 1.1):
        with pytest.raises(ValueError, match="p"):
            F.dropout(np.ones(3), p)
    with pytest.raises(TypeError, match="seed"):
        F.dropout(np.ones(3), 0.5, seed="x")


# ---- linear ----------------------------------------------------------------------------

@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 9, 3), (33, 17, 65), (200, 64, 300), (5, 0, 4)])
@pytest.mark.parametrize("activation", [None, "relu", "gelu", "gelu_tanh"])
def test_linear_matches_reference(m, k, n, activation, dtype, simd_level, rng):
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    want = ref.matmul(x, w.T) + b
    if activation == "relu":
        want = np.maximum(want, 0)
    elif activation in ("gelu", "gelu_tanh"):
        want = ref.gelu(want, "tanh" if activation == "gelu_tanh" else "none")
    got = F.linear(x, w, b, activation)
    assert got.dtype == dtype and got.shape == (m, n)
    assert_allclose(got, want, **tol(dtype, k))


def test_linear_batched_strided_and_torch(dtype, rng):
    torch = _torch()
    x = rng.standard_normal((2, 3, 10, 24)).astype(dtype)[..., ::2]       # strided rows
    w = rng.standard_normal((7, 12)).astype(dtype)
    got = F.linear(x, w)
    want = torch.nn.functional.linear(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(w))
    assert got.shape == (2, 3, 10, 7)
    assert_allclose(got, want.numpy(), **tol(dtype, 12))
    xt = rng.standard_normal((12, 40)).astype(dtype).T                    # F-ordered
    assert_allclose(F.linear(xt, w, np.ones(7, dtype)), ref.matmul(xt, w.T) + 1, **tol(dtype, 12))


def test_linear_threads_bitwise(rng):
    x = rng.standard_normal((500, 96)).astype(np.float32)
    w = rng.standard_normal((130, 96)).astype(np.float32)
    b = rng.standard_normal(130).astype(np.float32)
    assert (F.linear(x, w, b, "gelu", n_threads=1).tobytes()
            == F.linear(x, w, b, "gelu", n_threads=2).tobytes())


def test_linear_errors():
    x, w = np.ones((3, 4)), np.ones((5, 4))
    with pytest.raises(ValueError, match="input.shape"):
        F.linear(np.ones((3, 5)), w)
    with pytest.raises(ValueError, match="weight"):
        F.linear(x, np.ones(4))
    with pytest.raises(ValueError, match="bias"):
        F.linear(x, w, np.ones(4))
    with pytest.raises(ValueError, match="activation"):
        F.linear(x, w, activation="tanh")


# ---- multi-head attention, positional encoding ------------------------------------

def _mha_reference(xq, xkv, wq, wk, wv, bq, bk, bv, wo, bo, h, mask=None, causal=False):
    q, k, v = xq @ wq.T + bq, xkv @ wk.T + bk, xkv @ wv.T + bv
    B, L, E = q.shape
    S = k.shape[1]
    split = lambda t, n: t.reshape(B, n, h, E // h).swapaxes(1, 2)       # noqa: E731
    o = ref.sdpa(split(q, L), split(k, S), split(v, S), mask=mask, causal=causal)
    return o.swapaxes(1, 2).reshape(B, L, E) @ wo.T + bo


def test_multi_head_attention_matches_torch_module(rng):
    torch = _torch()
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    x = rng.standard_normal((3, 11, 16))
    keep = rng.random((11, 11)) > 0.3
    np.fill_diagonal(keep, True)
    want, _ = mha(*(torch.from_numpy(x),) * 3, attn_mask=torch.from_numpy(~keep), need_weights=False)
    p = {n: t.detach().numpy() for n, t in mha.named_parameters()}
    got = F.multi_head_attention(x, None, p["in_proj_weight"], p["in_proj_bias"],
                                 p["out_proj.weight"], p["out_proj.bias"], 4, attn_mask=keep)
    assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_cross_attention_matches_reference(causal, dtype, rng):
    B, L, S, Dq, Dkv, E, H = 2, 9, 13, 12, 10, 16, 4
    xq = rng.standard_normal((B, L, Dq)).astype(dtype)
    xkv = rng.standard_normal((B, S, Dkv)).astype(dtype)
    wq, wk, wv = (rng.standard_normal((E, d)).astype(dtype) / 3 for d in (Dq, Dkv, Dkv))
    bq, bk, bv = (rng.standard_normal(E).astype(dtype) for _ in range(3))
    wo, bo = rng.standard_normal((8, E)).astype(dtype) / 4, rng.standard_normal(8).astype(dtype)
    got = F.multi_head_attention(xq, xkv, (wq, wk, wv), (bq, bk, bv), wo, bo, H, is_causal=causal)
    want = _mha_reference(xq, xkv, wq, wk, wv, bq, bk, bv, wo, bo, H, causal=causal)
    assert got.shape == (B, L, 8) and got.dtype == dtype
    assert_allclose(got, want, **tol(dtype, 64))
    unb = F.multi_head_attention(xq[0], xkv[0], (wq, wk, wv), (bq, bk, bv), wo, bo, H, is_causal=causal)
    assert_allclose(unb, got[0], **tol(dtype, 64))


def test_multi_head_attention_errors(rng):
    x = np.ones((2, 3, 8))
    w = np.ones((24, 8))
    with pytest.raises(ValueError, match="num_heads"):
        F.multi_head_attention(x, None, w, None, np.ones((8, 8)), None, 3)
    with pytest.raises(ValueError, match="w_qkv"):
        F.multi_head_attention(x, None, np.ones((25, 8)), None, np.ones((8, 8)), None, 2)
    with pytest.raises(ValueError, match="x_q"):
        F.multi_head_attention(np.ones(8), None, w, None, np.ones((8, 8)), None, 2)


def test_sinusoidal_positional_encoding():
    pe = F.sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16) and pe.dtype == np.float32
    pos, i = 7, 3
    angle = pos / 10000 ** (2 * i / 16)
    assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-7)
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-7)
    assert_array_equal(pe[0, 0::2], 0)
    assert_array_equal(pe[0, 1::2], 1)
    odd = F.sinusoidal_positional_encoding(5, 7, dtype=np.float64)
    assert odd.shape == (5, 7) and odd.dtype == np.float64
    assert_allclose(odd[:, :6], F.sinusoidal_positional_encoding(5, 7, dtype=np.float64)[:, :6])
    assert F.sinusoidal_positional_encoding(0, 4).shape == (0, 4)
    with pytest.raises(ValueError, match="d_model"):
        F.sinusoidal_positional_encoding(3, -1)
