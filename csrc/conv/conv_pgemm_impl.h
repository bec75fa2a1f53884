/* conv_pgemm_impl.h: the packed-pixel tile of csrc/conv, written once over the
 * vector vocabulary of conv_ukr_impl.h: PMR output channels x PNV*VL flat
 * pixels, like the flat tile, but the pixels are first copied (PGPACK) into a
 * panel of kb taps x PNV*VL that stays in L1 while every channel tile of the
 * weights runs over it.  The flat tile reads the planes in place, one stream
 * per tap: with hundreds of channels (a 1x1 over 256) no prefetcher follows
 * that many, and at large strides the lines of the planes conflict in L1.
 * PGEMM is the tile, PGPACK the copy (left out when not defined: the short
 * tile's instance); PMR, PNV the shape, PLDA the row stride of the packed
 * weights (PMR, or the full tile's PMR for the short tile that runs a last,
 * partial channel tile with fewer rows).  No include guard.
 *
 * PGPACK(kb, x, off, n, pfd, dst): dst[p*NR + j] = x[off[p] + j] for p < kb,
 *   j < n (n <= NR; zero past n), NR = PNV*VL.  pfd != 0: also prefetch
 *   x[off[p] + pfd] into L2 (a later panel of planes that are in memory).
 * PGEMM(k, a, b, c, ldc, m, n, first, last, bias, relu): for i < m (<= PMR), j < n,
 *   c[i*ldc + j] = (first ? 0 : c[i*ldc + j]) + sum_{p < k} a[p*PLDA + i] * b[p*NR + j],
 *   one FMA per tap in tap order: continuing from the stored partial sum is the
 *   same chain of roundings as the flat tile's single pass, so a tap block
 *   split changes no bit.  last: then bias[i] (bias != NULL) and max(0, .)
 *   (relu), as the flat tile does. */

#define PG_NR (PNV * VL)

#ifdef PGPACK
static void PGPACK(int64_t kb, const FT *restrict x, const int64_t *restrict off, int64_t n,
                   int64_t pfd, FT *restrict dst)
{
    if (n == PG_NR) {
        for (int64_t p = 0; p < kb; p++) {
            const FT *restrict xp = x + off[p];
            if (pfd != 0) __builtin_prefetch(xp + pfd, 0, 2);
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) VSTOREU(dst + p * PG_NR + v * VL, VLOADU(xp + v * VL));
        }
        return;
    }
    for (int64_t p = 0; p < kb; p++) {
        const FT *restrict xp = x + off[p];
        for (int64_t j = 0; j < PG_NR; j++) dst[p * PG_NR + j] = j < n ? xp[j] : (FT)0;
    }
}
#endif

static void PGEMM(int64_t k, const FT *restrict a, const FT *restrict b, FT *restrict c,
                  int64_t ldc, int64_t m, int64_t n, int first, int last,
                  const FT *restrict bias, int relu)
{
    const int full = m == PMR && n == PG_NR;
    FT tmp[PMR * PG_NR];
    VT acc[PMR][PNV];
    if (first) {
        /* c is written after the k loop: start its lines' ownership requests now */
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++) {
            __builtin_prefetch(c + i * ldc, 1, 3);
            __builtin_prefetch(c + i * ldc + PG_NR - 1, 1, 3);
        }
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) acc[i][v] = VZERO();
    } else if (full) {
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) acc[i][v] = VLOADU(c + i * ldc + v * VL);
    } else {
        for (int64_t i = 0; i < PMR; i++)
            for (int64_t j = 0; j < PG_NR; j++)
                tmp[i * PG_NR + j] = i < m && j < n ? c[i * ldc + j] : (FT)0;
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) acc[i][v] = VLOADU(tmp + i * PG_NR + v * VL);
    }
    for (int64_t p = 0; p < k; p++) {
        VT bv[PNV];
#pragma GCC unroll 4
        for (int v = 0; v < PNV; v++) bv[v] = VLOADU(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++) {
            const VT ai = VSET1(a[i]);
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
        a += PLDA;
        b += PG_NR;
    }
    if (last) {
        const VT zero = VZERO();
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++) {
            const VT bi = VSET1(bias != NULL ? bias[i] : (FT)0);
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) {
                const VT r = bias != NULL ? VADD(acc[i][v], bi) : acc[i][v];
                acc[i][v] = relu ? VMAX(zero, r) : r;
            }
        }
    }
    if (full) {
#pragma GCC unroll 16
        for (int i = 0; i < PMR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < PNV; v++) VSTOREU(c + i * ldc + v * VL, acc[i][v]);
        return;
    }
#pragma GCC unroll 16
    for (int i = 0; i < PMR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < PNV; v++) VSTOREU(tmp + i * PG_NR + v * VL, acc[i][v]);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = tmp[i * PG_NR + j];
}

#undef PG_NR
