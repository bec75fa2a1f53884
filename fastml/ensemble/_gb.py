"""Gradient boosting in the XGBoost formulation on fastml's histogram trees.

Each iteration fits a tree to the gradients g and hessians h of the loss at the
current raw predictions: leaf weight -G / (H + lambda), split gain
0.5 [G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda)], a split only
when the gain exceeds gamma (``min_split_gain``), children need
``min_child_weight`` hessian and ``min_samples_leaf`` rows.  Trees grow
leaf-wise (best-first) up to ``max_leaf_nodes`` and/or ``max_depth``; leaf
values are shrunk by ``learning_rate``.

Losses: squared error, absolute error (leaves refit to the median residual),
Huber (delta = ``alpha`` quantile of |residual| each iteration), binary
log-loss, multiclass softmax (one tree per class and iteration).

Per iteration: gradients in C (csrc/trees/trees_loss.c), one C call per tree
(histograms, split search, partition), raw predictions updated from the
leaves' row ranges (or, with row subsampling, by walking the binned rows).
With a fixed ``random_state`` the model is bit-identical for any thread count.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from fastml import _profiler
from fastml._lib import _trees
from fastml._threads import resolve_n_threads
from fastml.tree._base import Forest, Tree, check_sample_weight, check_X_fit, check_X_predict
from fastml.tree._binning import BinMapper


def _weighted_quantile(x, w, q):
    """The q-quantile of x: numpy's (linear) quantile without weights, else the first
    value whose weighted CDF reaches q."""
    if w is None:
        return float(np.quantile(x, q)) if x.size else 0.0     # linear: the usual median
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    if cw[-1] <= 0:
        return 0.0
    i = int(np.searchsorted(cw, q * cw[-1], side="left"))
    return float(x[order[min(i, len(x) - 1)]])


class _BaseGB(BaseEstimator):
    _parameter_constraints = {
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_leaf_nodes": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "max_depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [Interval(numbers.Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(numbers.Real, 0, None, closed="left")],
        "min_split_gain": [Interval(numbers.Real, 0, None, closed="left")],
        "min_child_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "subsample": [Interval(numbers.Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(numbers.Real, 0, 1, closed="right")],
        "colsample_bynode": [Interval(numbers.Real, 0, 1, closed="right")],
        "max_bins": [Interval(numbers.Integral, 2, 255, closed="both")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(self, *, loss, learning_rate=0.1, max_iter=100, max_leaf_nodes=31,
                 max_depth=None, min_samples_leaf=20, l2_regularization=0.0, min_split_gain=0.0,
                 min_child_weight=1e-3, subsample=1.0, colsample_bytree=1.0,
                 colsample_bynode=1.0, max_bins=255, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-7, random_state=None,
                 n_threads=None, verbose=0):
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.min_split_gain = min_split_gain
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.colsample_bynode = colsample_bynode
        self.max_bins = max_bins
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # ---- fit ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit max_iter boosting iterations (fewer with early stopping)."""
        if not _profiler.ACTIVE:
            return self._fit(X, y, sample_weight)
        return _profiler.timed(type(self).__name__ + ".fit", self._fit, (X, y, sample_weight),
                               self._fit_cost)

    def _fit_cost(self, args, result):
        X = args[0]
        shape = np.shape(X)
        return dict(shapes=(shape,), dtype=str(getattr(X, "dtype", "float64")),
                    threads=resolve_n_threads(self.n_threads), flops=0.0,
                    bytes=float(np.prod(shape)) * getattr(getattr(X, "dtype", None), "itemsize", 8))

    def _fit(self, X, y, sample_weight):
        X, y = check_X_fit(self, X, y, y_numeric=not self._is_classifier())
        w = check_sample_weight(sample_weight, X)
        y = self._encode_y(y)
        if w is not None and np.all(w == 1.0):
            w = None
        nt = resolve_n_threads(self.n_threads)
        rng = check_random_state(self.random_state)
        loss = self._loss_name()
        K = self._n_outputs()
        n, d = X.shape

        # validation split for early stopping
        if self.early_stopping:
            from sklearn.model_selection import train_test_split
            idx = np.arange(n)
            strat = y if self._is_classifier() and self._can_stratify(y) else None
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=strat,
                                      random_state=rng.randint(0, 2**31 - 1))
            tr, va = np.sort(tr), np.sort(va)
            X_tr, y_tr, X_va, y_va = X[tr], y[tr], X[va], y[va]
            w_tr = None if w is None else np.ascontiguousarray(w[tr])
            w_va = None if w is None else np.ascontiguousarray(w[va])
        else:
            X_tr, y_tr, w_tr = X, y, w
        y_tr = np.ascontiguousarray(y_tr, dtype=np.float64)

        mapper = BinMapper(self.max_bins, random_state=rng.randint(0, 2**31 - 1))
        mapper.fit(X_tr, nt)
        bins = mapper.transform(X_tr, nt)
        n_tr = bins.shape[0]
        self._bin_mapper = mapper

        self._baseline = self._baseline_prediction(y_tr, w_tr)
        raw = np.empty((n_tr, K), dtype=np.float64)
        raw[:] = self._baseline
        if self.early_stopping:
            bins_va = mapper.transform(X_va, nt)
            raw_va = np.empty((X_va.shape[0], K), dtype=np.float64)
            raw_va[:] = self._baseline
            y_va = np.ascontiguousarray(y_va, dtype=np.float64)
        gh = np.empty((K, n_tr, 2), dtype=np.float64)

        params = {
            "criterion": "xgb",
            "hessian_is_count": int(loss in ("squared_error", "absolute_error", "huber") and w_tr is None),
            "max_depth": self.max_depth or 0,
            "max_leaf_nodes": self.max_leaf_nodes or 0,
            "min_samples_split": 2 * self.min_samples_leaf,
            "min_samples_leaf": self.min_samples_leaf,
            "min_child_weight": float(self.min_child_weight),
            "min_split_gain": float(self.min_split_gain),
            "l2_regularization": float(self.l2_regularization),
            "leaf_scale": float(self.learning_rate),
        }
        grower = _trees.Grower()
        all_rows = np.arange(n_tr, dtype=np.int32)
        all_feats = np.arange(d, dtype=np.int32)
        n_sub = max(1, int(round(self.subsample * n_tr)))
        n_col = max(1, int(round(self.colsample_bytree * d)))
        per_node = max(1, int(round(self.colsample_bynode * n_col)))
        trees = []
        self.train_score_ = []
        self.validation_score_ = []
        best_va, no_improve = np.inf, 0
        delta = 0.0
        rows = np.empty(n_tr, dtype=np.int32)
        for it in range(self.max_iter):
            if loss == "huber":
                delta = _weighted_quantile(np.abs(y_tr - raw[:, 0]), w_tr, self.alpha)
            _trees.loss_gradients(self._c_loss(), raw, y_tr, w_tr, delta, gh, nt)
            if n_sub < n_tr:
                sub = np.sort(rng.choice(n_tr, n_sub, replace=False)).astype(np.int32)
            else:
                sub = all_rows
            feats = (np.sort(rng.choice(d, n_col, replace=False)).astype(np.int32)
                     if n_col < d else all_feats)
            for k in range(K):
                params["seed"] = int(rng.randint(0, 2**62, dtype=np.int64))
                params["max_features"] = per_node if per_node < len(feats) else 0
                r = rows[:len(sub)]
                r[:] = sub
                nodes, _, start = grower.grow(params, bins, mapper.n_bins_, feats, gh[k], None,
                                              None, None, r, mapper.thresholds_, nt,
                                              want_start=True)
                if loss == "absolute_error":
                    self._refit_median(nodes, start, r, y_tr - raw[:, 0], w_tr)
                if n_sub < n_tr:
                    _trees.predict_binned(nodes, bins, raw, k, nt)
                else:
                    _trees.add_leaf_values(nodes, start, r, raw, k, nt)
                if self.early_stopping:
                    _trees.predict_binned(nodes, bins_va, raw_va, k, nt)
                trees.append(Tree(nodes))
            if self.early_stopping:
                tr_loss = _trees.loss_value(self._c_loss(), raw, y_tr, w_tr, delta)
                va_loss = _trees.loss_value(self._c_loss(), raw_va, y_va, w_va, delta)
                self.train_score_.append(-tr_loss)
                self.validation_score_.append(-va_loss)
                if va_loss < best_va - self.tol:
                    best_va, no_improve = va_loss, 0
                else:
                    no_improve += 1
                if self.verbose:
                    print(f"[{it + 1}] train loss {tr_loss:.6f} validation loss {va_loss:.6f}")
                if no_improve >= self.n_iter_no_change:
                    break
            elif self.verbose:
                print(f"[{it + 1}] {len(trees)} trees")
        self.n_iter_ = len(trees) // K
        self.n_trees_per_iteration_ = K
        self.train_score_ = np.asarray(self.train_score_)
        self.validation_score_ = np.asarray(self.validation_score_)
        self._trees = trees
        self._forest = Forest(trees, with_values=False)
        return self

    def _refit_median(self, nodes, start, rows, residual, w):
        """Absolute error: each leaf predicts the (weighted) median residual of its rows."""
        leaves = np.flatnonzero(nodes["feature"] < 0)
        for l in leaves:
            r = rows[start[l]:start[l] + nodes["count"][l]]
            med = _weighted_quantile(residual[r], None if w is None else w[r], 0.5)
            nodes["value"][l] = self.learning_rate * med

    @staticmethod
    def _can_stratify(y):
        _, counts = np.unique(y, return_counts=True)
        return counts.min() >= 2

    # ---- predict --------------------------------------------------------------

    def _raw_predict(self, X, n_iter=None):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        K = self.n_trees_per_iteration_
        out = np.empty((X.shape[0], K), dtype=np.float64)
        out[:] = self._baseline
        stop = None if n_iter is None else n_iter * K
        return self._forest.add_raw(X, out, K, 1.0, resolve_n_threads(self.n_threads), 0, stop)

    def _staged_raw_predict(self, X):
        check_is_fitted(self)
        X = check_X_predict(self, X)
        K = self.n_trees_per_iteration_
        nt = resolve_n_threads(self.n_threads)
        out = np.empty((X.shape[0], K), dtype=np.float64)
        out[:] = self._baseline
        for it in range(self.n_iter_):
            self._forest.add_raw(X, out, K, 1.0, nt, it * K, (it + 1) * K)
            yield out.copy()

    @property
    def feature_importances_(self):
        """Total split gain per feature, normalised to sum to one."""
        check_is_fitted(self)
        imp = np.zeros(self.n_features_in_, dtype=np.float64)
        nodes = self._forest.nodes
        internal = nodes["feature"] >= 0
        np.add.at(imp, nodes["feature"][internal], nodes["gain"][internal])
        s = imp.sum()
        return imp / s if s > 0 else imp

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class GradientBoostingRegressor(RegressorMixin, _BaseGB):
    """Histogram gradient boosting for regression (XGBoost-style objective).

    loss: 'squared_error', 'absolute_error' or 'huber' (delta: the ``alpha``
    quantile of the absolute residuals, recomputed each iteration)."""

    _parameter_constraints = {**_BaseGB._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "absolute_error", "huber"})],
                              "alpha": [Interval(numbers.Real, 0, 1, closed="neither")]}

    def __init__(self, *, loss="squared_error", learning_rate=0.1, max_iter=100,
                 max_leaf_nodes=31, max_depth=None, min_samples_leaf=20, l2_regularization=0.0,
                 min_split_gain=0.0, min_child_weight=1e-3, subsample=1.0, colsample_bytree=1.0,
                 colsample_bynode=1.0, max_bins=255, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-7, alpha=0.9,
                 random_state=None, n_threads=None, verbose=0):
        super().__init__(loss=loss, learning_rate=learning_rate, max_iter=max_iter,
                         max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
                         min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
                         min_split_gain=min_split_gain, min_child_weight=min_child_weight,
                         subsample=subsample, colsample_bytree=colsample_bytree,
                         colsample_bynode=colsample_bynode, max_bins=max_bins,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, tol=tol, random_state=random_state,
                         n_threads=n_threads, verbose=verbose)
        self.alpha = alpha

    def _is_classifier(self):
        return False

    def _encode_y(self, y):
        return np.ascontiguousarray(y, dtype=np.float64)

    def _loss_name(self):
        return self.loss

    def _c_loss(self):
        return self.loss

    def _n_outputs(self):
        return 1

    def _baseline_prediction(self, y, w):
        if self.loss == "squared_error":
            return float(np.average(y, weights=w))
        return _weighted_quantile(y, w, 0.5)

    def predict(self, X):
        return self._raw_predict(X)[:, 0]

    def staged_predict(self, X):
        for raw in self._staged_raw_predict(X):
            yield raw[:, 0]


