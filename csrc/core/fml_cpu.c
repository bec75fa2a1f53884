/* fml_cpu.c: CPUID/XGETBV feature checks and the FASTML_SIMD override. */
#include "core/fml_cpu.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(FML_NO_X86_SIMD)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

int fml_cpu_detect(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FML_SIMD_SCALAR;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return FML_SIMD_SCALAR;
    const unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return FML_SIMD_SCALAR;            /* XMM and YMM state */
    if (__get_cpuid_max(0, 0) < 7) return FML_SIMD_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    if (!avx2) return FML_SIMD_SCALAR;
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    if (f && dq && bw && vl && (xcr0 & 0xe6) == 0xe6)           /* opmask, ZMM_Hi256, Hi16_ZMM */
        return FML_SIMD_AVX512;
    return FML_SIMD_AVX2;
}
#else
int fml_cpu_detect(void) { return FML_SIMD_SCALAR; }
#endif

int fml_cpu_select(void)
{
    const int best = fml_cpu_detect();
    const char *env = getenv("FASTML_SIMD");
    if (env == NULL || env[0] == '\0') return best;
    int want = best;
    if (strcmp(env, "scalar") == 0) want = FML_SIMD_SCALAR;
    else if (strcmp(env, "avx2") == 0) want = FML_SIMD_AVX2;
    else if (strcmp(env, "avx512") == 0) want = FML_SIMD_AVX512;
    return want < best ? want : best;
}

const char *fml_simd_name(int level)
{
    switch (level) {
    case FML_SIMD_AVX512: return "avx512";
    case FML_SIMD_AVX2: return "avx2";
    default: return "scalar";
    }
}
