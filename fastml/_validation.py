"""The one input checker of fastml's public functions.

Every public function validates here, once, before any C runs: dtype, rank,
shapes, finiteness, the ``out=`` array.  Errors name the argument, what was
expected and what was given.  C then trusts its arguments.

dtype policy: float32 and float64 are kept; bool, integer and float16 input
become float64 (float16 becomes float32); complex, object, string and other
dtypes raise ``TypeError``.
"""
import numpy as np

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
FLOAT_DTYPES = (_F32, _F64)


def as_float_array(x, name, dtype=None):
    """``x`` as an ndarray of float32/float64 (views are kept, never copied needlessly).

    dtype: force this float dtype (e.g. the dtype of another operand)."""
    if type(x) is not np.ndarray:
        if isinstance(x, np.ndarray):
            x = np.asarray(x)                 # subclasses (matrix, memmap) as plain arrays
        else:
            try:
                x = np.asarray(x)
            except (ValueError, TypeError) as exc:
                raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    dt = x.dtype
    if dt is not _F32 and dt is not _F64 and dt not in FLOAT_DTYPES:
        kind = dt.kind
        if kind in "biu":
            x = x.astype(_F64)
        elif kind == "f" and dt.itemsize < 4:
            x = x.astype(_F32)
        elif kind == "f":
            raise TypeError(f"{name} has dtype {dt}; fastml supports float32 and float64 "
                            "(convert explicitly, e.g. x.astype(np.float64))")
        else:
            raise TypeError(f"{name} must hold real numbers (float32/float64, or int/bool "
                            f"converted to float64), got dtype {dt}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    if x.strides and any(s % x.itemsize for s in x.strides):
        x = np.ascontiguousarray(x)           # unaligned strides: C works in elements
    return x


def check_ndim(x, name, ndim=None, min_ndim=None):
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got a {x.ndim}-D array of shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must be at least {min_ndim}-D, got a {x.ndim}-D array "
                         f"of shape {x.shape}")


def check_finite(x, name):
    """Raise ValueError if ``x`` holds NaN or inf."""
    if x.size and not np.isfinite(x).all():
        bad = "NaN" if np.isnan(x).any() else "infinity"
        raise ValueError(f"{name} contains {bad}; this function needs finite input")


def result_dtype(*arrays):
    """float64 if any operand is float64, else float32."""
    return _F64 if any(a.dtype == _F64 for a in arrays) else _F32


def check_out(out, shape, dtype, name="out"):
    """Validate a caller's ``out=`` array: exact shape and dtype, writeable."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def check_scalar(value, name, kind=float, min_val=None, max_val=None, include_min=True):
    """A Python/NumPy scalar of the right kind inside [min_val, max_val]."""
    import numbers
    ok = numbers.Integral if kind is int else numbers.Real
    if isinstance(value, bool) or not isinstance(value, ok):
        raise TypeError(f"{name} must be {'an integer' if kind is int else 'a real number'}, "
                        f"got {value!r}")
    value = kind(value)
    if min_val is not None and (value < min_val or (not include_min and value == min_val)):
        op = ">=" if include_min else ">"
        raise ValueError(f"{name} must be {op} {min_val}, got {value}")
    if max_val is not None and value > max_val:
        raise ValueError(f"{name} must be <= {max_val}, got {value}")
    return value


def check_option(value, name, options):
    """``value`` if it is one of ``options`` (strings), else a ValueError listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; "
                         f"got {value!r}")
    return value


def check_nonnegative(x, name):
    """Raise ValueError if ``x`` holds a negative entry."""
    if x.size and (x < 0).any():
        raise ValueError(f"{name} contains negative values (min {x.min()!r}); "
                         "this function needs non-negative input")
