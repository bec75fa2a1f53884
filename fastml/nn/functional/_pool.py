"""Max, average and adaptive-average 2-D pooling with their backward passes,
with PyTorch's names and semantics on NCHW NumPy arrays (float32/float64).

Max pooling without indices (column stride 1 or 2) reads the input rows
directly, a stride-2 window's columns as the even lanes of two loads.  Average
pooling and max pooling with indices share the convolution's flat plane layout
(csrc/conv): a band of rows is copied with its padding (0 for average, -inf for
max) and split by stride phase, so every window tap is a plain vector load.
Max pooling lets NaN win and keeps the first of equal values (PyTorch's rule);
``return_indices`` gives flat indices ``i*W + j`` into each input plane.
"""
import numpy as np

from fastml import _profiler
from fastml._lib import _conv
from fastml._threads import resolve_n_threads
from fastml._validation import as_float_array, check_scalar
from fastml.nn.functional._conv import _flat, _input, _pair


def _pool_out(size, k, pad, stride, dilation, ceil_mode):
    """PyTorch's pooling output size (ceil_mode: the last window must start inside
    the input or the left padding)."""
    num = size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, name):
    n, c, h, w = x.shape
    if h < 1 or w < 1:      # every window would be padding only (PyTorch rejects it too)
        raise ValueError(f"{name}: input must have a non-empty H x W plane, got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = (kh, kw) if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation", 1)
    for p, k, d, dim in ((ph, kh, dh, "height"), (pw, kw, dw, "width")):
        if p > ((k - 1) * d + 1) // 2:
            raise ValueError(f"{name}: padding ({p}) must be at most half the (dilated) kernel size "
                             f"({(k - 1) * d + 1}) along the {dim}, like PyTorch")
    ho = _pool_out(h, kh, ph, sh, dh, ceil_mode)
    wo = _pool_out(w, kw, pw, sw, dw, ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(f"{name}: output size is below 1 (input {h}x{w}, kernel_size {(kh, kw)}, "
                         f"padding {(ph, pw)}, dilation {(dh, dw)})")
    return (n, c, h, w, c, kh, kw, sh, sw, ph, ph, pw, pw, dh, dw, c, ho, wo)


def _cost(taps):
    """Profiler record: one operation per window tap, bytes of input + output."""
    def cost(args, result):
        out = result[0] if isinstance(result, tuple) else result
        xs = np.shape(args[0])
        return dict(shapes=(xs,), dtype=str(out.dtype), threads=resolve_n_threads(args[-1]),
                    flops=float(out.size * taps(args, xs, out)),
                    bytes=float((np.prod(xs) + out.size) * out.itemsize))
    return cost


def _kernel_taps(args, xs, out):
    return int(np.prod(_pair(args[1], "kernel_size", 1)))


def _backward_taps(args, xs, out):
    return 1


def _adaptive_taps(args, xs, out):
    return max(1, int(np.prod(xs[-2:])) // max(1, int(np.prod(out.shape[-2:]))))


# ---- max ---------------------------------------------------------------------------

def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, n_threads=None):
    """2-D max pooling like ``torch.nn.functional.max_pool2d``.

    input (N, C, H, W) or (C, H, W); stride defaults to kernel_size; padding
    (implicit -inf) at most half the dilated kernel.  With return_indices,
    also the flat index ``i*W + j`` of each maximum in its input plane (int64)."""
    args = (input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n_threads)
    if not _profiler.ACTIVE:
        return _max_pool2d(*args)
    return _profiler.timed("max_pool2d", _max_pool2d, args, _cost(_kernel_taps))


def _max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n_threads):
    x, batched = _input(input, "input", 2)
    geom = _pool_geometry(x, kernel_size, stride, padding, dilation, bool(ceil_mode), "max_pool2d")
    y = np.empty((geom[0], geom[1], geom[16], geom[17]), dtype=x.dtype)
    idx = np.empty(y.shape, dtype=np.int64) if return_indices else np.zeros(0, np.int64)
    if y.size:
        _conv.max_pool2d(geom, _flat(x), y.reshape(-1), idx.reshape(-1), resolve_n_threads(n_threads))
    if not batched:
        y = y[0]
        idx = idx[0] if return_indices else idx
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False, indices=None, *, n_threads=None):
    """Gradient of max_pool2d with respect to its input: grad_output added at the
    positions of the maxima (``indices`` from ``return_indices=True``, recomputed
    from ``input`` when not given)."""
    args = (grad_output, input, kernel_size, stride, padding, dilation, ceil_mode, indices,
            n_threads)
    if not _profiler.ACTIVE:
        return _max_pool2d_backward(*args)
    return _profiler.timed("max_pool2d_backward", _max_pool2d_backward, args, _cost(_backward_taps))


