"""scaled_dot_product_attention_backward: textbook reference, finite differences,
torch autograd, broadcast and grouped heads, dropout, threads."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastml.nn import functional as F
from tests import _reference as ref


def _rel_err(got, want):
    return np.abs(got - want).max() / max(np.abs(want).max(), 1e-300)


def _inputs(rng, dtype, qb, kb, L, S, E, Ev):
    q = rng.standard_normal(qb + (L, E)).astype(dtype)
    k = rng.standard_normal(kb + (S, E)).astype(dtype)
    v = rng.standard_normal(kb + (S, Ev)).astype(dtype)
    return q, k, v


def _grads(q, k, v, g, **kw):
    out, lse = F.scaled_dot_product_attention(q, k, v, return_lse=True, **kw)
    return F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, **kw)


SHAPES = [((), (), 1, 1, 1, 1), ((2,), (2,), 5, 7, 3, 4), ((2, 3), (2, 3), 17, 33, 15, 9),
          ((), (), 64, 65, 31, 33), ((2,), (2,), 100, 300, 64, 64), ((), (), 257, 513, 33, 17),
          ((1,), (1,), 70, 30, 16, 8)]


@pytest.mark.parametrize("qb,kb,L,S,E,Ev", SHAPES)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_matches_reference(qb, kb, L, S, E, Ev, causal, dtype, simd_level, rng):
    q, k, v = _inputs(rng, dtype, qb, kb, L, S, E, Ev)
    g = rng.standard_normal(qb + (L, Ev)).astype(dtype)
    dq, dk, dv = _grads(q, k, v, g, is_causal=causal)
    want = ref.sdpa_backward(g, q, k, v, causal=causal)
    limit = 2e-5 * np.sqrt(max(L, S)) if dtype == np.float32 else 1e-13 * np.sqrt(max(L, S))
    for got, w, x in zip((dq, dk, dv), want, (q, k, v)):
        assert got.shape == x.shape and got.dtype == dtype
        assert _rel_err(got, w) < limit


@pytest.mark.parametrize("kind", [None, "bool", "float", "causal"])
def test_finite_differences(kind, rng):
    """Central differences of sum(g * out) in float64 on a tiny problem."""
    L, S, E, Ev = 5, 6, 3, 4
    q, k, v = _inputs(rng, np.float64, (2,), (2,), L, S, E, Ev)
    g = rng.standard_normal((2, L, Ev))
    kw = {}
    if kind == "bool":
        kw["attn_mask"] = rng.random((L, S)) > 0.3
    elif kind == "float":
        kw["attn_mask"] = rng.standard_normal((2, 1, S))
    elif kind == "causal":
        kw["is_causal"] = True
    grads = _grads(q, k, v, g, **kw)
    h = 1e-6
    for x, gx in zip((q, k, v), grads):
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + h
            fp = (g * F.scaled_dot_product_attention(q, k, v, **kw)).sum()
            x[idx] = old - h
            fm = (g * F.scaled_dot_product_attention(q, k, v, **kw)).sum()
            x[idx] = old
            num[idx] = (fp - fm) / (2 * h)
        assert_allclose(gx, num, rtol=1e-6, atol=1e-8)


def test_dropout_gradient_by_finite_differences(rng):
    """With a fixed seed the dropout mask is a fixed function: differentiable."""
    q, k, v = _inputs(rng, np.float64, (2,), (2,), 4, 7, 3, 2)
    g = rng.standard_normal((2, 4, 2))
    kw = dict(dropout_p=0.4, seed=11)
    grads = _grads(q, k, v, g, **kw)
    h = 1e-6
    for x, gx in zip((q, k, v), grads):
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + h
            fp = (g * F.scaled_dot_product_attention(q, k, v, **kw)).sum()
            x[idx] = old - h
            fm = (g * F.scaled_dot_product_attention(q, k, v, **kw)).sum()
            x[idx] = old
            num[idx] = (fp - fm) / (2 * h)
        assert_allclose(gx, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask", "float_mask", "broadcast_kv", "gqa"])
def test_agrees_with_torch_autograd(case, dtype, rng):
    torch = pytest.importorskip("torch")
    kb = (2, 3)
    kw, tkw = {}, {}
    if case == "broadcast_kv":
        kb = (1, 3)
    if case == "gqa":
        kb = (2, 1)
        kw = tkw = dict(enable_gqa=True)
    q, k, v = _inputs(rng, dtype, (2, 3), kb, 33, 45, 16, 12)
    if case == "causal":
        kw = tkw = dict(is_causal=True)
    if case == "bool_mask":
        m = rng.random((3, 33, 45)) > 0.3
        kw, tkw = dict(attn_mask=m), dict(attn_mask=torch.from_numpy(m))
    if case == "float_mask":
        m = rng.standard_normal((2, 1, 1, 45)).astype(dtype)
        kw, tkw = dict(attn_mask=m), dict(attn_mask=torch.from_numpy(m))
    g = rng.standard_normal((2, 3, 33, 12)).astype(dtype)
    t = [torch.from_numpy(x).requires_grad_() for x in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*t, **tkw)
    want = torch.autograd.grad(out, t, torch.from_numpy(g))
    got = _grads(q, k, v, g, **kw)
    limit = 1e-4 if dtype == np.float32 else 1e-11
    for a, b in zip(got, want):
        assert a.shape == tuple(b.shape)
        assert _rel_err(a, b.numpy()) < limit


def test_fully_masked_rows_have_zero_gradients(dtype, rng):
    q, k, v = _inputs(rng, dtype, (2,), (2,), 6, 9, 4, 3)
    mask = rng.random((2, 6, 9)) > 0.4
    mask[1, 2] = False
    g = rng.standard_normal((2, 6, 3)).astype(dtype)
    dq, dk, dv = _grads(q, k, v, g, attn_mask=mask)
    assert np.isfinite(dq).all() and np.isfinite(dk).all() and np.isfinite(dv).all()
    assert (dq[1, 2] == 0).all()
    want = ref.sdpa_backward(g, q, k, v, mask=mask)
    for a, b in zip((dq, dk, dv), want):
        assert _rel_err(a, b) < (1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("causal", [False, True])
def test_threads_bitwise(causal, rng):
    q, k, v = _inputs(rng, np.float32, (3, 2), (3, 2), 130, 300, 24, 16)
    g = rng.standard_normal((3, 2, 130, 16)).astype(np.float32)
    out, lse = F.scaled_dot_product_attention(q, k, v, is_causal=causal, return_lse=True)
    one = F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, is_causal=causal, n_threads=1)
    two = F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, is_causal=causal, n_threads=2)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


def test_errors(rng):
    q, k, v = _inputs(rng, np.float32, (2,), (2,), 5, 6, 4, 3)
    out, lse = F.scaled_dot_product_attention(q, k, v, return_lse=True)
    g = np.ones_like(out)
    with pytest.raises(ValueError, match="grad_out"):
        F.scaled_dot_product_attention_backward(g[:, :4], q, k, v, out, lse)
    with pytest.raises(ValueError, match="lse"):
        F.scaled_dot_product_attention_backward(g, q, k, v, out, lse[:, :3])
    with pytest.raises(ValueError, match="out"):
        F.scaled_dot_product_attention_backward(g, q, k, v, out[..., :2], lse)
    with pytest.raises(ValueError, match="seed"):
        F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, dropout_p=0.2)
    with pytest.raises(ValueError, match=r"key\.shape\[-1\]"):
        F.scaled_dot_product_attention_backward(g, q, k[..., :2], v, out, lse)


@pytest.mark.parametrize("causal", [False, True])
def test_few_heads_split_queries(causal, rng):
    """Fewer than 8 problems and L >= 1024: the queries are split into chunks whose
    dK/dV shares are summed in order; still the reference, still thread-independent."""
    q, k, v = _inputs(rng, np.float64, (1,), (1,), 1100, 333, 24, 16)
    g = rng.standard_normal((1, 1100, 16))
    out, lse = F.scaled_dot_product_attention(q, k, v, is_causal=causal, return_lse=True)
    one = F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, is_causal=causal, n_threads=1)
    two = F.scaled_dot_product_attention_backward(g, q, k, v, out, lse, is_causal=causal, n_threads=2)
    for a, b, w in zip(one, two, ref.sdpa_backward(g, q, k, v, causal=causal)):
        assert a.tobytes() == b.tobytes()
        assert _rel_err(a, w) < 1e-12
