/* attention_ukr_impl.h: the two attention micro-kernels (contract in
 * attention_kernels.h), written once over the vector vocabulary of the ISA file:
 *
 *   VT  vector type     VL  lanes      NV  vectors per tile row (NR = NV*VL)
 *   MR  tile rows       VZERO() VLOADU(p) VSTOREU(p, v) VSET1(x) VFMA(a, b, c) VADD(a, b)
 *
 * No include guard: included once per (ISA, dtype).  Broadcast-A x vector-B:
 * each k step loads NV vectors of B and broadcasts MR values of A, MR*NV
 * independent FMAs: the GEMM core's tile (core/fml_gemm_ukr_acc_impl.h) with A
 * addressed in place. */

#define NR (NV * VL)

#define UKR_MR MR
#define UKR_NV NV
#include "core/fml_gemm_ukr_acc_impl.h"

/* C (+)= A B with A(i, p) = a[i + p*acs], B(p, j) = b[p*ldb + j]. */
static void FML_FN(attn_ukr)(int64_t k, const FT *restrict a, int64_t acs, const FT *restrict b,
                             int64_t ldb, FT *restrict c, int64_t ldc, int64_t m, int64_t n,
                             int accumulate)
{
    VT acc[MR][NV];
    FML_FN(ukr_acc)(k, a, 1, acs, b, ldb, acc);
    FML_FN(ukr_store)(acc, c, ldc, m, n, accumulate);
}

/* C (+)= A B with A(i, p) = a[i*FML_ATTN_TILE_LD + p] (a row-major tile read in
 * place; rows i >= m are read but unused), B(p, j) = b[p*ldb + j]. */
static void FML_FN(attn_ukr_rowa)(int64_t k, const FT *restrict a, const FT *restrict b,
                                  int64_t ldb, FT *restrict c, int64_t ldc, int64_t m, int64_t n,
                                  int accumulate)
{
    VT acc[MR][NV];
    FML_FN(ukr_acc)(k, a, FML_ATTN_TILE_LD, 1, b, ldb, acc);
    FML_FN(ukr_store)(acc, c, ldc, m, n, accumulate);
}

#undef NR
