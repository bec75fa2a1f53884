"""``python -m fastml.bench`` / ``fastml-bench``: the microbenchmark suite.

Examples:
    python -m fastml.bench --quick                 # whole suite, small sizes
    python -m fastml.bench --only gemm --threads 1,2 --json out.json
    python -m fastml.bench --list
"""
import argparse
import sys

import fastml
from fastml.bench import _harness, _report
from fastml.bench._case import MODES
from fastml.bench._machine import machine_info
from fastml.bench._peers import NOT_INSTALLED, installed
from fastml.bench._progress import Progress
from fastml.bench.cases import all_cases, select

# rounds per job and the shortest sample, per size: the quick suite must
# finish in under 2 minutes on 2 cores.
# (rounds, shortest sample in s): --quick keeps the whole suite to a few minutes
DEFAULTS = {"smoke": (1, 0.0), "quick": (3, 0.01), "full": (7, 0.05)}


def _words(text):
    return [w.strip() for w in text.split(",") if w.strip()]


def _thread_counts(text):
    try:
        counts = [int(w) for w in _words(text)]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 1,2; got {text!r}")
    return list(dict.fromkeys(counts))


def parser():
    p = argparse.ArgumentParser(prog="python -m fastml.bench",
                                description="fastml's microbenchmarks against NumPy, PyTorch and the other "
                                            "installed peers, measured in one run on this machine.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="size",
                      help="small sizes: the whole suite in a minute or two")
    size.add_argument("--size", choices=MODES, help="shape set (default: full; smoke = tiny, for tests)")
    p.add_argument("--only", type=_words, default=[], metavar="NAMES",
                   help="comma-separated case names or families, e.g. gemm,gemm_at")
    p.add_argument("--dtype", type=_words, default=[], metavar="DTYPES", help="e.g. float32")
    p.add_argument("--threads", type=_thread_counts, default=None, metavar="N,M",
                   help=f"thread counts to run (default: 1,{fastml.get_num_threads()})")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="rounds of alternating samples per job (default: 7)")
    p.add_argument("--min-time", type=float, default=None, metavar="SECONDS",
                   help="shortest sample; tiny kernels are called in batches (default: 0.01 quick, 0.05 full)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--list", action="store_true", help="list the cases and peers, run nothing")
    p.add_argument("--json", metavar="FILE", help="write machine and results as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="speedup bars per case (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def list_cases(cases, out):
    for c in cases:
        peers = ", ".join(f"{n}" + ("" if installed(p.module) else f" ({NOT_INSTALLED})") for n, p in c.peers.items())
        print(f"{c.name}  [{c.family}]  shape {' x '.join(c.dims)}  dtypes {', '.join(c.dtypes)}", file=out)
        for mode in ("quick", "full"):
            print(f"    {mode:<5}: {', '.join(_harness.shape_text(s) for s in c.shapes(mode))}", file=out)
        print(f"    peers: {peers}", file=out)


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return _main(args, sys.stdout)
    except KeyboardInterrupt:    # before or after the timed jobs (the harness handles those)
        print("\nfastml.bench: interrupted", file=sys.stderr)
        return 130


def _main(args, out):
    try:
        cases = select(all_cases(), args.only)
    except ValueError as exc:
        print(f"fastml.bench: {exc}", file=sys.stderr)
        return 2
    if args.list:
        list_cases(cases, out)
        return 0

    size = args.size or "full"
    repeat, min_time = DEFAULTS[size]
    settings = {"size": size,
                "threads": args.threads or list(dict.fromkeys([1, fastml.get_num_threads()])),
                "repeat": max(1, args.repeat if args.repeat is not None else repeat),
                "min_time": args.min_time if args.min_time is not None else min_time,
                "seed": args.seed}
    jobs = _harness.plan(cases, size, settings["threads"], args.dtype)
    if not jobs:
        print("fastml.bench: no case matches these options", file=sys.stderr)
        return 2

    machine = machine_info(cases)
    print(_report.header_text(machine, settings), file=out, flush=True)
    progress = None if args.no_progress else Progress()
    results, interrupted = _harness.run(jobs, progress=progress, repeat=settings["repeat"],
                                        min_time=settings["min_time"], peak=machine["peaks"], seed=args.seed)
    if progress:
        progress.close()

    print(file=out)
    if results:
        print(_report.table_text(results), file=out)
        print(file=out)
        print(_report.legend(results), file=out)
    if interrupted:
        print(f"interrupted: {len(results)} of {len(jobs)} jobs finished", file=out)
    if args.json:
        _report.write_json(args.json, machine, settings, results, interrupted)
        print(f"wrote {args.json}", file=out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(_report.markdown(machine, settings, results))
        print(f"wrote {args.markdown}", file=out)
    if args.plot:
        why_not = _report.write_plot(args.plot, results)
        print(why_not or f"wrote {args.plot}", file=sys.stderr if why_not else out)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
