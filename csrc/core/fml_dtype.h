/* fml_dtype.h: name pasting for dtype-generic bodies (see STYLE.md section 2).
 *
 * A body file expects FT (storage type) and SFX (f32 or f64) and, in ISA files,
 * ISA (scalar, avx2, avx512); FML_FN(name) becomes name_SFX__ISA and FML_T(name)
 * becomes name_SFX (for types and entry points shared by all ISAs). */
#ifndef FML_DTYPE_H
#define FML_DTYPE_H

#define FML_PASTE3_(a, b, c) a##_##b##__##c
#define FML_PASTE3(a, b, c) FML_PASTE3_(a, b, c)
#define FML_PASTE2_(a, b) a##_##b
#define FML_PASTE2(a, b) FML_PASTE2_(a, b)

#define FML_FN(name) FML_PASTE3(name, SFX, ISA)
#define FML_T(name) FML_PASTE2(name, SFX)

#define FML_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FML_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
