"""fastml.profile records kernel calls; off means no records."""
import io

import numpy as np

import fastml
from fastml import _profiler
from fastml.linalg import matmul

PEAK = {"gflops_float32_per_thread": 100.0, "gflops_float64_per_thread": 50.0, "cpus": 2}


def test_records_calls():
    a = np.ones((30, 20), np.float32)
    b = np.ones((20, 10), np.float32)
    with fastml.profile() as p:
        matmul(a, b, n_threads=1)
        matmul(a.astype(np.float64), b.astype(np.float64), n_threads=2)
    assert len(p.records) == 2
    r = p.records[0]
    assert r["name"] == "matmul" and r["dtype"] == "float32" and r["threads"] == 1
    assert r["shapes"] == ((30, 20), (20, 10))
    assert r["flops"] == 2 * 30 * 20 * 10
    assert r["bytes"] == (600 + 200 + 300) * 4
    assert r["seconds"] > 0
    assert p.records[1]["dtype"] == "float64" and p.records[1]["threads"] == 2


def test_off_records_nothing():
    with fastml.profile() as p:
        pass
    matmul(np.ones((2, 2)), np.ones((2, 2)))
    assert p.records == [] and _profiler.ACTIVE == []


def test_nested_profiles_both_record():
    with fastml.profile() as outer:
        matmul(np.ones((2, 2)), np.ones((2, 2)))
        with fastml.profile() as inner:
            matmul(np.ones((2, 2)), np.ones((2, 2)))
    assert len(outer.records) == 2 and len(inner.records) == 1


def test_to_dict_rates_and_peak():
    with fastml.profile() as p:
        matmul(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32), n_threads=2)
    d = p.to_dict(peak=PEAK)["records"][0]
    assert np.isclose(d["gflops"], d["flops"] / d["seconds"] / 1e9)
    assert np.isclose(d["pct_peak"], 100 * d["gflops"] / 200.0)
    assert p.to_dict()["records"][0]["pct_peak"] is None


def test_report_prints_table():
    with fastml.profile() as p:
        matmul(np.ones((8, 8)), np.ones((8, 8)), n_threads=1)
    buf = io.StringIO()
    text = p.report(peak=PEAK, file=buf)
    assert "matmul" in buf.getvalue() and "GFLOP/s" in text and "%peak" in text


def test_errors_are_not_recorded_as_calls():
    with fastml.profile() as p:
        try:
            matmul(np.ones((2, 3)), np.ones((2, 3)))
        except ValueError:
            pass
    assert p.records == []


def test_machine_peak_cached(tmp_path, monkeypatch):
    from fastml import _peak
    monkeypatch.setenv("FASTML_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(_peak, "measure", lambda: calls.append(1) or dict(PEAK, mem_gbps=10.0))
    assert _peak.machine_peak()["gflops_float32_per_thread"] == 100.0
    assert _peak.machine_peak()["mem_gbps"] == 10.0
    assert calls == [1]                       # second call read the cache
    monkeypatch.setenv("FASTML_PEAK_GFLOPS_F32", "321")
    assert _peak.machine_peak()["gflops_float32_per_thread"] == 321.0


def test_fma_probe_counts_flops():
    from fastml._lib import _core
    assert _core.fma_loop("float32", 1000) > 0
    assert _peak_positive()


def _peak_positive():
    from fastml._peak import _fma_gflops
    return _fma_gflops("float64", seconds=0.005) > 0