def _max_pool2d_backward(grad_output, input, kernel_size, stride, padding, dilation, ceil_mode, indices,
                         n_threads):
    x, batched = _input(input, "input", 2)
    geom = _pool_geometry(x, kernel_size, stride, padding, dilation, bool(ceil_mode),
                          "max_pool2d_backward")
    out_shape = (geom[0], geom[1], geom[16], geom[17])
    gy = _grad(grad_output, out_shape, batched, x.dtype)
    nt = resolve_n_threads(n_threads)
    if indices is None:
        _, indices = _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True, nt)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu" or idx.shape != gy.shape:
        raise ValueError(f"indices must be an integer array of the output shape {gy.shape}, "
                         f"got {idx.dtype} {idx.shape}")
    idx = idx.astype(np.int64, copy=False).reshape(out_shape)
    hw = geom[2] * geom[3]
    if idx.size and (idx.min() < 0 or idx.max() >= hw):
        raise ValueError(f"indices must lie in [0, H*W) = [0, {hw}), got values in "
                         f"[{idx.min()}, {idx.max()}]")
    gx = np.empty(x.shape, dtype=gy.dtype)
    if gx.size:
        if gy.size:
            _conv.max_pool2d_backward(geom, _flat(gy), _flat(idx), gx.reshape(-1), nt)
        else:
            gx[...] = 0
    return gx if batched else gx[0]


def _grad(grad_output, out_shape, batched, dtype):
    gy = as_float_array(grad_output, "grad_output")
    want = out_shape if batched else out_shape[1:]
    if gy.shape != want:
        raise ValueError(f"grad_output must have the output shape {want}, got {gy.shape}")
    dt = np.result_type(gy.dtype, dtype)
    return np.ascontiguousarray(gy.reshape(out_shape), dtype=dt)


# ---- average -------------------------------------------------------------------------

def _avg_args(x, kernel_size, stride, padding, ceil_mode, divisor_override, name):
    geom = _pool_geometry(x, kernel_size, stride, padding, 1, bool(ceil_mode), name)
    div = 0
    if divisor_override is not None:
        div = check_scalar(divisor_override, "divisor_override", int, min_val=1)
    return geom, div


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, n_threads=None):
    """2-D average pooling like ``torch.nn.functional.avg_pool2d``: the window sum
    (zero padding) divided by divisor_override, or by the window size clipped to
    the padded input (count_include_pad) or to the input."""
    args = (input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
            n_threads)
    if not _profiler.ACTIVE:
        return _avg_pool2d(*args)
    return _profiler.timed("avg_pool2d", _avg_pool2d, args, _cost(_kernel_taps))


def _avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                n_threads):
    x, batched = _input(input, "input", 2)
    geom, div = _avg_args(x, kernel_size, stride, padding, ceil_mode, divisor_override, "avg_pool2d")
    y = np.empty((geom[0], geom[1], geom[16], geom[17]), dtype=x.dtype)
    if y.size:
        _conv.avg_pool2d(geom, _flat(x), y.reshape(-1), bool(count_include_pad), div,
                         resolve_n_threads(n_threads))
    return y if batched else y[0]


