// MinHash slots: out[j] = min over shingles h of ((h * a[j] + b[j]) mod 2^64) mod (2^61 - 1).
#include "darwin_words.h"

#include <immintrin.h>

static const uint64_t P = (UINT64_C(1) << 61) - 1;

static inline uint64_t mod_prime(uint64_t x) {
    uint64_t r = (x & P) + (x >> 61);
    return r >= P ? r - P : r;
}

void dt_minhash_portable(const uint64_t *sh, size_t n, const uint64_t *a, const uint64_t *b, size_t slots,
                         uint64_t *out) {
    for (size_t j = 0; j < slots; j++) out[j] = UINT64_MAX;
    size_t j = 0;
    for (; j + 4 <= slots; j += 4) {
        uint64_t m0 = UINT64_MAX, m1 = UINT64_MAX, m2 = UINT64_MAX, m3 = UINT64_MAX;
        for (size_t i = 0; i < n; i++) {
            uint64_t h = sh[i], v;
            v = mod_prime(h * a[j] + b[j]);
            m0 = v < m0 ? v : m0;
            v = mod_prime(h * a[j + 1] + b[j + 1]);
            m1 = v < m1 ? v : m1;
            v = mod_prime(h * a[j + 2] + b[j + 2]);
            m2 = v < m2 ? v : m2;
            v = mod_prime(h * a[j + 3] + b[j + 3]);
            m3 = v < m3 ? v : m3;
        }
        out[j] = m0;
        out[j + 1] = m1;
        out[j + 2] = m2;
        out[j + 3] = m3;
    }
    for (; j < slots; j++) {
        uint64_t m = UINT64_MAX;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = mod_prime(sh[i] * a[j] + b[j]);
            m = v < m ? v : m;
        }
        out[j] = m;
    }
}

#if defined(__x86_64__)
// Eight slots per vector: 64-bit multiply (AVX-512 DQ), the Mersenne reduction, and an unsigned minimum.
__attribute__((target("avx512f,avx512dq"))) static void minhash_avx512(const uint64_t *sh, size_t n,
                                                                         const uint64_t *a, const uint64_t *b,
                                                                         size_t slots, uint64_t *out) {
    const __m512i p = _mm512_set1_epi64((long long)P);
    size_t j = 0;
    for (; j + 32 <= slots; j += 32) {  // four vectors of slots per pass over the shingles
        __m512i a0 = _mm512_loadu_si512(a + j), a1 = _mm512_loadu_si512(a + j + 8);
        __m512i a2 = _mm512_loadu_si512(a + j + 16), a3 = _mm512_loadu_si512(a + j + 24);
        __m512i b0 = _mm512_loadu_si512(b + j), b1 = _mm512_loadu_si512(b + j + 8);
        __m512i b2 = _mm512_loadu_si512(b + j + 16), b3 = _mm512_loadu_si512(b + j + 24);
        __m512i m0 = _mm512_set1_epi64(-1), m1 = m0, m2 = m0, m3 = m0;
        for (size_t i = 0; i < n; i++) {
            __m512i h = _mm512_set1_epi64((long long)sh[i]);
#define SLOT(A, B, M)                                                                               \
    do {                                                                                            \
        __m512i v = _mm512_add_epi64(_mm512_mullo_epi64(h, A), B);                                  \
        __m512i r = _mm512_add_epi64(_mm512_and_si512(v, p), _mm512_srli_epi64(v, 61));             \
        r = _mm512_min_epu64(r, _mm512_sub_epi64(r, p));                                            \
        M = _mm512_min_epu64(M, r);                                                                 \
    } while (0)
            SLOT(a0, b0, m0);
            SLOT(a1, b1, m1);
            SLOT(a2, b2, m2);
            SLOT(a3, b3, m3);
        }
        _mm512_storeu_si512(out + j, m0);
        _mm512_storeu_si512(out + j + 8, m1);
        _mm512_storeu_si512(out + j + 16, m2);
        _mm512_storeu_si512(out + j + 24, m3);
    }
    for (; j + 8 <= slots; j += 8) {
        __m512i a0 = _mm512_loadu_si512(a + j), b0 = _mm512_loadu_si512(b + j);
        __m512i m0 = _mm512_set1_epi64(-1);
        for (size_t i = 0; i < n; i++) {
            __m512i h = _mm512_set1_epi64((long long)sh[i]);
            SLOT(a0, b0, m0);
        }
        _mm512_storeu_si512(out + j, m0);
    }
#undef SLOT
    if (j < slots) dt_minhash_portable(sh, n, a + j, b + j, slots - j, out + j);
}
#endif

void dt_minhash(const uint64_t *shingles, size_t n, const uint64_t *a, const uint64_t *b, size_t slots,
                uint64_t *out) {
#if defined(__x86_64__)
    static int avx512 = -1;
    if (avx512 < 0) avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    if (avx512) {
        minhash_avx512(shingles, n, a, b, slots, out);
        return;
    }
#endif
    dt_minhash_portable(shingles, n, a, b, slots, out);
}
