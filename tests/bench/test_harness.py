"""The timing harness on fake cases: order, arithmetic, missing and failing peers, Ctrl-C."""
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastml
from fastml.bench import _harness
from fastml.bench._case import agreement, relative_tolerance
from fastml.bench._harness import Job, measure, plan, run
from tests.bench._fakes import FakeClock, Lib, fake_case

PEAK = {"gflops_float64_per_thread": 10.0, "gflops_float32_per_thread": 20.0, "mem_gbps": 5.0}


def _measure(case, threads=1, **kw):
    kw.setdefault("repeat", 3)
    kw.setdefault("min_time", 0.0)
    return measure(Job(case, case.shapes("smoke")[0], "float64", threads), idle_wait=0, **kw)


def test_libraries_alternate_round_by_round():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls),
                     {"p": ("numpy", Lib("p", clock, calls)), "q": ("numpy", Lib("q", clock, calls))})
    _measure(case, repeat=3, clock=clock)
    # warm-up and calibration call per library, then A B C rounds
    assert calls == ["fastml"] * 2 + ["p"] * 2 + ["q"] * 2 + ["fastml", "p", "q"] * 3


def test_ratio_is_median_of_per_round_ratios():
    clock, calls = FakeClock(), []
    # costs: warm-up, calibration, then rounds 1..3
    fm = Lib("fastml", clock, calls, costs=[9, 9, 1.0, 4.0, 2.0])
    peer = Lib("p", clock, calls, costs=[9, 9, 5.0, 4.0, 8.0])
    res = _measure(fake_case(fm, {"p": ("numpy", peer)}), repeat=3, clock=clock, peak=PEAK)
    assert res["fastml"]["samples"] == [1.0, 4.0, 2.0]
    assert res["fastml"]["median"] == 2.0 and res["fastml"]["min"] == 1.0
    p = res["peers"]["p"]
    assert p["median"] == 5.0 and p["min"] == 4.0
    # per-round ratios 5, 1, 4 -> median 4 (the ratio of medians would be 2.5)
    assert p["ratio"] == pytest.approx(4.0)
    # 2e9 flops in 2 s = 1 GFLOP/s; peak 10 GFLOP/s per thread, 1 thread -> 10 %
    assert res["gflops"] == pytest.approx(1.0)
    assert res["pct_peak"] == pytest.approx(10.0)
    assert p["gflops"] == pytest.approx(0.4)


def test_pct_peak_scales_with_threads():
    clock, calls = FakeClock(), []
    res = _measure(fake_case(Lib("fastml", clock, calls, costs=[2.0]), {}), threads=2, clock=clock, peak=PEAK)
    assert res["gflops"] == pytest.approx(1.0)
    assert res["pct_peak"] == pytest.approx(5.0)     # of 2 threads x 10 GFLOP/s


def test_batches_tiny_calls_to_reach_min_time():
    clock, calls = FakeClock(), []
    res = _measure(fake_case(Lib("fastml", clock, calls, costs=[0.001]), {}), repeat=2, min_time=0.01, clock=clock)
    assert res["fastml"]["number"] == 10
    assert len(calls) == 2 + 2 * 10
    assert res["fastml"]["median"] == pytest.approx(0.001)


def test_missing_peer_is_reported_not_raised():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls),
                     {"gone": ("fastml_no_such_module_xyz", Lib("gone", clock, calls)),
                      "p": ("numpy", Lib("p", clock, calls))})
    res = _measure(case, clock=clock)
    assert res["peers"]["gone"] == {"status": "not installed"}
    assert "gone" not in calls
    assert res["peers"]["p"]["status"] == "ok" and res["peers"]["p"]["agree"] is True
    assert list(res["peers"]) == ["gone", "p"]


def test_failing_peer_is_an_error_entry_and_others_go_on():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls),
                     {"bad": ("numpy", Lib("bad", clock, calls, fail_at=3)),
                      "p": ("numpy", Lib("p", clock, calls))})
    res = _measure(case, repeat=4, clock=clock)
    assert res["peers"]["bad"]["status"] == "error: RuntimeError: bad failed"
    assert calls.count("bad") == 3 and calls.count("p") == 2 + 4
    assert res["fastml"]["status"] == "ok" and res["peers"]["p"]["status"] == "ok"


def test_disagreeing_peer_is_flagged():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls, result=np.array([1.0, 2.0, 4.0])),
                     {"p": ("numpy", Lib("p", clock, calls, result=np.array([1.0, 2.0, 3.0])))})
    p = _measure(case, clock=clock)["peers"]["p"]
    assert p["agree"] is False
    assert p["max_err"] == pytest.approx(1.0 / 3.0)


