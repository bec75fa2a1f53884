"""Timing harness: fastml and each installed peer, alternately, on the same inputs.

For one job (case, shape, dtype, threads), with every library on ``threads``:
  1. inputs from a seeded generator; each library's setup (not timed);
  2. warm-up: one call each, whose result goes to the agreement check;
  3. calibration: one timed call gives ``number``, the calls per sample, so
     that a sample lasts at least ``min_time`` (tiny kernels are timed in
     batches: one perf_counter read is ~50 ns, a 64^3 GEMM a few us);
  4. ``repeat`` rounds of fastml, peer 1, peer 2, fastml, peer 1, ... one
     sample each, so drift (clock frequency, a neighbour's load) hits all;
     before each sample, wait until the previous library's threads are idle;
  5. ratio per round = peer sample / fastml sample, summarised by the median.

Nothing here prints; ``run`` reports progress through a callback and stops
cleanly on Ctrl-C, returning the jobs that finished.
"""
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass

import numpy as np

from fastml.bench._case import agreement
from fastml.bench._peers import NOT_INSTALLED, installed, thread_limits


@dataclass(frozen=True)
class Job:
    case: object
    shape: tuple
    dtype: str
    threads: int

    def label(self):
        return f"{self.case.name} {shape_text(self.shape)} {self.dtype} t={self.threads}"


def shape_text(shape):
    return "x".join(str(s) for s in shape)


def plan(cases, mode, threads, dtypes=None):
    """Jobs for every case x shape of ``mode`` x dtype x thread count."""
    return [Job(case, shape, dtype, t)
            for case in cases
            for shape in case.shapes(mode)
            for dtype in case.dtypes if not dtypes or dtype in dtypes
            for t in threads]


def _running_threads():
    """How many threads of this process, other than the caller, are running
    (state R in /proc), or None where /proc is not there."""
    me = threading.get_native_id()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    running = 0
    for tid in tids:
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:     # the thread has ended
            continue
        running += stat[stat.rindex(")") + 2] == "R"
    return running


def wait_for_idle(max_wait, step=0.001):
    """Sleep until no other thread of this process runs (at most max_wait s).

    After a call, a library's worker threads keep spinning: a few ms for
    libgomp (fastml, torch), about 100 ms of sched_yield loops for OpenBLAS.
    On a 2-core machine they would steal the next library's cores.  (CPU-time
    clocks are too coarse to see this: they advance by scheduler ticks.)"""
    deadline = time.perf_counter() + max_wait
    quiet = 0
    while quiet < 2 and time.perf_counter() < deadline:
        running = _running_threads()
        if running is None:             # no /proc: a fixed pause instead
            time.sleep(min(max_wait, 0.02))
            return
        quiet = quiet + 1 if running == 0 else 0
        time.sleep(step)


def _sample(fn, number, clock):
    """Seconds per call, over ``number`` back-to-back calls."""
    t0 = clock()
    for _ in range(number):
        fn()
    return (clock() - t0) / number


def _calls_per_sample(fn, min_time, clock):
    t = _sample(fn, 1, clock)
    if t >= min_time:
        return 1
    return min(int(math.ceil(min_time / max(t, 1e-9))), 1_000_000)


def _error(exc):
    return {"status": f"error: {type(exc).__name__}: {exc}"}


def _rates(seconds, flops, nbytes, dtype, threads, peak):
    """GFLOP/s, GB/s and percent of this machine's peak for one call time.

    Percent of the FMA peak of ``threads`` threads when the case counts flops,
    else of the measured memory bandwidth."""
    s = max(seconds, 1e-12)
    gflops, gbps = flops / s / 1e9, nbytes / s / 1e9
    pct = None
    if peak:
        if flops:
            per_thread = peak.get(f"gflops_{dtype}_per_thread")
            pct = 100.0 * gflops / (per_thread * threads) if per_thread else None
        elif peak.get("mem_gbps"):
            pct = 100.0 * gbps / peak["mem_gbps"]
    return {"gflops": gflops, "gbps": gbps, "pct_peak": pct}


class _Lib:
    """One library's timed callable, calls per sample, samples, warm-up result."""

    def __init__(self, fn, number, first):
        self.fn, self.number, self.first, self.samples = fn, number, first, []


