"""k-means: scikit-learn's estimator on fastml's fused, reproducible C steps.

One Lloyd iteration is a single pass: distance tiles come from the packed GEMM
and, while a tile is in cache, the epilogue takes each row's argmin and adds
the row to its cluster's float64 sum (csrc/kmeans).  The n x k distance matrix
is never built.  The bound-based variant (Hamerly: one upper and one lower
bound per point) skips the distance computations of points whose cluster
cannot change; ``algorithm='auto'`` starts with it and falls back to Lloyd
when too few points are skipped.

Reproducibility: rows are summed in fixed chunks merged in chunk order, so
with a fixed ``random_state`` the labels, centres and inertia are bit-identical
for any thread count and across runs.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastml import _profiler
from fastml._config import register_simd_module
from fastml._lib import _kmeans
from fastml._threads import resolve_n_threads
from fastml.linalg import matmul

register_simd_module(_kmeans)

# algorithm='auto': after this many iterations, fall back to Lloyd if the bounds
# still left more than this fraction of the points to recompute (measured: the
# bound bookkeeping costs about as much as the saved work near 60%).
# update modes of _kmeans.lloyd (csrc/kmeans/kmeans.h)
_LABELS_ONLY, _SUMS, _SUMS_DELTA = 0, 1, 2
_AUTO_PROBE_ITERS = 3
_AUTO_MAX_RECOMPUTED = 0.6


def _sq_distances(A, X, x_sq_norms, n_threads=None):
    """||a_i - x_j||^2 for rows of A against rows of X (GEMM expansion, >= 0)."""
    a_sq = np.einsum("ij,ij->i", A, A, dtype=np.float64)
    d = matmul(A, X.T, n_threads=n_threads).astype(np.float64, copy=False)
    d *= -2
    d += a_sq[:, None]
    d += x_sq_norms[None, :]
    np.maximum(d, 0, out=d)
    return d


def _kmeans_plusplus(X, n_clusters, x_sq_norms, sample_weight, random_state, n_local_trials=None,
                     n_threads=None):
    """Greedy k-means++ (scikit-learn's algorithm): 2 + log(k) candidates per step,
    keep the one that lowers the potential most."""
    n_samples, n_features = X.shape
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    center_id = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    indices = np.full(n_clusters, -1, dtype=int)
    centers[0] = X[center_id]
    indices[0] = center_id
    closest_dist_sq = _sq_distances(centers[0, None], X, x_sq_norms, n_threads)
    current_pot = closest_dist_sq @ sample_weight
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        cumulative = np.cumsum(sample_weight * closest_dist_sq, dtype=np.float64)
        candidate_ids = np.searchsorted(cumulative, rand_vals)
        np.clip(candidate_ids, None, closest_dist_sq.size - 1, out=candidate_ids)
        distance_to_candidates = _sq_distances(X[candidate_ids], X, x_sq_norms, n_threads)
        np.minimum(closest_dist_sq, distance_to_candidates, out=distance_to_candidates)
        candidates_pot = distance_to_candidates @ sample_weight.reshape(-1, 1)
        best = int(np.argmin(candidates_pot))
        current_pot = candidates_pot[best]
        closest_dist_sq = distance_to_candidates[best]
        centers[c] = X[candidate_ids[best]]
        indices[c] = candidate_ids[best]
    return centers, indices


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None,
                    random_state=None, n_local_trials=None):
    """Initial centres by greedy k-means++ (scikit-learn's ``kmeans_plusplus``).

    Returns ``(centers, indices)``: the centres (n_clusters, n_features) and
    their row indices in X."""
    from fastml._validation import as_float_array, check_finite, check_ndim, check_scalar
    X = as_float_array(X, "X")
    check_ndim(X, "X", ndim=2)
    check_finite(X, "X")
    n_clusters = check_scalar(n_clusters, "n_clusters", int, min_val=1)
    if X.shape[0] < n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    X = np.ascontiguousarray(X)
    sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight must have a positive sum (k-means++ samples by weight)")
    if x_squared_norms is None:
        x_squared_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    return _kmeans_plusplus(X, n_clusters, np.asarray(x_squared_norms, dtype=np.float64),
                            sample_weight, check_random_state(random_state), n_local_trials)


def _half_separation(centers):
    """Half the distance from each centre to its nearest other centre (float64,
    shrunk by a relative 1e-7 so that roundoff never makes a bound too strong)."""
    c = centers.astype(np.float64)
    sq = np.einsum("ij,ij->i", c, c)
    d2 = sq[:, None] + sq[None, :] - 2 * matmul(c, c.T, n_threads=1)   # k x k: tiny
    np.fill_diagonal(d2, np.inf)
    return 0.5 * np.sqrt(np.maximum(d2.min(axis=1), 0)) * (1 - 1e-7)


class _Step:
    """Sums -> new centres, with scikit-learn's empty-cluster relocation."""

    def __init__(self, X, sample_weight, n_threads):
        self.X, self.w, self.n_threads = X, sample_weight, n_threads
        self.dtype = X.dtype

    def new_centers(self, centers, labels, sums, wsum):
        """New centres (X dtype) and the indices of the clusters relocated."""
        empty = np.flatnonzero(wsum == 0)
        if empty.size:
            X, w = self.X, self.w
            dist = np.empty(X.shape[0])
            _kmeans.point_d2(X, centers, labels, dist, self.n_threads)
            far = np.argpartition(dist, -empty.size)[:-empty.size - 1:-1]
            for idx, new_center in zip(empty, far):
                old = labels[new_center]
                weight = float(w[new_center])
                sums[old] -= X[new_center] * weight
                sums[idx] = X[new_center] * weight
                wsum[idx] = weight
                wsum[old] -= weight
        new = centers.astype(np.float64)
        nz = wsum > 0
        new[nz] = sums[nz] / wsum[nz, None]
        return new.astype(self.dtype), empty


class _Bounds:
    """Hamerly's bounds: upper[i] >= ||x_i - c_label||, lower[i] <= distance to
    every other centre.  Distances from the GEMM expansion get a slack so that
    roundoff never makes a bound too tight (a loose bound only costs work)."""

    def __init__(self, X, x_sq_norms, n_threads):
        self.X, self.n_threads = X, n_threads
        self.xn = x_sq_norms
        self.eps = 64 * float(np.finfo(X.dtype).eps)

    def start(self, centers, min_d2):
        """After a Lloyd step: upper from its distances, no lower bound yet."""
        cmax = float(np.einsum("ij,ij->i", centers, centers, dtype=np.float64).max())
        self.upper = np.sqrt(min_d2.astype(np.float64) + self.eps * (self.xn + cmax))
        self.lower = np.zeros_like(self.upper)

    def move(self, old, new, labels, relocated):
        """Centres moved: loosen the bounds by each centre's drift.  A relocated
        centre jumps anywhere, so instead of its drift the distance from every
        point to it caps the lower bounds."""
        shift = np.sqrt(((new.astype(np.float64) - old) ** 2).sum(axis=1))
        drift = shift.copy()
        drift[relocated] = 0
        order = np.argsort(drift, kind="stable")
        second = drift[order[-2]] if drift.size > 1 else 0.0
        _kmeans.bounds_move(labels, shift, int(order[-1]), float(drift[order[-1]]), float(second),
                            self.upper, self.lower, self.n_threads)
        if relocated.size:
            cr = new[relocated]
            cn = np.einsum("ij,ij->i", cr, cr, dtype=np.float64)
            d2 = matmul(self.X, np.ascontiguousarray(cr.T), n_threads=self.n_threads)
            d2 = d2.astype(np.float64)
            d2 *= -2
            d2 += self.xn[:, None] + cn[None, :]
            d2 = d2.min(axis=1) - self.eps * (self.xn + cn.max())
            np.minimum(self.lower, np.sqrt(np.maximum(d2, 0)), out=self.lower)
        return shift


def _kmeans_single(X, sample_weight, centers_init, max_iter, tol, n_threads, algorithm,
                   x_sq_norms=None):
    """One run of k-means from centers_init.  Returns labels, inertia, centers, n_iter."""
    n, d = X.shape
    k = centers_init.shape[0]
    centers = np.ascontiguousarray(centers_init, dtype=X.dtype)
    labels = np.full(n, -1, dtype=np.int32)        # -1: no hint for the first step
    sums = np.zeros((k, d))
    wsum = np.zeros(k)
    none = np.empty(0, dtype=X.dtype)
    workspace = np.empty(_kmeans.workspace_len(n, k, d))
    packed = _kmeans.pack_rows(X, n_threads)         # X is packed once per run
    step = _Step(X, sample_weight, n_threads)
    use_bounds = algorithm in ("elkan", "hamerly", "auto") and k > 1
    bounds = None
    if use_bounds:
        if x_sq_norms is None:
            x_sq_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        bounds = _Bounds(X, x_sq_norms, n_threads)
        min_d2 = np.empty(n, dtype=X.dtype)
    strict = False
    sums_current = False        # sums / wsum are those of `labels`: the next step adds the change
    it = 0
    for it in range(max_iter):
        if use_bounds and it > 0:
            n_re, changed = _kmeans.hamerly(X, sample_weight, centers, _half_separation(centers),
                                            labels, bounds.upper, bounds.lower, sums, wsum,
                                            workspace, _SUMS_DELTA if sums_current else _SUMS,
                                            n_threads)
            if (algorithm == "auto" and it + 1 >= _AUTO_PROBE_ITERS
                    and n_re > _AUTO_MAX_RECOMPUTED * n):
                use_bounds = False
        elif use_bounds:                              # first step: Lloyd gives the upper bounds
            changed = _kmeans.lloyd(X, packed, sample_weight, centers, labels, min_d2, sums, wsum,
                                    workspace, _SUMS, n_threads)
            bounds.start(centers, min_d2)
        else:
            changed = _kmeans.lloyd(X, packed, sample_weight, centers, labels, none, sums, wsum,
                                    workspace, _SUMS_DELTA if sums_current else _SUMS, n_threads)
        new, relocated = step.new_centers(centers, labels, sums, wsum)
        sums_current = relocated.size == 0          # relocation edits the sums, not the labels
        if use_bounds:
            shift = bounds.move(centers, new, labels, relocated)
        else:
            shift = np.sqrt(((new.astype(np.float64) - centers) ** 2).sum(axis=1))
        centers = new
        if changed == 0:                            # the labels of the step's centres
            strict = True
            break
        if (shift ** 2).sum() <= tol:
            break
    if not strict:
        # labels for the final centres
        _kmeans.lloyd(X, packed, sample_weight, centers, labels, none, sums, wsum,
                      np.empty(0), _LABELS_ONLY, n_threads)
    inertia = _kmeans.inertia(X, sample_weight, centers, labels, n_threads)
    return labels, inertia, centers, it + 1


def _is_same_clustering(labels1, labels2, n_clusters):
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    for a, b in zip(labels1, labels2):
        if mapping[a] == -1:
            mapping[a] = b
        elif mapping[a] != b:
            return False
    return True


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-Means clustering with scikit-learn's parameters and semantics.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {'k-means++', 'random'} or array of shape (n_clusters, n_features)
    n_init : 'auto' or int, default='auto' (1 for k-means++ and arrays, 10 for random)
    max_iter : int, default=300
    tol : float, default=1e-4, relative to the mean variance of the features
    verbose : int, default=0
    random_state : int, RandomState or None
    copy_x : bool, default=True (X is centred on a copy)
    algorithm : {'lloyd', 'elkan', 'hamerly', 'auto'}, default='lloyd'
        'lloyd': fused Lloyd steps (at the avx2 level with n_features >= 32,
        int8 products bound every distance and the few centres that can be
        nearest are ranked exactly: labels are the exact argmin, first index on
        ties; elsewhere the float GEMM's).  'elkan' / 'hamerly': bound-based steps
        (Hamerly's bounds; 'elkan' is accepted for scikit-learn compatibility
        and runs the same algorithm).  'auto': bounds, falling back to Lloyd
        when they skip too little.
    n_threads : int or None
        Threads (default: fastml.get_num_threads()).  Results do not depend on it.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, n_features_in_
    """

    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan", "hamerly", "auto"})],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd", n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads

    def _check_X(self, X, reset):
        return validate_data(self, X, accept_sparse=False, dtype=[np.float64, np.float32],
                             order="C", reset=reset)

    def _init_centroids(self, X, x_sq_norms, init, random_state, sample_weight):
        n_samples = X.shape[0]
        if isinstance(init, str) and init == "k-means++":
            centers, _ = _kmeans_plusplus(X, self.n_clusters, x_sq_norms, sample_weight, random_state,
                                          n_threads=resolve_n_threads(self.n_threads))
        elif isinstance(init, str) and init == "random":
            seeds = random_state.choice(n_samples, size=self.n_clusters, replace=False,
                                        p=sample_weight / sample_weight.sum())
            centers = X[seeds]
        elif callable(init):
            centers = np.asarray(init(X, self.n_clusters, random_state=random_state), dtype=X.dtype)
        else:
            centers = init
        return np.ascontiguousarray(centers, dtype=X.dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering of X (n_samples, n_features)."""
        if not _profiler.ACTIVE:
            return self._fit(X, sample_weight)
        return _profiler.timed("KMeans.fit", self._fit, (X, sample_weight), self._fit_cost)

    def _fit_cost(self, args, result):
        X = args[0]
        n, d = np.shape(X)
        return dict(shapes=((n, d), (self.n_clusters, d)), dtype=str(result.cluster_centers_.dtype),
                    threads=resolve_n_threads(self.n_threads),
                    flops=2.0 * n * d * self.n_clusters * (self.n_iter_ + 1),
                    bytes=float(n * d * result.cluster_centers_.itemsize * (self.n_iter_ + 1)))

    def _fit(self, X, sample_weight):
        X = self._check_X(X, reset=True)
        n_samples, n_features = X.shape
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum")
        sample_weight = np.ascontiguousarray(sample_weight)
        n_threads = resolve_n_threads(self.n_threads)
        random_state = check_random_state(self.random_state)

        init = self.init
        init_is_array = not isinstance(init, str) and not callable(init)
        if init_is_array:
            init = np.asarray(init)
            if init.ndim != 2 or init.shape != (self.n_clusters, n_features):
                raise ValueError(f"The shape of the initial centers {init.shape} does not match "
                                 f"the number of clusters {self.n_clusters} and features "
                                 f"{n_features}: expected ({self.n_clusters}, {n_features}).")
            if not np.isfinite(init).all():
                raise ValueError("init contains NaN or infinity")
        n_init = self.n_init
        if n_init == "auto":
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        if init_is_array and n_init != 1:
            warnings.warn("Explicit initial center position passed: performing only one init "
                          f"in KMeans instead of n_init={n_init}.", RuntimeWarning, stacklevel=3)
            n_init = 1

        # centre the data: distances are unchanged, the GEMM expansion keeps its digits
        # (in place, restored after the fit, or the centred copy; one pass)
        Xc = np.empty_like(X) if self.copy_x else X
        X_mean = _kmeans.center(X, Xc, n_threads)
        X = Xc
        if init_is_array:
            init = (init.astype(np.float64) - X_mean).astype(X.dtype)
        tol = float(np.mean(np.var(X, axis=0, dtype=np.float64)) * self.tol) if self.tol else 0.0
        x_sq_norms = None
        if self.algorithm != "lloyd" or not init_is_array:
            x_sq_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)

        best = None
        for _ in range(n_init):
            centers_init = self._init_centroids(X, x_sq_norms, init, random_state, sample_weight)
            labels, inertia, centers, n_iter = _kmeans_single(
                X, sample_weight, centers_init, self.max_iter, tol, n_threads, self.algorithm,
                x_sq_norms)
            if self.verbose:
                print(f"KMeans init: inertia {inertia:.6g} after {n_iter} iterations")
            if best is None or (inertia < best[1] and
                                not _is_same_clustering(labels, best[0], self.n_clusters)):
                best = (labels, inertia, centers, n_iter)
        labels, inertia, centers, n_iter = best
        if not self.copy_x:
            X += X_mean.astype(X.dtype)
        n_distinct = int(np.count_nonzero(np.bincount(labels, minlength=self.n_clusters)))
        if n_distinct < self.n_clusters:
            warnings.warn(f"Number of distinct clusters ({n_distinct}) found smaller than "
                          f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                          RuntimeWarning, stacklevel=3)
        self.cluster_centers_ = (centers.astype(np.float64) + X_mean).astype(X.dtype)
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = labels.astype(np.int32)
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        return self

    def _labels_inertia(self, X, sample_weight):
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        mean = X.mean(axis=0, dtype=np.float64).astype(X.dtype)
        Xc = np.ascontiguousarray(X - mean)
        cc = np.ascontiguousarray(centers - mean)
        labels = np.full(X.shape[0], -1, dtype=np.int32)   # no hints (kmeans.h)
        sums, wsum = np.zeros((1, 1)), np.zeros(1)
        n_threads = resolve_n_threads(self.n_threads)
        if X.shape[0] == 0:
            return labels, 0.0
        none = np.empty(0, dtype=X.dtype)
        _kmeans.lloyd(Xc, None, sample_weight, cc, labels, none, sums, wsum, np.empty(0),
                      _LABELS_ONLY, n_threads)
        return labels, _kmeans.inertia(Xc, sample_weight, cc, labels, n_threads)

    def predict(self, X):
        """Index of the closest centre for each row of X."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        w = np.ones(X.shape[0], dtype=X.dtype)
        return self._labels_inertia(X, w)[0]

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Euclidean distances from each row of X to each centre."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._transform(X)

    def _transform(self, X):
        centers = self.cluster_centers_.astype(X.dtype)
        mean = X.mean(axis=0, dtype=np.float64).astype(X.dtype) if X.shape[0] else 0
        Xc, cc = X - mean, centers - mean
        d2 = _sq_distances(np.ascontiguousarray(Xc), np.ascontiguousarray(cc),
                           np.einsum("ij,ij->i", cc, cc, dtype=np.float64),
                           resolve_n_threads(self.n_threads))
        return np.sqrt(d2).astype(X.dtype)

    def fit_transform(self, X, y=None, sample_weight=None):
        self.fit(X, sample_weight=sample_weight)
        return self._transform(self._check_X(X, reset=False))

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of X on the fitted centres."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        sample_weight = np.ascontiguousarray(_check_sample_weight(sample_weight, X, dtype=X.dtype))
        return -self._labels_inertia(X, sample_weight)[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
