"""fastml.ensemble.RandomForest* and AdaBoostClassifier against scikit-learn and
by construction; check_estimator for every ensemble."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import ensemble as ske
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, make_classification
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import check_estimator

from fastml._lib import _trees
from fastml.ensemble import (AdaBoostClassifier, GradientBoostingClassifier,
                             GradientBoostingRegressor, RandomForestClassifier,
                             RandomForestRegressor)


def _split(loader):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits, load_iris])
def test_forest_classifier_close_to_sklearn(loader):
    Xtr, Xte, ytr, yte = _split(loader)
    ours = RandomForestClassifier(n_estimators=60, random_state=0, oob_score=True).fit(Xtr, ytr)
    sk = ske.RandomForestClassifier(n_estimators=60, random_state=0, oob_score=True).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - sk.score(Xte, yte)) <= 0.04
    assert abs(ours.oob_score_ - sk.oob_score_) <= 0.05
    p = ours.predict_proba(Xte)
    assert_allclose(p.sum(1), 1.0)
    assert ours.feature_importances_.sum() == pytest.approx(1.0)


def test_forest_regressor_close_to_sklearn():
    Xtr, Xte, ytr, yte = _split(load_diabetes)
    ours = RandomForestRegressor(n_estimators=60, random_state=0, oob_score=True).fit(Xtr, ytr)
    sk = ske.RandomForestRegressor(n_estimators=60, random_state=0, oob_score=True).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - sk.score(Xte, yte)) <= 0.05
    assert abs(ours.oob_score_ - sk.oob_score_) <= 0.06


def test_forest_is_the_mean_of_its_trees(rng):
    X, y = make_classification(800, 6, random_state=0)
    rf = RandomForestClassifier(n_estimators=7, max_depth=4, random_state=1).fit(X, y)
    from fastml.tree._base import Forest
    each = [Forest([t], True).add_values(X, np.zeros((800, 2)), 1.0, 1) for t in rf.trees_]
    assert_allclose(rf.predict_proba(X), np.mean(each, axis=0), rtol=1e-12)
    leaves = rf.apply(X)
    assert leaves.shape == (800, 7)
    for t, tree in enumerate(rf.trees_):
        assert (tree.nodes["feature"][leaves[:, t]] < 0).all()


def test_bootstrap_is_what_the_counts_say(rng):
    """A depth-0 regression forest predicts each tree's in-bag mean."""
    X = rng.standard_normal((300, 2))
    y = rng.standard_normal(300)
    rf = RandomForestRegressor(n_estimators=5, max_depth=1, min_samples_split=10**6,
                               random_state=3).fit(X, y)
    for seed, tree in zip(rf._seeds, rf.trees_):
        counts = _trees.bootstrap_counts(int(seed), 300, 300)
        assert counts.sum() == 300
        assert tree.nodes["value"][0] == pytest.approx(np.average(y, weights=counts), rel=1e-9)
        assert tree.nodes["count"][0] == 300


def test_forest_without_bootstrap_all_features_is_one_tree(rng):
    from fastml.tree import DecisionTreeClassifier
    X, y = make_classification(500, 5, random_state=2)
    rf = RandomForestClassifier(n_estimators=3, bootstrap=False, max_features=None, max_depth=5).fit(X, y)
    dt = DecisionTreeClassifier(max_depth=5).fit(X, y)
    for t in rf.trees_:
        assert t.nodes.tobytes() == dt.tree_.nodes.tobytes()


def test_forest_threads_identical():
    X, y = make_classification(30000, 12, random_state=7)
    X[::13, 3] = np.nan
    a = RandomForestClassifier(n_estimators=6, max_depth=8, random_state=0, n_threads=1).fit(X, y)
    b = RandomForestClassifier(n_estimators=6, max_depth=8, random_state=0, n_threads=2).fit(X, y)
    assert a._forest.nodes.tobytes() == b._forest.nodes.tobytes()
    assert a.predict_proba(X).tobytes() == b.predict_proba(X).tobytes()


def test_forest_pickle_and_weights(rng):
    X, y = make_classification(400, 5, n_classes=3, n_informative=3, random_state=8)
    rf = RandomForestClassifier(n_estimators=5, random_state=0, class_weight="balanced").fit(X, y)
    back = pickle.loads(pickle.dumps(rf))
    assert back.predict_proba(X).tobytes() == rf.predict_proba(X).tobytes()
    w = rng.uniform(0.5, 2, 400)
    rf2 = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y, sample_weight=w)
    assert rf2.score(X, y) > 0.9


def test_adaboost_matches_sklearn_samme():
    for loader in (load_iris, load_breast_cancer):
        Xtr, Xte, ytr, yte = _split(loader)
        ours = AdaBoostClassifier(n_estimators=30).fit(Xtr, ytr)
        sk = ske.AdaBoostClassifier(n_estimators=30, random_state=0).fit(Xtr, ytr)
        assert abs(ours.score(Xte, yte) - sk.score(Xte, yte)) <= 0.03
        if loader is load_iris:
            # exact thresholds (few distinct values): the first stump and its weight agree
            assert ours.estimator_weights_[0] == pytest.approx(sk.estimator_weights_[0], rel=1e-9)
            assert ours.estimator_errors_[0] == pytest.approx(sk.estimator_errors_[0], rel=1e-9)
        p = ours.predict_proba(Xte)
        assert_allclose(p.sum(1), 1.0)


def test_adaboost_perfect_stump_stops(rng):
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] > 0).astype(int)
    ada = AdaBoostClassifier(n_estimators=10).fit(X, y)
    assert len(ada.trees_) == 1 and ada.score(X, y) == 1.0


def test_ensemble_errors(rng):
    X = rng.standard_normal((20, 2))
    y = rng.integers(0, 2, 20)
    with pytest.raises(ValueError, match="n_estimators"):
        RandomForestClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="bootstrap"):
        RandomForestClassifier(oob_score=True, bootstrap=False).fit(X, y)
    with pytest.raises(ValueError, match="max_depth"):
        RandomForestRegressor(max_depth=0).fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        AdaBoostClassifier().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        RandomForestRegressor().fit(X, np.full(20, np.nan))


_WEIGHTS_NOT_REPETITION = {
    "check_sample_weight_equivalence_on_dense_data":
        "random draws (bootstrap rows, reweighted rounds) differ between weighted and "
        "repeated rows, as in scikit-learn's own forests and AdaBoost"}


@pytest.mark.parametrize("est,xfail", [
    (RandomForestClassifier(n_estimators=5), _WEIGHTS_NOT_REPETITION),
    (RandomForestRegressor(n_estimators=5), _WEIGHTS_NOT_REPETITION),
    (AdaBoostClassifier(n_estimators=5), _WEIGHTS_NOT_REPETITION),
    (GradientBoostingClassifier(max_iter=10), None),
    (GradientBoostingRegressor(max_iter=10), None),
], ids=lambda e: type(e).__name__ if not isinstance(e, dict) else "")
def test_check_estimator(est, xfail):
    check_estimator(est, expected_failed_checks=xfail)
