/* conv_plan.h: the plane layout of csrc/conv (see the diagram in conv_impl.h),
 * shared by the portable drivers and the per-ISA band copies. */
#ifndef FML_CONV_PLAN_H
#define FML_CONV_PLAN_H

#include <stdint.h>

#include "conv/conv.h"

/* A convolution-like pass over x: g, plus an input upsampling (uh, uw >= 1: the
 * logical input has x[i, j] at (i*uh, j*uw) and zeros between, which makes the
 * data gradient of a strided convolution an ordinary one), and its layout. */
typedef struct {
    fml_conv2d_geom g;
    int64_t uh, uw;
    int zero_copy;            /* planes are x itself (stride 1, no padding, uh = uw = 1) */
    int64_t nph_h, nph_w;     /* stride phases in use per dimension */
    int64_t *ph_idx_h;        /* phase (tap*dilation % stride) -> plane index, or -1 */
    int64_t *ph_idx_w;
    int64_t *ph_val_h;        /* plane index -> phase */
    int64_t *ph_val_w;
    int64_t wq;               /* plane width */
    int64_t rowoff;           /* extra plane rows a band needs below its output rows */
    int64_t rows;             /* output rows per band (R) */
    int64_t n_bands;
    int64_t ps;               /* plane stride (elements) */
    int64_t band_elems;       /* elements of one band buffer (0 for zero copy) */
} conv_plan;

#endif