class GradientBoostingClassifier(ClassifierMixin, _BaseGB):
    """Histogram gradient boosting for classification: binary log-loss (one
    tree per iteration) or multiclass softmax (one tree per class and iteration)."""

    _parameter_constraints = {**_BaseGB._parameter_constraints,
                              "loss": [StrOptions({"log_loss"})]}

    def __init__(self, *, loss="log_loss", learning_rate=0.1, max_iter=100, max_leaf_nodes=31,
                 max_depth=None, min_samples_leaf=20, l2_regularization=0.0, min_split_gain=0.0,
                 min_child_weight=1e-3, subsample=1.0, colsample_bytree=1.0,
                 colsample_bynode=1.0, max_bins=255, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-7, random_state=None,
                 n_threads=None, verbose=0):
        super().__init__(loss=loss, learning_rate=learning_rate, max_iter=max_iter,
                         max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
                         min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
                         min_split_gain=min_split_gain, min_child_weight=min_child_weight,
                         subsample=subsample, colsample_bytree=colsample_bytree,
                         colsample_bynode=colsample_bynode, max_bins=max_bins,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, tol=tol, random_state=random_state,
                         n_threads=n_threads, verbose=verbose)

    def _is_classifier(self):
        return True

    def _encode_y(self, y):
        check_classification_targets(y)
        self.classes_, enc = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(f"GradientBoostingClassifier needs at least 2 classes in y, "
                             f"got {self.n_classes_} class")
        return enc.astype(np.float64)

    def _loss_name(self):
        return "log_loss" if self.n_classes_ == 2 else "softmax"

    def _c_loss(self):
        return self._loss_name()

    def _n_outputs(self):
        return 1 if self.n_classes_ == 2 else self.n_classes_

    def _baseline_prediction(self, y, w):
        K = self.n_classes_
        counts = np.bincount(y.astype(np.int64), weights=w, minlength=K).astype(np.float64)
        p = np.clip(counts / counts.sum(), 1e-15, 1 - 1e-15)
        if K == 2:
            return float(np.log(p[1] / p[0]))
        return np.log(p)

    def decision_function(self, X):
        raw = self._raw_predict(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def staged_decision_function(self, X):
        for raw in self._staged_raw_predict(X):
            yield raw[:, 0] if raw.shape[1] == 1 else raw

    @staticmethod
    def _proba(raw):
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p, p])
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_proba(self, X):
        return self._proba(self._raw_predict(X))

    def staged_predict_proba(self, X):
        for raw in self._staged_raw_predict(X):
            yield self._proba(raw)

    def predict(self, X):
        raw = self._raw_predict(X)
        if raw.shape[1] == 1:
            return self.classes_[(raw[:, 0] > 0).astype(np.int64)]
        return self.classes_[np.argmax(raw, axis=1)]

    def staged_predict(self, X):
        for raw in self._staged_raw_predict(X):
            if raw.shape[1] == 1:
                yield self.classes_[(raw[:, 0] > 0).astype(np.int64)]
            else:
                yield self.classes_[np.argmax(raw, axis=1)]
