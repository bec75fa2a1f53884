"""The flash structure's memory bar: (1, 1, 16384, 64) float32 attention needs
far less extra memory than the 1 GiB score matrix (issue bar: under 64 MiB).

Measured in a fresh process: the peak resident set size (VmHWM, which a new
process image starts afresh, unlike ru_maxrss, inherited from the parent at
fork) after the call minus the resident size (VmRSS) just before it, inputs
already allocated; the difference includes the 4 MiB output."""
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import sys
import numpy as np
from fastml.nn.functional import scaled_dot_product_attention as sdpa

def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

rng = np.random.default_rng(0)
L, D = int(sys.argv[1]), 64
q, k, v = (rng.standard_normal((1, 1, L, D), dtype=np.float32) for _ in range(3))
sdpa(q[..., :64, :], k[..., :64, :], v[..., :64, :], is_causal=bool(int(sys.argv[2])))  # warm up
before = status_kib("VmRSS")
out = sdpa(q, k, v, is_causal=bool(int(sys.argv[2])))
peak = status_kib("VmHWM")
assert np.isfinite(out).all()
print(max(peak - before, 0) / 1024.0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's shadow memory and quarantine inflate the RSS")
@pytest.mark.parametrize("causal", [0, 1])
def test_long_sequence_extra_memory_is_small(causal):
    res = subprocess.run([sys.executable, "-c", SCRIPT, "16384", str(causal)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    extra_mib = float(res.stdout.strip().splitlines()[-1])
    assert extra_mib < 64, f"peak extra memory {extra_mib:.1f} MiB"