def _time_alternately(setups, repeat, min_time, clock, idle_wait):
    """Set up, warm up and calibrate each library, then ``repeat`` rounds of
    one sample each.  Returns ({name: _Lib}, {name: error status}); a library
    that raises is dropped from the rounds and gets an error status."""
    libs, status = {}, {}
    for name, setup in setups:
        try:
            fn = setup()
            first = fn()
            libs[name] = _Lib(fn, _calls_per_sample(fn, min_time, clock), first)
        except Exception as exc:   # a peer's failure is reported, not raised
            status[name] = _error(exc)
    for _ in range(repeat):
        for name, lib in list(libs.items()):
            if idle_wait:
                wait_for_idle(idle_wait)
            try:
                lib.samples.append(_sample(lib.fn, lib.number, clock))
            except Exception as exc:
                status[name] = _error(exc)
                del libs[name]
    return libs, status


def measure(job, *, repeat=5, min_time=0.01, peak=None, seed=0, clock=time.perf_counter, idle_wait=0.25):
    """Time one job; returns its result dict (the JSON schema of one result).

    idle_wait: before each sample, wait up to this long for the previous
    library's worker threads to go idle (0: do not wait; for fake clocks)."""
    case, dtype, t = job.case, np.dtype(job.dtype), job.threads
    flops, nbytes = float(case.flops(job.shape)), float(case.bytes(job.shape, dtype))
    out = {"case": case.name, "family": case.family, "dims": list(case.dims),
           "shape": list(job.shape), "dtype": dtype.name, "threads": t,
           "flops": flops, "bytes": nbytes, "fastml": None, "peers": {}}
    inputs = case.make_inputs(np.random.default_rng(seed), dtype, job.shape)

    setups = [("fastml", lambda: case.fastml(*inputs, n_threads=t))]
    for name, peer in case.peers.items():
        if installed(peer.module):
            setups.append((name, lambda peer=peer: peer.setup(*inputs)))
        else:
            out["peers"][name] = {"status": NOT_INSTALLED}
    modules = {case.peers[name].module for name, _ in setups[1:]}

    with thread_limits(t, modules):
        libs, status = _time_alternately(setups, repeat, min_time, clock, idle_wait)

    def timing(name):
        lib = libs[name]
        med = statistics.median(lib.samples)
        return {"status": "ok", "median": med, "min": min(lib.samples), "number": lib.number,
                "samples": lib.samples, **_rates(med, flops, nbytes, dtype.name, t, peak)}

    fm = libs.get("fastml")
    out["fastml"] = timing("fastml") if fm and fm.samples else status.get("fastml", {"status": "error: no samples"})
    for name, _ in setups[1:]:
        lib = libs.get(name)
        if lib is None or not lib.samples:
            out["peers"][name] = status.get(name, {"status": "error: no samples"})
            continue
        res = timing(name)
        if out["fastml"]["status"] == "ok":
            res["ratio"] = statistics.median(p / max(f, 1e-12) for p, f in zip(lib.samples, fm.samples))
            try:
                tol = float(case.rtol(dtype, job.shape))
                agree, err = agreement(case.summary(fm.first, inputs),
                                       case.summary(lib.first, inputs), tol)
                res.update(agree=bool(agree), max_err=err if math.isfinite(err) else None, tolerance=tol)
            except Exception as exc:
                res.update(agree=False, max_err=None, agreement_error=f"{type(exc).__name__}: {exc}")
        out["peers"][name] = res
    out["peers"] = {name: out["peers"][name] for name in case.peers}   # the case's order
    if out["fastml"]["status"] == "ok":
        out.update({k: out["fastml"][k] for k in ("gflops", "gbps", "pct_peak")})
    else:
        out.update(gflops=None, gbps=None, pct_peak=None)
    return out


def run(jobs, *, progress=None, **options):
    """Measure ``jobs`` in order; returns (results, interrupted).

    Ctrl-C (KeyboardInterrupt) stops the run: the jobs finished so far are
    returned with interrupted=True.  ``progress(done, total, job)`` is called
    before each job and once at the end with job=None."""
    results = []
    try:
        for i, job in enumerate(jobs):
            if progress:
                progress(i, len(jobs), job)
            results.append(measure(job, **options))
    except KeyboardInterrupt:
        return results, True
    if progress:
        progress(len(jobs), len(jobs), None)
    return results, False
