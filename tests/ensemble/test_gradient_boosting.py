"""fastml.ensemble.GradientBoosting* against scikit-learn's HistGradientBoosting and
by construction: losses, multiclass, missing values, weights, early stopping,
staged predictions, pickling, threads, errors."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from fastml.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from fastml.tree._binning import BinMapper
from fastml._lib import _trees


def test_binary_close_to_sklearn_hgb():
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    ours = GradientBoostingClassifier(max_iter=60).fit(Xtr, ytr)
    sk = HistGradientBoostingClassifier(max_iter=60, early_stopping=False).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - sk.score(Xte, yte)) <= 0.03
    p = ours.predict_proba(Xte)
    assert_allclose(p.sum(1), 1.0)
    assert_allclose(p[:, 1], 1 / (1 + np.exp(-ours.decision_function(Xte))))


def test_multiclass_softmax_iris():
    X, y = load_iris(return_X_y=True)
    clf = GradientBoostingClassifier(max_iter=30, min_samples_leaf=5).fit(X, y)
    assert clf.n_trees_per_iteration_ == 3 and len(clf._trees) == 90
    assert clf.score(X, y) > 0.97
    p = clf.predict_proba(X)
    assert p.shape == (150, 3)
    assert_allclose(p.sum(1), 1.0)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_regression_losses_on_diabetes(loss):
    from sklearn.ensemble import GradientBoostingRegressor as SkGB
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    ours = GradientBoostingRegressor(loss=loss, max_iter=80, learning_rate=0.05).fit(Xtr, ytr)
    sk = SkGB(loss=loss, n_estimators=80, learning_rate=0.05, max_leaf_nodes=31,
              min_samples_leaf=20, random_state=0).fit(Xtr, ytr)
    assert ours.score(Xte, yte) > sk.score(Xte, yte) - 0.06
    assert ours.score(Xte, yte) > 0.25
    assert ours.score(Xtr, ytr) > 0.5


def test_absolute_error_leaves_are_median_residuals(rng):
    X = rng.standard_normal((400, 2))
    y = np.where(X[:, 0] > 0, 5.0, -5.0) + rng.standard_t(1.5, 400)
    gb = GradientBoostingRegressor(loss="absolute_error", max_iter=1, learning_rate=1.0,
                                   max_leaf_nodes=2, min_samples_leaf=1).fit(X, y)
    leaves = gb._trees[0].nodes
    base = np.median(y)
    pred = gb.predict(X)
    for v in np.unique(pred):
        rows = pred == v
        assert v - base == pytest.approx(np.median(y[rows] - base), abs=1e-9)
    assert len(leaves) == 3


def test_leaf_values_are_newton_steps(rng):
    """One iteration of log-loss: each leaf = -lr * G / (H + lambda) of its rows."""
    X = rng.standard_normal((600, 3))
    y = (X[:, 0] + 0.3 * rng.standard_normal(600) > 0).astype(int)
    lr, lam = 0.3, 2.0
    gb = GradientBoostingClassifier(max_iter=1, learning_rate=lr, l2_regularization=lam,
                                    max_leaf_nodes=4, min_samples_leaf=10).fit(X, y)
    p0 = y.mean()
    g, h = p0 - y, np.full(600, p0 * (1 - p0))
    nodes = gb._trees[0].nodes
    raw = gb.decision_function(X) - np.log(p0 / (1 - p0))
    for v in np.unique(raw):
        rows = raw == v
        assert v == pytest.approx(-lr * g[rows].sum() / (h[rows].sum() + lam), rel=1e-9)
    assert (nodes["feature"] >= 0).sum() == 3


def test_gradients_kernel_matches_numpy(rng):
    n, K = 50, 3
    raw = rng.standard_normal((n, K))
    y = rng.integers(0, K, n).astype(np.float64)
    w = rng.uniform(0.5, 2, n)
    gh = np.empty((K, n, 2))
    _trees.loss_gradients("softmax", raw, y, w, 0.0, gh, 1)
    p = np.exp(raw - raw.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(K)[y.astype(int)]
    assert_allclose(gh[:, :, 0].T, w[:, None] * (p - onehot), rtol=1e-12, atol=1e-15)
    assert_allclose(gh[:, :, 1].T, w[:, None] * p * (1 - p), rtol=1e-12, atol=1e-15)
    raw1 = raw[:, :1].copy()
    y1 = (y > 0).astype(float)
    gh1 = np.empty((1, n, 2))
    _trees.loss_gradients("log_loss", raw1, y1, None, 0.0, gh1, 1)
    s = 1 / (1 + np.exp(-raw1[:, 0]))
    assert_allclose(gh1[0, :, 0], s - y1, rtol=1e-12, atol=1e-15)
    assert_allclose(gh1[0, :, 1], s * (1 - s), rtol=1e-12)
    loss = _trees.loss_value("log_loss", raw1, y1, None, 0.0)
    assert loss == pytest.approx(np.mean(np.logaddexp(0, raw1[:, 0]) - y1 * raw1[:, 0]), rel=1e-12)


def test_missing_values_learned(rng):
    n = 3000
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] > 0).astype(int)
    miss = rng.random(n) < 0.25
    X[miss, 0] = np.nan
    y[miss] = 1
    clf = GradientBoostingClassifier(max_iter=20).fit(X, y)
    assert clf.score(X, y) > 0.99
    assert clf.predict([[np.nan, 0.0, 0.0]])[0] == 1


def test_staged_predictions_end_at_predict(rng):
    X, y = make_classification(600, 6, n_informative=4, n_classes=3, random_state=1)
    clf = GradientBoostingClassifier(max_iter=12).fit(X, y)
    staged = list(clf.staged_predict_proba(X))
    assert len(staged) == 12
    assert_allclose(staged[-1], clf.predict_proba(X), rtol=1e-12)
    assert (list(clf.staged_predict(X))[-1] == clf.predict(X)).all()
    reg = GradientBoostingRegressor(max_iter=7).fit(X, X[:, 0])
    assert_allclose(list(reg.staged_predict(X))[-1], reg.predict(X), rtol=1e-12)


def test_early_stopping(rng):
    X, y = make_classification(3000, 10, random_state=0, flip_y=0.2)
    clf = GradientBoostingClassifier(max_iter=500, learning_rate=0.3, early_stopping=True,
                                     n_iter_no_change=5, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    assert len(clf.validation_score_) == clf.n_iter_
    best = int(np.argmax(clf.validation_score_))
    assert clf.n_iter_ - 1 - best >= 5 - 1


def test_subsampling_reproducible(rng):
    X, y = make_classification(2000, 12, random_state=2)
    kw = dict(max_iter=15, subsample=0.6, colsample_bytree=0.7, colsample_bynode=0.8, random_state=4)
    a = GradientBoostingClassifier(**kw).fit(X, y)
    b = GradientBoostingClassifier(**kw).fit(X, y)
    assert a.predict_proba(X).tobytes() == b.predict_proba(X).tobytes()
    c = GradientBoostingClassifier(**dict(kw, random_state=5)).fit(X, y)
    assert a.predict_proba(X).tobytes() != c.predict_proba(X).tobytes()
    assert a.score(X, y) > 0.85


def test_sample_weight_zero_and_scale(rng):
    X = rng.standard_normal((500, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(500)
    w = rng.uniform(0.5, 2.0, 500)
    a = GradientBoostingRegressor(max_iter=10, min_samples_leaf=1).fit(X, y, sample_weight=w)
    b = GradientBoostingRegressor(max_iter=10, min_samples_leaf=1).fit(X, y, sample_weight=3 * w)
    assert_allclose(a.predict(X), b.predict(X), rtol=1e-9, atol=1e-9)


def test_depth_and_leaf_limits(rng):
    X, y = make_classification(3000, 8, random_state=3)
    clf = GradientBoostingClassifier(max_iter=5, max_leaf_nodes=None, max_depth=3).fit(X, y)
    assert all(t.max_depth <= 3 for t in clf._trees)
    clf = GradientBoostingClassifier(max_iter=5, max_leaf_nodes=7).fit(X, y)
    assert all(t.n_leaves <= 7 for t in clf._trees)
    assert max(t.n_leaves for t in clf._trees) == 7


def test_predict_raw_equals_binned_walk(rng):
    X, y = make_classification(2000, 7, random_state=4)
    X[rng.random(X.shape) < 0.05] = np.nan
    clf = GradientBoostingClassifier(max_iter=10).fit(X, y)
    bins = clf._bin_mapper.transform(X, 1)
    raw = np.full((2000, 1), clf._baseline)
    for t in clf._trees:
        _trees.predict_binned(t.nodes, bins, raw, 0, 1)
    assert_allclose(raw[:, 0], clf.decision_function(X), rtol=1e-12, atol=1e-12)


def test_pickle(rng):
    X, y = make_classification(500, 5, n_classes=3, n_informative=3, random_state=5)
    clf = GradientBoostingClassifier(max_iter=8).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    assert back.predict_proba(X).tobytes() == clf.predict_proba(X).tobytes()


def test_threads_give_identical_models():
    X, y = make_classification(140000, 10, n_informative=6, random_state=6)
    X[::50, 2] = np.nan
    a = GradientBoostingClassifier(max_iter=4, n_threads=1, random_state=0).fit(X, y)
    b = GradientBoostingClassifier(max_iter=4, n_threads=2, random_state=0).fit(X, y)
    assert a._forest.nodes.tobytes() == b._forest.nodes.tobytes()
    assert a.predict_proba(X[:3000], ).tobytes() == b.predict_proba(X[:3000]).tobytes()
    Xs = X[:60000, :4]      # few features: row-parallel histograms
    a = GradientBoostingRegressor(max_iter=3, n_threads=1).fit(Xs, X[:60000, 5])
    b = GradientBoostingRegressor(max_iter=3, n_threads=2).fit(Xs, X[:60000, 5])
    assert a._forest.nodes.tobytes() == b._forest.nodes.tobytes()


def test_errors(rng):
    X = rng.standard_normal((30, 2))
    y = rng.integers(0, 2, 30)
    with pytest.raises(ValueError, match="loss"):
        GradientBoostingRegressor(loss="poisson_typo").fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        GradientBoostingClassifier(loss="exponential").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        GradientBoostingRegressor().fit(X, np.where(np.arange(30) == 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="sample_weight"):
        GradientBoostingClassifier().fit(X, y, sample_weight=np.ones(31))
    with pytest.raises(ValueError, match="max_depth"):
        GradientBoostingClassifier(max_depth=0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        GradientBoostingClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(ValueError, match="2 classes"):
        GradientBoostingClassifier().fit(X, np.zeros(30))


def test_fit_is_recorded_by_the_profiler(rng):
    import fastml
    X = rng.standard_normal((300, 4))
    y = (X[:, 0] > 0).astype(int)
    with fastml.profile() as p:
        GradientBoostingClassifier(max_iter=3, n_threads=1).fit(X, y)
    (rec,) = p.records
    assert rec["name"] == "GradientBoostingClassifier.fit"
    assert rec["shapes"] == ((300, 4),) and rec["threads"] == 1 and rec["seconds"] > 0
