"""Quantile binning (csrc/trees/trees_bin.c) against NumPy."""
import numpy as np
import pytest

from fastml.tree._binning import MISSING_BIN, BinMapper


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_distinct_values_get_midpoints(dtype, rng):
    X = rng.integers(0, 7, (500, 3)).astype(dtype) * 0.5
    m = BinMapper().fit(X, 1)
    for f in range(3):
        v = np.unique(X[:, f]).astype(np.float64)
        assert m.n_bins_[f] == len(v)
        np.testing.assert_array_equal(m.thresholds_[f, :len(v) - 1], (v[:-1] + v[1:]) / 2)
        assert np.isinf(m.thresholds_[f, len(v) - 1:]).all()


def test_many_values_get_quantiles(rng):
    X = rng.standard_normal((20000, 2))
    m = BinMapper(max_bins=255).fit(X, 1)
    assert (m.n_bins_ == 255).all()
    q = np.percentile(X[:, 0], np.linspace(0, 100, 256)[1:-1], method="midpoint")
    np.testing.assert_allclose(m.thresholds_[0, :254], q, rtol=0, atol=1e-6)
    bins = m.transform(X, 1)
    counts = np.bincount(bins[:, 0], minlength=256)
    assert counts[:255].min() > 0.8 * 20000 / 255 and counts[255] == 0   # near-equal bins


def test_transform_is_the_threshold_test(rng, simd_level):
    X = rng.standard_normal((3000, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    X[0, 0] = np.inf
    X[1, 0] = -np.inf
    m = BinMapper(max_bins=40).fit(X, 1)
    bins = m.transform(X, 1)
    assert bins.dtype == np.uint8 and bins.flags.f_contiguous
    for f in range(4):
        x = X[:, f].astype(np.float64)
        t = m.thresholds_[f]
        expect = np.where(np.isnan(x), MISSING_BIN, np.searchsorted(t, x, side="left"))
        np.testing.assert_array_equal(bins[:, f], expect)
        ok = ~np.isnan(x)
        assert bins[ok, f].max() < m.n_bins_[f]


def test_all_nan_and_constant_features():
    X = np.column_stack([np.full(50, np.nan), np.full(50, 3.0), np.arange(50.0)])
    m = BinMapper().fit(X, 1)
    assert list(m.n_bins_) == [1, 1, 50]
    bins = m.transform(X, 1)
    assert (bins[:, 0] == MISSING_BIN).all() and (bins[:, 1] == 0).all()


def test_subsample_and_threads_agree(rng):
    X = rng.standard_normal((5000, 10))
    a = BinMapper(subsample=1000, random_state=3).fit(X, 1)
    b = BinMapper(subsample=1000, random_state=3).fit(X, 2)
    assert a.thresholds_.tobytes() == b.thresholds_.tobytes()
    assert a.transform(X, 1).tobytes() == b.transform(X, 2).tobytes()


def test_strided_input_matches_contiguous(rng):
    X = rng.standard_normal((300, 6))
    m = BinMapper().fit(X, 1)
    Xf = np.asfortranarray(X)
    assert BinMapper().fit(Xf, 1).thresholds_.tobytes() == m.thresholds_.tobytes()
    assert m.transform(Xf, 1).tobytes() == m.transform(X, 1).tobytes()
    big = np.zeros((600, 12))
    big[::2, ::2] = X
    assert m.transform(big[::2, ::2], 1).tobytes() == m.transform(X, 1).tobytes()
