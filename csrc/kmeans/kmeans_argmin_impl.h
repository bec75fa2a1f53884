/* kmeans_argmin_impl.h: the row argmin of the Lloyd epilogue, one per ISA.
 *
 *   for j < nb: v_j = cn[j] - 2 * row[j];  if v_j < *best: *best = v_j, *arg = j0 + j
 *
 * i.e. the first index of the minimum (ties keep the smaller index), exactly as
 * the scalar loop: 2 * row[j] is exact, so the fused multiply-add rounds the
 * same way as the separate subtraction.  No include guard: the ISA file defines
 * FT, SFX, ISA and the vector vocabulary (VT, VL, IT, ...). */

static void FML_FN(row_argmin)(const FT *restrict row, const FT *restrict cn, int64_t nb,
                               int64_t j0, FT *best, int32_t *arg)
{
    VT vmin = VSET1((FT)INFINITY);
    IT vidx = ISET1(0), cur = IRAMP(j0);
    const VT m2 = VSET1((FT)-2);
    int64_t j = 0;
    for (; j + VL <= nb; j += VL) {
        const VT v = VFMA(VLOADU(row + j), m2, VLOADU(cn + j));
        const MT lt = VCMPLT(v, vmin);
        vmin = VBLEND(lt, vmin, v);
        vidx = IBLEND(lt, vidx, cur);
        cur = IADD(cur, ISET1(VL));
    }
    FT bv = *best;
    int32_t ba = *arg;
    /* lanes hold the first minimum of their own residue class; take the best lane,
     * smallest index among equal values */
    FT lane_v[VL];
    IELEM_T lane_i[VL];
    VSTOREU(lane_v, vmin);
    ISTOREU(lane_i, vidx);
    FT m = (FT)INFINITY;
    int64_t mi = INT64_MAX;
    for (int l = 0; l < VL; l++)
        if (lane_v[l] < m || (lane_v[l] == m && (int64_t)lane_i[l] < mi)) {
            m = lane_v[l];
            mi = (int64_t)lane_i[l];
        }
    if (m < bv) {
        bv = m;
        ba = (int32_t)mi;
    }
    for (; j < nb; j++) {                                /* tail, in order */
        const FT v = cn[j] - 2 * row[j];
        if (v < bv) {
            bv = v;
            ba = (int32_t)(j0 + j);
        }
    }
    *best = bv;
    *arg = ba;
}
