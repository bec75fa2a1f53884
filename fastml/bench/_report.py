"""Printing and files: header, the table (text or Markdown), JSON, the plot.

Works on the plain dicts the harness returns, so it can also re-render a
saved JSON file.
"""
import json
import math

COLUMNS = ["case", "shape", "dtype", "thr", "library", "median", "min", "speed", "%peak",
           "peer/fastml", "agree"]
_LEFT = {"case", "shape", "dtype", "library", "agree"}


def fmt_time(seconds):
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def _speed(timing, flops):
    if flops:
        return f"{timing['gflops']:.1f} GFLOP/s"
    return f"{timing['gbps']:.2f} GB/s"


def _pct(timing):
    return "" if timing.get("pct_peak") is None else f"{timing['pct_peak']:.0f}%"


def _agree(res):
    if "agree" not in res:
        return ""
    err = "?" if res.get("max_err") is None else f"{res['max_err']:.1e}"
    return f"yes ({err})" if res["agree"] else f"NO ({err} > {res.get('tolerance', 0):.0e})"


def _library_row(name, timing, flops, ratio_and_agree=True):
    if timing["status"] != "ok":
        return [name, timing["status"]] + [""] * 5
    ratio = f"{timing['ratio']:.2f}x" if "ratio" in timing else ""
    return [name, fmt_time(timing["median"]), fmt_time(timing["min"]), _speed(timing, flops), _pct(timing),
            ratio if ratio_and_agree else "", _agree(timing) if ratio_and_agree else ""]


def rows(results):
    """Table rows: per job, the fastml row then one row per peer."""
    out = []
    for r in results:
        job = [r["case"], "x".join(map(str, r["shape"])), r["dtype"], str(r["threads"])]
        out.append(job + _library_row("fastml", r["fastml"], r["flops"], ratio_and_agree=False))
        for name, res in r["peers"].items():
            out.append([""] * 4 + _library_row(name, res, r["flops"]))
    return out


def table_text(results):
    body = rows(results)
    widths = [max([len(c)] + [len(row[i]) for row in body]) for i, c in enumerate(COLUMNS)]

    def line(cells):
        return "  ".join(c.ljust(w) if name in _LEFT else c.rjust(w)
                         for c, w, name in zip(cells, widths, COLUMNS)).rstrip()

    out = [line(COLUMNS), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    for row in body:
        if row[0] and len(out) > 2:
            out.append("")
        out.append(line(row))
    return "\n".join(out)


def table_markdown(results):
    out = ["| " + " | ".join(COLUMNS) + " |",
           "|" + "|".join("---" if c in _LEFT else "---:" for c in COLUMNS) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(out)


def legend(results):
    """Shape order per case and how to read the ratio."""
    dims = {}
    for r in results:
        dims.setdefault(r["case"], " x ".join(r["dims"]))
    lines = ["shapes: " + "; ".join(f"{case} {d}" for case, d in dims.items())] if dims else []
    lines.append("peer/fastml: peer time / fastml time per round (median over rounds, alternating runs);"
                 " > 1 means fastml is faster.")
    lines.append("%peak: of the machine's FMA peak per thread x threads (GFLOP/s) or measured memory bandwidth (GB/s);"
                 " agree: max |fastml - peer| / max |peer| vs the case's tolerance.")
    return "\n".join(lines)


def header_lines(machine, settings):
    v = ", ".join(f"{k} {val}" for k, val in machine["versions"].items())
    p = machine["peaks"]
    peaks = (f"float32 {p['gflops_float32_per_thread']:.1f} GFLOP/s, float64 {p['gflops_float64_per_thread']:.1f}"
             f" GFLOP/s per thread; memory {p['mem_gbps']:.1f} GB/s")
    lines = [
        f"fastml bench: {machine['cpu']}, {machine['cpus']} CPUs, SIMD {machine['simd']}"
        f" (GEMM {machine['gemm_kernels']['float32']}, {machine['gemm_kernels']['float64']}), {machine['openmp']}",
        f"versions: {v}; numpy BLAS: {machine['numpy_blas']}",
        f"peak: {peaks}",
        f"run: sizes {settings['size']}, threads {','.join(map(str, settings['threads']))},"
        f" {settings['repeat']} rounds, samples >= {settings['min_time'] * 1e3:g} ms",
    ]
    load = machine.get("load_average")
    if load is not None and load >= 0.5:
        lines.append(f"warning: load average {load:.2f} before the run: other processes use the CPUs,"
                     " so timings (most of all on all threads) are noisy")
    return lines


def header_text(machine, settings):
    return "\n".join(header_lines(machine, settings))


def markdown(machine, settings, results):
    """Header as a list, the table, the legend."""
    head = "\n".join("- " + line for line in header_lines(machine, settings))
    return f"{head}\n\n{table_markdown(results)}\n\n{legend(results)}\n"


def _json_safe(obj):
    """JSON has no inf/nan: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(path, machine, settings, results, interrupted):
    doc = {"machine": machine, "settings": settings, "interrupted": interrupted, "results": results}
    with open(path, "w") as f:
        json.dump(_json_safe(doc), f, indent=1)


def write_plot(path, results):
    """Bars of peer/fastml per job and peer.  Returns None, or why no plot was made."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "--plot needs matplotlib: pip install matplotlib (or fastml[plot]); no plot written"
    labels = [f"{r['case']} {'x'.join(map(str, r['shape']))}\n{r['dtype']} t={r['threads']}" for r in results]
    peers = list(dict.fromkeys(name for r in results for name in r["peers"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(results) + 2), 4.5))
    width = 0.8 / max(len(peers), 1)
    for j, name in enumerate(peers):
        xs, ys = [], []
        for i, r in enumerate(results):
            ratio = r["peers"].get(name, {}).get("ratio")
            if ratio is not None:
                xs.append(i + (j - (len(peers) - 1) / 2) * width)
                ys.append(ratio)
        # from 1 up (fastml faster) or down (slower), on a log scale
        ax.bar(xs, [y - 1.0 for y in ys], width, bottom=1.0, label=name)
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("peer time / fastml time  (> 1: fastml faster)")
    ax.set_title("fastml speedup over peers")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
