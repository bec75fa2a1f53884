"""What a benchmark case is: inputs, the fastml call, one call per peer, costs.

A case is defined once (STYLE.md section 8) and feeds ``python -m fastml.bench``,
``benchmarks/`` (pytest-benchmark) and the smoke test in ``tests/bench/``.

Calls are given as *setup* functions: ``setup(*inputs)`` does whatever must
not be timed (convert to the peer's tensor type, build a session) and returns
a zero-argument callable, the timed region.  A peer names the module it needs
so that a missing one is reported as "not installed" and never imported early.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

MODES = ("smoke", "quick", "full")   # smoke: tiny shapes, for the tests


@dataclass(frozen=True)
class Peer:
    """A peer library's way of running a case.

    module : import name the peer needs ("torch", "sklearn", ...).
    setup  : setup(*inputs) -> zero-argument callable returning the result
             (anything ``numpy.asarray`` takes).
    """
    module: str
    setup: Callable


def relative_tolerance(dtype, reduction_length=1, factor=16.0):
    """Error allowed relative to max|result|: factor * eps * sqrt(reduction length)."""
    return factor * float(np.finfo(dtype).eps) * math.sqrt(max(int(reduction_length), 1))


@dataclass(frozen=True)
class Case:
    """One benchmark case (a kernel at several shapes and dtypes).

    name, family : the case's name and the module it lives in (``--only``
                   takes either).
    dims         : names of the shape's entries, e.g. ("m", "n", "k").
    sizes        : mode ("smoke", "quick", "full") -> list of shape tuples.
    make_inputs  : make_inputs(rng, dtype, shape) -> tuple of arrays.
    fastml       : fastml(*inputs, n_threads=t) -> zero-argument callable.
    peers        : peer name -> Peer.
    flops        : flops(shape) -> floating-point operations of one call
                   (0 for memory-bound cases, rated in GB/s instead).
    bytes        : bytes(shape, dtype) -> bytes one call must read and write.
    rtol         : rtol(dtype, shape) -> agreement tolerance, relative to the
                   largest magnitude of the peer's result.
    summary      : summary(result, inputs) -> what the agreement check compares
                   (default: the result itself); computed outside the timing,
                   e.g. the k-means objective of the returned centres.
    """
    name: str
    family: str
    dims: tuple
    sizes: dict
    make_inputs: Callable
    fastml: Callable
    peers: dict
    flops: Callable
    bytes: Callable
    rtol: Callable = field(default=lambda dtype, shape: relative_tolerance(dtype))
    dtypes: tuple = ("float32", "float64")
    summary: Callable = field(default=lambda result, inputs: result)

    def shapes(self, mode):
        return [tuple(s) for s in self.sizes.get(mode, ())]


def agreement(result, reference, tolerance):
    """(agree, max error relative to max|reference|) of two array-likes.

    Different shapes, or NaN where the other has a number, disagree."""
    x = np.asarray(result, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if x.shape != ref.shape:
        return False, math.inf
    if x.size == 0:
        return True, 0.0
    scale = float(np.max(np.abs(ref)))
    # equal infinities are agreement, not inf - inf = nan
    with np.errstate(invalid="ignore"):
        diff = np.where(x == ref, 0.0, np.abs(x - ref))
    err = float(np.max(diff)) / (scale if scale > 0 and math.isfinite(scale) else 1.0)
    if math.isnan(err):
        err = math.inf
    return err <= tolerance, err
