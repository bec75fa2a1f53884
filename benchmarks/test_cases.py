"""Every registered bench case, timed by pytest-benchmark (cases: fastml/bench/cases/)."""
import numpy as np
import pytest

from fastml.bench._peers import installed, thread_limits


def test_case(benchmark, job, library):
    case = job.case
    modules = set()
    if library != "fastml":
        peer = case.peers[library]
        if not installed(peer.module):
            pytest.skip(f"{library}: {peer.module} not installed")
        modules.add(peer.module)
    inputs = case.make_inputs(np.random.default_rng(0), np.dtype(job.dtype), job.shape)
    benchmark.group = job.label()
    benchmark.extra_info.update(case=case.name, shape=list(job.shape), dtype=job.dtype, threads=job.threads,
                                flops=case.flops(job.shape))
    with thread_limits(job.threads, modules):
        fn = case.fastml(*inputs, n_threads=job.threads) if library == "fastml" else peer.setup(*inputs)
        benchmark(fn)
