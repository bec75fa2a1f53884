"""fastml.nn.functional.scaled_dot_product_attention: NumPy reference, PyTorch,
masks, causal alignment, threads, SIMD levels, dropout and errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastml.nn import functional as F
from tests import _reference as ref


def _tol(dtype, S=1, E=1):
    """Attention output tolerance: the scores sum E products, the output S."""
    n = max(S, E, 1)
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5 * np.sqrt(n) + 2e-5, atol=2e-5 * np.sqrt(n) + 2e-6)
    return dict(rtol=1e-12 * np.sqrt(n) + 1e-13, atol=1e-12 * np.sqrt(n) + 1e-14)


def _qkv(rng, dtype, qb, kb, L, S, E, Ev, spread=1.0):
    q = (spread * rng.standard_normal(qb + (L, E))).astype(dtype)
    k = rng.standard_normal(kb + (S, E)).astype(dtype)
    v = rng.standard_normal(kb + (S, Ev)).astype(dtype)
    return q, k, v


# (query batch, key/value batch, L, S, E, Ev): sizes that miss every tile
# (MR = 4/6/14, NR = 8/16/32, key blocks of 256) and batch ranks 0-2.
SHAPES = [
    ((), (), 1, 1, 1, 1),
    ((2,), (2,), 5, 7, 3, 4),
    ((2, 3), (2, 3), 17, 33, 15, 9),
    ((3,), (1,), 15, 16, 8, 31),
    ((), (), 64, 65, 31, 33),
    ((2,), (2,), 100, 300, 64, 64),
    ((), (), 257, 513, 33, 17),
    ((1,), (), 29, 1, 7, 5),
]


@pytest.mark.parametrize("qb,kb,L,S,E,Ev", SHAPES)
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_matches_reference(qb, kb, L, S, E, Ev, causal, dtype, simd_level, rng):
    q, k, v = _qkv(rng, dtype, qb, kb, L, S, E, Ev)
    out, lse = F.scaled_dot_product_attention(q, k, v, is_causal=causal, return_lse=True)
    want, want_lse = ref.sdpa(q, k, v, causal=causal, return_lse=True)
    assert out.dtype == dtype and out.shape == want.shape
    assert lse.dtype == dtype and lse.shape == want_lse.shape
    assert_allclose(out, want, **_tol(dtype, S, E))
    assert_allclose(lse, want_lse, **_tol(dtype, S, E))


@pytest.mark.parametrize("L,S", [(40, 17), (17, 40), (1, 9), (9, 1), (300, 700), (700, 300)])
def test_causal_is_top_left_aligned(L, S, dtype, rng):
    """PyTorch's is_causal: query i attends keys j <= i, also when L != S."""
    q, k, v = _qkv(rng, dtype, (2,), (2,), L, S, 16, 8)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    tri = np.tril(np.ones((L, S), dtype=bool))
    assert_allclose(out, ref.sdpa(q, k, v, mask=tri), **_tol(dtype, S, 16))


def test_agrees_with_torch(dtype, rng):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    q, k, v = _qkv(rng, dtype, (2, 3), (2, 3), 37, 70, 24, 20)
    mask = rng.random((3, 37, 70)) > 0.2
    fmask = rng.standard_normal((37, 70)).astype(dtype)
    t = [torch.from_numpy(x) for x in (q, k, v)]
    for kw, tkw in [({}, {}), (dict(is_causal=True), dict(is_causal=True)),
                    (dict(attn_mask=mask), dict(attn_mask=torch.from_numpy(mask))),
                    (dict(attn_mask=fmask, scale=0.3), dict(attn_mask=torch.from_numpy(fmask), scale=0.3))]:
        got = F.scaled_dot_product_attention(q, k, v, **kw)
        want = tF.scaled_dot_product_attention(*t, **tkw).numpy()
        assert_allclose(got, want, **_tol(dtype, 70, 24))


def test_grouped_query_heads_agree_with_torch(rng):
    torch = pytest.importorskip("torch")
    q = rng.standard_normal((2, 6, 19, 16)).astype(np.float32)
    k = rng.standard_normal((2, 2, 23, 16)).astype(np.float32)
    v = rng.standard_normal((2, 2, 23, 8)).astype(np.float32)
    got = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    want = torch.nn.functional.scaled_dot_product_attention(
        *[torch.from_numpy(x) for x in (q, k, v)], enable_gqa=True).numpy()
    assert_allclose(got, want, **_tol(np.float32, 23, 16))
    assert_allclose(got, ref.sdpa(q, k, v, gqa=True), **_tol(np.float32, 23, 16))


# mask shapes for query (2, 3, L, E): every broadcast pattern of (B, H, L, S)
MASK_SHAPES = [(11, 13), (1, 13), (11, 1), (3, 11, 13), (2, 1, 1, 13), (2, 3, 11, 13),
               (1, 1, 11, 13), (13,), (2, 3, 1, 1)]


