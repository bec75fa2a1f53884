"""The shared input checker."""
import numpy as np
import pytest

from fastml._validation import as_float_array, check_finite, check_ndim, check_out, check_scalar


@pytest.mark.parametrize("x,expect", [
    (np.ones(3, np.float32), np.float32), (np.ones(3), np.float64),
    (np.ones(3, np.int8), np.float64), (np.ones(3, np.uint64), np.float64),
    (np.ones(3, bool), np.float64), (np.ones(3, np.float16), np.float32),
    ([1, 2, 3], np.float64), ([1.5], np.float64)])
def test_dtype_policy(x, expect):
    assert as_float_array(x, "X").dtype == expect


def test_float_input_is_not_copied():
    x = np.ones((4, 5), np.float32)[:, ::2]
    assert as_float_array(x, "X") is x


@pytest.mark.parametrize("x", [np.ones(2, complex), np.array([None, 1]), np.array(["a"]),
                               np.ones(2, "datetime64[s]")])
def test_rejected_dtypes_name_argument(x):
    with pytest.raises(TypeError, match="^X"):
        as_float_array(x, "X")


def test_subclass_becomes_ndarray():
    m = np.asmatrix(np.ones((2, 2)))
    assert type(as_float_array(m, "X")) is np.ndarray


def test_check_ndim_message():
    with pytest.raises(ValueError, match=r"X must be 2-D, got a 1-D array of shape \(3,\)"):
        check_ndim(np.ones(3), "X", ndim=2)
    with pytest.raises(ValueError, match="at least 2-D"):
        check_ndim(np.ones(3), "X", min_ndim=2)


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_check_finite(bad, word):
    x = np.ones(5)
    x[3] = bad
    with pytest.raises(ValueError, match=f"Y contains {word}"):
        check_finite(x, "Y")
    check_finite(np.ones(0), "Y")


def test_check_out():
    check_out(np.zeros((2, 3)), (2, 3), np.float64)
    with pytest.raises(ValueError, match="shape"):
        check_out(np.zeros((3, 2)), (2, 3), np.float64)


@pytest.mark.parametrize("value,kind,kw,exc,msg", [
    (0, int, dict(min_val=1), ValueError, "k must be >= 1, got 0"),
    (1.5, int, {}, TypeError, "k must be an integer"),
    (True, int, {}, TypeError, "k must be an integer"),
    ("3", float, {}, TypeError, "k must be a real number"),
    (0.0, float, dict(min_val=0.0, include_min=False), ValueError, "k must be > 0.0"),
    (11, int, dict(max_val=10), ValueError, "k must be <= 10"),
])
def test_check_scalar(value, kind, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        check_scalar(value, "k", kind, **kw)


def test_check_scalar_ok():
    assert check_scalar(np.int32(3), "k", int, min_val=1) == 3
    assert check_scalar(2, "gamma", float) == 2.0
