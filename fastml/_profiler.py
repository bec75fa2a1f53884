"""Kernel profiler: ``with fastml.profile() as p: ...; p.report()``.

Public kernel entries check one module-level list (``ACTIVE``); when no
profile is open that is the whole cost.  When one is, the call is timed and a
record (name, shapes, dtype, threads, seconds, flops, bytes) goes to every
open profile.  ``report()`` adds GFLOP/s, GB/s and percent of this machine's
peak (measured once and cached by fastml._peak, or given).
"""
import contextlib
import time

ACTIVE = []   # open Profile objects; empty when profiling is off


def timed(name, fn, args, cost):
    """Run ``fn(*args)``, timing it, and record it with ``cost(args, result)``."""
    t0 = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - t0
    rec = dict(name=name, seconds=seconds)
    rec.update(cost(args, result))
    for p in ACTIVE:
        p.records.append(rec)
    return result


class Profile:
    """Records of the kernel calls made while it was open."""

    def __init__(self):
        self.records = []

    def to_dict(self, peak=None):
        """Records with derived rates: gflops, gbps and pct_peak (when a peak is known)."""
        out = []
        for r in self.records:
            d = dict(r)
            s = max(r["seconds"], 1e-12)
            d["gflops"] = r.get("flops", 0) / s / 1e9
            d["gbps"] = r.get("bytes", 0) / s / 1e9
            pk = _peak_for(peak, r.get("dtype"), r.get("threads", 1))
            d["pct_peak"] = 100.0 * d["gflops"] / pk if pk else None
            out.append(d)
        return {"records": out, "peak": peak}

    def report(self, peak=None, file=None, measure_peak=True):
        """Print one row per call.  peak: dict as from fastml._peak.machine_peak(),
        measured (and cached) when not given and measure_peak is true."""
        import sys
        if peak is None and measure_peak and self.records:
            from fastml._peak import machine_peak
            peak = machine_peak()
        rows = self.to_dict(peak)["records"]
        header = f"{'kernel':<18}{'shapes':<34}{'dtype':<9}{'thr':>4}{'ms':>10}{'GFLOP/s':>10}{'GB/s':>8}{'%peak':>7}"
        lines = [header, "-" * len(header)]
        for d in rows:
            shapes = " x ".join(str(tuple(s)) for s in d.get("shapes", ()))
            pct = "" if d["pct_peak"] is None else f"{d['pct_peak']:.0f}"
            lines.append(f"{d['name']:<18}{shapes:<34}{str(d.get('dtype', '')):<9}{d.get('threads', ''):>4}"
                         f"{d['seconds'] * 1e3:>10.3f}{d['gflops']:>10.1f}{d['gbps']:>8.1f}{pct:>7}")
        text = "\n".join(lines)
        print(text, file=file or sys.stdout)
        return text


def _peak_for(peak, dtype, threads):
    if not peak or dtype not in ("float32", "float64"):
        return None
    per_thread = peak.get(f"gflops_{dtype}_per_thread")
    if not per_thread:
        return None
    return per_thread * min(threads or 1, peak.get("cpus", threads or 1))


@contextlib.contextmanager
def profile():
    """Record every fastml kernel call made inside the block."""
    p = Profile()
    ACTIVE.append(p)
    try:
        yield p
    finally:
        ACTIVE.remove(p)
