"""k-means: fastml.cluster.KMeans against scikit-learn's Lloyd and faiss.Kmeans.

Shapes are (n_samples, n_features, n_clusters).  Every library runs 20
iterations (tol=0, n_init=1) from the same initial centres, given as an array;
agreement compares the objective (inertia) of the final centres.  Bars from the k-means issue (ratio =
peer time / fastml time, float32, 1 and 2 threads): Gaussian 200000x64, k=256:
>= 1.5 against scikit-learn and faiss; blobs with 256 centres, fastml
algorithm='auto': >= 3 against scikit-learn; 1000000x8, k=16: >= 1.5 against
scikit-learn.
"""
import numpy as np

from fastml.bench._case import Case, Peer

N_ITER = 20


def _gaussian(rng, dtype, shape):
    n, d, k = shape
    X = rng.standard_normal((n, d)).astype(dtype)
    init = X[rng.choice(n, k, replace=False)].copy()
    return X, init


def _blobs(rng, dtype, shape):
    from sklearn.datasets import make_blobs
    n, d, k = shape
    X = make_blobs(n, n_features=d, centers=k, random_state=int(rng.integers(2**31)))[0]
    X = X.astype(dtype)
    init = X[rng.choice(n, k, replace=False)].copy()
    return X, init


def _fastml(algorithm):
    def setup(X, init, n_threads):
        from fastml.cluster import KMeans
        km = KMeans(init.shape[0], init=init, n_init=1, max_iter=N_ITER, tol=0,
                    algorithm=algorithm, n_threads=n_threads)
        return lambda: km.fit(X).cluster_centers_
    return setup


def _sklearn(X, init):
    from sklearn.cluster import KMeans
    km = KMeans(init.shape[0], init=init, n_init=1, max_iter=N_ITER, tol=0, algorithm="lloyd")
    return lambda: km.fit(X).cluster_centers_


def _faiss(X, init):
    import faiss
    n, d = X.shape
    k = init.shape[0]
    X32, init32 = np.ascontiguousarray(X, np.float32), np.ascontiguousarray(init, np.float32)

    def run():
        km = faiss.Kmeans(d, k, niter=N_ITER, nredo=1, max_points_per_centroid=n, verbose=False)
        km.train(X32, init_centroids=init32)
        return km.centroids
    return run


PEERS = {"sklearn": Peer("sklearn", _sklearn), "faiss": Peer("faiss", _faiss)}


def _flops(shape):
    n, d, k = shape
    return 2.0 * n * d * k * (N_ITER + 1)       # the assignment GEMMs, + the final E-step


def _bytes(shape, dtype):
    n, d, k = shape
    return float(n * d * np.dtype(dtype).itemsize * (N_ITER + 1))


def _inertia(centers, inputs):
    """The k-means objective of the returned centres on X (float64)."""
    X = inputs[0].astype(np.float64)
    c = np.asarray(centers, dtype=np.float64)
    d2 = (X * X).sum(1)[:, None] - 2 * X @ c.T + (c * c).sum(1)[None, :]
    return np.array([np.maximum(d2, 0).min(axis=1).sum()])


def _rtol(dtype, shape):
    # after 20 iterations a point on a near tie may go either way (float32 peers
    # also sum in float32): the runs agree on the objective, not on every centre
    return 1e-3


def _case(name, sizes, make_inputs, algorithm, peers):
    return Case(name=name, family="kmeans", dims=("n_samples", "n_features", "n_clusters"),
                sizes=sizes, make_inputs=make_inputs, fastml=_fastml(algorithm), peers=peers,
                flops=_flops, bytes=_bytes, rtol=_rtol, dtypes=("float32",), summary=_inertia)


CASES = [
    _case("kmeans", {"smoke": [(600, 9, 5)], "quick": [(20000, 64, 64)],
                     "full": [(200000, 64, 256)]}, _gaussian, "lloyd", PEERS),
    _case("kmeans_blobs", {"smoke": [(600, 9, 5)], "quick": [(20000, 64, 64)],
                           "full": [(200000, 64, 256)]}, _blobs, "auto",
          {"sklearn": PEERS["sklearn"]}),
    _case("kmeans_lowd", {"smoke": [(700, 3, 4)], "quick": [(100000, 8, 16)],
                          "full": [(1000000, 8, 16)]}, _gaussian, "lloyd", PEERS),
]
