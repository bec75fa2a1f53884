/* conv.c: convolution, pooling, batch-norm and ReLU drivers for float and double
 * (bodies in conv_impl.h), the plane layout shared by all of them, the
 * portable (scalar) kernels and the per-module kernel selection.  The SIMD
 * tiles live in conv_avx2.c / conv_avx512.c. */
#include "conv/conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fml_cpu.h"
#include "core/fml_dtype.h"
#include "core/fml_gemm.h"
#include "core/fml_scratch.h"
#include "core/fml_interrupt.h"
#include "core/fml_threads.h"
#include "conv/conv_kernels.h"
#include "conv/conv_plan.h"

/* Scratch slot of the band buffers (the GEMM core uses slots 0-2). */
#define FML_CONV_SLOT 3
/* Bytes of input planes one forward task copies or reads (its band): small
 * enough to stay in L2 while every output channel of the band is computed
 * (measured on a zero-copy 1x1, 256 -> 64 channels at 56x56: 128 KB 171
 * GFLOP/s, 256 KB 162, 512 KB 143). */
#define FML_CONV_BAND_BYTES (128 * 1024)
/* The channels-in-lanes tile reads its packed weights once per band: larger
 * bands (measured on 3x3 stride 2, 128 channels at 28x28: 1 MB 166 GFLOP/s,
 * 512 KB 155, 256 KB 146, 128 KB 137). */
#define FML_CONV_CTILE_BAND_BYTES (1024 * 1024)
/* The weight gradient keeps a band's input and output gradient in L2 for all
 * (channel, tap) tiles: larger bands amortise the tile's final lane sums. */
#define FML_CONV_GW_BAND_BYTES (2 * 1024 * 1024)
/* The packed-pixel tile (conv_pgemm_impl.h): bytes of one panel of packed
 * pixels (kc taps x nr pixels, kept in L1), of the weights one block of
 * channel tiles uses per tap block (kept in L2), and how many panels ahead a
 * zero-copy pass prefetches the planes. */
#define FML_CONV_PGEMM_PANEL_BYTES (16 * 1024)
#define FML_CONV_PGEMM_WEIGHT_BYTES (256 * 1024)
#define FML_CONV_PGEMM_PF_PANELS 2
/* Fewest taps per output (c/groups x kh x kw) for which a band-copy pass packs
 * its pixels too (measured, 3x3 stride 2, 8 images, 1 / 2 threads, flat ->
 * packed: 384 -> 384 channels at 14x14 (3456 taps) 27.7 -> 17.1 / 13.3 ->
 * 8.9 ms; 512 at 14x14 47.6 -> 30.4 / 24.9 -> 16.5 ms; 1024 at 14x14 211 ->
 * 125 / 110 -> 66 ms; 512 at 8x8 equal / 12.4 -> 11.4 ms). */
#define FML_CONV_PACKED_MIN_K 3072
/* The 3x3 stride-2 Winograd pass: bytes of transformed input and products
 * ((25 c + 9 o) x tiles) per chunk of images (kept in L3). */
#define FML_CONV_WINO2_BYTES (16 * 1024 * 1024)
#define FML_CONV_PGEMM_BAND_BYTES (1024 * 1024)
/* Work (flops, or element reads for pooling) per thread below which a call
 * stays on one thread. */
#define FML_CONV_MIN_WORK_PER_THREAD 2.0e6
/* Weight-gradient partial sums: at most this many chunks, and at most this
 * many doubles over all chunks. */
#define FML_CONV_GW_MAX_CHUNKS 16
#define FML_CONV_GW_MAX_PARTIAL (8 * 1024 * 1024)
/* Fewest input and output channels for Winograd F(2x2, 3x3). */
#define FML_CONV_WINO_MIN_CH 16
/* Fewest 2x2 output tiles (over the batch) for the stride-2 Winograd pass:
 * below, transforming the weights costs more than the products save
 * (measured, 1 thread, against the direct kernels: 1x128x28x28, 49 tiles,
 * 1.02x slower; 8x256x14x14, 128 tiles, 1.36x slower; 2x64x57x57, 450 tiles,
 * 0.82x; 8x128x28x28, 392 tiles, 0.71x). */
#define FML_CONV_WINO2_MIN_TILES 256
/* Cost of the channels-in-lanes tile's transposed stores, in k-loop iterations
 * per tile: its overhead is about this / k (measured: 148 GFLOP/s at k = 64,
 * 184 at k = 256, against about 200 for the k loop alone). */
#define FML_CONV_SCATTER_COST 22.0

