"""Generated inputs and the contract every public call must keep.

Contract: a call either returns (and the caller's checks against a NumPy
reference hold), or raises ValueError / TypeError / MemoryError whose message
names one of the function's arguments.  Never a crash, a hang, or a
half-written `out=`.
"""
import inspect

import numpy as np
from hypothesis import strategies as st

from tests.conftest import tol as _conftest_tol

ERRORS = (ValueError, TypeError, MemoryError)

FLOATS = [np.float32, np.float64]
# everything a user may hand us; only FLOATS are computed on
ANY_DTYPES = FLOATS * 3 + [np.int32, np.int64, np.bool_, np.float16, np.complex128, object]

SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-40, 5e-324, 0.0, -0.0]


def arg_names(fn, extra=()):
    """Words an error message may use to name the offending argument."""
    names = set(extra)
    try:
        params = set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = set()
    # `input_shape` may be called "input" (the tensor it describes)
    return names | params | {p[:-len("_shape")] for p in params if p.endswith("_shape")}


def call(fn, *args, extra_names=(), **kwargs):
    """fn(*args, **kwargs) -> (result, None), or (None, error) for a documented
    error that names an argument (asserted)."""
    try:
        return fn(*args, **kwargs), None
    except ERRORS as e:
        msg = str(e)
        names = arg_names(fn, extra_names)
        assert any(n in msg for n in names), (
            f"{getattr(fn, '__name__', fn)} raised {type(e).__name__} without naming an "
            f"argument ({sorted(names)}): {msg!r}")
        return None, e


@st.composite
def arrays(draw, shape, dtypes=None, special=True, scale=None):
    """An array of `shape` (tuple of ints or of strategies): dtype from dtypes
    (default: any), values N(0, scale) with optional special values injected,
    in C, Fortran, strided or reversed layout."""
    shape = tuple(draw(s) if isinstance(s, st.SearchStrategy) else s for s in shape)
    dtype = np.dtype(draw(st.sampled_from(dtypes or ANY_DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sc = draw(st.sampled_from([1.0, 1.0, 1e-3, 1e4])) if scale is None else scale
    layout = draw(st.sampled_from(["C", "C", "F", "strided", "reversed"]))
    big = tuple(2 * s if layout == "strided" else s for s in shape)
    a = rng.standard_normal(big) * sc
    if special and a.size and draw(st.integers(0, 3)) == 0:
        for _ in range(draw(st.integers(1, 3))):
            a.flat[int(rng.integers(a.size))] = draw(st.sampled_from(SPECIALS))
    if dtype == object:
        a = a.astype(object)
    elif dtype.kind in "iub":
        a = np.nan_to_num(a, posinf=3, neginf=-3).clip(-100, 100).astype(dtype)
    else:
        with np.errstate(all="ignore"):
            a = a.astype(dtype)
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided":
        a = a[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "reversed" and a.ndim:
        a = a[::-1]
    assert a.shape == shape
    return a


def finite_float(*arrays_):
    """All arrays are float32/float64 with finite, moderate values (a reference
    comparison is meaningful)."""
    for a in arrays_:
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            return False
        if a.size and not (np.isfinite(a).all() and np.abs(a).max() < 1e6):
            return False
    return True


def no_new_nan(result, *inputs):
    """A float result has NaN only if some input had NaN (or inf)."""
    if not isinstance(result, np.ndarray) or result.dtype.kind != "f" or not result.size:
        return
    if np.isnan(result).any():
        assert any(isinstance(a, np.ndarray) and a.dtype.kind in "fc" and a.size
                   and not np.isfinite(a).all() for a in inputs), "NaN out of finite input"


def tol(dtype, k=1, big=1.0):
    """tests/conftest.py's tolerances for a length-k reduction, with atol scaled
    by the magnitude `big` of the result (generated values reach 1e4)."""
    t = _conftest_tol(dtype, k)
    return dict(rtol=t["rtol"], atol=t["atol"] * big)