@pytest.mark.parametrize("mshape", MASK_SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_mask_broadcasting(mshape, kind, dtype, rng):
    q, k, v = _qkv(rng, dtype, (2, 3), (2, 3), 11, 13, 6, 5)
    if kind == "bool":
        mask = rng.random(mshape) > 0.3
    else:
        mask = rng.standard_normal(mshape).astype(dtype)
        mask[rng.random(mshape) < 0.2] = -np.inf
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert not np.isnan(got).any()
    assert_allclose(got, ref.sdpa(q, k, v, mask=mask), **_tol(dtype, 13, 6))


def test_mask_widens_the_batch(rng):
    """A mask with batch dimensions the inputs lack broadcasts them (like torch)."""
    q, k, v = _qkv(rng, np.float64, (), (), 7, 9, 4, 3)
    mask = rng.random((5, 7, 9)) > 0.4
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert got.shape == (5, 7, 3)
    assert_allclose(got, ref.sdpa(q, k, v, mask=mask), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("S", [5, 300, 600])
def test_fully_masked_rows_give_zeros(S, dtype, simd_level, rng):
    q, k, v = _qkv(rng, dtype, (2,), (2,), 9, S, 8, 7)
    mask = rng.random((2, 9, S)) > 0.5
    mask[0, 3] = False
    mask[1, 0] = False
    fmask = np.where(mask, 0.0, -np.inf).astype(dtype)
    for m in (mask, fmask):
        out, lse = F.scaled_dot_product_attention(q, k, v, attn_mask=m, return_lse=True)
        assert np.isfinite(out).all()
        assert_array_equal(out[0, 3], 0)
        assert_array_equal(out[1, 0], 0)
        assert lse[0, 3] == -np.inf and lse[1, 0] == -np.inf
        assert np.isfinite(np.delete(lse[0], 3)).all()
        assert_allclose(out, ref.sdpa(q, k, v, mask=mask), **_tol(dtype, S, 8))


def test_zero_keys_give_zeros(dtype):
    q = np.ones((2, 4, 3), dtype=dtype)
    out, lse = F.scaled_dot_product_attention(q, np.ones((2, 0, 3), dtype), np.ones((2, 0, 5), dtype),
                                              return_lse=True)
    assert out.shape == (2, 4, 5) and (out == 0).all() and (lse == -np.inf).all()
    empty = F.scaled_dot_product_attention(np.ones((0, 4, 3), dtype), np.ones((0, 6, 3), dtype),
                                           np.ones((0, 6, 5), dtype))
    assert empty.shape == (0, 4, 5)
    assert F.scaled_dot_product_attention(q[:, :0], q, q).shape == (2, 0, 3)


@pytest.mark.parametrize("scale", [1e4, 1.0])
def test_extreme_logits_do_not_overflow(scale, dtype, simd_level, rng):
    q, k, v = _qkv(rng, dtype, (2,), (2,), 33, 290, 16, 8)
    q *= scale
    out, lse = F.scaled_dot_product_attention(q, k, v, return_lse=True)
    assert np.isfinite(out).all() and np.isfinite(lse).all()
    want, want_lse = ref.sdpa(q, k, v, return_lse=True)
    # the scores are ~1e4: float32 rounding of q.k moves the winner's weight
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float64 or scale == 1 else dict(rtol=0.5, atol=0.5)
    assert_allclose(out, want, **tol)
    assert_allclose(lse, want_lse, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_strided_and_transposed_inputs(dtype, rng):
    """Heads split from a (B, L, H, E) layout: transposed views read in place."""
    x = rng.standard_normal((2, 21, 3, 3 * 16)).astype(dtype)
    q, k, v = (np.swapaxes(x[..., i * 16:(i + 1) * 16], 1, 2) for i in range(3))
    assert not q.flags.c_contiguous
    got = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_allclose(got, ref.sdpa(q, k, v, causal=True), **_tol(dtype, 21, 16))
    qf = np.asfortranarray(q[0, 0])
    assert_allclose(F.scaled_dot_product_attention(qf, k[0, 0], v[0, 0]),
                    ref.sdpa(qf, k[0, 0], v[0, 0]), **_tol(dtype, 21, 16))


def test_readonly_and_broadcast_inputs(rng):
    q, k, v = _qkv(rng, np.float32, (), (), 30, 40, 8, 8)
    for x in (q, k, v):
        x.flags.writeable = False
    qb = np.broadcast_to(q, (4, 30, 8))              # stride 0 batch
    got = F.scaled_dot_product_attention(qb, k, v)
    assert got.shape == (4, 30, 8)
    assert_allclose(got[3], ref.sdpa(q, k, v), **_tol(np.float32, 40, 8))


def test_mixed_dtypes_promote_to_float64(rng):
    q, k, v = _qkv(rng, np.float32, (), (), 6, 7, 4, 3)
    out = F.scaled_dot_product_attention(q, k.astype(np.float64), v)
    assert out.dtype == np.float64
    ints = F.scaled_dot_product_attention(np.ones((3, 2), int), np.ones((4, 2), int), np.ones((4, 2), int))
    assert ints.dtype == np.float64
    assert_allclose(ints, 1.0)


@pytest.mark.parametrize("causal", [False, True])
def test_threads_bitwise(causal, dtype, rng):
    q, k, v = _qkv(rng, dtype, (3, 2), (3, 2), 301, 257, 40, 24)
    one, lse1 = F.scaled_dot_product_attention(q, k, v, is_causal=causal, return_lse=True, n_threads=1)
    two, lse2 = F.scaled_dot_product_attention(q, k, v, is_causal=causal, return_lse=True, n_threads=2)
    assert one.tobytes() == two.tobytes() and lse1.tobytes() == lse2.tobytes()


def test_simd_levels_agree_with_scalar(simd_level, rng):
    q, k, v = _qkv(rng, np.float32, (2,), (2,), 77, 301, 40, 24)
    mask = rng.random((77, 301)) > 0.1
    from fastml._config import set_simd_level
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    before = simd_level
    set_simd_level("scalar")
    try:
        scalar = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    finally:
        set_simd_level(before)
    assert_allclose(got, scalar, **_tol(np.float32, 301, 40))


def test_dropout_reproducible_and_thread_independent(rng):
    q, k, v = _qkv(rng, np.float32, (2, 2), (2, 2), 70, 90, 16, 8)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, seed=7, n_threads=1)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, seed=7, n_threads=2)
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, seed=8)
    assert a.tobytes() == b.tobytes()
    assert not np.allclose(a, c)
    assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, seed=7),
                       F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keeps_the_right_fraction_and_scales(p, rng):
    """With V = identity the output is the dropped-out attention matrix itself."""
    L, S = 64, 500
    q, k, _ = _qkv(rng, np.float64, (4,), (4,), L, S, 8, 1)
    v = np.broadcast_to(np.eye(S), (4, S, S))
    weights = ref.sdpa(q, k, v)                      # softmax without dropout
    got = F.scaled_dot_product_attention(q, k, v, dropout_p=p, seed=123)
    kept = got != 0
    assert abs(kept.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / kept.size)
    assert_allclose(got[kept], weights[kept] / (1 - p), rtol=1e-12)
    # no structure across rows: two rows' masks agree about as often as chance says
    agree = (kept[0, 0] == kept[0, 1]).mean()
    assert abs(agree - (p * p + (1 - p) ** 2)) < 0.1