/* ---- the plane layout (see conv.h and the diagram in conv_impl.h) ---------- */

static void plan_free(conv_plan *p)
{
    free(p->ph_idx_h);
    free(p->ph_idx_w);
    free(p->ph_val_h);
    free(p->ph_val_w);
    p->ph_idx_h = p->ph_idx_w = p->ph_val_h = p->ph_val_w = NULL;
}

/* Phases (k*d mod s for k < kn) in use: idx[phase] = plane index or -1. */
static int64_t plan_phases(int64_t kn, int64_t d, int64_t s, int64_t *idx, int64_t *val)
{
    for (int64_t r = 0; r < s; r++) idx[r] = -1;
    for (int64_t k = 0; k < kn; k++) idx[(k * d) % s] = 0;
    int64_t n = 0;
    for (int64_t r = 0; r < s; r++)
        if (idx[r] >= 0) {
            val[n] = r;
            idx[r] = n++;
        }
    return n;
}

/* Fill the plan of pass g (uh, uw) with bands of at most band_bytes (elem bytes
 * each) of planes, plus extra_ch rows of plane width per band row (the weight
 * gradient's copy of the output gradient); min_tasks: fewer rows per band when
 * the batch is small. */
static int plan_make(conv_plan *p, const fml_conv2d_geom *g, int64_t uh, int64_t uw,
                     int64_t elem, int64_t band_bytes, int64_t min_tasks, int64_t extra_ch)
{
    memset(p, 0, sizeof(*p));
    p->g = *g;
    p->uh = uh;
    p->uw = uw;
    p->ph_idx_h = (int64_t *)malloc((size_t)g->sh * sizeof(int64_t));
    p->ph_val_h = (int64_t *)malloc((size_t)g->sh * sizeof(int64_t));
    p->ph_idx_w = (int64_t *)malloc((size_t)g->sw * sizeof(int64_t));
    p->ph_val_w = (int64_t *)malloc((size_t)g->sw * sizeof(int64_t));
    if (!p->ph_idx_h || !p->ph_val_h || !p->ph_idx_w || !p->ph_val_w) {
        plan_free(p);
        return FML_ENOMEM;
    }
    p->nph_h = plan_phases(g->kh, g->dh, g->sh, p->ph_idx_h, p->ph_val_h);
    p->nph_w = plan_phases(g->kw, g->dw, g->sw, p->ph_idx_w, p->ph_val_w);
    p->zero_copy = g->sh == 1 && g->sw == 1 && uh == 1 && uw == 1 && g->ph0 == 0 &&
                   g->ph1 == 0 && g->pw0 == 0 && g->pw1 == 0;
    p->rowoff = ((g->kh - 1) * g->dh) / g->sh;
    p->wq = p->zero_copy ? g->w : g->wo + ((g->kw - 1) * g->dw) / g->sw;
    const int64_t per_row = (g->c * p->nph_h * p->nph_w + extra_ch) * p->wq * elem;
    int64_t rows = band_bytes / (per_row > 0 ? per_row : 1) - p->rowoff;
    if (rows < 1) rows = 1;
    /* enough tasks for a team when the batch is small (depends on shapes only) */
    const int64_t per_image = (min_tasks + g->n - 1) / g->n;
    if (per_image > 1) {
        const int64_t cap = (g->ho + per_image - 1) / per_image;
        if (rows > cap) rows = cap;
    }
    if (rows > g->ho) rows = g->ho;
    p->rows = rows;
    p->n_bands = (g->ho + rows - 1) / rows;
    if (p->zero_copy) {
        p->ps = g->h * g->w;
        p->band_elems = 0;
    } else {
        p->ps = (rows + p->rowoff) * p->wq;
        p->band_elems = g->c * p->nph_h * p->nph_w * p->ps;
    }
    return FML_OK;
}

/* off[(c*kh + a)*kw + b] for channels c < cg: where tap (c, a, b) of the flat
 * pixel 0 lies in the planes. */
static void plan_offsets(const conv_plan *p, int64_t cg, int64_t *off)
{
    const fml_conv2d_geom *g = &p->g;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t a = 0; a < g->kh; a++)
            for (int64_t b = 0; b < g->kw; b++) {
                const int64_t ra = p->ph_idx_h[(a * g->dh) % g->sh];
                const int64_t rb = p->ph_idx_w[(b * g->dw) % g->sw];
                off[(c * g->kh + a) * g->kw + b] =
                    ((c * p->nph_h + ra) * p->nph_w + rb) * p->ps +
                    ((a * g->dh) / g->sh) * p->wq + (b * g->dw) / g->sw;
            }
}

