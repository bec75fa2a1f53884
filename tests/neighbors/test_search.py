"""fastml.neighbors.knn and radius_neighbors against brute-force NumPy and scikit-learn."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml
from fastml.metrics import pairwise_distances
from fastml.neighbors import knn, radius_neighbors
from tests import _reference as ref
from tests.conftest import tol
from tests.metrics.test_pairwise import METRICS, make_data

SHAPES = [(1, 1, 1, 1), (1, 9, 3, 4), (7, 33, 5, 7), (17, 300, 2, 10), (60, 257, 33, 1),
          (130, 70, 64, 70), (9, 1100, 8, 25)]


def p_of(metric):
    return 3 if metric == "minkowski" else None


def check_knn(dist, ind, X, Y, k, metric, dtype, d):
    """Indices exactly as the stable brute-force sort, except where two reference
    distances are too close for the dtype to order them (then the distances agree)."""
    rd, ri = ref.knn(X, Y, k, metric, p=3)
    assert dist.dtype == dtype and ind.dtype == np.int64 and ind.shape == (len(X), k)
    t = tol(dtype, d)
    scale = max(1.0, float(np.nanmax(np.abs(rd[np.isfinite(rd)])))) if np.isfinite(rd).any() else 1
    if metric in ("dot", "kl"):
        scale *= np.sqrt(d)
    fin = np.isfinite(rd)
    assert np.array_equal(np.isfinite(dist), fin)
    assert_allclose(dist[fin], rd[fin], rtol=t["rtol"], atol=t["atol"] * scale)
    D = ref.pairwise_distances(X, Y, metric, p=3)
    got = np.take_along_axis(D, ind, axis=1)      # reference distance of what we returned
    fin = np.isfinite(rd)
    assert_allclose(got[fin], rd[fin], rtol=t["rtol"], atol=t["atol"] * scale)
    for i in range(len(X)):                       # sorted, ties by index, no duplicates
        assert len(set(ind[i])) == k
        key = -dist[i] if metric == "dot" else dist[i]
        assert np.all(key[1:] >= key[:-1])
        same = key[1:] == key[:-1]
        assert np.all(np.diff(ind[i])[same] > 0)
    if dtype == np.float64:
        assert_array_equal(ind, ri)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("m,n,d,k", SHAPES)
def test_knn_matches_reference(metric, m, n, d, k, dtype, simd_level, rng):
    X, Y = make_data(rng, (m, d), dtype, metric), make_data(rng, (n, d), dtype, metric)
    dist, ind = knn(X, Y, k, metric=metric, p=p_of(metric))
    check_knn(dist, ind, X, Y, k, metric, dtype, d)


@pytest.mark.parametrize("metric", METRICS)
def test_knn_threads_bitwise(metric, dtype, rng):
    X = make_data(rng, (301, 19), dtype, metric)
    Y = make_data(rng, (777, 19), dtype, metric)
    a = knn(X, Y, 6, metric=metric, p=p_of(metric), n_threads=1)
    b = knn(X, Y, 6, metric=metric, p=p_of(metric), n_threads=2)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_knn_ties_by_smaller_index(dtype):
    Y = np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1], [1, 0], [0, 0]], dtype)
    X = np.zeros((1, 2), dtype)
    for metric in ("euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski"):
        dist, ind = knn(X, Y, 6, metric=metric)
        assert ind.tolist() == [[5, 0, 1, 2, 3, 4]], metric
        assert dist[0, 0] == 0
    # many exact duplicates: the candidate list overflows, the exact fallback runs
    Yd = np.repeat(np.array([[3.0, 4.0], [1.0, 1.0]], dtype), 40, axis=0)
    dist, ind = knn(np.zeros((2, 2), dtype), Yd, 50)
    assert ind[0].tolist() == list(range(40, 80)) + list(range(10))
    assert_allclose(dist[0, 40:], 5.0)


def test_knn_dot_largest_first(rng):
    X, Y = rng.standard_normal((20, 6)), rng.standard_normal((50, 6))
    dist, ind = knn(X, Y, 5, metric="dot")
    S = X @ Y.T
    assert_array_equal(ind, np.argsort(-S, axis=1, kind="stable")[:, :5])
    assert np.all(np.diff(dist, axis=1) <= 0)


def test_knn_self_query_returns_itself(rng):
    X = rng.standard_normal((100, 12)).astype(np.float32)
    for metric in ("euclidean", "sqeuclidean", "cosine", "manhattan", "chebyshev", "minkowski"):
        dist, ind = knn(X, X, 3, metric=metric)
        assert_array_equal(ind[:, 0], np.arange(100))
        assert np.all(dist[:, 0] == 0)


@pytest.mark.parametrize("k", [1, 10])
def test_knn_far_from_origin_is_exact(k, rng):
    """float32, X = 1e4 + N(0, 1): the exact neighbours and distances."""
    X = (1e4 + rng.standard_normal((200, 64))).astype(np.float32)
    Y = (1e4 + rng.standard_normal((3000, 64))).astype(np.float32)
    for metric in ("sqeuclidean", "euclidean"):
        dist, ind = knn(X, Y, k, metric=metric)
        rd, ri = ref.knn(X, Y, k, "sqeuclidean")
        assert_array_equal(ind, ri)
        got = dist.astype(np.float64) ** (2 if metric == "euclidean" else 1)
        assert np.all(np.abs(got - rd) <= 1e-3 * rd + 1e-6)


def test_knn_clustered_far_apart_is_exact(rng):
    c = np.zeros((2, 8))
    c[0, 0], c[1, 0] = -1e4, 1e4
    Y = (c[rng.integers(0, 2, 2000)] + 0.01 * rng.standard_normal((2000, 8))).astype(np.float32)
    X = (c[rng.integers(0, 2, 50)] + 0.01 * rng.standard_normal((50, 8))).astype(np.float32)
    dist, ind = knn(X, Y, 5, metric="euclidean")
    rd, ri = ref.knn(X, Y, 5, "euclidean")
    assert_array_equal(ind, ri)
    assert_allclose(dist, rd, rtol=1e-6)


def test_knn_small_d_many_rows(rng):
    """The d = 3 shape of the benchmark, scaled down."""
    X = rng.standard_normal((300, 3)).astype(np.float32)
    Y = rng.standard_normal((20000, 3)).astype(np.float32)
    dist, ind = knn(X, Y, 1)
    rd, ri = ref.knn(X, Y, 1, "euclidean")
    assert_array_equal(ind, ri)
    assert_allclose(dist, rd, rtol=1e-5, atol=1e-6)


def test_knn_agrees_with_sklearn(rng):
    from sklearn.neighbors import NearestNeighbors
    X, Y = rng.standard_normal((80, 10)), rng.standard_normal((400, 10))
    for metric, skm, kw in [("euclidean", "euclidean", {}), ("manhattan", "manhattan", {}),
                            ("chebyshev", "chebyshev", {}), ("minkowski", "minkowski", {"p": 3}),
                            ("cosine", "cosine", {})]:
        nn = NearestNeighbors(n_neighbors=7, algorithm="brute", metric=skm, **kw).fit(Y)
        sd, si = nn.kneighbors(X)
        dist, ind = knn(X, Y, 7, metric=metric, **kw)
        assert_array_equal(ind, si)
        assert_allclose(dist, sd, rtol=1e-10, atol=1e-10)


def test_knn_kl_with_infinite_rows():
    X = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]])
    dist, ind = knn(X, Y, 4, metric="kl")
    assert ind[0].tolist() == [2, 3, 0, 1] and np.isinf(dist[0, 2:]).all()
    assert ind[1].tolist() == [3, 0, 1, 2] and np.isinf(dist[1, 1:]).all()


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("m,n,d", [(1, 1, 1), (9, 40, 3), (33, 300, 17), (70, 257, 64)])
def test_radius_matches_reference(metric, m, n, d, dtype, simd_level, rng):
    X, Y = make_data(rng, (m, d), dtype, metric), make_data(rng, (n, d), dtype, metric)
    D = ref.pairwise_distances(X, Y, metric, p=3)
    finite = np.sort(D[np.isfinite(D)].ravel())
    # a radius halfway between two distinct distances: no boundary ties
    q = finite[len(finite) // 3: len(finite) // 3 + 2] if finite.size > 1 else np.r_[finite, finite + 1]
    r = float(q.mean()) if q[1] > q[0] else float(q[0]) * 1.0001 + 1e-9
    indptr, indices, dist = radius_neighbors(X, Y, r, metric=metric, p=p_of(metric))
    assert indptr.dtype == indices.dtype == np.int64 and dist.dtype == dtype
    expect = ref.radius_neighbors(X, Y, r, metric, p=3)
    t = tol(dtype, d)
    for i, (ei, ed) in enumerate(expect):
        gi, gd = indices[indptr[i]:indptr[i + 1]], dist[indptr[i]:indptr[i + 1]]
        if dtype == np.float64 or metric != "dot":
            assert set(gi) == set(ei), (i, set(gi) ^ set(ei))
        key = -gd if metric == "dot" else gd
        assert np.all(key[1:] >= key[:-1])
        assert np.all(np.diff(gi)[key[1:] == key[:-1]] > 0)
        assert_allclose(gd, D[i, gi], rtol=t["rtol"], atol=t["atol"] * max(1, np.abs(finite).max()) * np.sqrt(d))


def test_radius_threads_bitwise(rng):
    X, Y = rng.standard_normal((150, 9)), rng.standard_normal((600, 9))
    for metric in ("euclidean", "manhattan", "cosine"):
        a = radius_neighbors(X, Y, 3.0 if metric != "cosine" else 0.3, metric=metric, n_threads=1)
        b = radius_neighbors(X, Y, 3.0 if metric != "cosine" else 0.3, metric=metric, n_threads=2)
        assert all(u.tobytes() == v.tobytes() for u, v in zip(a, b))


def test_radius_agrees_with_sklearn(rng):
    from sklearn.neighbors import NearestNeighbors
    X, Y = rng.standard_normal((50, 5)), rng.standard_normal((300, 5))
    sd, si = NearestNeighbors(radius=1.7, algorithm="brute").fit(Y).radius_neighbors(X, sort_results=True)
    indptr, indices, dist = radius_neighbors(X, Y, 1.7)
    for i in range(50):
        assert_array_equal(indices[indptr[i]:indptr[i + 1]], si[i])
        assert_allclose(dist[indptr[i]:indptr[i + 1]], sd[i], rtol=1e-12)


def test_radius_consistent_with_pairwise_for_direct_metrics(rng):
    X, Y = rng.standard_normal((40, 7)).astype(np.float32), rng.standard_normal((90, 7)).astype(np.float32)
    for metric in ("manhattan", "chebyshev"):
        D = pairwise_distances(X, Y, metric=metric)
        r = float(np.median(D))
        indptr, indices, dist = radius_neighbors(X, Y, r, metric=metric)
        assert indptr[-1] == (D <= r).sum()
        assert np.all(dist == D[np.repeat(np.arange(40), np.diff(indptr)), indices])


def test_radius_far_from_origin(rng):
    X = (1e4 + rng.standard_normal((50, 64))).astype(np.float32)
    Y = (1e4 + rng.standard_normal((500, 64))).astype(np.float32)
    D = ref.pairwise_distances(X, Y, "euclidean")
    r = float(np.quantile(D, 0.01))
    indptr, indices, dist = radius_neighbors(X, Y, r)
    assert indptr[-1] == (D <= r).sum()
    for i in range(50):
        assert set(indices[indptr[i]:indptr[i + 1]]) == set(np.flatnonzero(D[i] <= r))


def test_radius_empty_and_zero_rows(dtype):
    X = np.zeros((3, 2), dtype)
    Y = np.full((4, 2), 10, dtype)
    indptr, indices, dist = radius_neighbors(X, Y, 1.0)
    assert indptr.tolist() == [0, 0, 0, 0] and indices.size == 0 and dist.dtype == dtype
    indptr, indices, dist = radius_neighbors(np.zeros((0, 2), dtype), Y, 1.0)
    assert indptr.tolist() == [0] and indices.size == 0
    d, i = knn(np.zeros((0, 2), dtype), Y, 2)
    assert d.shape == i.shape == (0, 2)


@pytest.mark.parametrize("call,exc,match", [
    (lambda X, Y: knn(X, Y, 0), ValueError, "k must be >= 1"),
    (lambda X, Y: knn(X, Y, 11), ValueError, r"k must be <= len\(Y\) = 10"),
    (lambda X, Y: knn(X, Y, 2.0), TypeError, "k must be an integer"),
    (lambda X, Y: knn(X, Y[:, :3], 2), ValueError, "features"),
    (lambda X, Y: knn(np.where(X > 0, np.nan, X), Y, 2), ValueError, "X contains NaN"),
    (lambda X, Y: knn(X, Y, 2, metric="kl"), ValueError, "contains negative"),
    (lambda X, Y: knn(X, Y, 2, metric="bogus"), ValueError, "'sqeuclidean'.*'minkowski'"),
    (lambda X, Y: knn(X, None, 2), TypeError, "Y"),
    (lambda X, Y: radius_neighbors(X, Y, -1.0), ValueError, "radius must be >= 0"),
    (lambda X, Y: radius_neighbors(X, Y, float("nan")), ValueError, "radius"),
    (lambda X, Y: radius_neighbors(X, Y[:, :2], 1.0), ValueError, "features"),
    (lambda X, Y: radius_neighbors(X, np.abs(Y) * np.nan, 1.0), ValueError, "Y contains NaN"),
    (lambda X, Y: radius_neighbors(X, Y, 1.0, metric="hamming"), ValueError, "metric must be one of"),
])
def test_errors(call, exc, match, rng):
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((10, 4))
    with pytest.raises(exc, match=match):
        call(X, Y)


def test_profile_records(rng):
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((50, 4))
    with fastml.profile() as prof:
        knn(X, Y, 3)
        radius_neighbors(X, Y, 1.0)
    names = [r["name"] for r in prof.records]
    assert names == ["knn", "radius_neighbors"]
    assert all(r["flops"] == 2.0 * 30 * 50 * 4 for r in prof.records)


# ---- the low-precision candidate searches: AMX (bf16 tiles) where the CPU has
# it, int8 products at the avx2 level ---------------------------------------------

from fastml._lib import _distance as _dist  # noqa: E402

HAS_AMX = _dist.amx_active()
SEARCHES = {"amx": _dist.set_amx, "i8": _dist.set_i8}


def _both_paths(fn, search):
    """fn() with the candidate search `search` allowed, then forbidden."""
    allow = SEARCHES[search]
    try:
        allow(True)
        with_it = fn()
        allow(False)
        without = fn()
    finally:
        allow(True)
    return with_it, without


@pytest.mark.parametrize("search", list(SEARCHES))
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cosine", "dot"])
@pytest.mark.parametrize("m,n,d,k", [(1, 50, 32, 3), (45, 700, 33, 7), (100, 1500, 128, 10),
                                     (70, 300, 64, 40), (30, 400, 1001, 5)])
def test_candidate_path_equals_float_path(search, metric, m, n, d, k, dtype, rng):
    """Both paths end in the exact re-rank: identical bits (the candidate search
    only proposes the columns).  Where a search does not run, both runs take
    the float path."""
    X, Y = rng.standard_normal((m, d)).astype(dtype), rng.standard_normal((n, d)).astype(dtype)
    a, b = _both_paths(lambda: knn(X, Y, k, metric=metric), search)
    assert a[1].tobytes() == b[1].tobytes() and a[0].tobytes() == b[0].tobytes()
    check_knn(a[0], a[1], X, Y, k, metric, dtype, d)


@pytest.mark.parametrize("search", list(SEARCHES))
def test_candidates_overflow_falls_back(search, rng):
    """Far from the origin relative to the spread: rows whose candidate lists
    overflow are redone exactly."""
    c = np.zeros((2, 64))
    c[0, 0], c[1, 0] = -1e4, 1e4
    Y = (c[rng.integers(0, 2, 3000)] + 0.01 * rng.standard_normal((3000, 64))).astype(np.float32)
    X = (c[rng.integers(0, 2, 64)] + 0.01 * rng.standard_normal((64, 64))).astype(np.float32)
    a, b = _both_paths(lambda: knn(X, Y, 5, metric="sqeuclidean"), search)
    rd, ri = ref.knn(X, Y, 5, "sqeuclidean")
    assert_array_equal(a[1], ri)
    assert a[1].tobytes() == b[1].tobytes() and a[0].tobytes() == b[0].tobytes()


def test_i8_clustered_rows_and_outliers(rng):
    """Rows with one huge coordinate (a coarse int8 step for the rest), many
    near-ties and duplicates: still the exact neighbours."""
    Y = rng.standard_normal((2000, 48)).astype(np.float32)
    Y[::7, 3] = 1e3                                     # outliers set the row's step
    Y[1::5] = Y[0]                                       # 400 duplicates of row 0
    X = np.vstack([Y[:40], Y[:40] + 1e-4 * rng.standard_normal((40, 48)).astype(np.float32)])
    for metric in ("sqeuclidean", "cosine", "dot"):
        a, b = _both_paths(lambda: knn(X, Y, 12, metric=metric), "i8")
        assert a[1].tobytes() == b[1].tobytes() and a[0].tobytes() == b[0].tobytes()
        check_knn(a[0], a[1], X, Y, 12, metric, np.float32, 48)


@pytest.mark.parametrize("search", list(SEARCHES))
def test_candidate_duplicates_and_threads(search, rng):
    base = rng.standard_normal((40, 48)).astype(np.float32)
    Y = np.repeat(base, 30, axis=0)                      # 30 copies of each point
    X = base[:20] + 1e-3 * rng.standard_normal((20, 48)).astype(np.float32)
    SEARCHES[search](True)
    a = knn(X, Y, 40, n_threads=1)
    b = knn(X, Y, 40, n_threads=2)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    rd, ri = ref.knn(X, Y, 40, "euclidean")
    assert_array_equal(a[1], ri)


def test_candidate_flags_report_state():
    assert isinstance(HAS_AMX, bool)
    assert _dist.set_amx(False) is False
    assert _dist.set_amx(True) is HAS_AMX
    assert _dist.set_i8(False) is False
    # int8 runs exactly at the avx2 level (AVX-512 CPUs use their float path or AMX)
    assert _dist.set_i8(True) is (_dist.simd_selected() == "avx2")


def test_i8_follows_the_simd_level():
    """The scalar level never takes the int8 search; avx2 (where the CPU has it) does."""
    before = _dist.simd_selected()
    try:
        assert _dist.set_simd("scalar") == "scalar"
        assert _dist.i8_active() is False
        if _dist.set_simd("avx2") == "avx2":
            assert _dist.i8_active() is True
    finally:
        _dist.set_simd(before)


def test_knn_tiny_and_huge_magnitudes(rng):
    """Small and large magnitudes (the squared distances stay normal float32)."""
    for scale in (1e-15, 1e-9, 1e12, 1e15):
        X = (scale * rng.standard_normal((30, 40))).astype(np.float32)
        Y = (scale * rng.standard_normal((400, 40))).astype(np.float32)
        dist, ind = knn(X, Y, 4, metric="sqeuclidean")
        rd, ri = ref.knn(X, Y, 4, "sqeuclidean")
        assert_array_equal(ind, ri)


def test_knn_large_k_batches_the_queries(rng):
    """k = 1000: the AMX state is bounded by batching the queries; same results."""
    X = rng.standard_normal((4500, 32)).astype(np.float32)
    Y = rng.standard_normal((1200, 32)).astype(np.float32)
    dist, ind = knn(X, Y, 1000, metric="sqeuclidean")
    head = knn(X[:300], Y, 1000, metric="sqeuclidean")
    assert dist[:300].tobytes() == head[0].tobytes() and ind[:300].tobytes() == head[1].tobytes()
    rd, ri = ref.knn(X[-50:], Y, 1000, "sqeuclidean")
    assert_allclose(dist[-50:], rd, rtol=1e-5, atol=1e-4)
