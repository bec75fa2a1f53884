"""Ctrl-C: long fits and long kernels stop within about a second with
KeyboardInterrupt, and the process stays usable.

Each case runs in a child process (a hang fails by timeout, never stalls the
suite): the child builds its data, says "ready", starts a call that would run
for many seconds; the parent sends SIGINT and times the KeyboardInterrupt."""
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CASES = {
    # one C call with the GIL released: the kernels poll fml_interrupt
    "pairwise_distances": """
        X = np.ones((40000, 512), np.float32)
        go(lambda: fastml.metrics.pairwise_distances(X, X[:20000], metric="manhattan"))""",
    "scaled_dot_product_attention": """
        q = np.ones((8, 8, 8192, 64), np.float32)
        go(lambda: F.scaled_dot_product_attention(q, q, q))""",
    "knn": """
        X = np.random.default_rng(0).standard_normal((200, 64)).astype(np.float32)
        Y = np.tile(X, (5000, 1))
        go(lambda: fastml.neighbors.knn(np.tile(X, (100, 1)), Y, 5))""",
    "RandomForestClassifier": """
        X = np.random.default_rng(0).standard_normal((50000, 20)); y = (X[:, 0] > 0).astype(int)
        go(lambda: fastml.ensemble.RandomForestClassifier(n_estimators=5000).fit(X, y))""",
    # Python-level iterations: KeyboardInterrupt between two C steps
    "KMeans": """
        X = np.random.default_rng(0).standard_normal((200000, 32)).astype(np.float32)
        go(lambda: fastml.cluster.KMeans(512, init="random", n_init=1, max_iter=1000, tol=0,
                                         random_state=0).fit(X))""",
    "GradientBoostingClassifier": """
        X = np.random.default_rng(0).standard_normal((100000, 20)); y = (X[:, 0] > 0).astype(int)
        go(lambda: fastml.ensemble.GradientBoostingClassifier(max_iter=5000).fit(X, y))""",
}

CHILD = """
import signal, sys, time
# a shell without job control starts background jobs with SIGINT ignored, and
# Python keeps an ignored SIGINT: take Python's own handler, as an interactive
# session has it
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
import fastml
from fastml.nn import functional as F

def go(fn):
    print("ready", flush=True)
    t0 = time.perf_counter()
    try:
        fn()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        a = np.ones((64, 64), np.float32)            # still usable, threads and all
        assert np.allclose(fastml.linalg.matmul(a, a, n_threads=2), a @ a)
        print("usable", flush=True)
        sys.exit(0)
    print("finished after %.1f s without an interrupt" % (time.perf_counter() - t0), flush=True)
    sys.exit(3)
"""


def _readline(child, timeout):
    """The child's next stdout line, or "" after `timeout` seconds (a hang fails)."""
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    return child.stdout.readline().strip() if ready else ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("delay", [0.05, 0.4], ids=["early", "inside"])
@pytest.mark.parametrize("name", list(CASES))
def test_ctrl_c_stops_within_a_second(name, delay):
    """SIGINT soon after the call starts (still preparing) or well inside it."""
    code = CHILD + textwrap.dedent(CASES[name])
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        assert _readline(child, 120) == "ready", child.stderr.read() if child.poll() is not None else ""
        time.sleep(delay)
        t0 = time.perf_counter()
        child.send_signal(signal.SIGINT)
        line = _readline(child, 60)
        elapsed = time.perf_counter() - t0
        assert line == "interrupted", f"{name}: got {line!r} {elapsed:.1f} s after SIGINT"
        assert elapsed < 1.5, f"{name}: KeyboardInterrupt {elapsed:.2f} s after SIGINT"
        assert _readline(child, 60) == "usable"
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