def test_every_library_runs_on_the_requested_threads():
    seen = {}
    clock, calls = FakeClock(), []

    def fastml_setup(*inputs, n_threads):
        seen["n_threads"] = n_threads
        seen["fastml"] = fastml.get_num_threads()
        return Lib("fastml", clock, calls)(*inputs)

    def numpy_setup(*inputs):
        seen["blas"] = {d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}
        return Lib("p", clock, calls)(*inputs)

    before = fastml.get_num_threads()
    _measure(fake_case(fastml_setup, {"p": ("numpy", numpy_setup)}), threads=1, clock=clock)
    assert seen["n_threads"] == 1 and seen["fastml"] == 1
    assert seen["blas"] in (set(), {1})
    assert fastml.get_num_threads() == before


def test_ctrl_c_stops_and_returns_finished_jobs():
    clock, calls = FakeClock(), []
    good = fake_case(Lib("fastml", clock, calls), {}, name="good")
    interrupting = fake_case(Lib("fastml", clock, calls, fail_at=2, exc=KeyboardInterrupt), {}, name="stop")
    never = fake_case(Lib("never", clock, calls), {}, name="never")
    jobs = [Job(c, (3,), "float64", 1) for c in (good, interrupting, never)]
    before = fastml.get_num_threads()
    seen = []
    results, interrupted = run(jobs, progress=lambda i, n, job: seen.append((i, n, job and job.case.name)),
                               repeat=2, min_time=0.0, clock=clock, idle_wait=0)
    assert interrupted is True
    assert [r["case"] for r in results] == ["good"]
    assert "never" not in calls
    assert seen == [(0, 3, "good"), (1, 3, "stop")]
    assert fastml.get_num_threads() == before


def test_run_reports_progress_to_the_end():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls), {}, sizes={"smoke": [(3,), (4,)]})
    seen = []
    results, interrupted = run(plan([case], "smoke", [1]), progress=lambda i, n, job: seen.append((i, n, job)),
                               repeat=1, min_time=0.0, clock=clock, idle_wait=0)
    assert interrupted is False and len(results) == 2
    assert [s[:2] for s in seen] == [(0, 2), (1, 2), (2, 2)] and seen[-1][2] is None


def test_plan_covers_shapes_dtypes_threads():
    clock, calls = FakeClock(), []
    case = fake_case(Lib("fastml", clock, calls), {}, sizes={"quick": [(3,), (4,)]})
    jobs = plan([case], "quick", [1, 2])
    assert [(j.shape, j.threads) for j in jobs] == [((3,), 1), ((3,), 2), ((4,), 1), ((4,), 2)]
    assert plan([case], "quick", [1], dtypes=["float32"]) == []
    assert plan([case], "full", [1]) == []


def test_agreement_is_relative_to_the_result_magnitude():
    ref = np.array([1000.0, -2000.0])
    assert agreement(ref + [0.1, 0.0], ref, 1e-4) == (True, pytest.approx(0.1 / 2000))
    assert agreement(ref + [1.0, 0.0], ref, 1e-4)[0] is False
    assert agreement(ref[:1], ref, 1.0) == (False, math.inf)
    assert agreement([np.nan, 1.0], [0.0, 1.0], 1.0) == (False, math.inf)
    assert agreement([np.inf, 1.0], [np.inf, 1.0], 0.0) == (True, 0.0)
    assert agreement(np.zeros(0), np.zeros(0), 0.0) == (True, 0.0)
    assert relative_tolerance(np.float32, 100) == pytest.approx(16 * np.finfo(np.float32).eps * 10)


def test_rates_memory_bound_case_uses_bandwidth():
    r = _harness._rates(2.0, 0.0, 4e9, "float64", 2, PEAK)
    assert r["gbps"] == pytest.approx(2.0) and r["pct_peak"] == pytest.approx(40.0)
    assert _harness._rates(1.0, 1e9, 0.0, "float64", 1, None)["pct_peak"] is None


def test_wait_for_idle_waits_out_a_busy_thread():
    import threading
    import time
    a = np.random.default_rng(0).standard_normal((1200, 1200))

    def busy():     # ~0.05-0.2 s of BLAS on one thread, GIL released
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            started.set()
            a @ a

    t0 = time.perf_counter()
    _harness.wait_for_idle(1.0)
    assert time.perf_counter() - t0 < 0.5          # idle process: returns after two quiet looks
    started = threading.Event()
    worker = threading.Thread(target=busy)
    worker.start()
    started.wait()
    _harness.wait_for_idle(5.0)
    alive = worker.is_alive()
    worker.join()
    assert not alive