def test_errors_name_the_argument(rng):
    q, k, v = _qkv(rng, np.float32, (2,), (2,), 5, 6, 4, 3)
    with pytest.raises(ValueError, match=r"key\.shape\[-1\]"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"value\.shape\[-2\]"):
        F.scaled_dot_product_attention(q, k, v[:, :5])
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((5, 7), bool))
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5, 6), bool))
    with pytest.raises(TypeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((5, 6), np.int32))
    with pytest.raises(ValueError, match="attn_mask.*is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((5, 6), bool), is_causal=True)
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="dropout_p"):
            F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    with pytest.raises(TypeError, match="query"):
        F.scaled_dot_product_attention(q.astype(np.complex64), k, v)
    with pytest.raises(TypeError, match="key"):
        F.scaled_dot_product_attention(q, np.array([["a"]]), v)
    with pytest.raises(ValueError, match="query"):
        F.scaled_dot_product_attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match="do not broadcast"):
        F.scaled_dot_product_attention(q, np.concatenate([k, k, k])[:3], v)
    with pytest.raises(ValueError, match="heads"):
        F.scaled_dot_product_attention(np.ones((1, 3, 5, 4)), np.ones((1, 2, 6, 4)),
                                       np.ones((1, 2, 6, 3)), enable_gqa=True)
    with pytest.raises(TypeError, match="seed"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.1, seed=1.5)


def test_profiler_records_sdpa_and_backward(rng):
    import fastml
    q, k, v = _qkv(rng, np.float32, (2, 3), (2, 3), 16, 24, 8, 4)
    with fastml.profile() as p:
        out, lse = F.scaled_dot_product_attention(q, k, v, return_lse=True, n_threads=1)
        F.scaled_dot_product_attention(q, k, v, is_causal=True)
        F.scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, out, lse)
    fwd, causal, bwd = p.records
    assert fwd["name"] == "sdpa" and fwd["threads"] == 1 and fwd["dtype"] == "float32"
    assert fwd["flops"] == 2.0 * 6 * 16 * 24 * (8 + 4)
    assert causal["flops"] == fwd["flops"] / 2
    assert bwd["name"] == "sdpa_backward" and bwd["flops"] == 2.0 * 6 * 16 * 24 * (3 * 8 + 2 * 4)


@pytest.mark.parametrize("causal", [False, True])
def test_wide_heads_take_the_packed_query_path(causal, dtype, rng):
    """E larger than a tile row (272): Q goes through packed MR-row panels."""
    q, k, v = _qkv(rng, dtype, (2,), (2,), 40, 35, 300, 20)
    got = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert_allclose(got, ref.sdpa(q, k, v, causal=causal), **_tol(dtype, 35, 300))
