/* conv_isa_inst.h: instantiates every per-ISA piece of csrc/conv for one
 * (ISA, dtype) from its vector vocabulary (see conv_ukr_impl.h) and tile
 * sizes: DENSE_NAME/DENSE_MR/DENSE_NV, DW_NAME/DW_NV, CTILE_NAME/CTILE_MR/CTILE_NV,
 * PGEMM_MR/PGEMM_NV/PGEMM_MR_SHORT, POOL_NV, GWC_M/GWC_NV.
 * No include guard: one inclusion per (ISA, dtype). */

#define UKR DENSE_NAME
#define UMR DENSE_MR
#define UNV DENSE_NV
#include "conv/conv_ukr_impl.h"
#undef UKR
#undef UMR
#undef UNV

#define UKR DW_NAME
#define UMR 1
#define UNV DW_NV
#include "conv/conv_ukr_impl.h"
#undef UKR
#undef UMR
#undef UNV

#define PGEMM FML_FN(conv_pgemm)
#define PGPACK FML_FN(conv_pgemm_pack)
#define PMR PGEMM_MR
#define PLDA PGEMM_MR
#define PNV PGEMM_NV
#include "conv/conv_pgemm_impl.h"
#undef PGEMM
#undef PGPACK
#undef PMR
#define PGEMM FML_FN(conv_pgemm_short)
#define PMR PGEMM_MR_SHORT
#include "conv/conv_pgemm_impl.h"
#undef PGEMM
#undef PMR
#undef PLDA
#undef PNV

#define POOLMAX FML_FN(pool_max)
#define POOLROWS FML_FN(pool_max_rows)
#define PNV POOL_NV
#define PROWS 4
#include "conv/conv_pool_impl.h"
#undef POOLMAX
#undef POOLROWS
#undef PNV
#undef PROWS

#define GWC FML_FN(conv_gwc)
#define GCM GWC_M
#define GCNV GWC_NV
#include "conv/conv_gwc_impl.h"
#undef GWC
#undef GCM
#undef GCNV

#define CTILE CTILE_NAME
#define CMR CTILE_MR
#define CNV CTILE_NV
#include "conv/conv_ctile_impl.h"
#undef CTILE
#undef CMR
#undef CNV

#define DWROWS FML_FN(conv_dw_rows)
#define DWROWS3 FML_FN(conv_dw_rows3)
#define DWFLAT3 FML_FN(conv_dw_flat3)
#define DWFLATV FML_FN(conv_dw_flat3_vec)
#define DWCOPYV FML_FN(conv_dw_flat3_copy)
#define DNV 2
#define DR 4
#include "conv/conv_dw_impl.h"
#undef DWROWS
#undef DWROWS3
#undef DWFLAT3
#undef DWFLATV
#undef DWCOPYV
#undef DNV
#undef DR

#define COPYBAND FML_FN(copy_band)
#include "conv/conv_copy_impl.h"
#undef COPYBAND

#define WINO_COPY FML_FN(wino_copy)
#define WINO_IN FML_FN(wino_in)
#define WINO_OUT FML_FN(wino_out)
#include "conv/conv_wino_impl.h"
#undef WINO_COPY
#undef WINO_IN
#undef WINO_OUT

#define W2_IN FML_FN(wino2_in)
#define W2_OUT FML_FN(wino2_out)
#include "conv/conv_wino2_impl.h"
#undef W2_IN
#undef W2_OUT

#include "conv/conv_rows_impl.h"
