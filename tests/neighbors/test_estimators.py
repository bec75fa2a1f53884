"""The neighbour estimators: scikit-learn's check_estimator and agreement with
scikit-learn's brute-force estimators."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neighbors as skn
from sklearn.utils.estimator_checks import check_estimator

from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors


@pytest.mark.parametrize("est", [
    NearestNeighbors(), KNeighborsClassifier(), KNeighborsRegressor(),
    KNeighborsClassifier(weights="distance", metric="manhattan"),
    KNeighborsRegressor(n_neighbors=3, weights="distance", metric="cosine")],
    ids=lambda e: repr(e))
def test_check_estimator(est):
    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], repr(r["exception"])) for r in results if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) > 30


def _data(rng, n=300, d=6, classes=3):
    X = rng.standard_normal((n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y % classes


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric,p", [("euclidean", 2), ("manhattan", 1), ("minkowski", 3),
                                      ("chebyshev", 2), ("cosine", 2)])
def test_classifier_matches_sklearn(weights, metric, p, rng):
    X, y = _data(rng)
    Xq = rng.standard_normal((80, 6))
    ours = KNeighborsClassifier(7, weights=weights, metric=metric, p=p).fit(X, y)
    sk = skn.KNeighborsClassifier(7, weights=weights, metric=metric, p=p, algorithm="brute").fit(X, y)
    assert_array_equal(ours.predict(Xq), sk.predict(Xq))
    assert_allclose(ours.predict_proba(Xq), sk.predict_proba(Xq), rtol=1e-10, atol=1e-12)
    assert ours.score(X, y) == pytest.approx(sk.score(X, y))


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_matches_sklearn(weights, rng):
    X, _ = _data(rng)
    y = np.c_[X[:, 0] ** 2, X[:, 1]]
    Xq = rng.standard_normal((60, 6))
    for target in (y[:, 0], y):
        ours = KNeighborsRegressor(4, weights=weights).fit(X, target)
        sk = skn.KNeighborsRegressor(4, weights=weights, algorithm="brute").fit(X, target)
        assert ours.predict(Xq).shape == sk.predict(Xq).shape
        assert_allclose(ours.predict(Xq), sk.predict(Xq), rtol=1e-10)


def test_distance_weights_with_exact_matches(rng):
    X, y = _data(rng, n=50)
    clf = KNeighborsClassifier(5, weights="distance").fit(X, y)
    sk = skn.KNeighborsClassifier(5, weights="distance", algorithm="brute").fit(X, y)
    assert_array_equal(clf.predict(X), y)                    # each point is its own match
    # scikit-learn's self-distances are its expansion's roundoff (~1e-8, 0 on some
    # BLAS builds), ours are exact zeros: the other classes get ~1e-8 there
    assert_allclose(clf.predict_proba(X), sk.predict_proba(X), atol=1e-6)


def test_nearest_neighbors_queries_match_sklearn(rng):
    X = rng.standard_normal((200, 5)).astype(np.float32)
    Xq = rng.standard_normal((30, 5)).astype(np.float32)
    ours = NearestNeighbors(n_neighbors=4, radius=1.5).fit(X)
    sk = skn.NearestNeighbors(n_neighbors=4, radius=1.5, algorithm="brute").fit(X)
    for q in (Xq, None):
        d, i = ours.kneighbors(q)
        sd, si = sk.kneighbors(q)
        assert_array_equal(i, si)
        assert_allclose(d, sd, rtol=1e-5, atol=1e-5)
        rd, ri = ours.radius_neighbors(q)
        srd, sri = sk.radius_neighbors(q, sort_results=True)
        for a, b, c, e in zip(ri, sri, rd, srd):
            assert_array_equal(a, b)
            assert_allclose(c, e, rtol=1e-5, atol=1e-5)
    g = ours.kneighbors_graph(Xq, mode="distance").toarray()
    assert_allclose(g, sk.kneighbors_graph(Xq, mode="distance").toarray(), rtol=1e-5, atol=1e-5)
    g = ours.radius_neighbors_graph(Xq).toarray()
    assert_array_equal(g, sk.radius_neighbors_graph(Xq).toarray())


def test_radius_neighbors_of_training_rows_excludes_self(rng):
    X = np.vstack([rng.standard_normal((20, 3)), [[50.0, 50, 50]]])   # last row isolated
    nn = NearestNeighbors(radius=1.0).fit(X)
    dist, ind = nn.radius_neighbors()
    sk_dist, sk_ind = skn.NearestNeighbors(radius=1.0).fit(X).radius_neighbors(sort_results=True)
    assert len(ind[-1]) == 0
    for a, b in zip(ind, sk_ind):
        assert_array_equal(a, b)


def test_kneighbors_errors(rng):
    X = rng.standard_normal((10, 3))
    nn = NearestNeighbors(n_neighbors=3).fit(X)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(X, n_neighbors=11)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        nn.kneighbors(X, n_neighbors=0)
    with pytest.raises(ValueError, match="3 features"):
        nn.kneighbors(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match="metric"):
        NearestNeighbors(metric="bogus").fit(X)


def test_n_threads_bitwise(rng):
    X, y = _data(rng, n=400)
    Xq = rng.standard_normal((300, 6))
    a = KNeighborsClassifier(5, n_threads=1).fit(X, y).predict_proba(Xq)
    b = KNeighborsClassifier(5, n_threads=2).fit(X, y).predict_proba(Xq)
    assert a.tobytes() == b.tobytes()
