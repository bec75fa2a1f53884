"""The int8 assignment of the Lloyd step (csrc/kmeans/kmeans_i8_impl.h): at the
avx2 level, for d >= 32, labels are the exact argmin (float64, difference
based, first index on ties) whatever the hints, and min_d2 is that distance."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastml
from fastml._config import set_simd_level
from fastml._lib import _core, _kmeans


@pytest.fixture
def avx2():
    """Run at the avx2 level with the int8 step on (skip where the CPU has no AVX2),
    then restore the best level."""
    before = fastml.simd_level()
    if _core.SIMD_LEVELS.index(_core.simd_detected()) < _core.SIMD_LEVELS.index("avx2"):
        pytest.skip("the int8 step needs an AVX2 CPU")
    set_simd_level("avx2")
    assert _kmeans.set_i8(1)
    yield
    set_simd_level(before)


def exact_d2(X, C):
    X, C = X.astype(np.float64), C.astype(np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def assert_exact_labels(labels, X, C):
    """labels[i] is the first index of the smallest exact distance, except where
    the two smallest are within float64 roundoff of each other (then it is one
    of them)."""
    D = exact_d2(X, C)
    ref = D.argmin(axis=1)
    got = D[np.arange(len(X)), labels]
    best = D[np.arange(len(X)), ref]
    near = got - best <= 1e-12 * np.maximum(best, 1e-300)
    assert near.all(), f"{(~near).sum()} rows not nearest"
    clear = np.sort(D, axis=1)
    clear = clear[:, 1] - clear[:, 0] > 1e-12 * np.maximum(clear[:, 0], 1e-300) if C.shape[0] > 1 \
        else np.ones(len(X), bool)
    assert_array_equal(labels[clear], ref[clear])


def lloyd(X, C, labels, packed=None, min_d2=False, n_threads=1):
    dt = X.dtype
    w = np.ones(len(X), dt)
    md = np.empty(len(X), dt) if min_d2 else np.empty(0, dt)
    sums, wsum = np.zeros((1, 1)), np.zeros(1)
    _kmeans.lloyd(X, packed, w, C, labels, md, sums, wsum, np.empty(0), 0, n_threads)
    return md


def blobs(rng, n, d, k, dtype, spread=3.0):
    centers = rng.normal(0, spread, (k, d))
    X = centers[rng.integers(0, k, n)] + rng.normal(0, 1, (n, d))
    return X.astype(dtype), centers.astype(dtype)


SHAPES = [(1, 32, 2), (3, 33, 5), (257, 64, 17), (600, 100, 256), (130, 40, 600), (9, 4096, 3)]


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("hints", ["none", "good", "random", "garbage"])
def test_labels_are_the_exact_argmin(n, d, k, hints, dtype, avx2, rng):
    X, C = blobs(rng, n, d, k, dtype)
    C = C + rng.normal(0, 0.5, C.shape).astype(dtype)       # centres are not the blob means
    ref = exact_d2(X, C).argmin(axis=1).astype(np.int32)
    labels = {"none": np.full(n, -1), "good": ref, "random": rng.integers(0, k, n),
              "garbage": rng.choice([-7, k, 10**6], n)}[hints].astype(np.int32)
    md = lloyd(X, C, labels, _kmeans.pack_rows(X, 1), min_d2=True)
    assert_exact_labels(labels, X, C)
    D = exact_d2(X, C)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    assert_allclose(md, D[np.arange(n), labels], rtol=rtol)


def test_hints_do_not_change_the_result(dtype, avx2, rng):
    X, C = blobs(rng, 2000, 48, 70, dtype, spread=0.3)       # close centres: many candidates
    packed = _kmeans.pack_rows(X, 1)
    runs = []
    for hints in (np.full(2000, -1), rng.integers(0, 70, 2000), np.zeros(2000)):
        labels = hints.astype(np.int32)
        md = lloyd(X, C, labels, packed, min_d2=True)
        runs.append((labels, md))
    for labels, md in runs[1:]:
        assert labels.tobytes() == runs[0][0].tobytes()
        assert md.tobytes() == runs[0][1].tobytes()
    assert_exact_labels(runs[0][0], X, C)


def test_ties_take_the_first_index(dtype, avx2, rng):
    X, C = blobs(rng, 300, 40, 12, dtype)
    C[7] = C[3]                                              # duplicate centre: 3 wins
    X[:5] = C[3]                                             # points on a centre: distance 0
    labels = np.full(300, 7, np.int32)                       # even with the twin as hint
    md = lloyd(X, C, labels, None, min_d2=True)
    assert not (labels == 7).any()
    again = np.full(300, -1, np.int32)                       # and with the int8 guesses
    lloyd(X, C, again, None)
    assert_array_equal(again, labels)
    assert_array_equal(labels[:5], 3)
    assert_array_equal(md[:5], 0)
    assert_exact_labels(labels, X, C)


def test_packed_and_on_the_fly_agree(dtype, avx2, rng):
    X, C = blobs(rng, 5000, 64, 40, dtype)
    a = np.full(5000, -1, np.int32)
    b = a.copy()
    lloyd(X, C, a, _kmeans.pack_rows(X, 1))
    lloyd(X, C, b, None)
    assert a.tobytes() == b.tobytes()


def test_threads_bitwise(avx2, rng):
    X, C = blobs(rng, 30000, 64, 100, np.float32, spread=0.5)
    packed = _kmeans.pack_rows(X, 2)
    out = []
    for t in (1, 2):
        labels = np.full(len(X), -1, np.int32)
        out.append((labels, lloyd(X, C, labels, packed, min_d2=True, n_threads=t)))
    assert out[0][0].tobytes() == out[1][0].tobytes()
    assert out[0][1].tobytes() == out[1][1].tobytes()


def test_sums_of_the_int8_labels(dtype, avx2, rng):
    X, C = blobs(rng, 3000, 64, 30, dtype)
    w = rng.uniform(0.5, 2.0, len(X)).astype(dtype)
    ws = np.empty(_kmeans.workspace_len(len(X), 30, 64))
    labels = np.full(len(X), -1, np.int32)
    sums, wsum = np.zeros((30, 64)), np.zeros(30)
    _kmeans.lloyd(X, _kmeans.pack_rows(X, 1), w, C, labels, np.empty(0, dtype), sums, wsum, ws,
                  1, 1)
    assert_exact_labels(labels, X, C)
    ref = np.zeros((30, 64))
    np.add.at(ref, labels, X.astype(np.float64) * w[:, None])
    assert_allclose(sums, ref, rtol=1e-12, atol=1e-9)
    assert_allclose(wsum, np.bincount(labels, w.astype(np.float64), minlength=30), rtol=1e-12)


def test_float_path_agrees_off_near_ties(avx2, rng):
    X, C = blobs(rng, 4000, 64, 50, np.float32)
    a = np.full(len(X), -1, np.int32)
    b = a.copy()
    lloyd(X, C, a, None)
    _kmeans.set_i8(0)
    try:
        assert not _kmeans.i8_active()
        lloyd(X, C, b, None)
    finally:
        _kmeans.set_i8(1)
    D = np.sort(exact_d2(X, C), axis=1)
    clear = D[:, 1] - D[:, 0] > 1e-3 * D[:, 0]              # beyond the float expansion's error
    assert clear.mean() > 0.9
    assert_array_equal(a[clear], b[clear])


def test_far_from_origin_is_still_exact(avx2, rng):
    """Large offsets make the int8 bounds loose (many candidates), never wrong."""
    X, C = blobs(rng, 400, 64, 30, np.float32, spread=1.0)
    X += 1e4
    C += 1e4
    labels = np.full(len(X), -1, np.int32)
    lloyd(X, C, labels, _kmeans.pack_rows(X, 1))
    assert_exact_labels(labels, X, C)


def test_keys_beyond_float_range_use_the_float_path(avx2, rng):
    X, C = blobs(rng, 300, 40, 9, np.float64)
    X *= 1e60
    C *= 1e60
    labels = np.full(len(X), -1, np.int32)
    lloyd(X, C, labels, _kmeans.pack_rows(X, 1))
    D = np.sort(exact_d2(X, C), axis=1)
    clear = D[:, 1] - D[:, 0] > 1e-9 * D[:, 0]
    assert_array_equal(labels[clear], exact_d2(X, C).argmin(axis=1)[clear])


def test_switch_follows_the_level(rng):
    before = fastml.simd_level()
    try:
        set_simd_level("scalar")
        assert _kmeans.set_i8(1) is False                    # scalar: never
        assert _kmeans.pack_rows(np.ones((10, 64), np.float32), 1)[2] is None
        if _core.SIMD_LEVELS.index(_core.simd_detected()) >= _core.SIMD_LEVELS.index("avx2"):
            set_simd_level("avx2")
            assert _kmeans.set_i8(1) is True
            assert _kmeans.set_i8(0) is False
            assert _kmeans.pack_rows(np.ones((10, 64), np.float32), 1)[2] is None
            _kmeans.set_i8(1)
            assert _kmeans.pack_rows(np.ones((10, 64), np.float32), 1)[2] is not None
            assert _kmeans.pack_rows(np.ones((10, 31), np.float32), 1)[2] is None   # d < 32
    finally:
        _kmeans.set_i8(1)
        set_simd_level(before)


def test_stale_packed_rows_rejected(avx2, rng):
    X = rng.standard_normal((50, 64)).astype(np.float32)
    packed = _kmeans.pack_rows(X[:40], 1)
    labels = np.full(50, -1, np.int32)
    with pytest.raises(ValueError, match="packed"):
        lloyd(X, X[:4].copy(), labels, packed)
