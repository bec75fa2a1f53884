/* Closes one dtype instance of a body file: undefines what the instance defined. */
#undef FT
#undef ACC_T
#undef SFX
