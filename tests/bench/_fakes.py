"""Fake bench cases with a fake clock: each call records its name and advances
the clock by the next of its scripted costs, so order and arithmetic are exact."""
import numpy as np

from fastml.bench._case import Case, Peer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Lib:
    """A library whose calls cost ``costs`` seconds in turn (the last one repeats)."""

    def __init__(self, name, clock, calls, costs=(1.0,), result=None, fail_at=None, exc=RuntimeError):
        self.name, self.clock, self.calls = name, clock, calls
        self.costs, self.result, self.fail_at, self.exc = list(costs), result, fail_at, exc
        self.n = 0

    def __call__(self, *inputs, n_threads=None):
        self.setup_threads = n_threads

        def call():
            if self.fail_at is not None and self.n >= self.fail_at:
                raise self.exc(f"{self.name} failed")
            self.calls.append(self.name)
            self.clock.now += self.costs[min(self.n, len(self.costs) - 1)]
            self.n += 1
            return np.ones(3) if self.result is None else self.result
        return call


def fake_case(fastml, peers, name="fake", flops=2e9, sizes=None):
    """peers: name -> (module, Lib)."""
    return Case(name=name, family="fakes", dims=("n",), sizes=sizes or {"smoke": [(3,)]},
                make_inputs=lambda rng, dtype, shape: (np.zeros(shape, dtype),),
                fastml=fastml, peers={n: Peer(module, lib) for n, (module, lib) in peers.items()},
                flops=lambda shape: flops, bytes=lambda shape, dtype: 0.0, dtypes=("float64",))
