"""The registry, and every registered case at its smoke shapes: fastml runs and
agrees with each installed peer (the bench's correctness half; no timings)."""
import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fastml.bench._case import MODES
from fastml.bench._harness import Job, measure, plan
from fastml.bench._peers import installed
from fastml.bench.cases import all_cases, select

CASES = all_cases()
SMOKE_JOBS = plan(CASES, "smoke", [1])


def test_registry_has_the_gemm_family():
    names = [c.name for c in CASES]
    assert {"gemm", "gemm_batched", "gemm_at"} <= set(names)
    assert len(names) == len(set(names))
    assert {c.name for c in select(CASES, ["gemm"])} == {"gemm", "gemm_batched", "gemm_at"}
    assert [c.name for c in select(CASES, ["gemm_at"])] == ["gemm_at"]
    assert select(CASES, []) == CASES


def test_select_names_unknown_words():
    with pytest.raises(ValueError, match="nosuchcase"):
        select(CASES, ["gemm", "nosuchcase"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_is_complete(case):
    for mode in MODES:
        shapes = case.shapes(mode)
        assert shapes, f"{case.name} has no {mode} shapes"
        assert all(len(s) == len(case.dims) for s in shapes)
    assert case.peers
    shape = case.shapes("quick")[0]
    assert case.flops(shape) >= 0 and case.bytes(shape, np.dtype(case.dtypes[0])) > 0
    assert 0 < case.rtol(np.dtype(np.float32), shape) < 2e-2


def test_gemm_costs():
    gemm, batched = select(CASES, ["gemm"])[:2]
    assert gemm.flops((2, 3, 5)) == 2 * 2 * 3 * 5
    assert batched.flops((7, 2, 3, 5)) == 7 * 2 * 2 * 3 * 5
    assert gemm.bytes((2, 3, 5), np.dtype(np.float32)) == (2 * 5 + 5 * 3 + 2 * 3) * 4


def test_transposed_case_passes_a_transposed_view(rng):
    (case,) = select(CASES, ["gemm_at"])
    a, b = case.make_inputs(rng, np.dtype(np.float32), (4, 6, 5))
    assert a.shape == (4, 5) and b.shape == (5, 6)
    assert a.flags.f_contiguous and not a.flags.c_contiguous and a.dtype == np.float32


@pytest.mark.parametrize("job", SMOKE_JOBS, ids=lambda j: j.label().replace(" ", "-"))
def test_smoke_shape_agrees_with_installed_peers(job):
    res = measure(job, repeat=1, min_time=0.0, idle_wait=0)
    assert res["fastml"]["status"] == "ok"
    for name, peer in job.case.peers.items():
        got = res["peers"][name]
        if not installed(peer.module):
            assert got == {"status": "not installed"}
            continue
        assert got["status"] == "ok", f"{name}: {got['status']}"
        assert got["agree"] is True, f"{name}: max_err {got['max_err']} > {got['tolerance']}"
        assert got["ratio"] > 0


def test_agreement_check_catches_a_wrong_result():
    """The smoke test above could pass vacuously if agreement were always true."""
    case = select(CASES, ["gemm"])[0]
    wrong = dataclasses.replace(case, fastml=lambda a, b, n_threads: (lambda: np.matmul(a, b) + 1.0))
    res = measure(Job(wrong, case.shapes("smoke")[0], "float64", 1), repeat=1, min_time=0.0, idle_wait=0)
    assert res["peers"]["numpy"]["agree"] is False


def test_pytest_benchmark_suite_runs_the_registry():
    """benchmarks/ parametrizes over this same registry (run once each, untimed)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-m", "pytest", os.path.join(root, "benchmarks"), "-q",
                           "-p", "no:cacheprovider", "--benchmark-disable", "--fastml-size", "smoke",
                           "--fastml-threads", "1"], capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    total = sum(1 + len(job.case.peers) for job in SMOKE_JOBS)
    passed = int(re.search(r"(\d+) passed", done.stdout).group(1))
    skipped = re.search(r"(\d+) skipped", done.stdout)      # peers not installed
    assert passed >= len(SMOKE_JOBS) and passed + int(skipped.group(1) if skipped else 0) == total, done.stdout[-500:]
