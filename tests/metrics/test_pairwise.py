"""fastml.metrics.pairwise_distances against NumPy references, across shapes,
dtypes, SIMD levels, layouts and thread counts."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml
from fastml.metrics import pairwise_distances
from tests import _reference as ref
from tests.conftest import tol

METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine", "dot", "kl"]
TRUE_METRICS = [m for m in METRICS if m != "dot"]
# (m, n, d): ones, odd sizes around every tile (MR 4/8/14, NR 4/16/32, 256-column
# blocks, 56/64-row tasks) and d off the SIMD width
SHAPES = [(1, 1, 1), (1, 7, 3), (7, 1, 5), (9, 17, 1), (15, 33, 13), (17, 31, 64), (57, 65, 17),
          (65, 257, 33), (130, 300, 7)]


def make_data(rng, shape, dtype, metric):
    """Rows for `metric`: probability-like rows with zeros for kl, normal otherwise."""
    if metric == "kl":
        x = rng.random(shape)
        x[x < min(0.15, 0.7 / shape[1])] = 0.0     # about half the pairs hit a zero of y
        return (x / np.maximum(x.sum(1, keepdims=True), 1e-300)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def check_close(got, expect, dtype, d, metric):
    """Per-dtype tolerance; absolute part scaled by the entries' magnitude."""
    t = tol(dtype, d)
    finite = np.isfinite(expect)
    assert np.array_equal(finite, np.isfinite(got))
    assert np.array_equal(got[~finite], expect[~finite])
    scale = max(1.0, float(np.abs(expect[finite]).max())) if finite.any() else 1.0
    if metric in ("dot", "kl"):          # sums with cancellation: error relative to the terms
        scale *= np.sqrt(d)
    assert_allclose(got[finite], expect[finite], rtol=t["rtol"], atol=t["atol"] * scale)


def distances(metric, X, Y=None, **kw):
    return pairwise_distances(X, Y, metric=metric, p=3 if metric == "minkowski" else None, **kw)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("m,n,d", SHAPES)
def test_matches_reference(metric, m, n, d, dtype, simd_level, rng):
    X, Y = make_data(rng, (m, d), dtype, metric), make_data(rng, (n, d), dtype, metric)
    D = distances(metric, X, Y)
    assert D.dtype == dtype and D.shape == (m, n)
    check_close(D, ref.pairwise_distances(X, Y, metric, p=3), dtype, d, metric)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("m,d", [(1, 3), (13, 1), (40, 9), (70, 65)])
def test_self_is_symmetric_with_zero_diagonal(metric, m, d, dtype, simd_level, rng):
    X = make_data(rng, (m, d), dtype, metric)
    D = distances(metric, X)
    check_close(D, ref.pairwise_distances(X, X, metric, p=3), dtype, d, metric)
    if metric != "kl":                                         # KL is not symmetric
        assert np.array_equal(D, D.T)                          # exactly symmetric
    if metric in TRUE_METRICS:
        assert np.all(np.diag(D) == 0)                         # exact zeros
        assert D.min() >= 0


@pytest.mark.parametrize("metric", METRICS)
def test_threads_bitwise(metric, dtype, simd_level, rng):
    X = make_data(rng, (301, 37), dtype, metric)
    Y = make_data(rng, (517, 37), dtype, metric)
    d1 = distances(metric, X, Y, n_threads=1)
    d2 = distances(metric, X, Y, n_threads=2)
    assert d1.tobytes() == d2.tobytes()
    with fastml.threads(2):
        assert distances(metric, X, Y).tobytes() == d1.tobytes()


@pytest.mark.parametrize("metric", METRICS)
def test_simd_levels_agree_with_scalar(metric, dtype, rng):
    from fastml._config import set_simd_level
    from tests.conftest import LEVELS
    X = make_data(rng, (45, 70), dtype, metric)
    Y = make_data(rng, (33, 70), dtype, metric)
    before = fastml.simd_level()
    try:
        results = {lv: (set_simd_level(lv), distances(metric, X, Y))[1] for lv in LEVELS}
    finally:
        set_simd_level(before)
    for lv, D in results.items():
        check_close(D, results["scalar"].astype(np.float64), dtype, 70, metric)