def avg_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, n_threads=None):
    """Gradient of avg_pool2d: each output's gradient / divisor spread over its window."""
    args = (grad_output, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
            divisor_override, n_threads)
    if not _profiler.ACTIVE:
        return _avg_pool2d_backward(*args)
    return _profiler.timed("avg_pool2d_backward", _avg_pool2d_backward, args, _cost(_backward_taps))


def _avg_pool2d_backward(grad_output, input, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, n_threads):
    x, batched = _input(input, "input", 2)
    geom, div = _avg_args(x, kernel_size, stride, padding, ceil_mode, divisor_override,
                          "avg_pool2d_backward")
    gy = _grad(grad_output, (geom[0], geom[1], geom[16], geom[17]), batched, x.dtype)
    gx = np.zeros(x.shape, dtype=gy.dtype)
    if gx.size and gy.size:
        _conv.avg_pool2d_backward(geom, _flat(gy), gx.reshape(-1), bool(count_include_pad), div,
                                  resolve_n_threads(n_threads))
    return gx if batched else gx[0]


# ---- adaptive average ------------------------------------------------------------------

def _adaptive_geom(x, output_size):
    n, c, h, w = x.shape
    if output_size is None or isinstance(output_size, int) or np.isscalar(output_size):
        sizes = (output_size, output_size)
    else:
        sizes = tuple(output_size)
        if len(sizes) != 2:
            raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    ho = h if sizes[0] is None else sizes[0]
    wo = w if sizes[1] is None else sizes[1]
    ho, wo = _pair((ho, wo), "output_size", 1)
    return (n, c, h, w, c, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, c, ho, wo)


def adaptive_avg_pool2d(input, output_size, *, n_threads=None):
    """Adaptive average pooling like ``torch.nn.functional.adaptive_avg_pool2d``:
    output cell (i, j) averages rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) - 1 (and
    the same for columns), summed in float64.  output_size 1 is global average
    pooling; None keeps that input size."""
    args = (input, output_size, n_threads)
    if not _profiler.ACTIVE:
        return _adaptive_avg_pool2d(*args)
    return _profiler.timed("adaptive_avg_pool2d", _adaptive_avg_pool2d, args, _cost(_adaptive_taps))


def _adaptive_avg_pool2d(input, output_size, n_threads):
    x, batched = _input(input, "input", 2)
    geom = _adaptive_geom(x, output_size)
    if (geom[2] == 0 or geom[3] == 0) and x.shape[0] * x.shape[1]:
        raise ValueError(f"input must have non-zero height and width, got shape {x.shape}")
    y = np.empty((geom[0], geom[1], geom[16], geom[17]), dtype=x.dtype)
    if y.size:
        _conv.adaptive_avg_pool2d(geom, _flat(x), y.reshape(-1), resolve_n_threads(n_threads))
    return y if batched else y[0]


def adaptive_avg_pool2d_backward(grad_output, input, *, n_threads=None):
    """Gradient of adaptive_avg_pool2d (output size read from grad_output)."""
    args = (grad_output, input, n_threads)
    if not _profiler.ACTIVE:
        return _adaptive_avg_pool2d_backward(*args)
    return _profiler.timed("adaptive_avg_pool2d_backward", _adaptive_avg_pool2d_backward, args,
                           _cost(_backward_taps))


def _adaptive_avg_pool2d_backward(grad_output, input, n_threads):
    x, batched = _input(input, "input", 2)
    gy0 = as_float_array(grad_output, "grad_output")
    if gy0.ndim != (4 if batched else 3):
        raise ValueError(f"grad_output must be {'4' if batched else '3'}-D, got shape {gy0.shape}")
    geom = _adaptive_geom(x, gy0.shape[-2:])
    gy = _grad(gy0, (geom[0], geom[1], geom[16], geom[17]), batched, x.dtype)
    gx = np.zeros(x.shape, dtype=gy.dtype)
    if gx.size and gy.size:
        _conv.adaptive_avg_pool2d_backward(geom, _flat(gy), gx.reshape(-1), resolve_n_threads(n_threads))
    return gx if batched else gx[0]
