/* Closes one vector vocabulary of kmeans_argmin_impl.h. */
#undef ISA_UNUSED
#undef VT
#undef VL
#undef IT
#undef MT
#undef IELEM_T
#undef VSET1
#undef VLOADU
#undef VSTOREU
#undef VFMA
#undef VCMPLT
#undef VBLEND
#undef ISET1
#undef IRAMP
#undef IADD
#undef IBLEND
#undef ISTOREU
