"""Split criteria against hand-computed values, and split finding against an
exhaustive NumPy search (tests/_reference.py)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastml._lib import _trees
from fastml.ensemble import GradientBoostingRegressor
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor
from fastml.tree._binning import BinMapper
from tests import _reference as ref


def _golf_wind():
    """14 days, 8 play / 6 not; windy days: 2 play / 3 not, calm days: 6 play / 3 not."""
    wind = np.array([1] * 5 + [0] * 9, dtype=np.float64)[:, None]
    play = np.array([1, 1, 0, 0, 0] + [1] * 6 + [0] * 3)
    return wind, play


def test_reference_gini_and_entropy_on_golf_wind():
    assert ref.gini([2, 3]) * 5 / 14 + ref.gini([6, 3]) * 9 / 14 == pytest.approx(16 / 35, abs=1e-12)
    gain = ref.entropy_bits([8, 6]) - 5 / 14 * ref.entropy_bits([2, 3]) - 9 / 14 * ref.entropy_bits([6, 3])
    assert gain == pytest.approx(0.048127, abs=5e-7)


def test_gini_split_on_golf_wind():
    X, y = _golf_wind()
    tree = DecisionTreeClassifier(criterion="gini", max_depth=1).fit(X, y).tree_
    root = tree.nodes[0]
    assert root["feature"] == 0 and tree.node_count == 3
    weighted_children = ref.gini([8, 6]) - root["gain"] / 14     # gain = weighted decrease
    assert weighted_children == pytest.approx(16 / 35, abs=1e-12)
    assert 16 / 35 == pytest.approx(0.457142857, abs=1e-9)
    # the children hold the class counts of each side
    left, right = root["left"], root["left"] + 1
    assert sorted(tree.nodes["count"][[left, right]]) == [5, 9]


def test_entropy_split_on_golf_wind():
    X, y = _golf_wind()
    tree = DecisionTreeClassifier(criterion="entropy", max_depth=1).fit(X, y).tree_
    assert tree.nodes[0]["gain"] / 14 == pytest.approx(0.048127, abs=5e-7)   # bits


def test_variance_reduction_by_hand():
    X = np.array([0, 0, 0, 1, 1, 1], dtype=np.float64)[:, None]
    y = np.array([1.0, 2, 3, 10, 11, 12])
    tree = DecisionTreeRegressor(max_depth=1).fit(X, y).tree_
    # total SS 125.5, children 2 + 2: decrease 121.5 = 6 * 20.25 (MSE units)
    assert tree.nodes[0]["gain"] == pytest.approx(121.5, rel=1e-12)
    assert_allclose(DecisionTreeRegressor(max_depth=1).fit(X, y).predict([[0.0], [1.0]]), [2.0, 11.0])


def test_xgboost_gain_and_leaf_weight_by_hand():
    X = np.array([0, 0, 0, 1, 1, 1], dtype=np.float64)[:, None]
    y = np.array([1.0, 2, 3, 10, 11, 12])
    gb = GradientBoostingRegressor(max_iter=1, learning_rate=1.0, l2_regularization=1.0,
                                   min_samples_leaf=1, max_leaf_nodes=2).fit(X, y)
    nodes = gb._trees[0].nodes
    # g = f0 - y with f0 = 6.5, h = 1: GL = 13.5, GR = -13.5, HL = HR = 3, lambda = 1
    assert nodes[0]["gain"] == pytest.approx(ref.xgb_gain(13.5, 3, -13.5, 3, lam=1.0), rel=1e-12)
    assert nodes[0]["gain"] == pytest.approx(45.5625, rel=1e-12)
    leaves = nodes[nodes["feature"] < 0]
    assert_allclose(np.sort(leaves["value"]), [-13.5 / 4, 13.5 / 4])       # -G / (H + lambda)
    assert_allclose(gb.predict([[0.0], [1.0]]), [6.5 - 3.375, 6.5 + 3.375])


def test_min_split_gain_is_gamma():
    X = np.array([0, 0, 0, 1, 1, 1], dtype=np.float64)[:, None]
    y = np.array([1.0, 2, 3, 10, 11, 12])
    kw = dict(max_iter=1, learning_rate=1.0, l2_regularization=1.0, min_samples_leaf=1)
    assert GradientBoostingRegressor(min_split_gain=45.0, **kw).fit(X, y)._trees[0].node_count == 3
    assert GradientBoostingRegressor(min_split_gain=46.0, **kw).fit(X, y)._trees[0].node_count == 1


def _grow_root(bins, mapper, params, gh=None, y_class=None):
    n, d = bins.shape
    rows = np.arange(n, dtype=np.int32)
    nodes, values, _ = _trees.Grower().grow(params, bins, mapper.n_bins_, np.arange(d, dtype=np.int32),
                                            gh, y_class, None, None, rows, mapper.thresholds_, 1)
    return nodes


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("with_nan", [False, True])
def test_xgb_split_matches_exhaustive_search(seed, with_nan, simd_level):
    rng = np.random.default_rng(seed)
    n, d = 80, 4
    X = np.round(rng.standard_normal((n, d)), 1)
    if with_nan:
        X[rng.random((n, d)) < 0.15] = np.nan
    mapper = BinMapper(max_bins=16).fit(X, 1)
    bins = mapper.transform(X, 1)
    g = rng.standard_normal(n)
    h = rng.uniform(0.1, 1.0, n)
    gh = np.ascontiguousarray(np.column_stack([g, h]))
    lam, mcw = 0.5, 0.3
    params = dict(criterion="xgb", max_leaf_nodes=2, min_samples_split=2, min_samples_leaf=0,
                  l2_regularization=lam, min_child_weight=mcw)
    nodes = _grow_root(bins, mapper, params, gh=gh)
    gain, f, b, ml = ref.best_split_exhaustive(np.asarray(bins), mapper.n_bins_, g, h, lam=lam,
                                               min_child_weight=mcw)
    assert nodes[0]["gain"] == pytest.approx(gain, rel=1e-9, abs=1e-12)
    if (nodes[0]["feature"], nodes[0]["bin"], nodes[0]["missing_left"]) != (f, b, ml):
        # an exact tie broken by rounding: our choice must score the same
        col = np.asarray(bins)[:, nodes[0]["feature"]].astype(int)
        left = np.where(col == 255, bool(nodes[0]["missing_left"]), col <= nodes[0]["bin"])
        ours = ref.xgb_gain(g[left].sum(), h[left].sum(), g[~left].sum(), h[~left].sum(), lam)
        assert ours == pytest.approx(gain, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_gini_split_matches_exhaustive_search(seed, simd_level):
    rng = np.random.default_rng(100 + seed)
    n, d, K = 90, 3, 3
    X = rng.integers(0, 12, (n, d)).astype(np.float64)
    X[rng.random((n, d)) < 0.1] = np.nan
    y = rng.integers(0, K, n).astype(np.int32)
    mapper = BinMapper().fit(X, 1)
    bins = mapper.transform(X, 1)
    params = dict(criterion="gini", n_classes=K, max_depth=1, min_samples_split=2,
                  min_samples_leaf=3, zero_gain_splits=1)
    nodes = _grow_root(bins, mapper, params, y_class=y)
    gain, f, b, ml = ref.best_split_exhaustive(np.asarray(bins), mapper.n_bins_, None, None,
                                               min_samples_leaf=3, classes=y, n_classes=K,
                                               criterion="gini")
    assert nodes[0]["gain"] == pytest.approx(gain, rel=1e-9)