/* Mask with the low n bits set (0 <= n <= 32). */
static inline uint32_t fml_conv_bits(int64_t n)
{
    return n <= 0 ? 0u : (n >= 32 ? 0xffffffffu : (1u << n) - 1u);
}

/* Most spans and segments a band of `rows` output rows can need with tiles of
 * nv vectors of vl lanes: per vector, one segment per output row it touches. */
static int64_t band_max_spans(int64_t rows, int64_t wq, int64_t nr)
{
    return (rows * wq + nr - 1) / nr + 1;
}

static int64_t band_max_segs(int64_t rows, int64_t wq, int64_t nv, int64_t vl)
{
    return band_max_spans(rows, wq, nv * vl) * nv * (vl / wq + 2);
}

/* Spans of the flat pixels [0, nflat) of a band in tiles of nv*vl, and their
 * store segments (flat pixel q is output (q / wq, q % wq), stored when
 * q % wq < wo; delta = output offset of lane 0 from the band's first output
 * row).  Returns the number of spans. */
static int64_t band_spans(int64_t nflat, int64_t wq, int64_t wo, int64_t nv, int64_t vl,
                          fml_conv_span *span, fml_conv_seg *seg)
{
    const int64_t nr = nv * vl;
    int64_t nspan = 0, ns = 0;
    for (int64_t q0 = 0; q0 < nflat; q0 += nr) {
        span[nspan].q0 = q0;
        span[nspan].nload = FML_MIN(nr, nflat - q0);
        span[nspan].s0 = (int32_t)ns;
        for (int64_t v = 0; v < nv; v++) {
            const int64_t qs = q0 + v * vl;
            const int64_t qe = FML_MIN(qs + vl, nflat);
            if (qs >= qe) break;
            for (int64_t r = qs / wq; r * wq < qe; r++) {
                const int64_t lo = FML_MAX(qs, r * wq), hi = FML_MIN(qe, r * wq + wo);
                if (lo >= hi) continue;
                seg[ns].delta = r * wo - r * wq + qs;
                seg[ns].mask = fml_conv_bits(hi - qs) & ~fml_conv_bits(lo - qs);
                seg[ns].v = (int32_t)v;
                ns++;
            }
        }
        span[nspan].ns = (int32_t)(ns - span[nspan].s0);
        nspan++;
    }
    return nspan;
}

/* Tiles of the channels-in-lanes kernel over the flat pixels [0, nflat) of a
 * band: each starts at a stored pixel and covers the next cmr flat pixels
 * (pad columns inside are computed, not stored).  Returns the number of tiles. */
static int64_t band_cspans(int64_t nflat, int64_t wq, int64_t wo, int64_t cmr,
                           fml_conv_cspan *span)
{
    int64_t n = 0, q = 0;
    while (q < nflat) {
        if (q % wq >= wo) {                        /* skip to the next row's first pixel */
            q = (q / wq + 1) * wq;
            continue;
        }
        span[n].q0 = q;
        for (int64_t i = 0; i < FML_CONV_CMR_MAX; i++) {
            const int64_t p = q + i;
            span[n].out[i] = i < cmr && p < nflat && p % wq < wo
                                 ? (int32_t)((p / wq) * wo + p % wq) : -1;
        }
        n++;
        q += cmr;
    }
    return n;
}

static int64_t band_max_cspans(int64_t rows, int64_t wq, int64_t cmr)
{
    return rows * ((wq + cmr - 1) / cmr + 1) + 1;
}

/* Work estimate of a forward pass (useful flops / flops computed, with the
 * tile's store cost as extra flops): flat-pixel tiles (mr channels x nv*vl
 * pixels) against channels-in-lanes tiles (cmr pixels x cnr channels). */
static double plan_eff_flat(const conv_plan *p, int64_t og, int64_t k, int64_t mr, int64_t nv,
                            int64_t vl)
{
    const fml_conv2d_geom *g = &p->g;
    const int64_t nr = nv * vl;
    double computed = 0;
    for (int64_t b = 0; b < p->n_bands; b++) {
        const int64_t rb = FML_MIN(p->rows, g->ho - b * p->rows);
        const int64_t nflat = (rb - 1) * p->wq + g->wo, last = nflat % nr;
        computed += (double)(nflat / nr * nr) + (double)((last + vl - 1) / vl * vl);
    }
    const double fill = (double)og / (double)((og + mr - 1) / mr * mr);
    return (double)(g->ho * g->wo) / computed * fill / (1.0 + 2.0 / (double)FML_MAX(k, 1));
}

