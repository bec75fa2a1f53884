"""Build fastml's C/Cython extensions.

One extension per kernel family: ``fastml/_lib/_<family>.pyx`` together with
``csrc/<family>/*.c`` and the shared machinery in ``csrc/core/*.c``.

* ISA files (``*_avx2.c``, ``*_avx512.c``) are compiled with the flags of their
  SIMD level only; everything else is baseline x86-64 (no -march=native).  The
  right kernels are picked at import by a CPU-feature check (csrc/core/fml_cpu.c).
* OpenMP is used when the compiler accepts ``-fopenmp``; otherwise the build is
  a correct single-threaded one.
* ``FASTML_SANITIZE=address,undefined`` builds with sanitizers;
  ``FASTML_DEBUG=1`` turns on C asserts and Cython bounds checks.
"""
import os
import platform
import subprocess
import sys
import tempfile
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")

# Flags per SIMD level; the runtime check in fml_cpu.c tests exactly these features.
ISA_FLAGS = {
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
}

DEBUG = os.environ.get("FASTML_DEBUG", "") not in ("", "0")
SANITIZE = os.environ.get("FASTML_SANITIZE", "").strip()


def _compiler_accepts(cc, flags, source="int main(void){return 0;}\n"):
    """True when the C compiler builds and links a tiny program with `flags`."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write(source)
        try:
            r = subprocess.run(cc + [src, "-o", os.path.join(tmp, "t")] + flags,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            return False
        return r.returncode == 0


def _isa_of(path):
    name = os.path.basename(path)
    for isa in ISA_FLAGS:
        if name.endswith("_" + isa + ".c"):
            return isa
    return None


class BuildExt(build_ext):
    """Compile ISA files with their own flags, the rest with the baseline."""

    def build_extensions(self):
        cc = list(self.compiler.compiler_so[:1])
        openmp = os.environ.get("FASTML_NO_OPENMP", "") in ("", "0") and _compiler_accepts(
            cc, ["-fopenmp"], "#include <omp.h>\nint main(void){return omp_get_max_threads()>0?0:1;}\n")
        if not openmp:
            print("fastml: the compiler has no OpenMP; building single-threaded", file=sys.stderr)
        common = ["-std=c11", "-O3" if not DEBUG else "-O1", "-g0" if not DEBUG else "-g",
                  "-fno-math-errno", "-Wall", "-Wno-unused-function", "-Wno-unknown-pragmas"]
        if not DEBUG:
            common.append("-DNDEBUG")
        link = []
        if openmp:
            common.append("-fopenmp")
            link.append("-fopenmp")
        if SANITIZE:
            common += ["-fsanitize=" + SANITIZE, "-fno-omit-frame-pointer", "-g"]
            link += ["-fsanitize=" + SANITIZE]
        for ext in self.extensions:
            ext.extra_compile_args = common + list(ext.extra_compile_args)
            ext.extra_link_args = link + list(ext.extra_link_args)
        super().build_extensions()

    def build_extension(self, ext):
        plain, objects = [], []
        for src in ext.sources:
            isa = _isa_of(src)
            if isa is None:
                plain.append(src)
            elif IS_X86:
                objects += self.compiler.compile(
                    [src], output_dir=self.build_temp, include_dirs=ext.include_dirs,
                    macros=ext.define_macros, extra_postargs=ext.extra_compile_args + ISA_FLAGS[isa],
                    debug=self.debug)
        ext.sources = plain
        ext.extra_objects = list(ext.extra_objects) + objects
        super().build_extension(ext)


def _family_extension(family, c_dirs):
    sources = [os.path.join("fastml", "_lib", "_%s.pyx" % family)]
    header_dirs = []
    for d in ["core"] + c_dirs:      # a folder, or one file of another family
        if d.endswith(".c"):
            sources.append(os.path.join("csrc", d))
            header_dirs.append(os.path.dirname(d))
        else:
            sources += sorted(glob(os.path.join("csrc", d, "*.c")))
            header_dirs.append(d)
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if not IS_X86:
        macros.append(("FML_NO_X86_SIMD", "1"))
    # headers and ISA files as dependencies: build_ext compiles the ISA files
    # itself, so without this an edit to one of them would not trigger a rebuild
    depends = [src for src in sources if _isa_of(src)] + sorted(
        sum((glob(os.path.join("csrc", d, "*.h")) for d in sorted(set(header_dirs))), []))
    return Extension("fastml._lib._" + family, sources=sources, depends=depends,
                     include_dirs=["csrc", np.get_include()], define_macros=macros)


# family -> C folders beside csrc/core that it compiles (or single files of
# another folder, for a shared kernel).  A new family adds a line.
FAMILIES = {
    "core": [],
    "kmeans": ["kmeans", "distance/distance_i8_avx2.c", "distance/distance_i8_pack.c"],
    "trees": ["trees"],
    "distance": ["distance"],
    "attention": ["attention"],
    "conv": ["conv"],
}

directives = {"language_level": 3, "boundscheck": DEBUG, "wraparound": False,
              "cdivision": True, "initializedcheck": DEBUG}
extensions = [_family_extension(f, dirs) for f, dirs in FAMILIES.items()]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives, quiet=True),
    cmdclass={"build_ext": BuildExt},
)
