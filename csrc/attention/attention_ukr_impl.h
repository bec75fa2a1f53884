/* attention_ukr_impl.h: the two attention micro-kernels (contract in
 * attention_kernels.h), written once over the vector vocabulary of the ISA file:
 *
 *   VT  vector type     VL  lanes      NV  vectors per tile row (NR = NV*VL)
 *   MR  tile rows       VZERO() VLOADU(p) VSTOREU(p, v) VSET1(x) VFMA(a, b, c) VADD(a, b)
 *
 * No include guard: included once per (ISA, dtype).  Broadcast-A x vector-B:
 * each k step loads NV vectors of B and broadcasts MR values of A, MR*NV
 * independent FMAs, like fml_gemm_ukr_impl.h; they differ only in A's address. */

#define NR (NV * VL)

/* Write the accumulators to C: a full tile straight, an edge tile through a
 * spill with constant indices (inlined, so acc stays in registers). */
static inline __attribute__((always_inline)) void FML_FN(attn_store_tile)(
    VT acc[MR][NV], FT *restrict c, int64_t ldc, int64_t m, int64_t n, int accumulate)
{
    if (m == MR && n == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                FT *cp = c + i * ldc + v * VL;
                VSTOREU(cp, accumulate ? VADD(VLOADU(cp), acc[i][v]) : acc[i][v]);
            }
        return;
    }
    FT tmp[MR * NR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) VSTOREU(tmp + i * NR + v * VL, acc[i][v]);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
}

/* C (+)= A B with A(i, p) = a[i + p*acs], B(p, j) = b[p*ldb + j]. */
static void FML_FN(attn_ukr)(int64_t k, const FT *restrict a, int64_t acs, const FT *restrict b,
                             int64_t ldb, FT *restrict c, int64_t ldc, int64_t m, int64_t n,
                             int accumulate)
{
    VT acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = VZERO();
    for (int64_t p = 0; p < k; p++) {
        VT bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = VLOADU(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const VT ai = VSET1(a[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
        a += acs;
        b += ldb;
    }
    FML_FN(attn_store_tile)(acc, c, ldc, m, n, accumulate);
}

/* C (+)= A B with A(i, p) = a[i*FML_ATTN_TILE_LD + p] (a row-major tile read in
 * place; rows i >= m are read but unused), B(p, j) = b[p*ldb + j]. */
static void FML_FN(attn_ukr_rowa)(int64_t k, const FT *restrict a, const FT *restrict b,
                                  int64_t ldb, FT *restrict c, int64_t ldc, int64_t m, int64_t n,
                                  int accumulate)
{
    VT acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = VZERO();
    for (int64_t p = 0; p < k; p++) {
        VT bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bv[v] = VLOADU(b + v * VL);
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            const VT ai = VSET1(a[i * FML_ATTN_TILE_LD]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
        a += 1;
        b += ldb;
    }
    FML_FN(attn_store_tile)(acc, c, ldc, m, n, accumulate);
}

#undef NR
