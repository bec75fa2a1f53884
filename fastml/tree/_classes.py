"""Decision trees on histograms: scikit-learn's DecisionTreeClassifier /
DecisionTreeRegressor, grown by fastml's C grower (csrc/trees).

Features are binned once (at most ``max_bins`` quantile bins plus a bin for
NaN); every node's histogram holds per-bin class weights (classification) or
(sum of centred targets, sum of weights) (regression), the larger child's
histogram is the parent's minus the smaller child's, and the best split is one
prefix scan per feature.  With ``max_leaf_nodes`` the tree grows best-first,
otherwise depth-first.  Missing values (NaN) are a value: each split learns
which side they go to.

Differences from scikit-learn: thresholds are bin edges (exact midpoints when a
feature has at most ``max_bins`` distinct values), and ties between equally
good splits go to the lowest feature index and threshold.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from fastml import _profiler
from fastml._threads import resolve_n_threads
from fastml._lib import _trees
from fastml.tree._base import (Forest, Tree, ccp_prune, check_sample_weight, check_X_fit,
                               check_X_predict, max_features_count, seed_of)
from fastml.tree._binning import BinMapper

_COMMON_CONSTRAINTS = {
    "max_depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "min_samples_split": [Interval(numbers.Integral, 2, None, closed="left"),
                          Interval(numbers.Real, 0.0, 1.0, closed="right")],
    "min_samples_leaf": [Interval(numbers.Integral, 1, None, closed="left"),
                         Interval(numbers.Real, 0.0, 1.0, closed="neither")],
    "max_features": [Interval(numbers.Integral, 1, None, closed="left"),
                     Interval(numbers.Real, 0.0, 1.0, closed="right"),
                     StrOptions({"sqrt", "log2"}), None],
    "max_leaf_nodes": [Interval(numbers.Integral, 2, None, closed="left"), None],
    "min_weight_fraction_leaf": [Interval(numbers.Real, 0.0, 0.5, closed="both")],
    "min_impurity_decrease": [Interval(numbers.Real, 0.0, None, closed="left")],
    "ccp_alpha": [Interval(numbers.Real, 0.0, None, closed="left")],
    "max_bins": [Interval(numbers.Integral, 2, 255, closed="both")],
    "random_state": ["random_state"],
    "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
}


def _sample_counts(min_samples_split, min_samples_leaf, n):
    mss = min_samples_split
    if not isinstance(mss, numbers.Integral):
        mss = max(2, int(np.ceil(mss * n)))
    msl = min_samples_leaf
    if not isinstance(msl, numbers.Integral):
        msl = max(1, int(np.ceil(msl * n)))
    return int(max(mss, 2 * msl)), int(msl)


class _BaseHistTree(BaseEstimator):
    """Shared fit machinery: binning, the grower call, pruning."""

    def _grow(self, X, params, gh=None, y_class=None, w=None, y_pure=None):
        nt = resolve_n_threads(self.n_threads)
        n, d = X.shape
        rows = np.arange(n, dtype=np.int32)
        mapper = BinMapper(self.max_bins, random_state=seed_of(self.random_state) % (2**32))
        if w is not None and (w == 0).any():
            # zero weight is removal: such rows neither shape the bins nor enter the tree
            rows = np.flatnonzero(w > 0).astype(np.int32)
            mapper.fit(X[rows], nt)
        else:
            mapper.fit(X, nt)
        bins = mapper.transform(X, nt)
        params = dict(params)
        params["max_depth"] = self.max_depth or 0
        params["max_leaf_nodes"] = self.max_leaf_nodes or 0
        mss, msl = _sample_counts(self.min_samples_split, self.min_samples_leaf, n)
        params["min_samples_split"] = mss
        params["min_samples_leaf"] = msl
        k = max_features_count(self.max_features, d)
        params["max_features"] = k if k < d else 0
        params["seed"] = seed_of(self.random_state)
        params["zero_gain_splits"] = 1
        feats = np.arange(d, dtype=np.int32)
        total = float(w.sum()) if w is not None else float(n)
        params["min_child_weight"] = self.min_weight_fraction_leaf * total
        if w is not None and params["criterion"] == "xgb" and msl == 1:
            params["min_samples_leaf"] = 0   # "non-empty": exact from occupied bins
        from fastml._lib._trees import Grower
        nodes, values, _ = Grower().grow(params, bins, mapper.n_bins_, feats, gh, y_class, w, y_pure,
                                          rows, mapper.thresholds_, nt)
        self._bin_mapper = mapper
        return nodes, values

    def _finish(self, nodes, value, total_weight):
        if self.ccp_alpha > 0:
            nodes, value = ccp_prune(nodes, value, self.ccp_alpha, total_weight)
        self.tree_ = Tree(nodes, value)
        self._forest = Forest([self.tree_], with_values=value is not None)
        imp = np.zeros(self.n_features_in_, dtype=np.float64)
        internal = nodes["feature"] >= 0
        np.add.at(imp, nodes["feature"][internal], np.maximum(nodes["gain"][internal], 0.0))
        s = imp.sum()
        self.feature_importances_ = imp / s if s > 0 else imp
        return self

    def apply(self, X):
        """Index of the leaf each row of X lands in."""
        check_is_fitted(self)
        X = check_X_predict(self, X)
        return self._forest.apply(X, resolve_n_threads(self.n_threads))[:, 0].astype(np.int64)

    def get_depth(self):
        check_is_fitted(self)
        return self.tree_.max_depth

    def get_n_leaves(self):
        check_is_fitted(self)
        return self.tree_.n_leaves

    def _fit_cost(self, args, result):
        X = args[0]
        shape = np.shape(X)
        return dict(shapes=(shape,), dtype=str(getattr(X, "dtype", "float64")),
                    threads=resolve_n_threads(self.n_threads), flops=0.0,
                    bytes=float(np.prod(shape)) * getattr(getattr(X, "dtype", None), "itemsize", 8))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class DecisionTreeClassifier(ClassifierMixin, _BaseHistTree):
    """A CART classification tree on histograms (Gini or entropy).

    Parameters follow scikit-learn's DecisionTreeClassifier; ``max_bins``
    (<= 255) bins per feature; ``n_threads`` (default: fastml's setting)."""

    _parameter_constraints = {"criterion": [StrOptions({"gini", "entropy", "log_loss"})],
                              "class_weight": [dict, list, StrOptions({"balanced"}), None],
                              **_COMMON_CONSTRAINTS}

    def __init__(self, *, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features=None,
                 max_leaf_nodes=None, min_impurity_decrease=0.0, ccp_alpha=0.0, class_weight=None,
                 max_bins=255, random_state=None, n_threads=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.ccp_alpha = ccp_alpha
        self.class_weight = class_weight
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed("DecisionTreeClassifier.fit", self._fit, (X, y, sample_weight),
                               self._fit_cost)

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        w = check_sample_weight(sample_weight, X)
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y)
            w = cw if w is None else w * cw
            w = np.ascontiguousarray(w, dtype=np.float64)
        weighted = w is not None and not np.all(w == 1.0)
        if not weighted:
            w = None
        y_class = np.ascontiguousarray(y_enc, dtype=np.int32)
        params = {"criterion": "entropy" if self.criterion in ("entropy", "log_loss") else "gini",
                  "n_classes": self.n_classes_, "weighted": int(weighted)}
        total = float(w.sum()) if weighted else float(X.shape[0])
        params["min_split_gain"] = self.min_impurity_decrease * total
        nodes, sums = self._grow(X, params, y_class=y_class, w=w)
        value = sums / np.maximum(sums.sum(axis=1, keepdims=True), 1e-300)
        return self._finish(nodes, value, total)

    def predict_proba(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        out = np.zeros((X.shape[0], self.n_classes_), dtype=np.float64)
        return self._forest.add_values(X, out, 1.0, resolve_n_threads(self.n_threads))

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class DecisionTreeRegressor(RegressorMixin, _BaseHistTree):
    """A CART regression tree on histograms (squared error).

    Parameters follow scikit-learn's DecisionTreeRegressor; ``max_bins``
    (<= 255) bins per feature; ``n_threads`` (default: fastml's setting)."""

    _parameter_constraints = {"criterion": [StrOptions({"squared_error"})], **_COMMON_CONSTRAINTS}

    def __init__(self, *, criterion="squared_error", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features=None,
                 max_leaf_nodes=None, min_impurity_decrease=0.0, ccp_alpha=0.0, max_bins=255,
                 random_state=None, n_threads=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.ccp_alpha = ccp_alpha
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed("DecisionTreeRegressor.fit", self._fit, (X, y, sample_weight),
                               self._fit_cost)

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y, y_numeric=True)
        y = np.ascontiguousarray(y, dtype=np.float64)
        w = check_sample_weight(sample_weight, X)
        weighted = w is not None and not np.all(w == 1.0)
        if not weighted:
            w = None
        nodes, total = fit_regression_tree(self, X, y, w)
        return self._finish(nodes, None, total)

    def predict(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        out = np.zeros((X.shape[0], 1), dtype=np.float64)
        return self._forest.add_raw(X, out, 1, 1.0, resolve_n_threads(self.n_threads))[:, 0]


def regression_inputs(y, w):
    """(g, h) of the squared-error split criterion: g = -w (y - mean), h = w.
    Gains G_L^2/H_L + G_R^2/H_R - G^2/H are then the weighted variance decrease
    (centring keeps the sums small, so they do not cancel)."""
    n = y.shape[0]
    ww = np.ones(n) if w is None else w
    mean = float(np.average(y, weights=ww))
    gh = np.empty((n, 2), dtype=np.float64)
    gh[:, 0] = -(y - mean) * ww
    gh[:, 1] = ww
    return gh, mean, float(ww.sum())


def fit_regression_tree(est, X, y, w):
    gh, mean, total = regression_inputs(y, w)
    params = {"criterion": "xgb", "hessian_is_count": int(w is None), "check_pure": 1,
              "l2_regularization": 0.0,
              "min_split_gain": 0.5 * est.min_impurity_decrease * total}
    nodes, _ = est._grow(X, params, gh=gh, w=w, y_pure=y)
    nodes["value"] += mean
    nodes["gain"] *= 2.0       # XGB gain is half the variance decrease
    return nodes, total
