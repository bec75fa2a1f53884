"""``fastml.linalg.matmul``: numpy.matmul semantics on fastml's packed GEMM.

2-D and batched ``(..., m, k) @ (..., k, n)`` with broadcasting of the batch
dimensions, 1-D operands promoted like NumPy.  Any strides: transposed and
strided views are read in place by the packing routines, not copied.
"""
import numpy as np

from fastml import _profiler
from fastml._lib import _core
from fastml._threads import get_num_threads, resolve_n_threads
from fastml._validation import as_float_array, check_out, result_dtype

_ZERO_OFF = np.zeros(1, dtype=np.int64)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a, b, out=None, *, n_threads=None):
    """Matrix product of ``a`` and ``b`` (float32 or float64), like ``numpy.matmul``.

    Parameters
    ----------
    a : array_like, shape (..., m, k) or (k,)
    b : array_like, shape (..., k, n) or (k,)
    out : ndarray, optional
        Written in place; must have the result's shape and dtype.  Untouched
        if an argument is rejected; a call stopped by Ctrl-C (KeyboardInterrupt)
        may leave it partly written.
    n_threads : int, optional
        Threads for this call (default: ``fastml.get_num_threads()``).

    Returns
    -------
    ndarray of shape broadcast(a.shape[:-2], b.shape[:-2]) + (m, n), float64 if
    either operand is float64 (ints and bools count as float64), else float32.
    Bit-identical results for any thread count.
    """
    if not _profiler.ACTIVE:
        return _matmul(a, b, out, n_threads)
    return _profiler.timed("matmul", _matmul, (a, b, out, n_threads), _matmul_cost)


def _matmul_cost(args, result):
    a, b, _, n_threads = args
    sa, sb = np.shape(a), np.shape(b)
    k = sa[-1] if len(sa) else 0
    size = result.size
    item = result.itemsize
    return dict(shapes=(sa, sb), dtype=str(result.dtype), threads=resolve_n_threads(n_threads),
                flops=2.0 * size * k,
                bytes=float((np.prod(sa) + np.prod(sb) + size) * item))


def _matmul(a, b, out, n_threads):
    # Fast path: two 2-D arrays of one float dtype, new output (the 64x64 case
    # must cost little more than the kernel).
    if (out is None and type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2
            and b.ndim == 2 and a.dtype is b.dtype and a.dtype in _FLOATS
            and a.shape[1] == b.shape[0] and not (a.strides[0] % a.itemsize or a.strides[1] % a.itemsize
                                                  or b.strides[0] % b.itemsize or b.strides[1] % b.itemsize)):
        c = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
        if c.size:
            _core.gemm2d(a, b, c, get_num_threads() if n_threads is None else resolve_n_threads(n_threads))
        return c
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    nt = resolve_n_threads(n_threads)
    if a.dtype != b.dtype:
        dt = result_dtype(a, b)
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: a and b must be at least 1-D, got shapes {a.shape} and {b.shape}")

    squeeze_m, squeeze_n = a.ndim == 1, b.ndim == 1
    if squeeze_m:
        a = a[np.newaxis, :]
    if squeeze_n:
        b = b[:, np.newaxis]
    m, k = a.shape[-2:]
    if b.shape[-2] != k:
        raise ValueError(f"matmul: a has shape {a.shape} and b has shape {b.shape}; "
                         f"a.shape[-1] ({k}) must equal b.shape[-2] ({b.shape[-2]})")
    n = b.shape[-1]
    try:
        batch_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of a {a.shape[:-2]} and b {b.shape[:-2]} "
                         "do not broadcast") from None
    full_shape = batch_shape + (m, n)
    shape = full_shape
    if squeeze_m or squeeze_n:
        shape = batch_shape + ((m,) if not squeeze_m else ()) + ((n,) if not squeeze_n else ())

    if out is not None:
        check_out(out, shape, a.dtype)
    item = a.itemsize
    target = None
    if out is not None:
        view = out.reshape(full_shape) if (squeeze_m or squeeze_n) else out
        if (isinstance(view, np.ndarray) and np.may_share_memory(view, out)
                and _writable_layout(view, item) and not np.may_share_memory(view, a)
                and not np.may_share_memory(view, b)):
            target = view
    c = target if target is not None else np.empty(full_shape, dtype=a.dtype)

    if c.size:
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        rsa, csa = a.strides[-2] // item, a.strides[-1] // item
        rsb, csb = b.strides[-2] // item, b.strides[-1] // item
        ldc = c.strides[-2] // item if m > 1 else n
        if batch == 1:
            a_off = b_off = c_off = _ZERO_OFF
        else:
            a_off = _batch_offsets(a, batch_shape)
            b_off = _batch_offsets(b, batch_shape)
            c_off = _batch_offsets(c, batch_shape)
        _core.gemm(a, b, c, batch, m, n, k, a_off, rsa, csa, b_off, rsb, csb, c_off, ldc, nt)

    if target is not None:
        return out
    result = c.reshape(shape) if (squeeze_m or squeeze_n) else c
    if out is not None:
        out[...] = result
        return out
    return result


def _writable_layout(c, item):
    """The C kernel writes rows with unit column stride and element row stride."""
    return c.strides[-1] == item or c.shape[-1] <= 1


def _batch_offsets(x, batch_shape):
    """Element offset of each batch matrix of x (broadcast dims contribute 0)."""
    nb = len(batch_shape)
    xb, xs = x.shape[:-2], x.strides[:-2]
    lead = nb - len(xb)
    off = np.zeros(batch_shape, dtype=np.int64)
    for d in range(len(xb)):
        if xb[d] != 1:
            idx_shape = [1] * nb
            idx_shape[lead + d] = xb[d]
            off = off + (np.arange(xb[d], dtype=np.int64) * (xs[d] // x.itemsize)).reshape(idx_shape)
    return np.ascontiguousarray(off.reshape(-1))
