/* fml_cpu.h: CPU feature detection and the SIMD level used by kernels.
 *
 * Levels are ordered; a level is usable when the CPU and the OS (XSAVE state)
 * support every feature its ISA files are compiled with (see ISA_FLAGS in
 * setup.py): avx2 = AVX2 + FMA; avx512 = AVX-512 F/VL/BW/DQ plus avx2.
 * FASTML_SIMD=scalar|avx2|avx512 forces a level (capped at what the CPU has). */
#ifndef FML_CPU_H
#define FML_CPU_H

enum fml_simd_level { FML_SIMD_SCALAR = 0, FML_SIMD_AVX2 = 1, FML_SIMD_AVX512 = 2 };

/* The best level this CPU and this build support. */
int fml_cpu_detect(void);

/* The level to use: FASTML_SIMD if set (capped at fml_cpu_detect()), else the best. */
int fml_cpu_select(void);

/* "scalar", "avx2" or "avx512". */
const char *fml_simd_name(int level);

/* Orders streaming (non-temporal) stores before later stores: a kernel that
 * wrote with them calls this before its results are read by other threads. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(FML_NO_X86_SIMD)
#include <immintrin.h>
static inline void fml_store_fence(void) { _mm_sfence(); }
#else
static inline void fml_store_fence(void) {}
#endif

#endif
