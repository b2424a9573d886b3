// Byte-level text helpers. Unicode White_Space (Unicode 15): U+0009–000D, U+0020, U+0085, U+00A0,
// U+1680, U+2000–200A, U+2028, U+2029, U+202F, U+205F, U+3000.
#include "darwin_text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t dt_whitespace_length(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    if (c < 0x80) return (c == ' ' || (c >= 0x09 && c <= 0x0D)) ? 1 : 0;
    size_t avail = (size_t)(end - p);
    if (c == 0xC2 && avail >= 2) return (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (avail < 3) return 0;
    if (c == 0xE1) return (p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;
    if (c == 0xE2) {
        if (p[1] == 0x80) return ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF) ? 3 : 0;
        if (p[1] == 0x81) return p[2] == 0x9F ? 3 : 0;
        return 0;
    }
    if (c == 0xE3) return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;
    return 0;
}

int dt_is_ascii(const uint8_t *src, size_t len) {
    const uint8_t *p = src, *end = src + len;
#if defined(__SSE2__)
    while (end - p >= 16) {
        if (_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p))) return 0;
        p += 16;
    }
#endif
    while (p < end) {
        if (*p++ >= 0x80) return 0;
    }
    return 1;
}

size_t dt_collapse_whitespace(const uint8_t *src, size_t len, uint8_t *dst, int lower_ascii) {
    const uint8_t *p = src, *end = src + len;
    uint8_t *d = dst;
    int pending = 0;  // a space is owed before the next non-space
    while (p < end) {
        uint8_t c = *p;
        size_t ws = dt_whitespace_length(p, end);
        if (ws) {
            pending = d != dst;
            p += ws;
            continue;
        }
        if (pending) {
            *d++ = ' ';
            pending = 0;
        }
        if (c < 0x80) {
            *d++ = (lower_ascii && c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
            p++;
        } else {
            // Copy the whole multi-byte sequence.
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if ((size_t)(end - p) < n) n = (size_t)(end - p);
            for (size_t i = 0; i < n; i++) *d++ = p[i];
            p += n;
        }
    }
    return (size_t)(d - dst);
}
