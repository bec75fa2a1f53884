"""Quantile binning of features into uint8 bins (csrc/trees/trees_bin.c).

Each feature gets at most ``max_bins`` (<= 255) bins for values plus bin 255
for NaN.  Thresholds come from a subsample of the rows (200,000 by default, as
LightGBM and scikit-learn do): midpoints between distinct values when there are
few, quantiles otherwise.  Binned data is column-major (n_samples x n_features,
Fortran order), the layout the histogram kernels stream.
"""
import numpy as np

from fastml._lib import _trees

MISSING_BIN = 255


class BinMapper:
    """Fit bin thresholds on X, then map rows of X to uint8 bins.

    Attributes after fit: ``thresholds_`` (n_features x 256 float64: a value x
    lands in the first bin b with x <= thresholds_[f, b]; padded with +inf),
    ``n_bins_`` (bins holding values, per feature)."""

    def __init__(self, max_bins=255, subsample=200_000, random_state=None):
        self.max_bins = max_bins
        self.subsample = subsample
        self.random_state = random_state

    def fit(self, X, n_threads):
        n, d = X.shape
        if self.subsample is not None and n > self.subsample:
            rng = np.random.default_rng(self.random_state)
            sample = np.sort(rng.choice(n, self.subsample, replace=False)).astype(np.int64)
        else:
            sample = np.arange(n, dtype=np.int64)
        self.thresholds_ = np.empty((d, 256), dtype=np.float64)
        self.n_bins_ = np.empty(d, dtype=np.int32)
        _trees.bin_fit(X, sample, int(self.max_bins), self.thresholds_, self.n_bins_, n_threads)
        return self

    def transform(self, X, n_threads):
        bins = np.empty(X.shape, dtype=np.uint8, order="F")
        if X.size:
            _trees.bin_transform(X, self.thresholds_, bins, n_threads)
        return bins
