"""Random forests of fastml's histogram trees.

Features are binned once for the whole forest; trees are grown in parallel in
C (csrc/trees/trees_grow.c, ``fml_forest_grow``), each on one thread from its
own seed: its bootstrap sample (with replacement, as repeated row indices) and
its per-node feature draws (``max_features``).  So the forest is identical for
any thread count.  Each node's histogram covers only the features drawn for
it, built directly from the node's rows (no subtraction: a sibling draws other
features).  Prediction averages the trees' class proportions (classifier) or
leaf means (regressor) in one C call.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from fastml import _profiler
from fastml._lib import _trees
from fastml._threads import resolve_n_threads
from fastml.tree._base import (Forest, Tree, check_sample_weight, check_X_fit, check_X_predict,
                               max_features_count)
from fastml.tree._binning import BinMapper
from fastml.tree._classes import _COMMON_CONSTRAINTS, _sample_counts, regression_inputs


class _BaseForest(BaseEstimator):
    _parameter_constraints = {
        **{k: v for k, v in _COMMON_CONSTRAINTS.items() if k != "ccp_alpha"},
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
        "oob_score": ["boolean"],
        "max_samples": [None, Interval(numbers.Integral, 1, None, closed="left"),
                        Interval(numbers.Real, 0.0, 1.0, closed="right")],
    }

    def _n_draw(self, n):
        if not self.bootstrap or self.max_samples is None:
            return n
        if isinstance(self.max_samples, numbers.Integral):
            if self.max_samples > n:
                raise ValueError(f"max_samples must be <= n_samples ({n}), got {self.max_samples}")
            return int(self.max_samples)
        return max(1, int(round(self.max_samples * n)))

    def _grow_forest(self, X, params, gh=None, y_class=None, w=None, y_pure=None):
        nt = resolve_n_threads(self.n_threads)
        n, d = X.shape
        total = float(w.sum()) if w is not None else float(n)
        params = dict(params, min_child_weight=self.min_weight_fraction_leaf * total)
        rng = check_random_state(self.random_state)
        if self.oob_score and not self.bootstrap:
            raise ValueError("oob_score=True needs bootstrap=True")
        mapper = BinMapper(self.max_bins, random_state=rng.randint(0, 2**31 - 1))
        mapper.fit(X, nt)
        bins = mapper.transform(X, nt)
        mss, msl = _sample_counts(self.min_samples_split, self.min_samples_leaf, n)
        k = max_features_count(self.max_features, d)
        params = dict(params, max_depth=self.max_depth or 0,
                      max_leaf_nodes=self.max_leaf_nodes or 0, min_samples_split=mss,
                      min_samples_leaf=msl, max_features=k if k < d else 0, zero_gain_splits=1)
        self._seeds = rng.randint(0, 2**62, size=self.n_estimators, dtype=np.int64).astype(np.uint64)
        self._n_draw_ = self._n_draw(n)
        grown = _trees.forest_grow(params, bins, mapper.n_bins_, gh, y_class, w, y_pure,
                                   self._seeds, bool(self.bootstrap), self._n_draw_,
                                   mapper.thresholds_, nt)
        self._bin_mapper = mapper
        return grown

    def _importances(self, trees):
        imp = np.zeros(self.n_features_in_, dtype=np.float64)
        for t in trees:
            nodes = t.nodes
            internal = nodes["feature"] >= 0
            one = np.zeros(self.n_features_in_, dtype=np.float64)
            np.add.at(one, nodes["feature"][internal], np.maximum(nodes["gain"][internal], 0.0))
            s = one.sum()
            if s > 0:
                imp += one / s
        s = imp.sum()
        return imp / s if s > 0 else imp

    def _oob_sums(self, X, n_out, values_of):
        """Sum over trees of each row's out-of-bag prediction, and how many trees."""
        n = X.shape[0]
        nt = resolve_n_threads(self.n_threads)
        sums = np.zeros((n, n_out), dtype=np.float64)
        counts = np.zeros(n, dtype=np.int64)
        for seed, tree in zip(self._seeds, self.trees_):
            inbag = _trees.bootstrap_counts(int(seed), n, self._n_draw_)
            oob = np.flatnonzero(inbag == 0)
            if oob.size == 0:
                continue
            part = np.zeros((oob.size, n_out), dtype=np.float64)
            values_of(Forest([tree], with_values=tree._value is not None), X[oob], part, nt)
            sums[oob] += part
            counts[oob] += 1
        return sums, counts

    def apply(self, X):
        """Leaf index of each row in each tree (n_samples x n_estimators)."""
        check_is_fitted(self)
        X = check_X_predict(self, X)
        return self._forest.apply(X, resolve_n_threads(self.n_threads)).astype(np.int64)

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