@pytest.mark.parametrize("layout", ["F", "strided", "transposed", "readonly", "list"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "manhattan", "cosine"])
def test_layouts_match_contiguous(layout, metric, rng):
    X = rng.standard_normal((23, 19))
    Y = rng.standard_normal((31, 19))
    expect = distances(metric, X, Y)
    if layout == "F":
        X2, Y2 = np.asfortranarray(X), np.asfortranarray(Y)
    elif layout == "strided":
        bx = np.zeros((46, 57))
        bx[::2, ::3] = X
        X2, Y2 = bx[::2, ::3], Y[::-1][::-1]
    elif layout == "transposed":
        X2, Y2 = X.T.copy().T, Y.T.copy().T
    elif layout == "readonly":
        X2, Y2 = X.copy(), Y.copy()
        X2.flags.writeable = Y2.flags.writeable = False
    else:
        X2, Y2 = X.tolist(), Y.tolist()
    assert distances(metric, X2, Y2).tobytes() == expect.tobytes()


def test_float32_stays_float32_and_mixed_promotes(rng):
    X32 = rng.standard_normal((5, 4)).astype(np.float32)
    assert pairwise_distances(X32).dtype == np.float32
    assert pairwise_distances(X32, X32.astype(np.float64)).dtype == np.float64
    assert pairwise_distances(np.arange(6).reshape(3, 2)).dtype == np.float64


def test_zero_rows(dtype):
    X = np.ones((0, 4), dtype)
    Y = np.ones((3, 4), dtype)
    assert pairwise_distances(X, Y).shape == (0, 3)
    assert pairwise_distances(Y, X).shape == (3, 0)
    assert pairwise_distances(X).shape == (0, 0)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_far_from_origin_float32_is_accurate(metric, rng):
    """scikit-learn#9354: the GEMM expansion cancels for close points far from 0."""
    X = (1e4 + rng.standard_normal((300, 64))).astype(np.float32)
    Y = (1e4 + rng.standard_normal((200, 64))).astype(np.float32)
    expect = ref.pairwise_distances(X, Y, "sqeuclidean")
    D = pairwise_distances(X, Y, metric=metric).astype(np.float64)
    if metric == "euclidean":
        D = D ** 2
    assert np.all(np.abs(D - expect) <= 1e-3 * expect + 1e-6)
    S = pairwise_distances(X, metric="sqeuclidean").astype(np.float64)
    exp_s = ref.pairwise_distances(X, X, "sqeuclidean")
    assert np.all(np.abs(S - exp_s) <= 1e-3 * exp_s + 1e-6)


def test_clustered_far_apart_float32(rng):
    """Two tight clusters far from each other: shifting by the mean cannot help,
    the recomputation of small entries must."""
    c = np.zeros((2, 16))
    c[0, 0], c[1, 0] = -1e4, 1e4
    X = (c[rng.integers(0, 2, 200)] + 0.01 * rng.standard_normal((200, 16))).astype(np.float32)
    expect = ref.pairwise_distances(X, X, "sqeuclidean")
    D = pairwise_distances(X, metric="sqeuclidean").astype(np.float64)
    assert np.all(np.abs(D - expect) <= 1e-3 * expect + 1e-6)


def test_never_negative_and_cosine_in_range(rng):
    X = rng.standard_normal((50, 8)).astype(np.float32)
    Xd = np.vstack([X, X, -X, np.zeros((1, 8), np.float32)])   # duplicates, opposites, a zero row
    for metric in TRUE_METRICS[:-1]:
        assert pairwise_distances(Xd, metric=metric).min() >= 0
    C = pairwise_distances(Xd, Xd * 3, metric="cosine")
    assert C.min() >= 0 and C.max() <= 2
    assert_allclose(C[:50, 100:150].diagonal(), 2.0, rtol=0, atol=1e-6)   # x vs -3x
    assert np.all(C[-1, :-1] == 1.0)           # zero row: orthogonal to everything


def test_minkowski_p_values(rng):
    X, Y = rng.standard_normal((20, 7)), rng.standard_normal((15, 7))
    for p in (0.5, 1, 1.5, 2, 3, 4.25):
        assert_allclose(pairwise_distances(X, Y, metric="minkowski", p=p),
                        ref.pairwise_distances(X, Y, "minkowski", p=p), rtol=1e-12)
    assert_allclose(pairwise_distances(X, Y, metric="minkowski", p=np.inf),
                    ref.pairwise_distances(X, Y, "chebyshev"), rtol=0)
    assert_allclose(pairwise_distances(X, Y, metric="minkowski", p=1),
                    pairwise_distances(X, Y, metric="manhattan"), rtol=1e-14)


