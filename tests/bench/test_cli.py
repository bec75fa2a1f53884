"""``python -m fastml.bench`` end to end at tiny sizes: table, JSON schema,
Markdown, plot, Ctrl-C, bad options, and the report of a missing peer."""
import json
import subprocess
import sys

import pytest

from fastml.bench import _harness, _report
from fastml.bench.__main__ import main
from fastml.bench._peers import installed

TINY = ["--size", "smoke", "--only", "gemm", "--repeat", "1", "--threads", "1"]


def test_tiny_run_writes_json_with_the_schema(tmp_path, capsys):
    path = tmp_path / "out.json"
    md = tmp_path / "out.md"
    assert main(TINY + ["--json", str(path), "--markdown", str(md)]) == 0
    printed = capsys.readouterr()
    assert "peer/fastml" in printed.out and "gemm_batched" in printed.out
    assert "6/6" in printed.err and "done" in printed.err   # the progress bar reached the end

    doc = json.loads(path.read_text())
    m = doc["machine"]
    for key in ("cpu", "simd", "threads", "cpus", "peaks", "versions"):
        assert key in m
    assert set(m["peaks"]) == {"gflops_float32_per_thread", "gflops_float64_per_thread", "mem_gbps"}
    assert m["peaks"]["gflops_float32_per_thread"] > 0
    assert {"fastml", "numpy", "torch"} <= set(m["versions"])
    assert doc["interrupted"] is False
    assert doc["settings"]["threads"] == [1] and doc["settings"]["repeat"] == 1

    results = doc["results"]
    assert [(r["case"], r["dtype"]) for r in results] == [
        (c, d) for c in ("gemm", "gemm_batched", "gemm_at") for d in ("float32", "float64")]
    for r in results:
        assert r["family"] == "gemm" and r["threads"] == 1 and len(r["shape"]) == len(r["dims"])
        assert r["flops"] > 0 and r["gflops"] > 0 and r["pct_peak"] > 0
        assert 0 < r["fastml"]["min"] <= r["fastml"]["median"]
        assert list(r["peers"]) == ["numpy", "torch"]
        numpy_res = r["peers"]["numpy"]
        assert numpy_res["status"] == "ok" and numpy_res["median"] > 0 and numpy_res["ratio"] > 0
        assert numpy_res["agree"] is True and numpy_res["max_err"] <= numpy_res["tolerance"]
        if not installed("torch"):
            assert r["peers"]["torch"] == {"status": "not installed"}
    assert md.read_text().count("\n| gemm") == 6


def test_ctrl_c_prints_what_finished(tmp_path, capsys, monkeypatch):
    real = _harness.measure
    calls = []

    def measure_then_interrupt(job, **kw):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job, **kw)

    monkeypatch.setattr(_harness, "measure", measure_then_interrupt)
    path = tmp_path / "out.json"
    assert main(TINY + ["--only", "gemm_at", "--no-progress", "--json", str(path)]) == 130
    out = capsys.readouterr().out
    assert "interrupted: 1 of 2 jobs finished" in out
    assert "gemm_at" in out and "float32" in out
    doc = json.loads(path.read_text())
    assert doc["interrupted"] is True and len(doc["results"]) == 1


def test_plot_is_written_or_explained(tmp_path, capsys, monkeypatch):
    png = tmp_path / "bars.png"
    args = TINY + ["--only", "gemm_at", "--dtype", "float64", "--no-progress", "--plot", str(png)]
    if installed("matplotlib"):
        assert main(args) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        png.unlink()
    monkeypatch.setitem(sys.modules, "matplotlib", None)    # as if not installed
    assert main(args) == 0
    assert "needs matplotlib" in capsys.readouterr().err
    assert not png.exists()


def test_unknown_case_is_a_clear_error(capsys):
    assert main(["--only", "gemm,nosuchcase"]) == 2
    assert "nosuchcase" in capsys.readouterr().err


def test_bad_threads_option_is_rejected():
    with pytest.raises(SystemExit):
        main(["--threads", "0"])


def test_list_through_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "fastml.bench", "--list"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "gemm_batched" in done.stdout and "peers: numpy" in done.stdout


def test_table_shows_missing_and_failed_peers():
    timing = {"status": "ok", "median": 2e-3, "min": 1e-3, "gflops": 1.0, "gbps": 0.1, "pct_peak": 50.0}
    result = {"case": "gemm", "family": "gemm", "dims": ["m", "n", "k"], "shape": [8, 8, 8], "dtype": "float32",
              "threads": 1, "flops": 1024.0, "fastml": timing,
              "peers": {"numpy": {**timing, "ratio": 1.5, "agree": False, "max_err": 0.5, "tolerance": 1e-4},
                        "torch": {"status": "not installed"},
                        "faiss": {"status": "error: RuntimeError: boom"}}}
    text = _report.table_text([result])
    assert "not installed" in text and "error: RuntimeError: boom" in text
    assert "1.50x" in text and "NO (5.0e-01" in text and "2.00 ms" in text and "50%" in text


def test_ctrl_c_before_the_jobs_exits_cleanly(monkeypatch, capsys):
    import fastml.bench.__main__ as cli

    def interrupted(cases):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "machine_info", interrupted)
    assert main(TINY) == 130
    assert "interrupted" in capsys.readouterr().err


def test_header_warns_when_the_machine_is_busy():
    machine = {"cpu": "cpu", "cpus": 2, "simd": "avx2", "openmp": "OpenMP", "numpy_blas": "openblas",
               "gemm_kernels": {"float32": "k32", "float64": "k64"}, "versions": {"fastml": "0.1.0"},
               "peaks": {"gflops_float32_per_thread": 1.0, "gflops_float64_per_thread": 0.5, "mem_gbps": 2.0}}
    settings = {"size": "quick", "threads": [1, 2], "repeat": 7, "min_time": 0.01}
    quiet = _report.header_text({**machine, "load_average": 0.1}, settings)
    busy = _report.header_text({**machine, "load_average": 1.3}, settings)
    assert "warning" not in quiet and "threads 1,2" in quiet and "float64 0.5 GFLOP/s" in quiet
    assert "warning: load average 1.30" in busy
