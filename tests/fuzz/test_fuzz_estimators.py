"""Fuzz: every estimator (fit / predict on generated data and hyper-parameters
at and beyond their limits), fastml.cluster.kmeans_plusplus and the top-level
thread / config functions."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastml
from fastml import cluster, ensemble, neighbors, tree
from tests.fuzz._contract import FLOATS, arrays, call, no_new_nan

ESTIMATORS = {
    "fastml.cluster.KMeans": (cluster.KMeans, "cluster",
                              dict(n_clusters=[1, 2, 3, 0, 50], algorithm=["lloyd", "elkan", "auto", "x"],
                                   max_iter=[1, 5, 0], n_init=[1, "auto", 0])),
    "fastml.neighbors.NearestNeighbors": (neighbors.NearestNeighbors, "unsupervised",
                                          dict(n_neighbors=[1, 2, 0, 50], radius=[1.0, -1.0])),
    "fastml.neighbors.KNeighborsClassifier": (neighbors.KNeighborsClassifier, "classifier",
                                              dict(n_neighbors=[1, 3, 0, 50],
                                                   weights=["uniform", "distance", "x"])),
    "fastml.neighbors.KNeighborsRegressor": (neighbors.KNeighborsRegressor, "regressor",
                                             dict(n_neighbors=[1, 3, 0, 50], weights=["uniform", "distance"])),
    "fastml.tree.DecisionTreeClassifier": (tree.DecisionTreeClassifier, "classifier",
                                           dict(max_depth=[None, 1, 3, 0], criterion=["gini", "entropy", "x"],
                                                min_samples_leaf=[1, 2, 0], ccp_alpha=[0.0, 0.01, -1.0])),
    "fastml.tree.DecisionTreeRegressor": (tree.DecisionTreeRegressor, "regressor",
                                          dict(max_depth=[None, 2, 0], max_leaf_nodes=[None, 2, 1])),
    "fastml.ensemble.RandomForestClassifier": (ensemble.RandomForestClassifier, "classifier",
                                               dict(n_estimators=[1, 3, 0], max_depth=[2, None],
                                                    max_features=["sqrt", None, 0, 1.5])),
    "fastml.ensemble.RandomForestRegressor": (ensemble.RandomForestRegressor, "regressor",
                                              dict(n_estimators=[1, 3, 0], bootstrap=[True, False])),
    "fastml.ensemble.GradientBoostingClassifier": (ensemble.GradientBoostingClassifier, "classifier",
                                                   dict(max_iter=[1, 3, 0], learning_rate=[0.1, 1.0, -1.0],
                                                        max_leaf_nodes=[2, 31, 1])),
    "fastml.ensemble.GradientBoostingRegressor": (ensemble.GradientBoostingRegressor, "regressor",
                                                  dict(max_iter=[1, 3, 0],
                                                       loss=["squared_error", "absolute_error", "huber", "x"])),
    "fastml.ensemble.AdaBoostClassifier": (ensemble.AdaBoostClassifier, "classifier",
                                           dict(n_estimators=[1, 3, 0], learning_rate=[1.0, 0.5, 0.0])),
}
# public name -> the test that drives it (200 generated cases each; test_estimator
# is parametrised by estimator)
COVERS = {**{name: "test_estimator" for name in ESTIMATORS},
          "fastml.cluster.kmeans_plusplus": "test_kmeans_plusplus",
          **{"fastml." + n: "test_thread_settings"
             for n in ("get_num_threads", "set_num_threads", "threads", "simd_level", "profile")},
          "fastml.show_config": "test_show_config"}

ERRORS = (ValueError, TypeError, MemoryError)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@given(data=st.data())
def test_estimator(name, data):
    cls, kind, grid = ESTIMATORS[name]
    params = {k: data.draw(st.sampled_from(v)) for k, v in grid.items() if data.draw(st.booleans())}
    n, d = data.draw(st.integers(0, 12)), data.draw(st.integers(0, 4))
    X = data.draw(arrays((n, d)))
    y = None
    if kind == "classifier":
        y = data.draw(arrays((n,), dtypes=[np.int64], special=False)) % data.draw(st.integers(1, 3))
    elif kind == "regressor":
        y = data.draw(arrays((n,), dtypes=FLOATS + [np.int64]))
    if y is not None and data.draw(st.integers(0, 8)) == 0:
        y = y[:-1]                                                       # wrong length
    est = cls(**params)
    try:
        est.fit(X) if y is None else est.fit(X, y)
    except ERRORS as e:
        # scikit-learn's validation (check_array, _param_validation) names the
        # parameter or describes the data; the message must not be empty
        assert str(e), f"{name}.fit raised an empty {type(e).__name__}"
        return
    Xt = data.draw(arrays((data.draw(st.integers(0, 5)), d), dtypes=FLOATS, special=False))
    for method in ("predict", "predict_proba", "transform", "kneighbors"):
        if not hasattr(est, method) or (kind == "unsupervised" and method != "kneighbors"):
            continue
        try:
            out = getattr(est, method)(Xt)
        except ERRORS as e:
            assert str(e)
            continue
        first = out[0] if isinstance(out, tuple) else out
        assert len(first) == Xt.shape[0]
        if np.isfinite(X).all() if X.dtype.kind == "f" else True:
            no_new_nan(np.asarray(first, dtype=float) if np.asarray(first).dtype.kind in "fiub" else None,
                       X, Xt)


@given(st.data())
def test_kmeans_plusplus(data):
    X = data.draw(arrays((st.integers(0, 12), st.integers(0, 4))))
    k = data.draw(st.sampled_from([1, 2, 5, 0, -1, 50, 2.5]))
    w = None
    if data.draw(st.booleans()):
        w = data.draw(arrays((X.shape[0] if data.draw(st.integers(0, 5)) else 3,), dtypes=FLOATS))
    res, err = call(cluster.kmeans_plusplus, X, k, sample_weight=w, random_state=0)
    if err is None:
        centers, idx = res
        assert centers.shape == (k, X.shape[1])
        assert ((idx >= 0) & (idx < X.shape[0])).all()
        assert np.array_equal(centers, X[idx])


@given(st.sampled_from([1, 2, 3, 0, -1, 2.5, None, "2", True]))
def test_thread_settings(n):
    before = fastml.get_num_threads()
    try:
        res, err = call(fastml.set_num_threads, n)
        if err is None:
            assert fastml.get_num_threads() >= 1
        fastml.set_num_threads(before)
        try:
            with fastml.threads(n):
                assert fastml.get_num_threads() >= 1
        except ERRORS as e:
            assert "n" in str(e) or "thread" in str(e)
        assert fastml.get_num_threads() == before
    finally:
        fastml.set_num_threads(before)
    assert isinstance(fastml.simd_level(), str)
    with fastml.profile() as p:
        fastml.linalg.matmul(np.ones((2, 2)), np.ones((2, 2)))
    assert "matmul" in p.report()



def test_show_config(capsys):
    fastml.show_config()
    assert "avx" in capsys.readouterr().out.lower() or "scalar" in fastml.simd_level()
