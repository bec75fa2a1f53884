/* fml_gemm_ukr_acc_impl.h: the register tile of the GEMM micro-kernel, shared
 * by the core's ukr (fml_gemm_ukr_impl.h) and by kernels that address A
 * differently or fuse their own store (attention's attn_ukr / attn_ukr_rowa,
 * distance's ukr_sq).  One FMA order everywhere: the same operands give the
 * same bits in every kernel.
 *
 * Expects the ISA file's vector vocabulary (FT, VT, VL, VZERO, VLOADU, VSTOREU,
 * VSET1, VFMA, VADD) and the tile UKR_MR rows x UKR_NV vectors.  No include
 * guard: included once per (ISA, dtype, tile); UKR_MR / UKR_NV are #undef'd at
 * the end.  Both functions are always inlined, so acc stays in registers. */

/* acc[i][v] = sum_{p < k} A(i, p) * B(p, v*VL ... v*VL + VL - 1), with
 * A(i, p) = a[i*a_rs + p*a_cs] (packed panels: a_rs = 1, a_cs = UKR_MR) and
 * B(p, j) = b[p*b_step + j]: each step loads UKR_NV vectors of B and
 * broadcasts UKR_MR values of A, UKR_MR*UKR_NV independent FMAs. */
static inline __attribute__((always_inline)) void FML_FN(ukr_acc)(
    int64_t k, const FT *restrict a, int64_t a_rs, int64_t a_cs, const FT *restrict b,
    int64_t b_step, VT acc[UKR_MR][UKR_NV])
{
#pragma GCC unroll 16
    for (int i = 0; i < UKR_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < UKR_NV; v++) acc[i][v] = VZERO();
    for (int64_t p = 0; p < k; p++) {
        VT bv[UKR_NV];
#pragma GCC unroll 4
        for (int v = 0; v < UKR_NV; v++) bv[v] = VLOADU(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < UKR_MR; i++) {
            const VT ai = VSET1(a[i * a_rs]);
#pragma GCC unroll 4
            for (int v = 0; v < UKR_NV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
        a += a_cs;
        b += b_step;
    }
}

/* C (+)= acc for the valid m x n corner: a full tile straight, an edge tile
 * through a spill with constant indices (keeps acc in registers above). */
static inline __attribute__((always_inline)) void FML_FN(ukr_store)(
    VT acc[UKR_MR][UKR_NV], FT *restrict c, int64_t ldc, int64_t m, int64_t n, int accumulate)
{
    enum { TILE_NR = UKR_NV * VL };
    if (m == UKR_MR && n == TILE_NR) {
#pragma GCC unroll 16
        for (int i = 0; i < UKR_MR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < UKR_NV; v++) {
                FT *cp = c + i * ldc + v * VL;
                VSTOREU(cp, accumulate ? VADD(VLOADU(cp), acc[i][v]) : acc[i][v]);
            }
        return;
    }
    FT tmp[UKR_MR * TILE_NR];
#pragma GCC unroll 16
    for (int i = 0; i < UKR_MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < UKR_NV; v++) VSTOREU(tmp + i * TILE_NR + v * VL, acc[i][v]);
    if (n == TILE_NR) {                            /* short panel, full rows: vectors */
        for (int64_t i = 0; i < m; i++)
#pragma GCC unroll 4
            for (int v = 0; v < UKR_NV; v++) {
                FT *cp = c + i * ldc + v * VL;
                const VT t = VLOADU(tmp + i * TILE_NR + v * VL);
                VSTOREU(cp, accumulate ? VADD(VLOADU(cp), t) : t);
            }
        return;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + tmp[i * TILE_NR + j] : tmp[i * TILE_NR + j];
}

#undef UKR_MR
#undef UKR_NV
