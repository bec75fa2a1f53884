"""Output arrays for the kernels."""
import numpy as np

_ALIGN = 64     # a cache line: full-line (streaming) stores need row starts on one


def empty_aligned(shape, dtype):
    """np.empty(shape, dtype) whose data starts on a 64-byte boundary (a view
    into a slightly larger buffer; numpy's own large blocks start 16 bytes past
    a page).  The distance kernels write such outputs with streaming stores."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    pad = _ALIGN // dtype.itemsize
    buf = np.empty(count + pad, dtype=dtype)
    start = (-buf.ctypes.data % _ALIGN) // dtype.itemsize
    return buf[start:start + count].reshape(shape)