def test_kl_semantics():
    X = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    Y = np.array([[0.5, 0.0, 0.5], [0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    D = pairwise_distances(X, Y, metric="kl")
    from scipy.special import rel_entr
    expect = rel_entr(X[:, None, :], Y[None, :, :]).sum(-1)
    assert np.isinf(D[0, 0]) and np.isinf(expect[0, 0])      # x > 0 where y == 0
    assert D[1, 1] == pytest.approx(np.log(4))               # zeros of x contribute 0
    assert D[2, 2] == 0
    assert_allclose(D, expect, rtol=1e-13, atol=1e-15)


def test_scipy_cdist_agrees(rng):
    from scipy.spatial.distance import cdist
    X, Y = rng.standard_normal((30, 11)), rng.standard_normal((25, 11))
    for ours, theirs, kw in [("euclidean", "euclidean", {}), ("sqeuclidean", "sqeuclidean", {}),
                             ("manhattan", "cityblock", {}), ("chebyshev", "chebyshev", {}),
                             ("cosine", "cosine", {}), ("minkowski", "minkowski", {"p": 3})]:
        assert_allclose(pairwise_distances(X, Y, metric=ours, **kw), cdist(X, Y, theirs, **kw),
                        rtol=1e-12, atol=1e-12)


def test_sklearn_agrees(rng):
    from sklearn.metrics import pairwise_distances as skpd
    X, Y = rng.standard_normal((40, 9)).astype(np.float32), rng.standard_normal((20, 9)).astype(np.float32)
    for metric in ("euclidean", "manhattan", "cosine"):
        assert_allclose(pairwise_distances(X, Y, metric=metric), skpd(X, Y, metric=metric),
                        rtol=1e-5, atol=1e-5)


def test_out_argument(dtype, rng):
    X, Y = rng.standard_normal((20, 6)).astype(dtype), rng.standard_normal((30, 6)).astype(dtype)
    out = np.full((20, 30), np.nan, dtype)
    r = pairwise_distances(X, Y, out=out)
    assert r is out
    assert out.tobytes() == pairwise_distances(X, Y).tobytes()
    big = np.full((20, 60), -7, dtype)                  # non-contiguous out: filled via a temporary
    pairwise_distances(X, Y, metric="manhattan", out=big[:, ::2])
    assert big[:, ::2].tobytes() == pairwise_distances(X, Y, metric="manhattan").tobytes()
    assert np.all(big[:, 1::2] == -7)


def test_out_guard_zone(rng):
    """Tiles never write past their rows: a padded out keeps its sentinels."""
    X, Y = rng.standard_normal((37, 21)).astype(np.float32), rng.standard_normal((45, 21)).astype(np.float32)
    for metric in METRICS:
        Xm, Ym = (np.abs(X), np.abs(Y)) if metric == "kl" else (X, Y)
        big = np.full((39, 50), 12345.0, np.float32)
        view = big[1:38, 2:47]
        pairwise_distances(Xm, Ym, metric=metric, out=view)
        mask = np.ones_like(big, bool)
        mask[1:38, 2:47] = False
        assert np.all(big[mask] == 12345.0)


@pytest.mark.parametrize("call,exc,match", [
    (lambda X: pairwise_distances(X, metric="hamming"), ValueError, "metric must be one of.*'euclidean'.*'kl'"),
    (lambda X: pairwise_distances(X, np.ones((3, 5))), ValueError, "features"),
    (lambda X: pairwise_distances(np.ones(4)), ValueError, "2-D"),
    (lambda X: pairwise_distances(np.ones((3, 0))), ValueError, "0 features"),
    (lambda X: pairwise_distances(np.where(X > 0, np.nan, X)), ValueError, "X contains NaN"),
    (lambda X: pairwise_distances(X, np.full((2, 4), np.inf)), ValueError, "Y contains infinity"),
    (lambda X: pairwise_distances(X, metric="kl"), ValueError, "X contains negative"),
    (lambda X: pairwise_distances(np.abs(X), -np.abs(X), metric="kl"), ValueError, "Y contains negative"),
    (lambda X: pairwise_distances(X, metric="minkowski", p=0), ValueError, "p must be > 0"),
    (lambda X: pairwise_distances(X, metric="minkowski", p="2"), TypeError, "p must be"),
    (lambda X: pairwise_distances(X.astype(complex)), TypeError, "X"),
    (lambda X: pairwise_distances(X, n_threads=0), ValueError, "n_threads"),
])
def test_errors(call, exc, match, rng):
    X = rng.standard_normal((6, 4))
    with pytest.raises(exc, match=match):
        call(X)


def test_out_untouched_on_error(rng):
    X = rng.standard_normal((5, 4))
    out = np.full((5, 5), 7.0)
    bad = X.copy()
    bad[2, 1] = np.nan
    for call in [lambda: pairwise_distances(bad, out=out),
                 lambda: pairwise_distances(X, metric="nope", out=out),
                 lambda: pairwise_distances(X, np.ones((5, 3)), out=out),
                 lambda: pairwise_distances(X, metric="kl", out=out)]:
        with pytest.raises(ValueError):
            call()
        assert np.all(out == 7.0)
    with pytest.raises(ValueError, match="shape"):
        pairwise_distances(X, out=np.empty((5, 4)))
    with pytest.raises(TypeError, match="dtype"):
        pairwise_distances(X, out=np.empty((5, 5), np.float32))


def test_profile_records(rng):
    X = rng.standard_normal((40, 8)).astype(np.float32)
    with fastml.profile() as prof:
        pairwise_distances(X, metric="cosine", n_threads=1)
    (rec,) = [r for r in prof.records if r["name"] == "pairwise_distances"]
    assert rec["dtype"] == "float32" and rec["threads"] == 1
    assert rec["flops"] == 2.0 * 40 * 40 * 8 and rec["bytes"] > 0


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cosine"])
def test_large_misaligned_output_equals_blocks(metric, rng):
    """A large output not aligned to the vector width: same bits as row blocks."""
    X = rng.standard_normal((3001, 5)).astype(np.float32)
    Y = rng.standard_normal((3003, 5)).astype(np.float32)
    buf = np.empty(3001 * 3003 + 3, np.float32)
    out = buf[3:].reshape(3001, 3003)              # C-contiguous, 12 bytes past alignment
    pairwise_distances(X, Y, metric=metric, out=out)
    blocks = np.vstack([pairwise_distances(X[i:i + 500], Y, metric=metric) for i in range(0, 3001, 500)])
    assert out.tobytes() == blocks.tobytes()


@pytest.mark.parametrize("d", [7, 128, 300])          # 300 > kc: sums over two k blocks
def test_fused_sq_tile_far_from_origin(d, dtype, simd_level, rng):
    """Pairwise sqeuclidean/euclidean finish inside the micro-kernel's store
    (AVX2/AVX-512): full and edge tiles, one and two k blocks, entries flagged
    for cancellation recomputed exactly.  (When it was introduced, its output
    was compared bit for bit with the tile + finish_sq path it replaces, 181
    random cases at every SIMD level.)"""
    X = (rng.standard_normal((75, d)) + 3e3).astype(dtype)
    Y = np.concatenate([X[:5] + 1e-3, (rng.standard_normal((48, d)) + 3e3)]).astype(dtype)
    exact = ((X.astype(np.float64)[:, None, :] - Y.astype(np.float64)[None]) ** 2).sum(-1)
    for metric, expect in (("sqeuclidean", exact), ("euclidean", np.sqrt(exact))):
        got = fastml.metrics.pairwise_distances(X, Y, metric=metric)
        assert (got >= 0).all()
        rtol = 1e-3 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got, expect, rtol=rtol, atol=1e-6 * (1 if metric == "euclidean" else d))
        one = fastml.metrics.pairwise_distances(X, Y, metric=metric, n_threads=1)
        assert got.tobytes() == one.tobytes()


def test_output_on_a_cache_line_and_any_out_alignment(rng):
    """pairwise_distances allocates its output on a 64-byte boundary (the fused
    sqeuclidean store streams full lines there); an out= at any offset gets the
    same values."""
    X = rng.standard_normal((70, 40)).astype(np.float32)
    Y = rng.standard_normal((96, 40)).astype(np.float32)
    for metric in ("sqeuclidean", "euclidean", "cosine"):
        D = pairwise_distances(X, Y, metric=metric)
        assert D.ctypes.data % 64 == 0 and D.flags.c_contiguous
        for off in (1, 4, 7):
            buf = np.empty(70 * 96 + off, np.float32)
            out = buf[off:].reshape(70, 96)
            pairwise_distances(X, Y, metric=metric, out=out)
            assert_array_equal(out, D)
