/* distance_kernels_impl.h: the per-ISA kernels of the distance family, written
 * once over a small vector vocabulary that each ISA file defines:
 *
 *   VT vector, VL lanes, MT comparison mask; direct tile MR rows x NV vectors
 *   VZERO() VLOADU(p) VSTOREU(p, v) VSET1(x) VFMA(a, b, c) = a*b + c
 *   VADD VSUB VMUL VMAX VMIN VABS VSQRT
 *   VCMPLE(a, b) (ordered a <= b)  VCMPNGE(a, b) (!(a >= b), true on NaN)
 *   VBLEND(m, a, b) (m ? b : a)    MBITS(m) lane bits as unsigned
 *
 * No include guard: included once per (ISA, dtype) with FT, SFX, ISA set.
 * Contracts are in distance_kernels.h.  Row kernels handle the last < VL
 * entries through a padded copy, with the same vector arithmetic, so an entry's
 * value does not depend on where a block boundary falls.
 */

#define NR (NV * VL)
#define OP_L1 0
#define OP_CHEBYSHEV 1
#define OP_POWI 2
#define OP_SQUARE 3

/* Direct tile.  The op is a constant in each caller below, so the branch on it
 * folds away and each metric gets its own register-tiled loop.  Rows past m read
 * row m-1 (results discarded): no out-of-bounds load, no branch in the loop. */
static inline __attribute__((always_inline)) void FML_FN(direct_body)(
    const int op, int ip, int64_t d, const FT *restrict x, int64_t m,
    const FT *restrict panel, FT *restrict c, int64_t ldc, int64_t n)
{
    const FT *rows[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) rows[i] = x + (i < m ? i : m - 1) * d;
    VT acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = VZERO();

    for (int64_t p = 0; p < d; p++) {
        VT yv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) yv[v] = VLOADU(panel + p * NR + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const VT xi = VSET1(rows[i][p]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                const VT t = VSUB(xi, yv[v]);
                if (op == OP_L1) {
                    acc[i][v] = VADD(acc[i][v], VABS(t));
                } else if (op == OP_CHEBYSHEV) {
                    acc[i][v] = VMAX(acc[i][v], VABS(t));
                } else if (op == OP_SQUARE) {
                    acc[i][v] = VFMA(t, t, acc[i][v]);
                } else {
                    const VT a = VABS(t);
                    VT r = a;
                    for (int q = 1; q < ip; q++) r = VMUL(r, a);
                    acc[i][v] = VADD(acc[i][v], r);
                }
            }
        }
    }

    if (m == MR && n == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) VSTOREU(c + i * ldc + v * VL, acc[i][v]);
        return;
    }
    FT tmp[MR * NR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) VSTOREU(tmp + i * NR + v * VL, acc[i][v]);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = tmp[i * NR + j];
}

static void FML_FN(direct_l1)(int64_t d, const FT *x, int64_t m, const FT *panel, FT *c,
                              int64_t ldc, int64_t n)
{
    FML_FN(direct_body)(OP_L1, 1, d, x, m, panel, c, ldc, n);
}

static void FML_FN(direct_chebyshev)(int64_t d, const FT *x, int64_t m, const FT *panel, FT *c,
                                     int64_t ldc, int64_t n)
{
    FML_FN(direct_body)(OP_CHEBYSHEV, 1, d, x, m, panel, c, ldc, n);
}

static void FML_FN(direct_powi)(int64_t d, const FT *x, int64_t m, const FT *panel, FT *c,
                                int64_t ldc, int64_t n, int ip)
{
    if (ip == 1)
        FML_FN(direct_body)(OP_L1, 1, d, x, m, panel, c, ldc, n);
    else if (ip == 2)
        FML_FN(direct_body)(OP_SQUARE, 2, d, x, m, panel, c, ldc, n);
    else
        FML_FN(direct_body)(OP_POWI, ip, d, x, m, panel, c, ldc, n);
}

/* Lane bits of the first `rem` lanes. */
static inline unsigned FML_FN(lanes)(int64_t rem)
{
    return rem >= (int64_t)(8 * sizeof(unsigned)) ? ~0u : (1u << rem) - 1u;
}

/* One vector of finish_sq: the distance, or -1 where the expansion may have
 * cancelled (or overflowed: NaN compares as "bad"). */
