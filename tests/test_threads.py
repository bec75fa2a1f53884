"""Thread settings: set/get, the context manager, threadpoolctl, defaults."""
import threading

import numpy as np
import pytest

import fastml
from fastml import _threads
from fastml._lib import _core

OPENMP = _core.build_info()["openmp"]
needs_openmp = pytest.mark.skipif(not OPENMP, reason="built without OpenMP: always one thread")


def test_set_get_roundtrip():
    old = fastml.get_num_threads()
    try:
        fastml.set_num_threads(1)
        assert fastml.get_num_threads() == 1
        fastml.set_num_threads(2)
        assert fastml.get_num_threads() == (2 if OPENMP else 1)
    finally:
        fastml.set_num_threads(old)


def test_context_manager_restores():
    before = fastml.get_num_threads()
    with fastml.threads(1) as n:
        assert n == 1 and fastml.get_num_threads() == 1
    assert fastml.get_num_threads() == before


def test_context_manager_restores_on_error():
    before = fastml.get_num_threads()
    with pytest.raises(RuntimeError):
        with fastml.threads(1):
            raise RuntimeError("boom")
    assert fastml.get_num_threads() == before


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (2.0, TypeError),
                                      (None, TypeError), (False, TypeError)])
def test_bad_values(bad, exc):
    with pytest.raises(exc, match="n_threads"):
        fastml.set_num_threads(bad)
    with pytest.raises(exc, match="n_threads"):
        with fastml.threads(bad):
            pass


def test_numpy_integer_accepted():
    with fastml.threads(np.int64(1)):
        assert fastml.get_num_threads() == 1


def test_default_is_affinity_capped_by_cgroup(monkeypatch):
    import os
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_threads, "_cgroup_cpu_limit", lambda: 3)
    assert _threads.default_num_threads() == 3
    monkeypatch.setattr(_threads, "_cgroup_cpu_limit", lambda: None)
    assert _threads.default_num_threads() == 4


def test_cgroup_parsing(tmp_path, monkeypatch):
    import builtins
    real_open = builtins.open

    def fake_open(path, *a, **k):
        if path == "/sys/fs/cgroup/cpu.max":
            p = tmp_path / "cpu.max"
            p.write_text("150000 100000\n")
            return real_open(p, *a, **k)
        return real_open(path, *a, **k)
    monkeypatch.setattr(builtins, "open", fake_open)
    assert _threads._cgroup_cpu_limit() == 2


@needs_openmp
def test_threadpoolctl_sees_and_limits_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import fastml._lib._core as core
    infos = threadpoolctl.threadpool_info()
    ours = [i for i in infos if i["user_api"] == "openmp"]
    assert ours, f"no OpenMP runtime visible to threadpoolctl: {infos}"
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert core.omp_max_threads() == 1
        assert fastml.get_num_threads() == 1
    assert fastml.get_num_threads() == min(_threads._DEFAULT, core.omp_max_threads())


def test_setting_is_process_wide():
    seen = []
    with fastml.threads(1):
        t = threading.Thread(target=lambda: seen.append(fastml.get_num_threads()))
        t.start()
        t.join()
    assert seen == [1]


def _run_in_threads(fn, n=8):
    results = [None] * n
    errors = []

    def work(i):
        try:
            results[i] = fn()
        except Exception as exc:            # reported below, not swallowed
            errors.append(exc)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "a thread hung"
    assert not errors, errors
    return results


def test_concurrent_calls_from_python_threads_are_bitwise(rng):
    a = rng.standard_normal((200, 150)).astype(np.float32)
    b = rng.standard_normal((150, 170)).astype(np.float32)
    expect = fastml.linalg.matmul(a, b).tobytes()
    results = _run_in_threads(lambda: fastml.linalg.matmul(a, b, n_threads=2).tobytes())
    assert all(r == expect for r in results)


def test_concurrent_kmeans_fits_are_bitwise(rng):
    from fastml.cluster import KMeans
    X = rng.standard_normal((6000, 20)).astype(np.float32)
    fit = lambda: KMeans(6, random_state=0, n_threads=2, algorithm="auto").fit(X)  # noqa: E731
    ref = fit()
    for km in _run_in_threads(fit):
        assert km.labels_.tobytes() == ref.labels_.tobytes()
        assert km.cluster_centers_.tobytes() == ref.cluster_centers_.tobytes()


def _kernel_calls():
    """One representative call per kernel family, returning bytes to compare."""
    from fastml import ensemble, metrics, neighbors, tree
    from fastml.nn import functional as F
    r = np.random.default_rng(7)
    X = r.standard_normal((300, 24)).astype(np.float32)
    Y = r.standard_normal((500, 24)).astype(np.float32)
    q = r.standard_normal((2, 3, 70, 16)).astype(np.float32)
    img = r.standard_normal((2, 8, 20, 20)).astype(np.float32)
    w = r.standard_normal((8, 8, 3, 3)).astype(np.float32)
    rows = r.standard_normal((64, 200)).astype(np.float32)
    Xt, yt = r.standard_normal((400, 6)), r.integers(0, 3, 400)

    def b(*arrays):
        return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    return {
        "pairwise_distances": lambda nt: b(metrics.pairwise_distances(X, Y, n_threads=nt)),
        "rbf_kernel": lambda nt: b(metrics.rbf_kernel(X, Y, n_threads=nt)),
        "knn": lambda nt: b(*neighbors.knn(X, Y, 5, n_threads=nt)),
        "radius_neighbors": lambda nt: b(*neighbors.radius_neighbors(X, Y, 6.0, n_threads=nt)),
        "sdpa": lambda nt: b(F.scaled_dot_product_attention(q, q, q, is_causal=True, n_threads=nt)),
        "conv2d": lambda nt: b(F.conv2d(img, w, padding=1, n_threads=nt)),
        "conv2d_backward": lambda nt: b(*F.conv2d_backward(np.ones((2, 8, 20, 20), np.float32), img, w,
                                                           padding=1, n_threads=nt)),
        "max_pool2d": lambda nt: b(F.max_pool2d(img, 3, 2, n_threads=nt)),
        "layer_norm": lambda nt: b(F.layer_norm(rows, (200,), n_threads=nt)),
        "softmax": lambda nt: b(F.softmax(rows, n_threads=nt)),
        "decision_tree": lambda nt: b(tree.DecisionTreeClassifier(max_depth=5, n_threads=nt)
                                      .fit(Xt, yt).predict_proba(Xt)),
        "gradient_boosting": lambda nt: b(ensemble.GradientBoostingClassifier(max_iter=5, n_threads=nt)
                                          .fit(Xt, yt).predict_proba(Xt)),
    }


@pytest.mark.parametrize("name", list(_kernel_calls()))
def test_every_family_concurrent_calls_are_bitwise(name):
    """8 Python threads at once (GIL released, thread scratch per caller) give the
    serial bits, whatever n_threads each of them asks for."""
    fn = _kernel_calls()[name]
    expect = fn(1)
    counter = iter(range(100))
    results = _run_in_threads(lambda: fn(1 + next(counter) % 2))
    assert all(r == expect for r in results)
