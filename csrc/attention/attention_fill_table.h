/* Fills one dtype's attention kernel table with this ISA file's instances.
 * No include guard: included once per (ISA, dtype) after the bodies; expects
 * ISA, SFX, MR, NV, VL and the table pointer `t`. */
t->mr = MR;
t->nr = NV * VL;
t->ukr = FML_FN(attn_ukr);
t->ukr_rowa = FML_FN(attn_ukr_rowa);
t->row_max = FML_FN(row_max);
t->row_add_max = FML_FN(row_add_max);
t->row_exp2_sum = FML_FN(row_exp2_sum);
t->row_exp2 = FML_FN(row_exp2);
t->row_scale = FML_FN(row_scale);
t->online_rows = FML_FN(online_rows);
t->row_dsoftmax = FML_FN(row_dsoftmax);
t->row_dot = FML_FN(row_dot);
t->row_scale_copy = FML_FN(row_scale_copy);
t->pack_kt = FML_FN(pack_kt);
t->pack_v = FML_FN(pack_v);
t->row_softmax = FML_FN(row_softmax);
t->row_moments = FML_FN(row_moments);
t->row_normalize = FML_FN(row_normalize);
t->row_layer_norm_bwd = FML_FN(row_layer_norm_bwd);
t->row_gelu_tanh = FML_FN(row_gelu_tanh);
#if FML_ATTN_F64
t->row_gelu_erf = FML_FN(row_gelu_erf);
#endif
t->row_dropout = FML_FN(row_dropout);
