"""fastml.cluster.KMeans: NumPy Lloyd reference, scikit-learn, reproducibility, errors."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml
from fastml.cluster import KMeans, kmeans_plusplus
from tests import _reference as ref

ALGORITHMS = ["lloyd", "hamerly", "auto"]


def _blobs(rng, n, d, k, spread=8.0, dtype=np.float64):
    centers = rng.normal(0, spread, (k, d))
    X = centers[rng.integers(0, k, n)] + rng.normal(0, 1, (n, d))
    return X.astype(dtype)


# d=1/3/16 take the direct small-d kernel, 17/64 the fused GEMM; k=1 and k=n are edges
SHAPES = [(50, 1, 3), (300, 3, 7), (257, 16, 9), (301, 17, 33), (400, 64, 20), (40, 5, 1), (12, 6, 12)]


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_matches_numpy_lloyd(n, d, k, algorithm, dtype, simd_level, rng):
    X = _blobs(rng, n, d, max(k, 2), dtype=dtype)
    init = X[rng.choice(n, k, replace=False)]
    km = KMeans(k, init=init, n_init=1, max_iter=6, tol=0, algorithm=algorithm).fit(X)
    labels, centers, inertia = ref.kmeans_lloyd(X, init, km.n_iter_)
    assert km.cluster_centers_.dtype == dtype and km.labels_.dtype == np.int32
    assert_array_equal(km.labels_, labels)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert_allclose(km.cluster_centers_, centers, rtol=rtol, atol=rtol * 10)
    assert km.inertia_ == pytest.approx(inertia, rel=rtol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("d", [12, 48])         # 48: the int8 Lloyd step on AVX2 CPUs
def test_same_as_sklearn_lloyd_on_blobs(algorithm, d, rng):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(rng, 3000, d, 25, spread=3.0)
    init = X[:25].copy()
    ours = KMeans(25, init=init, n_init=1, max_iter=100, algorithm=algorithm).fit(X)
    theirs = sklearn_cluster.KMeans(25, init=init, n_init=1, max_iter=100, algorithm="lloyd").fit(X)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-6)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-9, atol=1e-9)


def test_same_as_sklearn_on_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = datasets.load_digits().data
    ours = KMeans(10, random_state=0).fit(X)
    theirs = sklearn_cluster.KMeans(10, random_state=0).fit(X)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-6)


def test_kmeans_plusplus_same_as_sklearn(rng):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(rng, 500, 4, 6)
    centers, idx = kmeans_plusplus(X, 6, random_state=3)
    c2, idx2 = sklearn_cluster.kmeans_plusplus(X, 6, random_state=3)
    assert_array_equal(idx, idx2)
    assert_array_equal(centers, X[idx])


def test_random_state_reproducible(rng):
    X = _blobs(rng, 800, 5, 8).astype(np.float32)
    a = KMeans(8, init="random", n_init=3, random_state=7).fit(X)
    b = KMeans(8, init="random", n_init=3, random_state=7).fit(X)
    assert a.cluster_centers_.tobytes() == b.cluster_centers_.tobytes()
    assert a.inertia_ == b.inertia_


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("n,d,k", [(30000, 20, 40), (20000, 4, 9)])
def test_threads_bitwise(n, d, k, algorithm, rng):
    X = _blobs(rng, n, d, k, spread=2.0).astype(np.float32)
    fits = [KMeans(k, random_state=1, algorithm=algorithm, n_threads=t).fit(X) for t in (1, 2, 2)]
    for f in fits[1:]:
        assert f.labels_.tobytes() == fits[0].labels_.tobytes()
        assert f.cluster_centers_.tobytes() == fits[0].cluster_centers_.tobytes()
        assert f.inertia_ == fits[0].inertia_
        assert f.n_iter_ == fits[0].n_iter_


def test_bounds_agree_with_lloyd(rng):
    X = _blobs(rng, 5000, 30, 50, spread=4.0)
    init = X[rng.choice(len(X), 50, replace=False)]
    a = KMeans(50, init=init, n_init=1, algorithm="lloyd").fit(X)
    b = KMeans(50, init=init, n_init=1, algorithm="hamerly").fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12, atol=1e-12)


def test_sample_weight_equals_repeated_rows(rng):
    X = _blobs(rng, 200, 3, 4)
    w = rng.integers(1, 4, len(X))
    Xr = np.repeat(X, w, axis=0)
    init = X[:4]
    a = KMeans(4, init=init, n_init=1, tol=0, max_iter=10).fit(X, sample_weight=w)
    b = KMeans(4, init=init, n_init=1, tol=0, max_iter=10).fit(Xr)
    assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-10)


def test_empty_cluster_relocated_like_sklearn(rng):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(rng, 400, 2, 3, spread=5.0)
    init = np.vstack([X[:2], [[1e3, 1e3]]])          # the far centre gets no point
    ours = KMeans(3, init=init, n_init=1, max_iter=20).fit(X)
    theirs = sklearn_cluster.KMeans(3, init=init, n_init=1, max_iter=20).fit(X)
    assert len(np.unique(ours.labels_)) == 3
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-9)


def test_k_equals_n_and_k_one(rng):
    X = rng.standard_normal((9, 3))
    km = KMeans(9, init=X, n_init=1).fit(X)
    assert km.inertia_ == 0 and sorted(km.labels_) == list(range(9))
    one = KMeans(1, n_init=1, random_state=0).fit(X)
    assert_allclose(one.cluster_centers_[0], X.mean(axis=0), rtol=1e-12)


def test_predict_transform_score(rng):
    X = _blobs(rng, 600, 4, 5)
    km = KMeans(5, random_state=0).fit(X)
    assert_array_equal(km.predict(X), km.labels_)
    T = km.transform(X[:50])
    expect = np.sqrt(((X[:50, None] - km.cluster_centers_[None]) ** 2).sum(-1))
    assert_allclose(T, expect, rtol=1e-6, atol=1e-6)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-9)
    assert_array_equal(km.fit_predict(X), km.labels_)
    assert_allclose(KMeans(5, random_state=0).fit_transform(X), km.transform(X), rtol=1e-6, atol=1e-6)


def test_float32_far_from_origin(rng):
    # X = 1e4 + N(0,1): the data is centred before the GEMM, so labels stay exact
    X = (1e4 + _blobs(rng, 2000, 8, 6, spread=3.0)).astype(np.float32)
    init = X[:6]
    km = KMeans(6, init=init, n_init=1, max_iter=5, tol=0).fit(X)
    labels, centers, inertia = ref.kmeans_lloyd(X, init, km.n_iter_)
    assert_array_equal(km.labels_, labels)


def test_profiler_records_fit(rng):
    X = _blobs(rng, 300, 4, 3)
    with fastml.profile() as p:
        KMeans(3, random_state=0).fit(X)
    fits = [r for r in p.records if r["name"] == "KMeans.fit"]
    assert len(fits) == 1 and fits[0]["flops"] > 0 and fits[0]["shapes"][0] == (300, 4)


@pytest.mark.parametrize("kwargs,X,match", [
    (dict(n_clusters=10), np.ones((5, 2)), "n_samples=5 should be >= n_clusters=10"),
    (dict(n_clusters=0), np.ones((5, 2)), "n_clusters"),
    (dict(n_clusters=2, init=np.ones((3, 2))), np.ones((5, 2)), "shape of the initial centers"),
    (dict(n_clusters=2, init=np.ones((2, 3))), np.ones((5, 2)), "shape of the initial centers"),
    (dict(n_clusters=2), np.array([[0.0, np.nan], [1, 1], [2, 2]]), "NaN"),
    (dict(n_clusters=2, algorithm="fast"), np.ones((5, 2)), "algorithm"),
])
def test_errors(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        KMeans(**kwargs).fit(X)


def test_negative_sample_weight_rejected():
    with pytest.raises(ValueError, match="[Nn]egative"):
        KMeans(2).fit(np.arange(10.0).reshape(5, 2), sample_weight=[1, 1, -1, 1, 1])


def test_complex_rejected():
    with pytest.raises((TypeError, ValueError), match="[Cc]omplex"):
        KMeans(2).fit(np.ones((5, 2), complex))


@pytest.mark.parametrize("d", [5, 64])          # direct (small d) and GEMM paths
def test_delta_sums_equal_recomputed_sums(d, dtype, simd_level, rng):
    """Update mode 2 adds the change of the sums: the result is the sums of the
    new labels, as mode 1 computes them from scratch (same weights, same rows)."""
    from fastml._lib import _kmeans
    n, k = 3000, 40
    X = rng.standard_normal((n, d)).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    c1, c2 = X[:k].copy(), X[k:2 * k].copy()
    none = np.empty(0, dtype)
    ws = np.empty(_kmeans.workspace_len(n, k, d))
    labels = np.zeros(n, np.int32)
    sums, wsum = np.zeros((k, d)), np.zeros(k)
    _kmeans.lloyd(X, None, w, c1, labels, none, sums, wsum, ws, 1, 2)
    moved_from = labels.copy()
    _kmeans.lloyd(X, None, w, c2, labels, none, sums, wsum, ws, 2, 2)
    assert (labels != moved_from).any()
    full_labels = np.zeros(n, np.int32)
    full, full_w = np.zeros((k, d)), np.zeros(k)
    _kmeans.lloyd(X, None, w, c2, full_labels, none, full, full_w, ws, 1, 1)
    assert_array_equal(labels, full_labels)
    ref_sums = np.zeros((k, d))
    np.add.at(ref_sums, labels, X.astype(np.float64) * w[:, None].astype(np.float64))
    assert_allclose(full, ref_sums, rtol=1e-12, atol=1e-9)
    assert_allclose(sums, full, rtol=1e-12, atol=1e-9)
    assert_allclose(wsum, full_w, rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="update"):
        _kmeans.lloyd(X, None, w, c2, labels, none, sums, wsum, ws, 3, 1)


@pytest.mark.parametrize("d", [5, 20, 64])       # direct, float GEMM, int8 (at avx2) paths
def test_steps_count_changed_labels(d, dtype, rng):
    from fastml._lib import _kmeans
    n, k = 5000, 30
    X = rng.standard_normal((n, d)).astype(dtype)
    w = np.ones(n, dtype)
    none = np.empty(0, dtype)
    ws = np.empty(_kmeans.workspace_len(n, k, d))
    sums, wsum = np.zeros((k, d)), np.zeros(k)
    labels = np.full(n, -1, np.int32)
    assert _kmeans.lloyd(X, None, w, X[:k].copy(), labels, none, sums, wsum, ws, 1, 2) == n
    before = labels.copy()
    changed = _kmeans.lloyd(X, None, w, X[k:2 * k].copy(), labels, none, sums, wsum, ws, 2, 2)
    assert 0 < changed == (labels != before).sum()
    assert _kmeans.lloyd(X, None, w, X[k:2 * k].copy(), labels, none, sums, wsum, ws, 0, 1) == 0
    if d < 32:                                  # Hamerly's count too
        upper, lower = np.full(n, np.inf), np.zeros(n)
        half = np.zeros(k)
        before = labels.copy()
        n_re, changed = _kmeans.hamerly(X, w, X[2 * k:3 * k].copy(), half, labels, upper, lower,
                                        sums, wsum, ws, 2, 1)
        assert n_re >= n - k and changed == (labels != before).sum() > 0   # points on a centre skip


def test_center_is_the_column_mean(dtype, rng):
    from fastml._lib import _kmeans
    X = (rng.standard_normal((30001, 7)) * 3 + 100).astype(dtype)
    outs = []
    for t in (1, 2):
        out = np.empty_like(X)
        mean = _kmeans.center(X, out, t)
        outs.append((mean, out))
    assert outs[0][0].tobytes() == outs[1][0].tobytes()
    assert outs[0][1].tobytes() == outs[1][1].tobytes()
    mean, out = outs[0]
    assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    assert_array_equal(out, X - mean.astype(dtype))
    Y = X.copy()
    _kmeans.center(Y, Y, 2)                     # in place
    assert_array_equal(Y, out)
    with pytest.raises(ValueError, match="shape"):
        _kmeans.center(X, np.empty((3, 7), dtype), 1)