static inline VT FML_FN(sq_lanes)(VT gv, VT nyv, VT vnx, VT vr, int root, unsigned *bad_bits)
{
    const VT s = VADD(vnx, nyv);
    VT v = VFMA(VSET1((FT)-2), gv, s);
    const MT bad = VCMPNGE(v, VMUL(vr, s));
    v = VMAX(v, VZERO());
    if (root) v = VSQRT(v);
    *bad_bits = MBITS(bad);
    return VBLEND(bad, v, VSET1((FT)-1));
}

/* One vector of finish_cos: 1 - g clamped to [0, 2], or -1 below thr. */
static inline VT FML_FN(cos_lanes)(VT gv, VT vt, unsigned *bad_bits)
{
    VT v = VSUB(VSET1((FT)1), gv);
    const MT bad = VCMPNGE(v, vt);
    v = VMIN(VMAX(v, VZERO()), VSET1((FT)2));
    *bad_bits = MBITS(bad);
    return VBLEND(bad, v, VSET1((FT)-1));
}

/* The row loop of both finishers: whole vectors, then a padded tail with the
 * same arithmetic.  g and out may be the same row (in place).  (Non-temporal stores were tried for outputs past the
 * caches: slower here, both into fresh pages and into reused ones.) */
static inline __attribute__((always_inline)) int64_t FML_FN(finish_body)(
    const int cosine, const FT *g, int64_t nb, FT nx, const FT *restrict ny, FT ratio,
    int root, FT *out)
{
    const VT vnx = VSET1(nx), vr = VSET1(ratio);
    int64_t flagged = 0, j = 0;
    unsigned bad;
    for (; j + VL <= nb; j += VL) {
        const VT v = cosine ? FML_FN(cos_lanes)(VLOADU(g + j), vr, &bad)
                            : FML_FN(sq_lanes)(VLOADU(g + j), VLOADU(ny + j), vnx, vr, root, &bad);
        flagged += __builtin_popcount(bad);
        VSTOREU(out + j, v);
    }
    if (j < nb) {
        const int64_t rem = nb - j;
        FT gb[VL], nyb[VL], ob[VL];
        for (int l = 0; l < VL; l++) {
            gb[l] = l < rem ? g[j + l] : 0;
            nyb[l] = (l < rem && !cosine) ? ny[j + l] : 0;
        }
        const VT v = cosine ? FML_FN(cos_lanes)(VLOADU(gb), vr, &bad)
                            : FML_FN(sq_lanes)(VLOADU(gb), VLOADU(nyb), vnx, vr, root, &bad);
        flagged += __builtin_popcount(bad & FML_FN(lanes)(rem));
        VSTOREU(ob, v);
        for (int64_t l = 0; l < rem; l++) out[j + l] = ob[l];
    }
    return flagged;
}

static int64_t FML_FN(finish_sq)(const FT *g, int64_t nb, FT nx, const FT *restrict ny,
                                 FT ratio, int root, FT *out)
{
    return FML_FN(finish_body)(0, g, nb, nx, ny, ratio, root, out);
}

static int64_t FML_FN(finish_cos)(const FT *g, int64_t nb, FT thr, FT *out)
{
    return FML_FN(finish_body)(1, g, nb, 0, NULL, thr, 0, out);
}

#ifdef GMR
#define UKR_MR GMR
#define UKR_NV NV
#include "core/fml_gemm_ukr_acc_impl.h"

/* The stores of one full tile of ukr_sq: sq_lanes on every accumulator, with
 * streaming stores when `stream` (every row vector-aligned).  root and stream
 * are constants in each caller, so each pair is its own branch-free store
 * (one store with both tests inside spilled and branched per vector: 11% of
 * the kernel's samples, 10000^2 x 128).  Returns nonzero if an entry is -1. */
static inline __attribute__((always_inline)) unsigned FML_FN(sq_tile_store)(
    const int root, const int stream, VT acc[GMR][NV], FT *restrict c, int64_t ldc,
    const FT *restrict nx, const FT *restrict ny, FT ratio)
{
    VT nyv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) nyv[v] = VLOADU(ny + v * VL);
    const VT vr = VSET1(ratio);
    unsigned any = 0;
#pragma GCC unroll 16
    for (int i = 0; i < GMR; i++) {
        const VT vnx = VSET1(nx[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            unsigned bad;
            const VT r = FML_FN(sq_lanes)(acc[i][v], nyv[v], vnx, vr, root, &bad);
            any |= bad;
#ifdef VSTREAM
            if (stream) VSTREAM(c + i * ldc + v * VL, r);
            else
#endif
            VSTOREU(c + i * ldc + v * VL, r);
        }
    }
    (void)stream;
    return any;
}

