/* fml_gemm_ukr_impl.h: one register-tiled GEMM micro-kernel and the peak probe,
 * written once over a small vector vocabulary that each ISA file defines:
 *
 *   VT  vector type     VL  lanes      NV  vectors per tile row (NR = NV*VL)
 *   MR  tile rows       VZERO() VLOADU(p) VSTOREU(p, v) VSET1(x)
 *   VFMA(a, b, c) = a*b + c           VADD(a, b)
 *
 * No include guard: included once per (ISA, dtype).  The contract is in fml_gemm.h.
 * The tile (fml_gemm_ukr_acc_impl.h, shared with kernels that fuse their own
 * store) is broadcast-A x vector-B: each step loads NV vectors of the B panel
 * and broadcasts MR values of the A panel, MR*NV independent FMAs. */

#define NR (NV * VL)

#define UKR_MR MR
#define UKR_NV NV
#include "core/fml_gemm_ukr_acc_impl.h"

static void FML_FN(ukr)(int64_t k, const FT *restrict a, const FT *restrict b, FT *restrict c,
                        int64_t ldc, int64_t m, int64_t n, int accumulate)
{
    /* C is touched only after the k loop: start bringing its rows in now
     * (a prefetch never faults, so edge tiles may prefetch past the end). */
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        __builtin_prefetch(c + i * ldc, 1, 3);
        __builtin_prefetch(c + i * ldc + NR - 1, 1, 3);
    }
    VT acc[MR][NV];
    FML_FN(ukr_acc)(k, a, 1, MR, b, NR, acc);
    FML_FN(ukr_store)(acc, c, ldc, m, n, accumulate);
}

/* Full A micro-panel (MR rows, kb columns) into dst[p*MR + i]; MR is a
 * compile-time constant here, so the row loop unrolls. */
static void FML_FN(pack_a_panel)(int64_t kb, const FT *restrict a, int64_t rsa, int64_t csa,
                                 FT *restrict dst)
{
    if (csa == 1) {
        const FT *restrict rows[MR];
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) rows[i] = a + i * rsa;
        for (int64_t p = 0; p < kb; p++)
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++) dst[p * MR + i] = rows[i][p];
    } else {
        for (int64_t p = 0; p < kb; p++)
#pragma GCC unroll 16
            for (int i = 0; i < MR; i++) dst[p * MR + i] = a[i * rsa + p * csa];
    }
}

/* Peak probe: FML_PEAK_CHAINS independent FMA chains, enough to cover the FMA
 * latency times the number of FMA ports. */
#define FML_PEAK_CHAINS 12
static FT FML_FN(fma_loop)(int64_t iters)
{
    VT acc[FML_PEAK_CHAINS];
    const VT x = VSET1((FT)0.999999), y = VSET1((FT)1e-7);
#pragma GCC unroll 16
    for (int j = 0; j < FML_PEAK_CHAINS; j++) acc[j] = VSET1((FT)j);
    for (int64_t it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int j = 0; j < FML_PEAK_CHAINS; j++) acc[j] = VFMA(acc[j], x, y);
    }
    FT tmp[VL], s = 0;
#pragma GCC unroll 16
    for (int j = 1; j < FML_PEAK_CHAINS; j++) acc[0] = VADD(acc[0], acc[j]);
    VSTOREU(tmp, acc[0]);
    for (int l = 0; l < VL; l++) s += tmp[l];
    return s;
}
#undef FML_PEAK_CHAINS
#undef NR
