/* conv_rows_impl.h: per-row helpers in plain C, compiled once per ISA file so
 * that the compiler vectorises them for that target.  No include guard:
 * expects FT, SFX, ISA. */

/* y[j] = x[j]*s + b, then max(0, .) when relu (NaN stays NaN), for j < len. */
static void FML_FN(affine_row)(int64_t len, const FT *restrict x, FT s, FT b, int relu,
                               FT *restrict y)
{
    if (relu) {
        for (int64_t j = 0; j < len; j++) {
            const FT t = x[j] * s + b;
            y[j] = (FT)0 > t ? (FT)0 : t;
        }
    } else {
        for (int64_t j = 0; j < len; j++) y[j] = x[j] * s + b;
    }
}
