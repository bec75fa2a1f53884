"""Transformer-block kernels with torch.nn.functional's names and semantics:
softmax / log_softmax, layer_norm (and its backward), gelu, dropout, linear
(bias and activation fused into the GEMM epilogue) and sinusoidal positional
encodings.  C kernels in csrc/attention/transformer.c; bit-identical results
for any thread count."""
import numbers

import numpy as np

from fastml import _profiler
from fastml._lib import _attention
from fastml._threads import resolve_n_threads
from fastml._validation import as_float_array, check_option, check_scalar, result_dtype

_ACTIVATIONS = {None: 0, "relu": 1, "gelu": 2, "gelu_tanh": 3}


def _check_dim(dim, ndim, name="dim"):
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {dim!r}")
    nd = max(ndim, 1)
    if not -nd <= dim < nd:
        raise ValueError(f"{name} must be in [{-nd}, {nd}) for a {ndim}-D input, got {dim}")
    return int(dim) % nd


def _rows_last(x, dim):
    """x with `dim` moved last, as a C-contiguous (rows, n) array, and the undo."""
    if x.ndim == 0:
        return x.reshape(1, 1), lambda y: y.reshape(())
    moved = np.moveaxis(x, dim, -1)
    # explicit row count: reshape(-1, 0) cannot infer it for an empty last axis
    rows2 = np.ascontiguousarray(moved).reshape(int(np.prod(moved.shape[:-1])), moved.shape[-1])
    return rows2, lambda y: np.moveaxis(y.reshape(moved.shape), -1, dim)


def _timed(name, fn, args, x_arg=0, flops_per_elem=0.0, passes=2):
    if not _profiler.ACTIVE:
        return fn(*args)

    def cost(a, result):
        r = result[0] if isinstance(result, tuple) else result
        x = np.asarray(a[x_arg])
        return dict(shapes=(x.shape,), dtype=str(r.dtype), threads=resolve_n_threads(a[-1]),
                    flops=flops_per_elem * x.size, bytes=float(passes * x.size * r.itemsize))
    return _profiler.timed(name, fn, args, cost)


def softmax(input, dim=-1, *, n_threads=None):
    """exp(x - max) / sum(exp(x - max)) along ``dim`` (numerically stable).

    float32/float64 kept (ints and bools become float64).  Like torch, a slice
    that is all -inf (or holds +inf or NaN) gives NaN."""
    return _timed("softmax", _softmax, (input, dim, False, n_threads), flops_per_elem=4)


def log_softmax(input, dim=-1, *, n_threads=None):
    """x - max - log(sum(exp(x - max))) along ``dim`` (numerically stable)."""
    return _timed("log_softmax", _softmax, (input, dim, True, n_threads), flops_per_elem=4)


def _softmax(input, dim, log_out, n_threads):
    x = as_float_array(input, "input")
    d = _check_dim(dim, x.ndim)
    x2, undo = _rows_last(x, d)
    y = np.empty_like(x2)
    if y.size:
        _attention.softmax(x2, y, log_out, resolve_n_threads(n_threads))
    return undo(y)


def _norm_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        return (int(normalized_shape),)
    try:
        shape = tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"normalized_shape must be an int or a tuple of ints, got "
                        f"{normalized_shape!r}") from None
    return shape


