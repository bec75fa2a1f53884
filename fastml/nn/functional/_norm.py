"""Batch normalisation and ReLU with PyTorch's names and semantics on NumPy
arrays (float32/float64), for the (N, C, ...) layout of the convolutions.

batch_norm normalises per channel with y = x * scale[c] + shift[c], scale =
weight / sqrt(var + eps), shift = bias - mean * scale (PyTorch's CPU formula),
one pass over x in C.  Training statistics are two-pass float64 sums per
channel (bit-identical for any thread count); the running statistics are
updated in place like PyTorch (unbiased variance).
"""
import numpy as np

from fastml import _profiler
from fastml._lib import _conv
from fastml._threads import resolve_n_threads
from fastml._validation import as_float_array, check_scalar
from fastml.nn.functional._conv import _flat

_ACT = {None: 0, "relu": 1}


def _channel_vector(v, name, c, dtype, required=False):
    if v is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    a = as_float_array(v, name)
    if a.ndim != 1 or a.shape[0] != c:
        raise ValueError(f"{name} must be 1-D of length C = {c} (input.shape[1]), got shape {a.shape}")
    return a


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, return_stats=False, activation=None, n_threads=None):
    """Batch normalisation like ``torch.nn.functional.batch_norm``.

    input : (N, C) or (N, C, *spatial)
    running_mean, running_var : (C,) arrays or None
        Used for normalisation when ``training`` is False (then required).  In
        training mode, when given, updated in place:
        ``running = (1 - momentum) * running + momentum * batch_stat`` with the
        unbiased batch variance.
    weight, bias : (C,) or None (1 and 0)
    training : normalise with the batch mean and biased variance over N and
        the spatial axes (float64 sums).
    return_stats : also return ``(batch_mean, batch_var)`` (float64, biased
        variance; the running statistics used, in inference mode).
    activation : None or 'relu', applied in the same pass.

    Returns y (the input's shape and float dtype), or (y, mean, var).
    """
    args = (input, running_mean, running_var, weight, bias, training, momentum, eps, return_stats,
            activation, n_threads)
    if not _profiler.ACTIVE:
        return _batch_norm(*args)
    return _profiler.timed("batch_norm", _batch_norm, args, _bn_cost)


def _bn_cost(args, result):
    y = result[0] if isinstance(result, tuple) else result
    passes = 3 if args[5] else 1
    return dict(shapes=(np.shape(args[0]),), dtype=str(y.dtype), threads=resolve_n_threads(args[-1]),
                flops=float(2 * y.size * passes), bytes=float((passes + 1) * y.size * y.itemsize))


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, return_stats,
                activation, n_threads):
    x = as_float_array(input, "input")
    if x.ndim < 2:
        raise ValueError(f"input must be at least 2-D (N, C, ...), got a {x.ndim}-D array of shape {x.shape}")
    if activation not in _ACT:
        raise ValueError(f"activation must be None or 'relu', got {activation!r}")
    eps = check_scalar(eps, "eps", float, min_val=0.0)
    momentum = check_scalar(momentum, "momentum", float, min_val=0.0, max_val=1.0)
    n, c = x.shape[0], x.shape[1]
    hw = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
    rm = _channel_vector(running_mean, "running_mean", c, x.dtype, required=not training)
    rv = _channel_vector(running_var, "running_var", c, x.dtype, required=not training)
    for arr, name in ((running_mean, "running_mean"), (running_var, "running_var")):
        if training and arr is not None and not (isinstance(arr, np.ndarray) and arr.flags.writeable
                                                 and arr.dtype.kind == "f"):
            raise TypeError(f"{name} must be a writeable float ndarray to be updated in training mode")
    w = _channel_vector(weight, "weight", c, x.dtype)
    b = _channel_vector(bias, "bias", c, x.dtype)
    nt = resolve_n_threads(n_threads)
    xc = np.ascontiguousarray(x)
    if training:
        count = n * hw
        if count <= 1:
            raise ValueError(f"batch_norm in training mode needs more than 1 value per channel, "
                             f"got input of shape {x.shape}")
        mean = np.empty(c, dtype=np.float64)
        var = np.empty(c, dtype=np.float64)
        if c:
            _conv.batch_stats(_flat(xc), n, c, hw, mean, var, nt)
    else:
        mean = rm.astype(np.float64)
        var = rv.astype(np.float64)
    inv = 1.0 / np.sqrt(var + eps)
    scale = inv * (1.0 if w is None else w.astype(np.float64))
    shift = (0.0 if b is None else b.astype(np.float64)) - mean * scale
    y = np.empty(x.shape, dtype=x.dtype)
    if y.size:
        _conv.channel_affine(_flat(xc), n, c, hw, scale.astype(x.dtype), shift.astype(x.dtype),
                             _ACT[activation], y.reshape(-1), nt)
    if training and running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
    if training and running_var is not None:
        running_var *= 1.0 - momentum
        running_var += momentum * var * (n * hw / (n * hw - 1))
    if return_stats:
        return y, mean, var
    return y


def relu(input, inplace=False, *, n_threads=None):
    """max(input, 0) elementwise like ``torch.nn.functional.relu`` (NaN stays NaN).
    inplace writes into input (a writeable float32/float64 ndarray)."""
    if not _profiler.ACTIVE:
        return _relu(input, inplace, n_threads)
    return _profiler.timed("relu", _relu, (input, inplace, n_threads), _relu_cost)


def _relu_cost(args, result):
    return dict(shapes=(np.shape(args[0]),), dtype=str(result.dtype), threads=resolve_n_threads(args[-1]),
                flops=float(result.size), bytes=float(2 * result.size * result.itemsize))


def _relu(input, inplace, n_threads):
    if inplace:
        if not (isinstance(input, np.ndarray) and input.dtype in (np.float32, np.float64)
                and input.flags.writeable):
            raise TypeError("relu(inplace=True) needs a writeable float32/float64 ndarray input")
        if input.flags.c_contiguous:
            if input.size:
                _conv.relu(input.reshape(-1), input.reshape(-1), resolve_n_threads(n_threads))
        else:
            np.maximum(input, 0, out=input, where=~np.isnan(input))
        return input
    x = as_float_array(input, "input")
    xc = np.ascontiguousarray(x)
    y = np.empty(x.shape, dtype=x.dtype)
    if y.size:
        _conv.relu(xc.reshape(-1), y.reshape(-1), resolve_n_threads(n_threads))
    return y
