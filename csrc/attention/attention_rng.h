/* attention_rng.h: the counter-based random numbers of dropout.
 *
 * A keep/drop decision is a pure function of (seed, stream, j): stream is a row
 * of the problem (for attention: problem * L + query row; for the standalone
 * dropout: the row of the flattened input) and j the column.  No state, so
 * results do not depend on how rows are shared among threads, and the backward
 * regenerates the forward's mask.
 *
 *   row key  = splitmix64(seed + splitmix64(stream))        (64 bits, per row)
 *   u32(j)   = fmix32(fmix32(j ^ lo32(key)) + hi32(key))    (murmur3 finaliser)
 *   keep     = u32(j) >= threshold,  threshold = round(p * 2^32)
 */
#ifndef FML_ATTENTION_RNG_H
#define FML_ATTENTION_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t fml_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline uint32_t fml_fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

static inline uint64_t fml_rng_row_key(uint64_t seed, uint64_t stream)
{
    return fml_splitmix64(seed + fml_splitmix64(stream));
}

static inline uint32_t fml_rng_u32(uint64_t row_key, uint64_t j)
{
    return fml_fmix32(fml_fmix32((uint32_t)j ^ (uint32_t)row_key) + (uint32_t)(row_key >> 32));
}

/* Drop threshold for probability p in [0, 1): u32 < threshold is dropped. */
static inline uint32_t fml_rng_threshold(double p)
{
    const double t = nearbyint(p * 4294967296.0);
    return t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
}

#endif