/* The GEMM core's micro-tile (GMR x NV vectors, A and B packed by the core)
 * with finish_sq fused into its store: each row's vectors go through sq_lanes
 * straight to C, so pairwise sqeuclidean never reads its output back, and
 * with streaming stores where C is vector-aligned (the caller fences): the
 * n x m output is written once, not read for ownership first (10000^2 x 128,
 * 1 thread: 4% less time, measured).  Same arithmetic as ukr + finish_sq,
 * same bits.  nx: the tile's GMR row terms, ny: its NV*VL column terms.
 * Returns nonzero if an entry is -1 (to recompute). */
static int64_t FML_FN(ukr_sq)(int64_t k, const FT *restrict a, const FT *restrict b,
                              FT *restrict c, int64_t ldc, int64_t m, int64_t n, int accumulate,
                              const FT *restrict nx, const FT *restrict ny, FT ratio, int root)
{
    VT acc[GMR][NV];
    FML_FN(ukr_acc)(k, a, 1, GMR, b, NV * VL, acc);
    if (m == GMR && n == NV * VL && !accumulate) {
        const int stream = (((uintptr_t)c | (uintptr_t)ldc * sizeof(FT)) & (sizeof(VT) - 1)) == 0;
        if (root)
            return stream ? FML_FN(sq_tile_store)(1, 1, acc, c, ldc, nx, ny, ratio)
                          : FML_FN(sq_tile_store)(1, 0, acc, c, ldc, nx, ny, ratio);
        return stream ? FML_FN(sq_tile_store)(0, 1, acc, c, ldc, nx, ny, ratio)
                      : FML_FN(sq_tile_store)(0, 0, acc, c, ldc, nx, ny, ratio);
    }
    /* edge tile or a later k block: the core's store (adding C's partial sums),
       then finish_sq in place: the same sums and the same bits */
    FML_FN(ukr_store)(acc, c, ldc, m, n, accumulate);
    int64_t flagged = 0;
    for (int64_t i = 0; i < m; i++)
        flagged += FML_FN(finish_sq)(c + i * ldc, n, nx[i], ny, ratio, root, c + i * ldc);
    return flagged;
}
#endif

/* (a, ia) > (b, ib) in (value, index) order. */
static inline int FML_FN(pair_gt)(FT a, int64_t ia, FT b, int64_t ib)
{
    return a > b || (a == b && ia > ib);
}

/* Replace the root of the max-heap (hv, hi) of kk entries by (v, j), sift down. */
static void FML_FN(heap_replace)(FT *restrict hv, int64_t *restrict hi, int64_t kk, FT v, int64_t j)
{
    int64_t pos = 0;
    for (;;) {
        int64_t child = 2 * pos + 1;
        if (child >= kk) break;
        if (child + 1 < kk && FML_FN(pair_gt)(hv[child + 1], hi[child + 1], hv[child], hi[child]))
            child++;
        if (!FML_FN(pair_gt)(hv[child], hi[child], v, j)) break;
        hv[pos] = hv[child];
        hi[pos] = hi[child];
        pos = child;
    }
    hv[pos] = v;
    hi[pos] = j;
}

/* key vector of lanes j..j+VL of a row (padded when fewer remain) */
static inline VT FML_FN(row_keys)(const FT *g, const FT *bias, VT vs, int64_t j, int64_t rem)
{
    if (rem == VL)
        return bias ? VFMA(vs, VLOADU(g + j), VLOADU(bias + j)) : VMUL(vs, VLOADU(g + j));
    FT gb[VL], bb[VL];
    for (int l = 0; l < VL; l++) {
        gb[l] = l < rem ? g[j + l] : 0;
        bb[l] = (l < rem && bias) ? bias[j + l] : 0;
    }
    return bias ? VFMA(vs, VLOADU(gb), VLOADU(bb)) : VMUL(vs, VLOADU(gb));
}

/* Offer the lanes `bits` of key vector `key` (columns j0 + j + lane) to the heap. */
static void FML_FN(offer)(VT key, unsigned bits, int64_t col, FT *restrict hv,
                          int64_t *restrict hi, int64_t kk)
{
    FT kv[VL];
    VSTOREU(kv, key);
    do {
        const int l = __builtin_ctz(bits);
        bits &= bits - 1;
        if (FML_FN(pair_gt)(hv[0], hi[0], kv[l], col + l))
            FML_FN(heap_replace)(hv, hi, kk, kv[l], col + l);
    } while (bits);
}

