"""show_config, SIMD selection and FASTML_SIMD."""
import io
import os
import subprocess
import sys

import pytest

import fastml
from fastml._config import set_simd_level
from fastml._lib import _core


def test_show_config_fields():
    buf = io.StringIO()
    fastml.show_config(file=buf)
    text = buf.getvalue()
    for key in ("fastml", "compiler", "openmp", "simd_detected", "simd_selected", "threads", "gemm_f32"):
        assert key in text
    assert fastml.__version__ in text


def test_set_simd_level_caps_and_rejects():
    before = fastml.simd_level()
    try:
        assert set_simd_level("scalar") == "scalar"
        assert _core.gemm_kernel_info("float32")["name"].endswith("__scalar")
        with pytest.raises(ValueError, match="level"):
            set_simd_level("sse9")
    finally:
        set_simd_level(before)
    assert fastml.simd_level() == before


@pytest.mark.parametrize("level", ["scalar", "avx2", "avx512"])
def test_fastml_simd_env(level):
    code = "import fastml; print(fastml.simd_level())"
    env = dict(os.environ, FASTML_SIMD=level)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    order = _core.SIMD_LEVELS
    expect = order[min(order.index(level), order.index(_core.simd_detected()))]
    assert out == expect