static double plan_eff_ctile(const conv_plan *p, int64_t og, int64_t k, int64_t cmr, int64_t cnr)
{
    const fml_conv2d_geom *g = &p->g;
    double tiles = 0;
    for (int64_t b = 0; b < p->n_bands; b++) {
        const int64_t rb = FML_MIN(p->rows, g->ho - b * p->rows);
        int64_t q = 0;
        const int64_t nflat = (rb - 1) * p->wq + g->wo;
        while (q < nflat) {
            if (q % p->wq >= g->wo) {
                q = (q / p->wq + 1) * p->wq;
                continue;
            }
            tiles += 1;
            q += cmr;
        }
    }
    const double fill = (double)og / (double)((og + cnr - 1) / cnr * cnr);
    /* a scatter per pixel and channel vector: about FML_CONV_SCATTER_COST / k */
    return (double)(g->ho * g->wo) / (tiles * (double)cmr) * fill /
           (1.0 + FML_CONV_SCATTER_COST / (double)FML_MAX(k, 1));
}

/* Per-thread span and segment lists of one band (malloc'd once per call). */
typedef struct {
    fml_conv_span *span;
    fml_conv_seg *seg;
} band_lists;

static int band_lists_alloc(band_lists *bl, int64_t rows, int64_t wq, int64_t nv, int64_t vl)
{
    bl->span = (fml_conv_span *)malloc((size_t)band_max_spans(rows, wq, nv * vl) * sizeof(fml_conv_span));
    bl->seg = (fml_conv_seg *)malloc((size_t)band_max_segs(rows, wq, nv, vl) * sizeof(fml_conv_seg));
    return bl->span != NULL && bl->seg != NULL ? FML_OK : FML_ENOMEM;
}

static void band_lists_free(band_lists *bl)
{
    free(bl->span);
    free(bl->seg);
}

/* ---- scalar kernels ---------------------------------------------------------- */

#define ISA scalar
#define VT FT
#define VL 1
#define MT int
#define VZERO() ((FT)0)
#define VSET1(x) ((FT)(x))
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VZIPLO(a, b) ((void)(b), (a))
#define VZIPHI(a, b) ((void)(a), (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMASK(bits) ((int)((bits) & 1u))
#define VMASKLOADU(p, m) ((m) ? *(p) : (FT)0)
#define VMASKSTOREU(p, m, v) do { if (m) *(p) = (v); } while (0)
#define VMASKLOADU_OR(f, m, p) ((m) ? *(p) : (f))
#define VUPDATE(best, tv, v, pv) do {                                                  \
        if ((v) > (best) || (v) != (v)) {                                             \
            best = (v);                                                               \
            tv = (pv);                                                                \
        }                                                                             \
    } while (0)
#define VMAXNAN(a, b) ((b) > (a) || (b) != (b) ? (b) : (a))
#define VANYNAN(v) ((v) != (v))
#define VEVEN(a, b) ((void)(b), (a))
#define VODD(a, b) ((void)(a), (b))
#define VNEXT(a, b) ((void)(a), (b))
#define DENSE_MR 4
#define DENSE_NV 4
#define DW_NV 8
#define POOL_NV 8
#define GWC_M 4
#define GWC_NV 4
#define CTILE_MR 4
#define CTILE_NV 4
#define PGEMM_MR 4
#define PGEMM_NV 8
#define PGEMM_MR_SHORT 2

#define FT float
#define SFX f32
#define DENSE_NAME FML_FN(conv_ukr_4x4)
#define DW_NAME FML_FN(conv_ukr_1x8)
#define CTILE_NAME FML_FN(conv_ctile_4x4)
#include "conv/conv_isa_inst.h"
#undef DENSE_NAME
#undef DW_NAME
#undef CTILE_NAME
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#define DENSE_NAME FML_FN(conv_ukr_4x4)
#define DW_NAME FML_FN(conv_ukr_1x8)
#define CTILE_NAME FML_FN(conv_ctile_4x4)
#include "conv/conv_isa_inst.h"
#include "conv/conv_vec_undef.h"
#include "core/fml_dtype_end.h"
#undef ISA

