"""pytest-benchmark over the registry of ``fastml.bench`` (no second copy of cases).

    pytest benchmarks/ --benchmark-only                      # quick sizes, 1 and all threads
    pytest benchmarks/ --benchmark-only --fastml-size full --fastml-threads 2

One test per case x shape x dtype x threads x library; the libraries of one
job share a pytest-benchmark group, so its table compares them.
"""
import fastml
from fastml.bench._case import MODES
from fastml.bench._harness import plan
from fastml.bench.cases import all_cases


def pytest_addoption(parser):
    group = parser.getgroup("fastml", "fastml benchmark suite")
    group.addoption("--fastml-size", default="quick", choices=MODES, help="shape set of the cases (default: quick)")
    group.addoption("--fastml-threads", default=None, metavar="N,M",
                    help=f"thread counts (default: 1,{fastml.get_num_threads()})")
    group.addoption("--fastml-only", default="", metavar="NAMES", help="case names or families, comma-separated")


def pytest_generate_tests(metafunc):
    if "job" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption
    threads = ([int(w) for w in opt("--fastml-threads").split(",")] if opt("--fastml-threads")
               else list(dict.fromkeys([1, fastml.get_num_threads()])))
    from fastml.bench.cases import select
    cases = select(all_cases(), [w for w in opt("--fastml-only").split(",") if w])
    params, ids = [], []
    for job in plan(cases, opt("--fastml-size"), threads):
        for library in ["fastml", *job.case.peers]:
            params.append((job, library))
            ids.append(f"{job.label().replace(' ', '-')}-{library}")
    metafunc.parametrize("job,library", params, ids=ids)
