/* fml_gemm.c: the portable GEMM driver, instantiated for float and double, and the
 * per-module kernel selection.  Micro-kernels live in fml_gemm_ukr_<isa>.c. */
#include "core/fml_gemm.h"

#include <string.h>

#include "core/fml_cpu.h"
#include "core/fml_dtype.h"
#include "core/fml_scratch.h"
#include "core/fml_interrupt.h"
#include "core/fml_prefetch.h"
#include "core/fml_threads.h"

/* Below this much work per thread a GEMM uses fewer threads.  Work counts
 * float32 flops; a float64 flop counts twice (half the SIMD lanes).  Measured on
 * a 2-core AVX-512 machine (matmul n_threads=1 vs 2): 2 threads win from about
 * 160^3 float32 and 128^3 float64 (8 and 4 Mflop). */
double fml_gemm_min_flops_per_thread = 4.0e6;
#define FML_GEMM_MIN_FLOPS_PER_THREAD fml_gemm_min_flops_per_thread
#define FML_PACK_MIN_ELEMS_PER_THREAD 65536.0
/* A matrix this big is shared by the team block by block; smaller ones in a
 * batch go one per thread. */
#define FML_GEMM_BLOCK_PARALLEL_FLOPS 8.0e6

static fml_gemm_kernel_f32 g_kernel_f32;
static fml_gemm_kernel_f64 g_kernel_f64;
static int g_level = -1;

int fml_gemm_init(int level)
{
#ifndef FML_NO_X86_SIMD
    if (level >= FML_SIMD_AVX512) {
        fml_gemm_kernels_avx512(&g_kernel_f32, &g_kernel_f64);
        return g_level = FML_SIMD_AVX512;
    }
    if (level >= FML_SIMD_AVX2) {
        fml_gemm_kernels_avx2(&g_kernel_f32, &g_kernel_f64);
        return g_level = FML_SIMD_AVX2;
    }
#endif
    fml_gemm_kernels_scalar(&g_kernel_f32, &g_kernel_f64);
    return g_level = FML_SIMD_SCALAR;
}

static void ensure_init(void)
{
    if (g_level < 0) fml_gemm_init(fml_cpu_select());
}

const fml_gemm_kernel_f32 *fml_gemm_kernel_get_f32(void) { ensure_init(); return &g_kernel_f32; }
const fml_gemm_kernel_f64 *fml_gemm_kernel_get_f64(void) { ensure_init(); return &g_kernel_f64; }

void fml_gemm_packed_b_free(fml_gemm_packed_b *pb)
{
    if (pb == NULL) return;
    fml_scratch_free(pb->data);
    pb->data = NULL;
}

#define FT float
#define SFX f32
#include "core/fml_gemm_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "core/fml_gemm_impl.h"
#include "core/fml_dtype_end.h"