void fml_conv_kernels_scalar(fml_conv_kernels *t)
{
    t->name = "scalar";
    t->ctile_f32 = (fml_conv_ctile_desc_f32){conv_ctile_4x4_f32__scalar, 4, 4};
    t->ctile_f64 = (fml_conv_ctile_desc_f64){conv_ctile_4x4_f64__scalar, 4, 4};
    t->dense_f32 = (fml_conv_tile_f32){conv_ukr_4x4_f32__scalar, 4, 4, 1};
    t->dw_f32 = (fml_conv_tile_f32){conv_ukr_1x8_f32__scalar, 1, 8, 1};
    t->dense_f64 = (fml_conv_tile_f64){conv_ukr_4x4_f64__scalar, 4, 4, 1};
    t->dw_f64 = (fml_conv_tile_f64){conv_ukr_1x8_f64__scalar, 1, 8, 1};
    t->pgemm_f32 = (fml_conv_pgemm_desc_f32){conv_pgemm_f32__scalar, conv_pgemm_pack_f32__scalar, 4, 8,
                                                conv_pgemm_short_f32__scalar, 2};
    t->pgemm_f64 = (fml_conv_pgemm_desc_f64){conv_pgemm_f64__scalar, conv_pgemm_pack_f64__scalar, 4, 8,
                                                conv_pgemm_short_f64__scalar, 2};
    t->pool_max_f32 = pool_max_f32__scalar;
    t->pool_max_f64 = pool_max_f64__scalar;
    t->pool_max_rows_f32 = pool_max_rows_f32__scalar;
    t->pool_max_rows_f64 = pool_max_rows_f64__scalar;
    t->pool_nv = 8;
    t->gwc_f32 = conv_gwc_f32__scalar;
    t->gwc_f64 = conv_gwc_f64__scalar;
    t->gwc_m = 4;
    t->gwc_nr_f32 = 4;
    t->gwc_nr_f64 = 4;
    t->affine_row_f32 = affine_row_f32__scalar;
    t->affine_row_f64 = affine_row_f64__scalar;
    t->dw_rows_f32 = conv_dw_rows_f32__scalar;
    t->dw_rows_f64 = conv_dw_rows_f64__scalar;
    t->dw_rows3_f32 = conv_dw_rows3_f32__scalar;
    t->dw_rows3_f64 = conv_dw_rows3_f64__scalar;
    t->dw_flat = 0;
    t->wino_copy_f32 = wino_copy_f32__scalar;
    t->wino_copy_f64 = wino_copy_f64__scalar;
    t->wino_in_f32 = wino_in_f32__scalar;
    t->wino_in_f64 = wino_in_f64__scalar;
    t->wino_out_f32 = wino_out_f32__scalar;
    t->wino_out_f64 = wino_out_f64__scalar;
    t->wino2_in_f32 = wino2_in_f32__scalar;
    t->wino2_in_f64 = wino2_in_f64__scalar;
    t->wino2_out_f32 = wino2_out_f32__scalar;
    t->wino2_out_f64 = wino2_out_f64__scalar;
    t->copy_band_f32 = copy_band_f32__scalar;
    t->copy_band_f64 = copy_band_f64__scalar;
}

static fml_conv_kernels g_kernels;
static int g_level = -1;
static int g_packed = 1;
static int g_wino2 = 1;   /* fml_conv_set_wino2 */

int fml_conv_set_packed(int on)
{
    const int before = g_packed;
    g_packed = on != 0;
    return before;
}

int fml_conv_set_wino2(int mode)
{
    const int before = g_wino2;
    g_wino2 = mode < 0 ? 0 : (mode > 2 ? 2 : mode);
    return before;
}

int fml_conv_init(int level)
{
    level = fml_gemm_init(level);
#ifndef FML_NO_X86_SIMD
    if (level >= FML_SIMD_AVX512) fml_conv_kernels_avx512(&g_kernels);
    else if (level >= FML_SIMD_AVX2) fml_conv_kernels_avx2(&g_kernels);
    else
#endif
        fml_conv_kernels_scalar(&g_kernels);
    return g_level = level;
}

const fml_conv_kernels *fml_conv_kernels_get(void)
{
    if (g_level < 0) fml_conv_init(fml_cpu_select());
    return &g_kernels;
}

/* Threads for `work` over `tasks`: 1 below FML_CONV_MIN_WORK_PER_THREAD each. */
static int conv_threads(int64_t n_threads, int64_t tasks, double work)
{
    return fml_threads_for(n_threads, tasks, work, FML_CONV_MIN_WORK_PER_THREAD);
}

#define FT float
#define SFX f32
#include "conv/conv_impl.h"
#include "core/fml_dtype_end.h"

#define FT double
#define SFX f64
#include "conv/conv_impl.h"
#include "core/fml_dtype_end.h"
