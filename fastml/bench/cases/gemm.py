"""GEMM: fastml.linalg.matmul against numpy.matmul and torch.matmul.

Shapes are (m, n, k) or (batch, m, n, k): C[m, n] = A[m, k] @ B[k, n].
Bars from the foundation issue (ratio = peer time / fastml time): at
2048^3, ratio to NumPy >= 0.90 (float32) and >= 0.85 (float64) on 1 and 2
threads; at 64^3, ratio >= 0.5.
"""
import numpy as np

from fastml.bench._case import Case, Peer, relative_tolerance


def _bmnk(shape):
    return (1, *shape) if len(shape) == 3 else tuple(shape)


def _operands(rng, dtype, shape, a_transposed=False):
    batch, m, n, k = _bmnk(shape)
    lead = (batch,) if len(shape) == 4 else ()
    a_shape = lead + ((k, m) if a_transposed else (m, k))
    a = rng.uniform(-1.0, 1.0, a_shape).astype(dtype)
    b = rng.uniform(-1.0, 1.0, lead + (k, n)).astype(dtype)
    return (a.swapaxes(-1, -2) if a_transposed else a), b


def _make_inputs(rng, dtype, shape):
    return _operands(rng, dtype, shape)


def _make_inputs_at(rng, dtype, shape):
    """A is the transposed view of a (k, m) C-ordered array: packing reads it in place."""
    return _operands(rng, dtype, shape, a_transposed=True)


def _fastml(a, b, n_threads):
    from fastml.linalg import matmul
    return lambda: matmul(a, b, n_threads=n_threads)


def _numpy(a, b):
    return lambda: np.matmul(a, b)


def _torch(a, b):
    import torch
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)   # shares memory, keeps strides
    return lambda: torch.matmul(ta, tb)


PEERS = {"numpy": Peer("numpy", _numpy), "torch": Peer("torch", _torch)}


def _flops(shape):
    batch, m, n, k = _bmnk(shape)
    return 2.0 * batch * m * n * k


def _bytes(shape, dtype):
    batch, m, n, k = _bmnk(shape)
    return float(batch * (m * k + k * n + m * n) * np.dtype(dtype).itemsize)


def _rtol(dtype, shape):
    return relative_tolerance(dtype, reduction_length=_bmnk(shape)[3])


def _case(name, dims, sizes, make_inputs=_make_inputs):
    return Case(name=name, family="gemm", dims=dims, sizes=sizes, make_inputs=make_inputs,
                fastml=_fastml, peers=PEERS, flops=_flops, bytes=_bytes, rtol=_rtol)


CASES = [
    _case("gemm", ("m", "n", "k"), {
        "smoke": [(33, 17, 9)],
        "quick": [(512, 512, 512), (64, 64, 64)],
        "full": [(2048, 2048, 2048), (64, 64, 64)],
    }),
    _case("gemm_batched", ("batch", "m", "n", "k"), {
        "smoke": [(3, 9, 17, 5)],
        "quick": [(16, 128, 128, 128)],
        "full": [(64, 128, 128, 128)],
    }),
    _case("gemm_at", ("m", "n", "k"), {
        "smoke": [(17, 33, 15)],
        "quick": [(512, 512, 512)],
        "full": [(1024, 1024, 1024)],
    }, make_inputs=_make_inputs_at),
]
