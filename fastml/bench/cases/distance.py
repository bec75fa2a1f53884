"""Distances and exact nearest neighbours: fastml.metrics / fastml.neighbors
against faiss, scikit-learn and SciPy.

Shapes: pairwise cases (m, n, d) for X (m x d) against Y (n x d); knn cases
(m, n, d, k).  Bars from the distance issue (ratio = peer time / fastml time,
float32, 1 and 2 threads):

  pairwise_sqeuclidean 10000 x 10000, d=128   faiss.pairwise_distances        >= 1.0
  pairwise_cosine      10000 x 10000, d=128   faiss normalize + inner product >= 1.0
  pairwise_manhattan    4000 x  4000, d=128   faiss.pairwise_distances(L1)    >= 1.5
  knn  k=10, 10000 queries x 100000 rows, d=128  faiss.IndexFlatL2.search     >= 1.25
                                                 sklearn brute NearestNeighbors >= 4
  knn_lowdim k=1, 10000 queries x 1e6 rows, d=3  faiss.IndexFlatL2.search      >= 1.0
  pairwise_kl          2000 x 2000, d=256     scipy rel_entr over 64-row blocks >= 10

Peers build their indexes (faiss) or fit (scikit-learn) outside the timed call.
knn results are (distances, indices) with euclidean distances (faiss's squared
ones are square-rooted inside its timed call: 10 values per query).
"""
import numpy as np

from fastml.bench._case import Case, Peer, relative_tolerance


# ---- inputs ------------------------------------------------------------------

def _xy(rng, dtype, shape):
    m, n, d = shape[:3]
    return (rng.standard_normal((m, d), dtype=np.float32).astype(dtype, copy=False),
            rng.standard_normal((n, d), dtype=np.float32).astype(dtype, copy=False))


def _probabilities(rng, dtype, shape):
    m, n, d = shape
    p = rng.random((m, d)) + 1e-3
    q = rng.random((n, d)) + 1e-3
    return ((p / p.sum(1, keepdims=True)).astype(dtype), (q / q.sum(1, keepdims=True)).astype(dtype))


def _knn_inputs(rng, dtype, shape):
    return _xy(rng, dtype, shape) + (shape[3],)


# ---- fastml calls --------------------------------------------------------------

def _pairwise(metric):
    def setup(X, Y, n_threads):
        from fastml.metrics import pairwise_distances
        return lambda: pairwise_distances(X, Y, metric=metric, n_threads=n_threads)
    return setup


def _knn(X, Y, k, n_threads):
    from fastml.neighbors import knn
    return lambda: knn(X, Y, k, metric="euclidean", n_threads=n_threads)


# ---- peers -------------------------------------------------------------------------

def _faiss_pairwise(metric):
    def setup(X, Y):
        import faiss
        m = {"sqeuclidean": faiss.METRIC_L2, "manhattan": faiss.METRIC_L1}[metric]
        return lambda: faiss.pairwise_distances(X, Y, metric=m)
    return setup


def _faiss_cosine(X, Y):
    import faiss

    def run():
        xn, yn = X.copy(), Y.copy()
        faiss.normalize_L2(xn)
        faiss.normalize_L2(yn)
        D = faiss.pairwise_distances(xn, yn, metric=faiss.METRIC_INNER_PRODUCT)
        np.subtract(1.0, D, out=D)
        return D
    return run


def _faiss_knn(X, Y, k):
    import faiss
    index = faiss.IndexFlatL2(Y.shape[1])
    index.add(Y)

    def run():
        D, I = index.search(X, k)
        return np.sqrt(np.maximum(D, 0, out=D), out=D), I
    return run


def _sklearn_knn(X, Y, k):
    from sklearn.neighbors import NearestNeighbors
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(Y)
    return lambda: nn.kneighbors(X)


def _scipy_kl(X, Y):
    from scipy.special import rel_entr

    def run():
        out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
        for i in range(0, X.shape[0], 64):
            out[i:i + 64] = rel_entr(X[i:i + 64, None, :], Y[None, :, :]).sum(-1)
        return out
    return run


# ---- costs ---------------------------------------------------------------------------

def _gemm_flops(shape):
    m, n, d = shape[:3]
    return 2.0 * m * n * d


def _direct_flops(shape):
    m, n, d = shape[:3]
    return 3.0 * m * n * d          # subtract, absolute value, add


def _pairwise_bytes(shape, dtype):
    m, n, d = shape
    return float((m * d + n * d + m * n) * np.dtype(dtype).itemsize)


def _knn_bytes(shape, dtype):
    m, n, d, k = shape
    item = np.dtype(dtype).itemsize
    return float((m * d + n * d) * item + m * k * (item + 8))


def _rtol(dtype, shape):
    return relative_tolerance(dtype, reduction_length=shape[2], factor=64.0)


def _case(name, metric_flops, make_inputs, fastml, peers, sizes, dims=("m", "n", "d"), nbytes=_pairwise_bytes):
    return Case(name=name, family="distance", dims=dims, sizes=sizes, make_inputs=make_inputs,
                fastml=fastml, peers=peers, flops=metric_flops, bytes=nbytes, rtol=_rtol,
                dtypes=("float32",))


CASES = [
    _case("pairwise_sqeuclidean", _gemm_flops, _xy,
          lambda X, Y, n_threads: _pairwise("sqeuclidean")(X, Y, n_threads),
          {"faiss": Peer("faiss", _faiss_pairwise("sqeuclidean"))},
          {"smoke": [(33, 17, 9)], "quick": [(3000, 3000, 128)], "full": [(10000, 10000, 128)]}),
    _case("pairwise_cosine", _gemm_flops, _xy,
          lambda X, Y, n_threads: _pairwise("cosine")(X, Y, n_threads),
          {"faiss": Peer("faiss", _faiss_cosine)},
          {"smoke": [(33, 17, 9)], "quick": [(3000, 3000, 128)], "full": [(10000, 10000, 128)]}),
    _case("pairwise_manhattan", _direct_flops, _xy,
          lambda X, Y, n_threads: _pairwise("manhattan")(X, Y, n_threads),
          {"faiss": Peer("faiss", _faiss_pairwise("manhattan"))},
          {"smoke": [(33, 17, 9)], "quick": [(2000, 2000, 128)], "full": [(4000, 4000, 128)]}),
    _case("knn", _gemm_flops, _knn_inputs, _knn,
          {"faiss": Peer("faiss", _faiss_knn), "sklearn": Peer("sklearn", _sklearn_knn)},
          {"smoke": [(33, 170, 9, 3)], "quick": [(2000, 20000, 128, 10)],
           "full": [(10000, 100000, 128, 10)]},
          dims=("m", "n", "d", "k"), nbytes=_knn_bytes),
    _case("knn_lowdim", _gemm_flops, _knn_inputs, _knn,
          {"faiss": Peer("faiss", _faiss_knn)},
          {"smoke": [(33, 1000, 3, 1)], "quick": [(2000, 200000, 3, 1)],
           "full": [(10000, 1000000, 3, 1)]},
          dims=("m", "n", "d", "k"), nbytes=_knn_bytes),
    _case("pairwise_kl", _gemm_flops, _probabilities,
          lambda X, Y, n_threads: _pairwise("kl")(X, Y, n_threads),
          {"scipy": Peer("scipy", _scipy_kl)},
          {"smoke": [(33, 17, 9)], "quick": [(500, 500, 256)], "full": [(2000, 2000, 256)]}),
]
