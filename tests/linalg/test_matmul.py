"""fastml.linalg.matmul against a NumPy reference, across layouts, levels and threads."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastml
from fastml.linalg import matmul
from tests import _reference as ref
from tests.conftest import tol

# Shapes that miss every register tile (MR 4/6/14, NR 8/16/32) and block edge.
SHAPES = [(1, 1, 1), (1, 7, 1), (7, 1, 9), (7, 9, 3), (13, 17, 15), (14, 32, 16),
          (15, 33, 17), (29, 31, 64), (64, 65, 31), (57, 1025, 7), (113, 40, 257),
          (3, 5, 600), (130, 70, 520)]


def _operands(rng, m, n, k, dtype):
    return rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_matches_reference(m, n, k, dtype, simd_level, rng):
    a, b = _operands(rng, m, n, k, dtype)
    c = matmul(a, b)
    assert c.dtype == dtype and c.shape == (m, n)
    assert_allclose(c, ref.matmul(a, b), **tol(dtype, k))


@pytest.mark.parametrize("m,n,k", [(0, 5, 8), (5, 0, 3), (0, 0, 0), (4, 5, 0), (1, 1, 0)])
def test_zero_size(m, n, k, dtype):
    a, b = np.ones((m, k), dtype), np.ones((k, n), dtype)
    c = matmul(a, b)
    assert c.shape == (m, n) and c.dtype == dtype
    assert (c == 0).all()   # k == 0: an empty sum


@pytest.mark.parametrize("layout", ["F", "transposed", "strided", "negative", "readonly"])
def test_layouts_match_contiguous(layout, dtype, simd_level, rng):
    a, b = _operands(rng, 37, 45, 29, dtype)
    expect = matmul(a, b)
    if layout == "F":
        a2, b2 = np.asfortranarray(a), np.asfortranarray(b)
    elif layout == "transposed":
        a2, b2 = a.T.copy().T, b.T.copy().T
    elif layout == "strided":
        big_a = np.zeros((74, 87), dtype)
        big_a[::2, ::3] = a
        a2 = big_a[::2, ::3]
        big_b = np.zeros((29, 90), dtype)
        big_b[:, ::2] = b
        b2 = big_b[:, ::2]
    elif layout == "negative":
        a2 = a[::-1][::-1]
        b2 = np.ascontiguousarray(b[:, ::-1])[:, ::-1]
    else:
        a2, b2 = a.copy(), b.copy()
        a2.flags.writeable = False
        b2.flags.writeable = False
    assert matmul(a2, b2).tobytes() == expect.tobytes()


def test_memmap_input(tmp_path, rng):
    a, b = _operands(rng, 20, 30, 10, np.float32)
    path = tmp_path / "a.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=a.shape)
    mm[:] = a
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=a.shape)
    assert_allclose(matmul(ro, b), ref.matmul(a, b), **tol(np.float32, 10))


@pytest.mark.parametrize("shape_a,shape_b", [
    ((3, 5, 7), (3, 7, 4)), ((2, 1, 5, 7), (3, 7, 4)), ((5, 7), (4, 7, 6)),
    ((4, 9, 3), (3, 2)), ((64, 16, 16), (64, 16, 16)), ((2, 3, 40, 33), (1, 3, 33, 50)),
    ((7,), (7,)), ((7,), (3, 7, 2)), ((3, 5, 7), (7,)), ((0, 4, 3), (3, 2))])
def test_batched_broadcasting(shape_a, shape_b, dtype, simd_level, rng):
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    c = matmul(a, b)
    expect = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert c.shape == expect.shape and c.dtype == dtype
    assert_allclose(c, expect, **tol(dtype, shape_a[-1]))


def test_batched_strided_views(rng):
    a = rng.standard_normal((6, 20, 30))
    b = rng.standard_normal((30, 20, 6)).transpose(2, 1, 0)   # (6, 20, 30), all strides odd
    bt = b.transpose(0, 2, 1)                                   # (6, 30, 20)
    assert_allclose(matmul(a[::2], bt[::2]), np.matmul(a[::2], bt[::2]), rtol=1e-12, atol=1e-12)


def test_large_against_numpy(dtype, rng):
    a, b = _operands(rng, 300, 1100, 700, dtype)   # several kc and nc blocks, 2 thread tasks
    assert_allclose(matmul(a, b), ref.matmul(a, b), **tol(dtype, 700))


@pytest.mark.parametrize("m,n,k", [(301, 257, 33), (64, 64, 64), (1000, 40, 600), (9, 2000, 300)])
def test_threads_bitwise(m, n, k, dtype, simd_level, rng):
    a, b = _operands(rng, m, n, k, dtype)
    c1 = matmul(a, b, n_threads=1)
    c2 = matmul(a, b, n_threads=2)
    assert c1.tobytes() == c2.tobytes()
    assert matmul(a, b, n_threads=2).tobytes() == c2.tobytes()     # repeatable
    with fastml.threads(2):
        assert matmul(a, b).tobytes() == c1.tobytes()


@pytest.mark.parametrize("shape_a,shape_b", [
    ((300, 33, 17), (17, 45)),           # many small matrices: one matrix per thread
    ((3, 200, 300), (3, 300, 250))])     # few large ones: the team shares each matrix
def test_batched_threads_bitwise(shape_a, shape_b, rng):
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    c2 = matmul(a, b, n_threads=2)
    assert matmul(a, b, n_threads=1).tobytes() == c2.tobytes()
    bs = np.broadcast_to(b, a.shape[:1] + b.shape[-2:])
    assert np.stack([matmul(x, y, n_threads=1) for x, y in zip(a, bs)]).tobytes() == c2.tobytes()


def test_simd_levels_agree(dtype, rng):
    from fastml._config import set_simd_level
    from tests.conftest import LEVELS
    a, b = _operands(rng, 45, 70, 300, dtype)
    before = fastml.simd_level()
    try:
        results = {lv: (set_simd_level(lv), matmul(a, b))[1] for lv in LEVELS}
    finally:
        set_simd_level(before)
    for lv, c in results.items():
        assert_allclose(c, results["scalar"], **tol(dtype, 300))


def test_out_argument(dtype, rng):
    a, b = _operands(rng, 20, 30, 10, dtype)
    out = np.full((20, 30), np.nan, dtype)
    r = matmul(a, b, out=out)
    assert r is out
    assert_allclose(out, ref.matmul(a, b), **tol(dtype, 10))
    # a non-contiguous out is filled through a temporary
    big = np.full((20, 60), np.nan, dtype)
    matmul(a, b, out=big[:, ::2])
    assert_allclose(big[:, ::2], out, rtol=0, atol=0)
    assert np.isnan(big[:, 1::2]).all()


def test_out_aliasing_input(rng):
    a = rng.standard_normal((16, 16))
    b = rng.standard_normal((16, 16))
    expect = a @ b
    matmul(a, b, out=a)     # out overlaps an input: computed into a temporary first
    assert_allclose(a, expect, rtol=1e-12, atol=1e-12)


def test_int_and_bool_become_float64():
    a = np.arange(6).reshape(2, 3)
    b = np.ones((3, 2), dtype=bool)
    c = matmul(a, b)
    assert c.dtype == np.float64
    assert_allclose(c, [[3, 3], [12, 12]])
    assert matmul([[1, 2]], [[3], [4]]).tolist() == [[11.0]]


def test_mixed_float_dtypes_promote(rng):
    a = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal((4, 3))
    assert matmul(a, b).dtype == np.float64
    assert matmul(a, b.astype(np.float32)).dtype == np.float32


def test_nan_and_inf_propagate():
    a = np.array([[np.nan, 1.0], [1.0, 1.0]])
    b = np.array([[1.0, 1.0], [np.inf, 1.0]])
    c = matmul(a, b)
    expect = np.matmul(a, b)
    assert np.array_equal(np.isnan(c), np.isnan(expect))
    assert np.array_equal(np.isinf(c), np.isinf(expect))
