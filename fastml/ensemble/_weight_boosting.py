"""AdaBoost (SAMME, Zhu et al. 2009) on histogram stumps.

Features are binned once; each round grows a depth-``max_depth`` (default 1:
a stump) weighted Gini tree with the C grower, reads the training predictions
from the leaves' row ranges, and reweights:
  err = sum of weights of the misclassified rows / sum of weights,
  alpha = learning_rate * (log((1 - err) / err) + log(K - 1)),
  w_i *= exp(alpha) for the misclassified rows.
Prediction follows scikit-learn's AdaBoostClassifier: the decision is the
alpha-weighted vote with -1/(K-1) for the other classes, divided by sum(alpha).
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from fastml import _profiler
from fastml._lib import _trees
from fastml._threads import resolve_n_threads
from fastml.tree._base import Forest, Tree, check_sample_weight, check_X_fit, check_X_predict
from fastml.tree._binning import BinMapper


class AdaBoostClassifier(ClassifierMixin, BaseEstimator):
    """AdaBoost-SAMME on histogram stumps (scikit-learn's AdaBoostClassifier semantics).

    Parameters
    ----------
    n_estimators : int, boosting rounds (fewer if a stump is perfect).
    learning_rate : float, shrinks each stump's weight.
    max_depth : int, depth of the weak trees (1: stumps).
    max_bins : int <= 255, bins per feature.
    random_state : seeds the binning subsample.
    n_threads : int, default fastml's setting.
    """

    _parameter_constraints = {
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_bins": [Interval(numbers.Integral, 2, 255, closed="both")],
        "random_state": ["random_state"],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_estimators=50, *, learning_rate=1.0, max_depth=1, max_bins=255,
                 random_state=None, n_threads=None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_bins = max_bins
        self.random_state = random_state
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed("AdaBoostClassifier.fit", self._fit, (X, y, sample_weight),
                               lambda args, res: dict(shapes=(np.shape(args[0]),),
                                                      dtype=str(getattr(args[0], "dtype", "float64")),
                                                      threads=resolve_n_threads(self.n_threads),
                                                      flops=0.0, bytes=0.0))

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        K = self.n_classes_ = len(self.classes_)
        n, d = X.shape
        w = check_sample_weight(sample_weight, X)
        w = np.full(n, 1.0 / n) if w is None else w / w.sum()
        nt = resolve_n_threads(self.n_threads)
        rng = check_random_state(self.random_state)
        mapper = BinMapper(self.max_bins, random_state=rng.randint(0, 2**31 - 1))
        mapper.fit(X, nt)
        bins = mapper.transform(X, nt)
        self._bin_mapper = mapper
        y_class = np.ascontiguousarray(y_enc, dtype=np.int32)
        params = {"criterion": "gini", "n_classes": K, "weighted": 1, "max_depth": self.max_depth,
                  "min_samples_split": 2, "min_samples_leaf": 1, "zero_gain_splits": 1}
        grower = _trees.Grower()
        feats = np.arange(d, dtype=np.int32)
        trees, alphas, errors = [], [], []
        for it in range(self.n_estimators if K > 1 else 0):
            rows = np.arange(n, dtype=np.int32)
            nodes, sums, start = grower.grow(params, bins, mapper.n_bins_, feats, None, y_class,
                                             np.ascontiguousarray(w), None, rows,
                                             mapper.thresholds_, nt, want_start=True)
            leaf_class = np.argmax(sums, axis=1)
            pred = np.empty(n, dtype=np.int64)
            for l in np.flatnonzero(nodes["feature"] < 0):
                pred[rows[start[l]:start[l] + nodes["count"][l]]] = leaf_class[l]
            incorrect = pred != y_enc
            err = float(np.average(incorrect, weights=w))
            value = np.zeros((len(nodes), K), dtype=np.float64)
            value[np.arange(len(nodes)), leaf_class] = 1.0
            if err <= 0:                      # a perfect stump: it alone decides
                trees.append(Tree(nodes, value))
                alphas.append(1.0)
                errors.append(0.0)
                break
            if err >= 1.0 - 1.0 / K:
                if not trees:
                    raise ValueError("BaseClassifier in AdaBoostClassifier ensemble is worse than "
                                     "random, ensemble can not be fit.")
                break
            alpha = self.learning_rate * (np.log((1.0 - err) / err) + np.log(K - 1.0))
            trees.append(Tree(nodes, value))
            alphas.append(alpha)
            errors.append(err)
            if it < self.n_estimators - 1:
                w = w * np.exp(alpha * incorrect * (w > 0))
                s = w.sum()
                if not np.isfinite(s) or s <= 0:
                    break
                w /= s
        self.trees_ = trees
        self.estimator_weights_ = np.asarray(alphas, dtype=np.float64)
        self.estimator_errors_ = np.asarray(errors, dtype=np.float64)
        if trees:
            self._forest = Forest([Tree(t.nodes, t._value * a) for t, a in zip(trees, alphas)],
                                  with_values=True)
        imp = np.zeros(d)
        for t, a in zip(trees, alphas):
            nd = t.nodes
            internal = nd["feature"] >= 0
            one = np.zeros(d)
            np.add.at(one, nd["feature"][internal], nd["gain"][internal])
            if one.sum() > 0:
                imp += a * one / one.sum()
        self.feature_importances_ = imp / imp.sum() if imp.sum() > 0 else imp
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        K = self.n_classes_
        if K == 1 or not self.trees_:
            return np.zeros(X.shape[0]) if K <= 2 else np.zeros((X.shape[0], K))
        votes = np.zeros((X.shape[0], K), dtype=np.float64)
        self._forest.add_values(X, votes, 1.0, resolve_n_threads(self.n_threads))
        total = self.estimator_weights_.sum()
        # sum_t alpha_t * (1 if class == pred_t else -1/(K-1)), divided by sum alpha
        pred = (votes * (1.0 + 1.0 / (K - 1)) - total / (K - 1)) / total
        if K == 2:
            pred[:, 0] *= -1
            return pred.sum(axis=1)
        return pred

    def predict(self, X):
        check_is_fitted(self)
        if self.n_classes_ == 1:
            X = check_X_predict(self, X)
            return np.full(X.shape[0], self.classes_[0])
        dec = self.decision_function(X)
        if self.n_classes_ == 2:
            return self.classes_[(dec > 0).astype(np.int64)]
        return self.classes_[np.argmax(dec, axis=1)]

    def predict_proba(self, X):
        check_is_fitted(self)
        K = self.n_classes_
        if K == 1:
            X = check_X_predict(self, X)
            return np.ones((X.shape[0], 1))
        dec = self.decision_function(X)
        if K == 2:
            dec = np.vstack([-dec, dec]).T / 2
        else:
            dec = dec / (K - 1)
        e = np.exp(dec - dec.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