/* The scan proper: 4 vectors per step against the heap root, one branch (hits
 * are rare once the heap holds good candidates).  has_bias is a
 * constant in each caller, so each gets its own loop. */
static inline __attribute__((always_inline)) void FML_FN(scan_body)(
    const int has_bias, const FT *restrict g, int64_t nb, const FT *restrict bias, FT scale,
    int64_t j0, FT *restrict hv, int64_t *restrict hi, int64_t kk)
{
    const VT vs = VSET1(scale);
    VT vthr = VSET1(hv[0]);
    int64_t j = 0;
    for (; j + 4 * VL <= nb; j += 4 * VL) {
        VT k4[4];
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            k4[u] = has_bias ? VFMA(vs, VLOADU(g + j + u * VL), VLOADU(bias + j + u * VL))
                             : VMUL(vs, VLOADU(g + j + u * VL));
        /* OR of the compares, not a compare of the minimum: min() would let a
         * NaN lane hide a real hit */
        const unsigned any = MBITS(VCMPLE(k4[0], vthr)) | MBITS(VCMPLE(k4[1], vthr)) |
                             MBITS(VCMPLE(k4[2], vthr)) | MBITS(VCMPLE(k4[3], vthr));
        if (__builtin_expect(any != 0, 0)) {
            for (int u = 0; u < 4; u++) {
                const unsigned bits = MBITS(VCMPLE(k4[u], vthr));
                if (bits) {
                    FML_FN(offer)(k4[u], bits, j0 + j + u * VL, hv, hi, kk);
                    vthr = VSET1(hv[0]);
                }
            }
        }
    }
    for (; j < nb; j += VL) {
        const int64_t rem = FML_MIN((int64_t)VL, nb - j);
        const VT key = FML_FN(row_keys)(g, has_bias ? bias : NULL, vs, j, rem);
        const unsigned bits = MBITS(VCMPLE(key, vthr)) & FML_FN(lanes)(rem);
        if (bits) {
            FML_FN(offer)(key, bits, j0 + j, hv, hi, kk);
            vthr = VSET1(hv[0]);
        }
    }
}

static void FML_FN(scan_topk)(const FT *restrict g, int64_t nb, const FT *restrict bias, FT scale,
                              int64_t j0, FT *restrict hv, int64_t *restrict hi, int64_t kk)
{
    if (bias)
        FML_FN(scan_body)(1, g, nb, bias, scale, j0, hv, hi, kk);
    else
        FML_FN(scan_body)(0, g, nb, bias, scale, j0, hv, hi, kk);
}

static int64_t FML_FN(select_le)(const FT *restrict g, int64_t nb, const FT *restrict bias,
                                 FT scale, FT thr, int32_t *restrict cols)
{
    const VT vs = VSET1(scale), vthr = VSET1(thr);
    int64_t count = 0;
    for (int64_t j = 0; j < nb; j += VL) {
        const int64_t rem = FML_MIN((int64_t)VL, nb - j);
        const VT key = FML_FN(row_keys)(g, bias, vs, j, rem);
        unsigned bits = MBITS(VCMPLE(key, vthr)) & FML_FN(lanes)(rem);
        while (bits) {
            const int l = __builtin_ctz(bits);
            bits &= bits - 1;
            cols[count++] = (int32_t)(j + l);
        }
    }
    return count;
}

/* Exact (float64) squared distance and squared norm, 8 fixed partial sums: the
 * loops vectorise in the ISA files and give the same bits at every level. */
static double FML_FN(exact_sq)(const FT *restrict x, const FT *restrict y, int64_t d)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t p = 0;
    for (; p + 8 <= d; p += 8)
        for (int l = 0; l < 8; l++) {
            const double t = (double)x[p + l] - (double)y[p + l];
            acc[l] += t * t;
        }
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; p < d; p++) {
        const double t = (double)x[p] - (double)y[p];
        s += t * t;
    }
    return s;
}

static double FML_FN(sqnorm)(const FT *restrict x, int64_t d)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t p = 0;
    for (; p + 8 <= d; p += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double)x[p + l] * (double)x[p + l];
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; p < d; p++) s += (double)x[p] * (double)x[p];
    return s;
}

#undef NR
#undef OP_L1
#undef OP_CHEBYSHEV
#undef OP_POWI
#undef OP_SQUARE
