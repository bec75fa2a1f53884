"""Impossible sizes fail cleanly and early; offsets past 2**31 elements work.

A request whose output cannot be allocated raises MemoryError naming the size
before any work starts (each case here would take hours if it started).  The
64-bit test reads rows 8 GiB apart through a sparse memory-mapped file: only
the touched pages exist, so nothing large is allocated."""
import subprocess
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from fastml import linalg
from fastml.nn import functional as F

CASES = {
    "pairwise_distances": "metrics.pairwise_distances(_huge((HUGE, 4)), _huge((HUGE, 4)))",
    "rbf_kernel": "metrics.rbf_kernel(_huge((HUGE, 4)), _huge((HUGE, 4)))",
    "matmul": "linalg.matmul(_huge((HUGE, 1)), _huge((1, HUGE)))",
    "knn": "neighbors.knn(_huge((10**12 // 4, 1)), _huge((8, 1)), 8)",
    "conv2d": "F.conv2d(np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32), "
              "padding=HUGE)",
    "softmax": "F.softmax(_huge((HUGE, HUGE)))",
}

CHILD = """
import re, sys, time
import numpy as np
from fastml import linalg, metrics, neighbors
from fastml.nn import functional as F
HUGE = 10**6
def _huge(shape, dtype=np.float32):
    return np.broadcast_to(np.ones((), dtype), shape)     # zero-stride view: no memory
t0 = time.perf_counter()
try:
    {call}
except MemoryError as e:
    ok = re.search(r"[0-9.]+ [KMGTPE]i?B|shape|size", str(e)) is not None
    print("MemoryError" if ok else "MemoryError without a size: " + str(e), time.perf_counter() - t0)
    sys.exit(0)
print("no MemoryError")
"""


@pytest.mark.parametrize("name", list(CASES))
def test_impossible_output_raises_memory_error_at_once(name):
    """In a child process with a timeout: if the allocation ever succeeded, the
    work would run for hours; that must fail the test, not stall the suite."""
    proc = subprocess.run([sys.executable, "-c", CHILD.format(call=CASES[name])],
                          capture_output=True, text=True, timeout=120)
    word, *rest = proc.stdout.split() or [""]
    assert proc.returncode == 0 and word == "MemoryError", (proc.stdout, proc.stderr[-2000:])
    assert float(rest[-1]) < 5.0, "work started before the allocation failed"


def test_kmeans_workspace_size_is_64_bit():
    from fastml._lib import _kmeans
    # 64 chunks of k*d sums plus k weights: 64 * (2**32 + 2**20), past 2**31
    assert _kmeans.workspace_len(2**33, 2**20, 2**12) == 64 * (2**32 + 2**20)


def test_conv_shape_arithmetic_is_exact_past_2_31():
    shape = F.conv_output_shape((2**20, 64, 2**14, 2**14), (64, 64, 3, 3), padding=1)
    assert shape == (2**20, 64, 2**14, 2**14)
    assert F.conv2d_flops((2**20, 64, 2**14, 2**14), (64, 64, 3, 3), padding=1) == \
        2 * 2**20 * 64 * 2**28 * 64 * 9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_reads_rows_8_gib_apart(tmp_path, dtype):
    item = np.dtype(dtype).itemsize
    row_stride = (2**31 + 64) * item                       # element offset past 2**31
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(3 * row_stride)                          # sparse: no blocks allocated
    mm = np.memmap(path, dtype=dtype, mode="r+")
    a = as_strided(mm, shape=(3, 16), strides=(row_stride, item))
    rng = np.random.default_rng(0)
    a[...] = rng.standard_normal((3, 16))                   # touches 3 pages
    b = rng.standard_normal((16, 5)).astype(dtype)
    expect = np.asarray(a, dtype=np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(linalg.matmul(a, b), expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(linalg.matmul(b.T, a.T), expect.T, rtol=1e-5, atol=1e-5)
    del a, mm
