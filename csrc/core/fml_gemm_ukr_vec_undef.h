/* Closes one vector vocabulary of fml_gemm_ukr_impl.h. */
#undef VT
#undef VL
#undef NV
#undef MR
#undef VZERO
#undef VLOADU
#undef VSTOREU
#undef VSET1
#undef VFMA
#undef VADD
