"""2-D and 1-D convolution, forward and backward, with PyTorch's names and
semantics on NCHW NumPy arrays (float32/float64).

Cross-correlation like ``torch.nn.functional.conv2d``: any stride, padding
(int, pair, ``'same'``, ``'valid'``), dilation and groups (depthwise when
``groups == C_in``), an optional fused ``activation='relu'`` applied to
conv + bias while the tile is in registers.

The C kernels (csrc/conv) never build an im2col matrix: a register tile of
output channels x consecutive output pixels reads the input planes in place
(stride 1 without padding, e.g. every 1x1: zero copy) or from a band of a few
rows copied with its padding (and split by stride phase) into a per-thread
buffer, and writes NCHW directly.  Results are bit-identical for any thread
count.  ``conv_output_shape`` and ``conv2d_flops`` give the shape arithmetic
and the cost the profiler records.
"""
import numbers

import numpy as np

from fastml import _profiler
from fastml._config import register_simd_module
from fastml._lib import _conv
from fastml._threads import resolve_n_threads
from fastml._validation import as_float_array, check_option, result_dtype

register_simd_module(_conv)

_ACTIVATIONS = {None: 0, "relu": 1}
_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0, np.float64)}


# ---- argument checks (shared with pooling) --------------------------------------

def _pair(value, name, min_val, n=2):
    """An int or a sequence of n ints, each >= min_val, as a tuple."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, numbers.Integral):
        vals = (int(value),) * n
    else:
        try:
            vals = tuple(value)
        except TypeError:
            raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}") from None
        if len(vals) == 1:
            vals = vals * n
        if len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                     for v in vals):
            raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
        vals = tuple(int(v) for v in vals)
    for v in vals:
        if v < min_val:
            raise ValueError(f"{name} must be >= {min_val}, got {value!r}")
    return vals


def _input(x, name, spatial):
    """x as a float array of rank spatial + 2 (batched) or spatial + 1 (unbatched);
    returns (batched array, was_batched)."""
    x = as_float_array(x, name)
    if x.ndim == spatial + 2:
        return x, True
    if x.ndim == spatial + 1:
        return x[np.newaxis], False
    raise ValueError(f"{name} must be {spatial + 2}-D (N, C, {'H, W' if spatial == 2 else 'L'}) "
                     f"or {spatial + 1}-D unbatched, got a {x.ndim}-D array of shape {x.shape}")


def _flat(x):
    """C-contiguous 1-D view (copy only when needed)."""
    return np.ascontiguousarray(x).reshape(-1)


# ---- geometry ---------------------------------------------------------------------

def _resolve_padding(padding, kernel, dilation, stride):
    """((top, bottom), (left, right)) padding from an int/pair/'same'/'valid'."""
    if isinstance(padding, str):
        check_option(padding, "padding", ("same", "valid"))
        if padding == "valid":
            return ((0, 0), (0, 0))
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' is not supported for strided convolutions "
                             f"(stride={stride}), like PyTorch")
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    if (isinstance(padding, tuple) and len(padding) == 2
            and all(isinstance(q, tuple) and len(q) == 2 for q in padding)):
        # ((top, bottom), (left, right)): explicit, possibly asymmetric
        return tuple(_pair(q, "padding", 0) for q in padding)
    p = _pair(padding, "padding", 0)
    return ((p[0], p[0]), (p[1], p[1]))


def _conv_geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """Validated geometry tuple (fastml._lib._conv.GEOM_FIELDS) of a 2-D convolution."""
    n, c, h, w = x_shape
    if len(w_shape) != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in/groups, kH, kW), got shape {tuple(w_shape)}")
    o, cg, kh, kw = w_shape
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be a positive integer, got {groups!r}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if c % groups != 0:
        raise ValueError(f"groups ({groups}) must divide the input channels (input.shape[1] = {c})")
    if o % groups != 0:
        raise ValueError(f"groups ({groups}) must divide the output channels (weight.shape[0] = {o})")
    if cg * groups != c:
        raise ValueError(f"channel mismatch: input has {c} channels but weight expects "
                         f"weight.shape[1] * groups = {cg} * {groups} = {cg * groups}")
    if kh < 1 or kw < 1:
        raise ValueError(f"weight must have a kernel of at least 1x1, got shape {tuple(w_shape)}")
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    (ph0, ph1), (pw0, pw1) = _resolve_padding(padding, (kh, kw), (dh, dw), (sh, sw))
    ho = (h + ph0 + ph1 - dh * (kh - 1) - 1) // sh + 1
    wo = (w + pw0 + pw1 - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"output size is below 1: input {h}x{w} (padded {h + ph0 + ph1}x{w + pw0 + pw1}) "
                         f"is smaller than the dilated kernel {dh * (kh - 1) + 1}x{dw * (kw - 1) + 1} "
                         f"(weight shape {tuple(w_shape)}, padding {padding!r}, dilation {(dh, dw)})")
    return (n, c, h, w, o, kh, kw, sh, sw, ph0, ph1, pw0, pw1, dh, dw, groups, ho, wo)


def conv_output_shape(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """Output shape of ``conv2d(input, weight, ...)`` (or conv1d for 3-D shapes).

    Each spatial size is ``(size + pad_before + pad_after - dilation*(k-1) - 1) // stride + 1``;
    e.g. 28x28 with a 3x3 kernel and padding 1 gives 28x28, 32x32 with 3x3 and
    no padding gives 30x30.  Raises ValueError like conv2d on impossible input."""
    input_shape, weight_shape = tuple(int(s) for s in input_shape), tuple(int(s) for s in weight_shape)
    if min(input_shape + weight_shape, default=0) < 0:
        raise ValueError(f"input_shape {input_shape} and weight_shape {weight_shape} must not have "
                         f"negative sizes")
    if len(input_shape) == 3 and len(weight_shape) == 3:          # 1-D convolution
        g = _conv_geometry((input_shape[0], input_shape[1], 1, input_shape[2]),
                           (weight_shape[0], weight_shape[1], 1, weight_shape[2]),
                           (1,) + _pair(stride, "stride", 1, 1), _pad1d(padding),
                           (1,) + _pair(dilation, "dilation", 1, 1), groups)
        return (g[0], g[4], g[17])
    if len(input_shape) != 4:
        raise ValueError(f"input must be 4-D (N, C, H, W), got shape {input_shape}")
    g = _conv_geometry(input_shape, weight_shape, stride, padding, dilation, groups)
    return (g[0], g[4], g[16], g[17])


def _algorithm(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
               dtype=np.float32):
    """The forward kernel conv2d uses for these shapes at the current SIMD level:
    'packed' (output pixels in the vector lanes, copied panel by panel), 'flat'
    (the same read in place), 'channels_in_lanes', 'winograd' (3x3 stride 1),
    'winograd_s2' (3x3 stride 2) or 'rows' (few output channels per group).
    For tests and curious users."""
    geom = _conv_geometry(tuple(input_shape), tuple(weight_shape), stride, padding, dilation, groups)
    return _conv.algorithm(geom, np.dtype(dtype) == np.float64)


def conv2d_flops(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, bias=False):
    """Floating-point operations of conv2d: 2 per multiply-add (N*C_out*Ho*Wo*C_in/groups*kH*kW
    of them), plus one per output for the bias."""
    n, o, ho, wo = conv_output_shape(input_shape, weight_shape, stride, padding, dilation, groups)
    k = int(np.prod(weight_shape[1:]))
    return 2.0 * n * o * ho * wo * k + (n * o * ho * wo if bias else 0)


# ---- conv2d -----------------------------------------------------------------------

def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, n_threads=None):
    """2-D convolution (cross-correlation) like ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : array_like, shape (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, shape (C_out, C_in / groups, kH, kW)
    bias : array_like of shape (C_out,), optional
    stride, dilation : int or (int, int), >= 1
    padding : int, (int, int), 'same' or 'valid'
        Zero padding on both sides; 'same' keeps the input size (stride 1;
        an odd total pad puts the extra row/column at the end, like PyTorch).
    groups : int
        Divides C_in and C_out; C_in gives a depthwise convolution.
    activation : None or 'relu'
        Applied to conv + bias inside the kernel (fused).
    n_threads : int, optional

    Returns
    -------
    ndarray (N, C_out, Ho, Wo) (or unbatched), float64 if any operand is
    float64 (ints count as float64), else float32.
    """
    if not _profiler.ACTIVE:
        return _conv2d(input, weight, bias, stride, padding, dilation, groups, activation, n_threads)
    args = (input, weight, bias, stride, padding, dilation, groups, activation, n_threads)
    return _profiler.timed("conv2d", _conv2d, args, _conv2d_cost)


def _conv2d_cost(args, result):
    x, w, b, stride, padding, dilation, groups = args[:7]
    xs, ws = np.shape(x), np.shape(w)
    xs4 = xs if len(xs) == 4 else (1,) + tuple(xs)
    item = result.itemsize
    return dict(shapes=(xs, ws), dtype=str(result.dtype), threads=resolve_n_threads(args[8]),
                flops=conv2d_flops(xs4, ws, stride, padding, dilation, groups, bias=b is not None),
                bytes=float((np.prod(xs) + np.prod(ws) + result.size) * item))


def _weights(input, weight, bias, spatial):
    x, batched = _input(input, "input", spatial)
    w = as_float_array(weight, "weight")
    if w.ndim != spatial + 2:
        raise ValueError(f"weight must be {spatial + 2}-D (C_out, C_in/groups, "
                         f"{'kH, kW' if spatial == 2 else 'kL'}), got a {w.ndim}-D array of shape {w.shape}")
    b = None
    if bias is not None:
        b = as_float_array(bias, "bias")
        if b.ndim != 1 or b.shape[0] != w.shape[0]:
            raise ValueError(f"bias must be 1-D of length C_out = weight.shape[0] = {w.shape[0]}, "
                             f"got shape {b.shape}")
    dt = result_dtype(x, w, *(() if b is None else (b,)))
    x, w = x.astype(dt, copy=False), w.astype(dt, copy=False)
    if b is not None:
        b = b.astype(dt, copy=False)
    return x, w, b, batched


def _conv2d(input, weight, bias, stride, padding, dilation, groups, activation, n_threads):
    x, w, b, batched = _weights(input, weight, bias, 2)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be None or 'relu', got {activation!r}")
    geom = _conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    nt = resolve_n_threads(n_threads)
    y = _forward(geom, x, w, b, _ACTIVATIONS[activation], nt)
    return y if batched else y[0]


def _forward(geom, x, w, b, act, nt):
    n, c, h, wd, o, kh, kw = geom[:7]
    ho, wo = geom[16], geom[17]
    y = np.empty((n, o, ho, wo), dtype=x.dtype)
    if y.size == 0:
        return y
    if c == 0:                                  # no input channels: bias only
        y[...] = 0 if b is None else b.reshape(1, o, 1, 1)
        if act:
            np.maximum(y, 0, out=y)
        return y
    _conv.conv2d_forward(geom, _flat(x), _flat(w), _EMPTY[x.dtype] if b is None else _flat(b),
                         y.reshape(-1), act, nt)
    return y


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    output_mask=(True, True, True), n_threads=None):
    """Gradients of ``conv2d(input, weight, bias, ...)`` given ``grad_output``.

    Returns ``(grad_input, grad_weight, grad_bias)``; an entry whose
    ``output_mask`` flag is False is None.  grad_bias sums grad_output over N, H, W
    (in float64).  For a fused ``activation='relu'`` forward, pass
    ``grad_output * (output > 0)``.  Bit-identical for any thread count."""
    if not _profiler.ACTIVE:
        return _conv2d_backward(grad_output, input, weight, stride, padding, dilation, groups,
                                output_mask, n_threads)
    args = (grad_output, input, weight, stride, padding, dilation, groups, output_mask, n_threads)
    return _profiler.timed("conv2d_backward", _conv2d_backward, args, _conv2d_backward_cost)


def _conv2d_backward_cost(args, result):
    gy, x, w, stride, padding, dilation, groups, mask = args[:8]
    xs, ws = np.shape(x), np.shape(w)
    xs4 = xs if len(xs) == 4 else (1,) + tuple(xs)
    f = conv2d_flops(xs4, ws, stride, padding, dilation, groups)
    item = np.dtype(next(r for r in result if r is not None).dtype).itemsize if any(
        r is not None for r in result) else 4
    dt = next((r.dtype for r in result if r is not None), "")
    return dict(shapes=(np.shape(gy), xs, ws), dtype=str(dt),
                threads=resolve_n_threads(args[8]), flops=f * (int(bool(mask[0])) + int(bool(mask[1]))),
                bytes=float((2 * np.prod(xs) + 2 * np.prod(ws) + np.prod(np.shape(gy))) * item))


def _conv2d_backward(grad_output, input, weight, stride, padding, dilation, groups, output_mask,
                     n_threads):
    x, w, _, batched = _weights(input, weight, None, 2)
    gy = as_float_array(grad_output, "grad_output")
    geom = _conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    out_shape = (geom[0], geom[4], geom[16], geom[17])
    if gy.shape != (out_shape if batched else out_shape[1:]):
        raise ValueError(f"grad_output must have the output shape "
                         f"{out_shape if batched else out_shape[1:]}, got {gy.shape}")
    gy = gy.reshape(out_shape)
    dt = result_dtype(x, w, gy)
    x, w, gy = x.astype(dt, copy=False), w.astype(dt, copy=False), gy.astype(dt, copy=False)
    try:
        want_x, want_w, want_b = (bool(v) for v in output_mask)
    except (TypeError, ValueError):
        raise ValueError(f"output_mask must be three booleans, got {output_mask!r}") from None
    nt = resolve_n_threads(n_threads)
    gx = np.empty(x.shape, dtype=dt) if want_x else None
    gw = np.empty(w.shape, dtype=dt) if want_w else None
    gb = np.empty(w.shape[0], dtype=dt) if want_b else None
    empty = _EMPTY[np.dtype(dt)]
    if (gx is not None and gx.size) or (gw is not None and gw.size) or (gb is not None and gb.size):
        _conv.conv2d_backward(geom, _flat(gy) if gy.size else empty, _flat(x) if x.size else empty,
                              _flat(w) if w.size else empty,
                              gx.reshape(-1) if gx is not None and gx.size else empty,
                              gw.reshape(-1) if gw is not None and gw.size else empty,
                              gb if gb is not None and gb.size else empty, nt)
    if gx is not None and not batched:
        gx = gx[0]
    return gx, gw, gb


# ---- conv1d -------------------------------------------------------------------------

def _pad1d(padding):
    if isinstance(padding, str):
        return padding
    return (0,) + _pair(padding, "padding", 0, 1)


def _geom1d(x, w, stride, padding, dilation, groups):
    return _conv_geometry((x.shape[0], x.shape[1], 1, x.shape[2]),
                          (w.shape[0], w.shape[1], 1, w.shape[2]),
                          (1,) + _pair(stride, "stride", 1, 1), _pad1d(padding),
                          (1,) + _pair(dilation, "dilation", 1, 1), groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, n_threads=None):
    """1-D convolution like ``torch.nn.functional.conv1d``: input (N, C_in, L) or
    (C_in, L), weight (C_out, C_in / groups, kL); the 2-D kernels with height 1."""
    if not _profiler.ACTIVE:
        return _conv1d(input, weight, bias, stride, padding, dilation, groups, activation, n_threads)
    args = (input, weight, bias, stride, padding, dilation, groups, activation, n_threads)
    return _profiler.timed("conv1d", _conv1d, args, _conv1d_cost)


def _conv1d_cost(args, result):
    xs, ws = np.shape(args[0]), np.shape(args[1])
    n = xs[0] if len(xs) == 3 else 1
    lo = result.shape[-1]
    return dict(shapes=(xs, ws), dtype=str(result.dtype), threads=resolve_n_threads(args[8]),
                flops=2.0 * n * ws[0] * lo * int(np.prod(ws[1:])),
                bytes=float((np.prod(xs) + np.prod(ws) + result.size) * result.itemsize))


def _conv1d(input, weight, bias, stride, padding, dilation, groups, activation, n_threads):
    x, w, b, batched = _weights(input, weight, bias, 1)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be None or 'relu', got {activation!r}")
    geom = _geom1d(x, w, stride, padding, dilation, groups)
    y = _forward(geom, x[:, :, np.newaxis, :], w[:, :, np.newaxis, :], b, _ACTIVATIONS[activation],
                 resolve_n_threads(n_threads))
    y = y[:, :, 0, :]
    return y if batched else y[0]


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    output_mask=(True, True, True), n_threads=None):
    """Gradients of conv1d: ``(grad_input, grad_weight, grad_bias)`` (see conv2d_backward)."""
    args = (grad_output, input, weight, stride, padding, dilation, groups, output_mask, n_threads)
    if not _profiler.ACTIVE:
        return _conv1d_backward(*args)
    return _profiler.timed("conv1d_backward", _conv1d_backward, args, _conv1d_backward_cost)


def _conv1d_backward_cost(args, result):
    gy, x, w = (np.shape(a) for a in args[:3])
    out = next((r for r in result if r is not None), None)
    lo = gy[-1]
    n = x[0] if len(x) == 3 else 1
    mask = args[7]
    return dict(shapes=(gy, x, w), dtype=str(out.dtype) if out is not None else "",
                threads=resolve_n_threads(args[8]),
                flops=2.0 * n * w[0] * lo * int(np.prod(w[1:])) * (int(bool(mask[0])) + int(bool(mask[1]))),
                bytes=float(2 * np.prod(x) + 2 * np.prod(w) + np.prod(gy)) *
                (out.itemsize if out is not None else 4))


def _conv1d_backward(grad_output, input, weight, stride, padding, dilation, groups, output_mask,
                     n_threads):
    x, w, _, batched = _weights(input, weight, None, 1)
    geom = _geom1d(x, w, stride, padding, dilation, groups)
    gy = as_float_array(grad_output, "grad_output")
    shape = (geom[0], geom[4], geom[17])
    if gy.shape != (shape if batched else shape[1:]):
        raise ValueError(f"grad_output must have the output shape {shape if batched else shape[1:]}, "
                         f"got {gy.shape}")
    gx, gw, gb = _conv2d_backward(gy.reshape(shape)[:, :, np.newaxis, :], x[:, :, np.newaxis, :],
                                  w[:, :, np.newaxis, :], (1, geom[8]), ((0, 0), (geom[11], geom[12])),
                                  (1, geom[14]), geom[15], output_mask, n_threads)
    if gx is not None:
        gx = gx[:, :, 0, :] if batched else gx[0, :, 0, :]
    if gw is not None:
        gw = gw[:, :, 0, :]
    return gx, gw, gb