class RandomForestClassifier(ClassifierMixin, _BaseForest):
    """A random forest of histogram CART classifiers (bootstrap + per-node feature draws).

    Parameters follow scikit-learn's RandomForestClassifier; ``max_bins``
    (<= 255) bins per feature; ``n_threads`` (default: fastml's setting)
    replaces ``n_jobs``."""

    _parameter_constraints = {**_BaseForest._parameter_constraints,
                              "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
                              "class_weight": [dict, list, StrOptions({"balanced"}), None]}

    def __init__(self, n_estimators=100, *, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features="sqrt",
                 max_leaf_nodes=None,
                 min_impurity_decrease=0.0, bootstrap=True, oob_score=False, class_weight=None,
                 max_samples=None, max_bins=255, random_state=None, n_threads=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.class_weight = class_weight
        self.max_samples = max_samples
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed("RandomForestClassifier.fit", self._fit, (X, y, sample_weight),
                               self._fit_cost)

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        w = check_sample_weight(sample_weight, X)
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y)
            w = np.ascontiguousarray(cw if w is None else w * cw, dtype=np.float64)
        weighted = w is not None and not np.all(w == 1.0)
        if not weighted:
            w = None
        total = float(w.sum()) if weighted else float(X.shape[0])
        params = {"criterion": "entropy" if self.criterion in ("entropy", "log_loss") else "gini",
                  "n_classes": self.n_classes_, "weighted": int(weighted),
                  "min_split_gain": self.min_impurity_decrease * total}
        y_class = np.ascontiguousarray(y_enc, dtype=np.int32)
        grown = self._grow_forest(X, params, y_class=y_class, w=w)
        trees = []
        for nodes, sums in grown:
            value = sums / np.maximum(sums.sum(axis=1, keepdims=True), 1e-300)
            trees.append(Tree(nodes, value))
        self.trees_ = trees
        self._forest = Forest(trees, with_values=True)
        self.feature_importances_ = self._importances(trees)
        if self.oob_score:
            sums, counts = self._oob_sums(
                X, self.n_classes_, lambda f, Xo, out, nt: f.add_values(Xo, out, 1.0, nt))
            seen = counts > 0
            dec = np.full_like(sums, np.nan)
            dec[seen] = sums[seen] / counts[seen, None]
            self.oob_decision_function_ = dec
            pred = np.argmax(dec[seen], axis=1)
            self.oob_score_ = float(np.mean(pred == y_enc[seen])) if seen.any() else np.nan
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        out = np.zeros((X.shape[0], self.n_classes_), dtype=np.float64)
        return self._forest.add_values(X, out, 1.0 / len(self.trees_), resolve_n_threads(self.n_threads))

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class RandomForestRegressor(RegressorMixin, _BaseForest):
    """A random forest of histogram CART regressors (squared error).

    Parameters follow scikit-learn's RandomForestRegressor (``max_features``
    defaults to all features, as there); ``n_threads`` replaces ``n_jobs``."""

    _parameter_constraints = {**_BaseForest._parameter_constraints,
                              "criterion": [StrOptions({"squared_error"})]}

    def __init__(self, n_estimators=100, *, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features=1.0, max_leaf_nodes=None,
                 min_impurity_decrease=0.0, bootstrap=True, oob_score=False, max_samples=None,
                 max_bins=255, random_state=None, n_threads=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.max_samples = max_samples
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed("RandomForestRegressor.fit", self._fit, (X, y, sample_weight),
                               self._fit_cost)

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y, y_numeric=True)
        y = np.ascontiguousarray(y, dtype=np.float64)
        w = check_sample_weight(sample_weight, X)
        if w is not None and np.all(w == 1.0):
            w = None
        gh, mean, total = regression_inputs(y, w)
        params = {"criterion": "xgb", "hessian_is_count": int(w is None), "check_pure": 1,
                  "l2_regularization": 0.0,
                  "min_split_gain": 0.5 * self.min_impurity_decrease * total}
        grown = self._grow_forest(X, params, gh=gh, y_pure=y)
        trees = []
        for nodes, _ in grown:
            nodes["value"] += mean
            nodes["gain"] *= 2.0
            trees.append(Tree(nodes))
        self.trees_ = trees
        self._forest = Forest(trees, with_values=False)
        self.feature_importances_ = self._importances(trees)
        if self.oob_score:
            sums, counts = self._oob_sums(
                X, 1, lambda f, Xo, out, nt: f.add_raw(Xo, out, 1, 1.0, nt))
            seen = counts > 0
            pred = np.full(X.shape[0], np.nan)
            pred[seen] = sums[seen, 0] / counts[seen]
            self.oob_prediction_ = pred
            if seen.any():
                yt, yp = y[seen], pred[seen]
                ss = ((yt - yt.mean()) ** 2).sum()
                self.oob_score_ = float(1 - ((yt - yp) ** 2).sum() / ss) if ss > 0 else 0.0
            else:
                self.oob_score_ = np.nan
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        out = np.zeros((X.shape[0], 1), dtype=np.float64)
        return self._forest.add_raw(X, out, 1, 1.0 / len(self.trees_),
                                    resolve_n_threads(self.n_threads))[:, 0]