def _layer_norm_operands(input, normalized_shape, weight, bias, eps):
    x = as_float_array(input, "input")
    shape = _norm_shape(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise ValueError(f"normalized_shape {shape} must equal the last dimensions of input, "
                         f"whose shape is {x.shape}")
    eps = check_scalar(eps, "eps", float, 0.0)
    params = []
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            params.append(None)
            continue
        p = as_float_array(p, name)
        if p.shape != shape:
            raise ValueError(f"{name} must have shape normalized_shape {shape}, got {p.shape}")
        params.append(p)
    dtype = result_dtype(x, *[p for p in params if p is not None])
    n = int(np.prod(shape))
    x2 = np.ascontiguousarray(x, dtype=dtype).reshape(-1, n)
    w, b = (None if p is None else np.ascontiguousarray(p, dtype=dtype).reshape(-1) for p in params)
    return x, x2, w, b, eps, n, dtype


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, *, n_threads=None):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last
    ``len(normalized_shape)`` dimensions (biased variance, like torch).

    Mean and variance are computed in float64 for float32 input (two passes)."""
    return _timed("layer_norm", _layer_norm, (input, normalized_shape, weight, bias, eps, n_threads),
                  flops_per_elem=6)


def _layer_norm(input, normalized_shape, weight, bias, eps, n_threads):
    x, x2, w, b, eps, n, dtype = _layer_norm_operands(input, normalized_shape, weight, bias, eps)
    y = np.empty(x2.shape, dtype=dtype)
    rows = x2.shape[0]
    if y.size:
        mean, rstd = np.empty(rows), np.empty(rows)
        _attention.layer_norm(x2, w, b, eps, y, mean, rstd, resolve_n_threads(n_threads))
    return y.reshape(x.shape)


def layer_norm_backward(grad_out, input, normalized_shape, weight=None, bias=None, eps=1e-5, *,
                        n_threads=None):
    """Gradients (grad_input, grad_weight, grad_bias) of :func:`layer_norm`
    (grad_weight / grad_bias are None when weight / bias are None).

    Row sums in float64; grad_weight and grad_bias sum rows over fixed chunks
    merged in order (bit-identical for any thread count)."""
    return _timed("layer_norm_backward", _layer_norm_backward,
                  (grad_out, input, normalized_shape, weight, bias, eps, n_threads), x_arg=1,
                  flops_per_elem=12, passes=4)


def _layer_norm_backward(grad_out, input, normalized_shape, weight, bias, eps, n_threads):
    x, x2, w, b, eps, n, dtype = _layer_norm_operands(input, normalized_shape, weight, bias, eps)
    g = as_float_array(grad_out, "grad_out")
    if g.shape != x.shape:
        raise ValueError(f"grad_out must have the input's shape {x.shape}, got {g.shape}")
    g2 = np.ascontiguousarray(g, dtype=dtype).reshape(x2.shape)
    dx = np.empty(x2.shape, dtype=dtype)
    dw = np.zeros(n) if weight is not None else None
    db = np.zeros(n) if bias is not None else None
    if n:
        _attention.layer_norm_backward(x2, g2, w, eps, dx, dw, db, resolve_n_threads(n_threads))
    shape = _norm_shape(normalized_shape)
    return (dx.reshape(x.shape), None if dw is None else dw.astype(dtype).reshape(shape),
            None if db is None else db.astype(dtype).reshape(shape))


def gelu(input, approximate="none", *, n_threads=None):
    """x * Phi(x) (``approximate='none'``, exact with erf) or the tanh form
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``'tanh'``), like torch."""
    return _timed("gelu", _gelu, (input, approximate, n_threads), flops_per_elem=20)


def _gelu(input, approximate, n_threads):
    check_option(approximate, "approximate", ("none", "tanh"))
    x = as_float_array(input, "input")
    xc = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if y.size:
        _attention.gelu(xc.reshape(-1), y.reshape(-1), approximate == "tanh",
                        resolve_n_threads(n_threads))
    return y


def dropout(input, p=0.5, training=True, *, seed=None, n_threads=None):
    """Zero each element with probability p and scale the others by 1/(1-p)
    (``training=False``: input unchanged, as an array).

    The keep mask is a counter-based hash of (seed, flat index): the same seed
    gives the same mask for any thread count.  seed=None draws a fresh one."""
    return _timed("dropout", _dropout, (input, p, training, seed, n_threads), flops_per_elem=1)


def _dropout(input, p, training, seed, n_threads):
    p = check_scalar(p, "p", float, 0.0, 1.0)
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**63))
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")
    x = as_float_array(input, "input")
    if not training or p == 0:
        return x
    xc = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if y.size:
        _attention.dropout(xc.reshape(-1), y.reshape(-1), p, int(seed), resolve_n_threads(n_threads))
    return y


def linear(input, weight, bias=None, activation=None, *, n_threads=None):
    """activation(input @ weight.T + bias) like ``torch.nn.functional.linear``,
    with the bias and activation (None, 'relu', 'gelu', 'gelu_tanh') applied in
    the GEMM's epilogue while each output tile is in cache.

    input (..., in_features), weight (out_features, in_features), bias
    (out_features,).  Returns (..., out_features)."""
    args = (input, weight, bias, activation, n_threads)
    if not _profiler.ACTIVE:
        return _linear(*args)

    def cost(a, y):
        w = np.shape(a[1])
        return dict(shapes=(np.shape(a[0]), w), dtype=str(y.dtype), threads=resolve_n_threads(a[-1]),
                    flops=2.0 * y.size * (w[1] if len(w) == 2 else 0),
                    bytes=float((np.size(a[0]) + np.size(a[1]) + y.size) * y.itemsize))
    return _profiler.timed("linear", _linear, args, cost)


def _linear(input, weight, bias, activation, n_threads):
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of None, 'relu', 'gelu', 'gelu_tanh'; "
                         f"got {activation!r}")
    x = as_float_array(input, "input")
    w = as_float_array(weight, "weight")
    b = None if bias is None else as_float_array(bias, "bias")
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim < 1:
        raise ValueError("input must be at least 1-D (..., in_features)")
    out_f, in_f = w.shape
    if x.shape[-1] != in_f:
        raise ValueError(f"input.shape[-1] ({x.shape[-1]}) must equal weight.shape[1] ({in_f})")
    if b is not None and b.shape != (out_f,):
        raise ValueError(f"bias must have shape ({out_f},), got {b.shape}")
    dtype = result_dtype(*[a for a in (x, w, b) if a is not None])
    rows = int(np.prod(x.shape[:-1]))
    x2 = x.astype(dtype, copy=False).reshape(rows, in_f)    # a view when possible
    if (in_f > 1 and x2.strides[1] != x2.itemsize) or x2.strides[0] < 0 or x2.strides[0] % x2.itemsize:
        x2 = np.ascontiguousarray(x2)                        # the GEMM reads rows in place
    w2 = np.ascontiguousarray(w, dtype=dtype)
    b2 = None if b is None else np.ascontiguousarray(b, dtype=dtype)
    y = np.empty((x2.shape[0], out_f), dtype=dtype)
    if y.size:
        _attention.linear(x2, w2, b2, _ACTIVATIONS[activation], y, resolve_n_threads(n_threads))
    return y.reshape(x.shape[:-1] + (out_f,))


def sinusoidal_positional_encoding(length, d_model, *, base=10000.0, dtype=np.float32):
    """The Transformer's positional encodings, shape (length, d_model):
    PE[pos, 2i] = sin(pos / base^(2i/d_model)), PE[pos, 2i+1] = cos(same angle).
    Computed in float64, returned in ``dtype``."""
    length = check_scalar(length, "length", int, 0)
    d_model = check_scalar(d_model, "d_model", int, 0)
    base = check_scalar(base, "base", float, 0.0, include_min=False)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    pos = np.arange(length, dtype=np.float64)[:, None]
    i2 = np.arange(0, d_model, 2, dtype=np.float64)
    angle = pos / base ** (i2 / max(d_model, 1))
    pe = np.empty((length, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe.astype(dtype)
