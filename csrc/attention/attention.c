/* attention.c: attention drivers for float and double (bodies in
 * attention_impl.h) and the per-module kernel selection.  Micro-kernels and row
 * kernels live in attention_{scalar,avx2,avx512}.c. */
#include "attention/attention.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention/attention_kernels.h"
#include "attention/attention_rng.h"
#include "core/fml_cpu.h"
#include "core/fml_dtype.h"
#include "core/fml_gemm.h"
#include "core/fml_scratch.h"
#include "core/fml_interrupt.h"
#include "core/fml_threads.h"

/* Keys per block (one online-softmax step; at most FML_ATTN_TILE_LD - 16) and
 * query rows per task (rounded to the tile height).  Variables only so that the
 * tuning aid fml_attention_set_blocking can change them. */
int64_t fml_attention_kb = 256;
int64_t fml_attention_qrows = 64;
#define FML_ATTN_KB fml_attention_kb
#define FML_ATTN_QROWS fml_attention_qrows
/* Bytes of packed K/V heads held at once (heads are packed in waves). */
#define FML_ATTN_PACK_BUDGET ((int64_t)8 << 20)
/* With at least this many heads per thread, one task per head (see the forward). */
#define FML_ATTN_HEADS_PER_THREAD 4
/* The backward splits each problem's queries into up to FML_ATTN_BWD_MAX_CHUNKS
 * chunks of at least FML_ATTN_BWD_CHUNK_MIN_ROWS rows when there are fewer than
 * FML_ATTN_BWD_SPLIT_BELOW problems (so that few heads still use the team). */
#define FML_ATTN_BWD_SPLIT_BELOW 8
#define FML_ATTN_BWD_CHUNK_MIN_ROWS 512
#define FML_ATTN_BWD_MAX_CHUNKS 4
/* Per-thread scratch slot (fml_scratch.h); the core GEMM uses 0-2. */
#define FML_ATTN_SCRATCH_SLOT 3
/* Work (flops) per thread below which attention stays on one thread. */
#define FML_ATTN_MIN_FLOPS_PER_THREAD 4.0e6

static fml_attention_kernels_f32 g_kernels_f32;
static fml_attention_kernels_f64 g_kernels_f64;
static int g_level = -1;

int fml_attention_init(int level)
{
    level = fml_gemm_init(level);    /* linear() runs on the core GEMM of this module */
#ifndef FML_NO_X86_SIMD
    if (level >= FML_SIMD_AVX512)
        fml_attention_kernels_avx512(&g_kernels_f32, &g_kernels_f64);
    else if (level >= FML_SIMD_AVX2)
        fml_attention_kernels_avx2(&g_kernels_f32, &g_kernels_f64);
    else
#endif
        fml_attention_kernels_scalar(&g_kernels_f32, &g_kernels_f64);
    return g_level = level;
}

static void ensure_init(void)
{
    if (g_level < 0) fml_attention_init(fml_cpu_select());
}

const fml_attention_kernels_f32 *fml_attention_kernels_get_f32(void)
{
    ensure_init();
    return &g_kernels_f32;
}

const fml_attention_kernels_f64 *fml_attention_kernels_get_f64(void)
{
    ensure_init();
    return &g_kernels_f64;
}

/* Fraction of the L x S score matrix a causal mask leaves. */
static double attn_causal_fraction(int causal, int64_t L, int64_t S)
{
    if (!causal || L <= 0 || S <= 0) return 1.0;
    const double l = (double)L, s = (double)S;
    return L >= S ? 1.0 - s * (s - 1) / 2.0 / (l * s) : l * (l + 1) / 2.0 / (l * s);
}

#define FT float
#define SFX f32
#include "attention/attention_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "attention/attention_impl.h"
#include "core/fml_dtype_end.h"
