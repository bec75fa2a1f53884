"""fastml.tree against scikit-learn, and its behaviour: missing values, weights,
multiclass, pickling, pruning, threads, SIMD levels, errors."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import tree as sktree
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import check_estimator

from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor


def _split(loader):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0)


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_iris_root_and_training_fit_match_sklearn(criterion):
    X, y = load_iris(return_X_y=True)        # few distinct values: exact thresholds
    ours = DecisionTreeClassifier(criterion=criterion).fit(X, y)
    sk = sktree.DecisionTreeClassifier(criterion=criterion, random_state=0).fit(X, y)
    assert ours.score(X, y) == sk.score(X, y) == 1.0
    # the best root split is unique in impurity decrease
    sk_root = (sk.tree_.impurity[0] * 150 - sk.tree_.impurity[1] * sk.tree_.n_node_samples[1]
               - sk.tree_.impurity[2] * sk.tree_.n_node_samples[2])
    assert ours.tree_.nodes[0]["gain"] == pytest.approx(sk_root, rel=1e-9)
    for depth in (1, 2, 3):
        a = DecisionTreeClassifier(criterion=criterion, max_depth=depth).fit(X, y)
        b = sktree.DecisionTreeClassifier(criterion=criterion, max_depth=depth, random_state=0).fit(X, y)
        assert a.score(X, y) == pytest.approx(b.score(X, y), abs=0.014)


@pytest.mark.parametrize("loader,tol", [(load_breast_cancer, 0.05), (load_digits, 0.05)])
def test_classifiers_close_to_sklearn(loader, tol):
    Xtr, Xte, ytr, yte = _split(loader)
    for depth in (3, 8, None):
        a = DecisionTreeClassifier(max_depth=depth).fit(Xtr, ytr)
        b = sktree.DecisionTreeClassifier(max_depth=depth, random_state=0).fit(Xtr, ytr)
        assert abs(a.score(Xte, yte) - b.score(Xte, yte)) <= tol
        if depth is None:
            assert a.score(Xtr, ytr) >= 0.99


def test_digits_multiclass_probabilities():
    Xtr, Xte, ytr, yte = _split(load_digits)
    clf = DecisionTreeClassifier(max_depth=6).fit(Xtr, ytr)
    p = clf.predict_proba(Xte)
    assert p.shape == (len(Xte), 10)
    assert_allclose(p.sum(axis=1), 1.0)
    assert (clf.predict(Xte) == clf.classes_[p.argmax(axis=1)]).all()
    assert clf.score(Xte, yte) > 0.7


def test_diabetes_regression_matches_sklearn():
    X, y = load_diabetes(return_X_y=True)    # at most 255 distinct values per feature
    for depth in (1, 2, 4):
        a = DecisionTreeRegressor(max_depth=depth).fit(X, y)
        b = sktree.DecisionTreeRegressor(max_depth=depth, random_state=0).fit(X, y)
        assert a.score(X, y) == pytest.approx(b.score(X, y), abs=1e-9)
    full = DecisionTreeRegressor().fit(X, y)
    assert full.score(X, y) == pytest.approx(1.0)
    leaves = full.apply(X)
    for leaf in np.unique(leaves)[:20]:              # leaf value = mean of its rows
        assert full.tree_.nodes["value"][leaf] == pytest.approx(y[leaves == leaf].mean())


def test_string_labels_and_apply(rng):
    X = rng.standard_normal((200, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    clf = DecisionTreeClassifier(max_depth=2).fit(X, y)
    assert set(clf.predict(X)) <= {"pos", "neg"}
    assert clf.score(X, y) == 1.0
    leaves = clf.apply(X)
    assert (clf.tree_.feature[leaves] == -2).all()


def test_missing_values_follow_learned_direction(rng):
    n = 2000
    X = rng.standard_normal((n, 2))
    y = (X[:, 0] > 0.5).astype(int)
    nan_rows = rng.random(n) < 0.2
    X[nan_rows, 0] = np.nan
    y[nan_rows] = 1                                  # missing means class 1
    clf = DecisionTreeClassifier(max_depth=3).fit(X, y)
    assert clf.score(X, y) == 1.0
    Xt = np.array([[np.nan, 0.0], [-3.0, 0.0], [3.0, 0.0]])
    assert list(clf.predict(Xt)) == [1, 0, 1]
    # every split on feature 0 sends NaN where the rows with NaN went in training
    nodes = clf.tree_.nodes
    for i in np.flatnonzero(nodes["feature"] == 0):
        child = nodes["left"][i] + (0 if nodes["missing_left"][i] else 1)
        assert nodes["count"][child] > 0


def test_nan_in_prediction_only_goes_to_the_larger_child(rng):
    X = rng.standard_normal((500, 1))
    y = (X[:, 0] > 1.0).astype(int)                 # most rows go left
    clf = DecisionTreeClassifier(max_depth=1).fit(X, y)
    assert clf.predict([[np.nan]])[0] == 0


def test_sample_weights_equal_repetition(rng):
    X = rng.standard_normal((60, 4))              # distinct values: no tied splits
    y = rng.integers(0, 3, 60)
    w = rng.integers(0, 4, 60)
    a = DecisionTreeClassifier(random_state=0).fit(X, y, sample_weight=w)
    b = DecisionTreeClassifier(random_state=0).fit(np.repeat(X, w, 0), np.repeat(y, w))
    assert_allclose(a.predict_proba(X), b.predict_proba(X))
    yr = rng.standard_normal(60)
    a = DecisionTreeRegressor().fit(X, yr, sample_weight=w)
    b = DecisionTreeRegressor().fit(np.repeat(X, w, 0), np.repeat(yr, w))
    assert_allclose(a.predict(X), b.predict(X))


def test_class_weight_balanced_is_sample_weight(rng):
    X = rng.standard_normal((300, 3))
    y = (rng.random(300) < 0.2).astype(int)
    a = DecisionTreeClassifier(class_weight="balanced", max_depth=4).fit(X, y)
    w = np.where(y == 1, 300 / (2 * y.sum()), 300 / (2 * (300 - y.sum())))
    b = DecisionTreeClassifier(max_depth=4).fit(X, y, sample_weight=w)
    assert_allclose(a.predict_proba(X), b.predict_proba(X))
    c = DecisionTreeClassifier(max_depth=4).fit(X, y)
    assert a.predict(X).mean() > c.predict(X).mean()     # minority class predicted more often


def test_limits(rng):
    X = rng.standard_normal((1000, 5))
    y = rng.integers(0, 2, 1000)
    t = DecisionTreeClassifier(max_leaf_nodes=7).fit(X, y)
    assert t.get_n_leaves() == 7
    t = DecisionTreeClassifier(max_depth=3).fit(X, y)
    assert t.get_depth() == 3 and t.get_n_leaves() <= 8
    t = DecisionTreeClassifier(min_samples_leaf=40).fit(X, y)
    assert t.tree_.nodes["count"][t.tree_.is_leaf()].min() >= 40
    t = DecisionTreeClassifier(min_samples_split=200).fit(X, y)
    internal = ~t.tree_.is_leaf()
    assert t.tree_.nodes["count"][internal].min() >= 200
    t = DecisionTreeClassifier(max_features=2, random_state=0, max_depth=5).fit(X, y)
    assert t.get_depth() == 5
    imp = t.feature_importances_
    assert imp.shape == (5,) and imp.sum() == pytest.approx(1.0) and (imp >= 0).all()


def test_best_first_growth_takes_the_largest_gains(rng):
    X = rng.standard_normal((2000, 4))
    y = X[:, 0] + 0.1 * X[:, 1] + 0.01 * rng.standard_normal(2000)
    small = DecisionTreeRegressor(max_leaf_nodes=4).fit(X, y)
    big = DecisionTreeRegressor(max_leaf_nodes=40).fit(X, y)
    assert small.get_n_leaves() == 4 and big.get_n_leaves() == 40
    assert big.score(X, y) > small.score(X, y)
    assert set(small.tree_.feature[small.tree_.feature >= 0]) == {0}


def test_ccp_alpha_prunes_like_sklearn():
    Xtr, Xte, ytr, yte = _split(load_breast_cancer)
    full = DecisionTreeClassifier(random_state=0).fit(Xtr, ytr)
    pruned = DecisionTreeClassifier(ccp_alpha=0.01, random_state=0).fit(Xtr, ytr)
    sk = sktree.DecisionTreeClassifier(ccp_alpha=0.01, random_state=0).fit(Xtr, ytr)
    assert pruned.get_n_leaves() < full.get_n_leaves()
    assert abs(pruned.get_n_leaves() - sk.get_n_leaves()) <= 3
    assert pruned.score(Xte, yte) >= full.score(Xte, yte) - 0.02
    # structure stays valid: children adjacent, leaves have no children
    n = pruned.tree_.nodes
    inner = n["feature"] >= 0
    assert (n["left"][inner] > np.flatnonzero(inner)).all()
    assert pruned.tree_.node_count == 2 * pruned.get_n_leaves() - 1


def test_pickle_roundtrip(rng):
    X = rng.standard_normal((300, 4))
    X[::7, 1] = np.nan
    y = rng.integers(0, 3, 300)
    clf = DecisionTreeClassifier(max_depth=5).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    assert back.predict_proba(X).tobytes() == clf.predict_proba(X).tobytes()
    reg = DecisionTreeRegressor(max_depth=5).fit(X, rng.standard_normal(300))
    assert pickle.loads(pickle.dumps(reg)).predict(X).tobytes() == reg.predict(X).tobytes()


def test_threads_give_identical_trees(rng):
    # big enough for the parallel histogram, scan and partition paths
    X = rng.standard_normal((140000, 12))
    X[rng.random(X.shape) < 0.02] = np.nan
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    a = DecisionTreeClassifier(max_depth=8, n_threads=1).fit(X, y)
    b = DecisionTreeClassifier(max_depth=8, n_threads=2).fit(X, y)
    assert a.tree_.nodes.tobytes() == b.tree_.nodes.tobytes()
    assert a.predict_proba(X[:5000]).tobytes() == b.predict_proba(X[:5000]).tobytes()
    yr = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 3])
    a = DecisionTreeRegressor(max_depth=8, n_threads=1).fit(X[:, :4], yr)   # few features: row-parallel
    b = DecisionTreeRegressor(max_depth=8, n_threads=2).fit(X[:, :4], yr)
    assert a.tree_.nodes.tobytes() == b.tree_.nodes.tobytes()


def test_simd_levels_give_identical_trees(simd_level, rng):
    X = np.random.default_rng(5).standard_normal((3000, 6))
    y = (X[:, 0] > X[:, 1]).astype(int) + (X[:, 2] > 0)
    nodes = DecisionTreeClassifier(max_depth=6, criterion="entropy").fit(X, y).tree_.nodes
    reg = DecisionTreeRegressor(max_depth=6).fit(X, X[:, 0] ** 2).tree_.nodes
    key = "ref"
    cache = test_simd_levels_give_identical_trees.__dict__.setdefault("cache", {})
    if key not in cache:
        cache[key] = (nodes.tobytes(), reg.tobytes())
    assert (nodes.tobytes(), reg.tobytes()) == cache[key]


def test_float32_input(rng):
    X = rng.standard_normal((500, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = DecisionTreeClassifier(max_depth=2).fit(X, y)
    assert clf.score(X, y) == 1.0
    assert (clf.predict(X.astype(np.float64)) == clf.predict(X)).all()


def test_errors(rng):
    X = rng.standard_normal((20, 2))
    y = rng.integers(0, 2, 20).astype(float)
    with pytest.raises(ValueError, match="NaN"):
        DecisionTreeRegressor().fit(X, np.where(np.arange(20) == 3, np.nan, y))
    with pytest.raises(ValueError, match="sample_weight"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.ones(19))
    with pytest.raises(ValueError, match="max_depth"):
        DecisionTreeClassifier(max_depth=0).fit(X, y)
    with pytest.raises(ValueError, match="criterion"):
        DecisionTreeClassifier(criterion="mse").fit(X, y)
    with pytest.raises(ValueError, match="infinity"):
        DecisionTreeClassifier().fit(np.where(X > 1, np.inf, X), y)
    with pytest.raises(TypeError, match="sparse"):
        import scipy.sparse
        DecisionTreeClassifier().fit(scipy.sparse.csr_matrix(X), y)
    clf = DecisionTreeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(rng.standard_normal((3, 3)))


@pytest.mark.parametrize("est", [DecisionTreeClassifier(), DecisionTreeRegressor()],
                         ids=lambda e: type(e).__name__)
def test_check_estimator(est):
    check_estimator(est)


@pytest.mark.parametrize("alpha", [0.0, 0.005, 0.01, 0.02, 0.1])
def test_ccp_alpha_path_matches_sklearn_on_iris(alpha):
    X, y = load_iris(return_X_y=True)      # exact thresholds: the same full tree
    ours = DecisionTreeClassifier(ccp_alpha=alpha).fit(X, y)
    sk = sktree.DecisionTreeClassifier(ccp_alpha=alpha, random_state=0).fit(X, y)
    assert ours.get_n_leaves() == sk.get_n_leaves()
    assert ours.score(X, y) == sk.score(X, y)
