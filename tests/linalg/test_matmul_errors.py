"""Every documented error of matmul, and out= untouched when one is raised."""
import numpy as np
import pytest

from fastml.linalg import matmul


def test_inner_dimension_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"a has shape \(3, 4\) and b has shape \(5, 2\)"):
        matmul(np.ones((3, 4)), np.ones((5, 2)))


def test_batch_dims_do_not_broadcast():
    with pytest.raises(ValueError, match="batch dimensions"):
        matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))


def test_zero_dim_rejected():
    with pytest.raises(ValueError, match="at least 1-D"):
        matmul(np.float64(2.0), np.ones((2, 2)))


@pytest.mark.parametrize("bad", [np.ones((2, 2), complex), np.array([[object()]]),
                                 np.array([["a"]])])
def test_complex_object_string_rejected(bad):
    with pytest.raises(TypeError, match="a "):
        matmul(bad, np.ones((bad.shape[1], 2)))


def test_longdouble_rejected():
    with pytest.raises(TypeError, match="b has dtype"):
        matmul(np.ones((2, 2)), np.ones((2, 2), np.longdouble))


def test_ragged_input_rejected():
    with pytest.raises((TypeError, ValueError), match="a"):
        matmul([[1, 2], [3]], np.ones((2, 2)))


@pytest.mark.parametrize("out,exc,msg", [
    (np.zeros((3, 3)), ValueError, r"out has shape \(3, 3\), expected \(3, 2\)"),
    (np.zeros((3, 2), np.float32), TypeError, "out has dtype float32"),
    ([[0, 0]] * 3, TypeError, "out must be a numpy.ndarray"),
])
def test_bad_out(out, exc, msg):
    with pytest.raises(exc, match=msg):
        matmul(np.ones((3, 4)), np.ones((4, 2)), out=out)


def test_readonly_out():
    out = np.zeros((3, 2))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        matmul(np.ones((3, 4)), np.ones((4, 2)), out=out)


def test_out_untouched_on_error():
    out = np.full((3, 2), 7.0)
    with pytest.raises(ValueError):
        matmul(np.ones((3, 4)), np.ones((5, 2)), out=out)
    assert (out == 7.0).all()


@pytest.mark.parametrize("n_threads,exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                            ("2", TypeError), (True, TypeError)])
def test_bad_n_threads(n_threads, exc):
    with pytest.raises(exc, match="n_threads"):
        matmul(np.ones((2, 2)), np.ones((2, 2)), n_threads=n_threads)


def test_impossible_allocation_is_memory_error():
    # the result alone would need 2**62 bytes: NumPy's allocator refuses it up front
    a = np.lib.stride_tricks.as_strided(np.ones(1), shape=(2**30, 1), strides=(0, 8))
    b = np.lib.stride_tricks.as_strided(np.ones(1), shape=(1, 2**29), strides=(0, 8))
    with pytest.raises(MemoryError):
        matmul(a, b)
