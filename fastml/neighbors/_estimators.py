"""scikit-learn-compatible estimators on fastml's exact neighbour search.

``NearestNeighbors``, ``KNeighborsClassifier`` and ``KNeighborsRegressor``
behave like scikit-learn's brute-force estimators (same parameters where they
apply, ``n_threads`` instead of ``n_jobs``), with fastml's ``knn`` and
``radius_neighbors`` underneath: neighbours are exact, sorted, with ties broken
by the smaller training index, and identical for any thread count.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fastml.metrics.pairwise import _ALIASES, METRICS
from fastml.neighbors._search import knn, radius_neighbors

_FLOATS = [np.float64, np.float32]


class _NeighborsBase(BaseEstimator):
    """Parameters, fit and the neighbour queries shared by the estimators."""

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="both")],
        "metric": [StrOptions(set(METRICS) | set(_ALIASES))],
        "p": [Interval(Real, 0, None, closed="right")],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.metric == "kl"
        return tags

    def _fit_rows(self, X):
        self._fit_X = np.ascontiguousarray(X)
        self.n_samples_fit_ = X.shape[0]
        self.effective_metric_ = _ALIASES.get(self.metric, self.metric)
        self.effective_metric_params_ = {"p": self.p} if self.effective_metric_ == "minkowski" else {}
        return self

    def _query(self, X):
        """(validated queries, whether they are the training rows themselves)."""
        check_is_fitted(self)
        if X is None:
            return self._fit_X, True
        return validate_data(self, X, dtype=_FLOATS, reset=False), False

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Distances and indices of the n_neighbors nearest training rows.

        X None: the training rows, each excluding itself (as scikit-learn)."""
        X, is_train = self._query(X)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors)} value, enter integer value")
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        k = n_neighbors + is_train
        if k > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                             f"n_samples_fit = {self.n_samples_fit_}, n_samples = {X.shape[0]}")
        dist, ind = knn(X, self._fit_X, k, metric=self.metric, p=self.p, n_threads=self.n_threads)
        if is_train:
            # drop each row itself (or, among duplicates at distance 0, the last column)
            keep = ind != np.arange(X.shape[0])[:, None]
            no_self = keep.all(axis=1)
            keep[no_self, -1] = False
            dist = dist[keep].reshape(X.shape[0], n_neighbors)
            ind = ind[keep].reshape(X.shape[0], n_neighbors)
        return (dist, ind) if return_distance else ind

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Training rows within radius of each query: object arrays of per-row arrays,
        always sorted by distance (sort_results is accepted for compatibility)."""
        X, is_train = self._query(X)
        radius = self.radius if radius is None else radius
        indptr, indices, dist = radius_neighbors(X, self._fit_X, radius, metric=self.metric,
                                                 p=self.p, n_threads=self.n_threads)
        if is_train:                                  # drop each row itself
            rows = np.repeat(np.arange(X.shape[0]), np.diff(indptr))
            keep = indices != rows
            counts = np.bincount(rows[keep], minlength=X.shape[0])
            indices, dist = indices[keep], dist[keep]
            indptr = np.concatenate([[0], np.cumsum(counts)])
        neigh_ind = np.empty(X.shape[0], dtype=object)
        neigh_dist = np.empty(X.shape[0], dtype=object)
        for i in range(X.shape[0]):
            neigh_ind[i] = indices[indptr[i]:indptr[i + 1]]
            neigh_dist[i] = dist[indptr[i]:indptr[i + 1]]
        return (neigh_dist, neigh_ind) if return_distance else neigh_ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse (n_queries, n_samples_fit) graph of the k nearest neighbours."""
        from scipy.sparse import csr_matrix
        if mode not in ("connectivity", "distance"):
            raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}")
        dist, ind = self.kneighbors(X, n_neighbors)
        m, k = ind.shape
        data = np.ones(m * k) if mode == "connectivity" else dist.ravel()
        return csr_matrix((data, ind.ravel(), np.arange(0, m * k + 1, k)),
                          shape=(m, self.n_samples_fit_))

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Sparse (n_queries, n_samples_fit) graph of the neighbours within radius."""
        from scipy.sparse import csr_matrix
        if mode not in ("connectivity", "distance"):
            raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}")
        dist, ind = self.radius_neighbors(X, radius)
        counts = np.array([len(a) for a in ind], dtype=np.int64)
        indices = np.concatenate(list(ind)) if len(ind) else np.empty(0, np.int64)
        data = (np.ones(indices.size) if mode == "connectivity"
                else (np.concatenate(list(dist)) if len(dist) else np.empty(0)))
        return csr_matrix((data, indices, np.concatenate([[0], np.cumsum(counts)])),
                          shape=(len(ind), self.n_samples_fit_))


class NearestNeighbors(_NeighborsBase):
    """Unsupervised exact neighbour search (scikit-learn's NearestNeighbors, brute force).

    Parameters
    ----------
    n_neighbors : int, default=5
    radius : float, default=1.0
    metric : str, default='euclidean'
        Any metric of ``fastml.metrics.pairwise_distances``.
    p : float, default=2
        Minkowski order, used when metric='minkowski'.
    n_threads : int, optional
    """

    def __init__(self, *, n_neighbors=5, radius=1.0, metric="euclidean", p=2, n_threads=None):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.metric = metric
        self.p = p
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the training rows."""
        X = validate_data(self, X, dtype=_FLOATS)
        return self._fit_rows(X)


def _weights(dist, weights):
    """Per-neighbour weights (None for uniform), scikit-learn's rule for zeros:
    a query at distance 0 from some training rows gives them weight 1, others 0."""
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1.0 / dist.astype(np.float64)
        inf_mask = np.isinf(w)
        inf_row = inf_mask.any(axis=1)
        w[inf_row] = inf_mask[inf_row]
        return w
    return np.asarray(weights(dist), dtype=np.float64)


class KNeighborsClassifier(ClassifierMixin, _NeighborsBase):
    """k-nearest-neighbour vote (scikit-learn's KNeighborsClassifier, brute force).

    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {'uniform', 'distance'} or callable, default='uniform'
    metric : str, default='euclidean'
    p : float, default=2
    n_threads : int, optional
    """

    _parameter_constraints = {
        **{k: v for k, v in _NeighborsBase._parameter_constraints.items() if k != "radius"},
        "weights": [StrOptions({"uniform", "distance"}), callable, None],
    }

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="euclidean", p=2, n_threads=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.p = p
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store the training rows and their labels."""
        X, y = validate_data(self, X, y, dtype=_FLOATS)
        check_classification_targets(y)
        self.classes_, self._y = np.unique(y, return_inverse=True)
        self.outputs_2d_ = False
        return self._fit_rows(X)

    def predict_proba(self, X):
        """Class probabilities: the (weighted) share of each class among the neighbours."""
        dist, ind = self.kneighbors(X)
        w = _weights(dist, self.weights)
        m, k = ind.shape
        n_classes = len(self.classes_)
        labels = self._y[ind]
        flat = (np.arange(m)[:, None] * n_classes + labels).ravel()
        proba = np.bincount(flat, weights=None if w is None else w.ravel(),
                            minlength=m * n_classes).reshape(m, n_classes).astype(np.float64)
        total = proba.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        return proba / total

    def predict(self, X):
        """The class with the largest (weighted) vote, the smallest label on ties."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class KNeighborsRegressor(RegressorMixin, _NeighborsBase):
    """Mean of the k nearest targets (scikit-learn's KNeighborsRegressor, brute force).

    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {'uniform', 'distance'} or callable, default='uniform'
    metric : str, default='euclidean'
    p : float, default=2
    n_threads : int, optional
    """

    _parameter_constraints = KNeighborsClassifier._parameter_constraints

    def __init__(self, n_neighbors=5, *, weights="uniform", metric="euclidean", p=2, n_threads=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.p = p
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store the training rows and their targets (1-D or 2-D)."""
        X, y = validate_data(self, X, y, dtype=_FLOATS, multi_output=True, y_numeric=True)
        self._y = np.asarray(y, dtype=np.float64)
        return self._fit_rows(X)

    def predict(self, X):
        """(Weighted) mean of the neighbours' targets."""
        dist, ind = self.kneighbors(X)
        w = _weights(dist, self.weights)
        ys = self._y[ind]                     # (m, k) or (m, k, n_outputs)
        if w is None:
            return ys.mean(axis=1)
        if ys.ndim == 3:
            w = w[:, :, None]
        return (ys * w).sum(axis=1) / w.sum(axis=1)
