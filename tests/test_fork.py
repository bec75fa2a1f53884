"""fork() after fastml used its OpenMP team: the child must not hang.

GNU OpenMP's thread pool does not survive fork; fastml runs single-threaded in
the child.  Each case runs in a subprocess with a timeout, so a hang fails the
test instead of stalling the suite."""
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import os, numpy as np, fastml
    from fastml.linalg import matmul
    from fastml.cluster import KMeans
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 300))
    X = rng.standard_normal((20000, 10)).astype(np.float32)
    before = matmul(a, a.T, n_threads=2)
    km = KMeans(8, random_state=0, n_threads=2).fit(X)
    pid = os.fork()
    if pid == 0:
        ok = fastml.get_num_threads() == 1
        ok &= matmul(a, a.T, n_threads=2).tobytes() == before.tobytes()
        ok &= KMeans(8, random_state=0, n_threads=2).fit(X).inertia_ == km.inertia_
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    assert fastml.get_num_threads() >= 1
    print("ok")
""")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_forked_child_computes_without_hanging():
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
