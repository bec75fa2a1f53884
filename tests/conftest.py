"""Shared fixtures: dtype, SIMD level, random generator."""
import numpy as np
import pytest

import fastml
from fastml._config import set_simd_level
from fastml._lib import _core

LEVELS = [lv for lv in _core.SIMD_LEVELS
          if _core.SIMD_LEVELS.index(lv) <= _core.SIMD_LEVELS.index(_core.simd_detected())]


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=LEVELS)
def simd_level(request):
    """Run the test at each SIMD level this CPU has, then restore the best one."""
    before = fastml.simd_level()
    used = set_simd_level(request.param)
    assert used == request.param
    yield request.param
    set_simd_level(before)


def tol(dtype, k=1):
    """assert_allclose tolerances for a reduction of length k."""
    k = max(int(k), 1)
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5 * np.sqrt(k) + 1e-5, atol=2e-5 * np.sqrt(k) + 1e-6)
    return dict(rtol=1e-12 * np.sqrt(k) + 1e-13, atol=1e-12 * np.sqrt(k) + 1e-14)
