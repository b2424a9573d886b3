// datatrove's simplify_text (default TextNormConfig) in one pass over code points: Python's str.lower(),
// digit runs to "0", datatrove's punctuation to spaces, whitespace runs to one space, canonical
// decomposition without non-spacing marks, strip.
#include "darwin_words.h"

#include <stdlib.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>

static int is_case_ignorable(uint32_t c) { return u_hasBinaryProperty((UChar32)c, UCHAR_CASE_IGNORABLE); }
static int is_cased(uint32_t c) { return u_hasBinaryProperty((UChar32)c, UCHAR_CASED); }

// Python's handling of U+03A3 in str.lower(): final sigma after a cased letter unless one follows.
static uint32_t lower_sigma(const uint32_t *cps, size_t n, size_t i) {
    size_t j = i;
    uint32_t c = 0;
    int found = 0;
    while (j > 0) {
        c = cps[--j];
        if (!is_case_ignorable(c)) {
            found = 1;
            break;
        }
    }
    int final_sigma = found && is_cased(c);
    if (final_sigma && i + 1 < n) {
        size_t k = i + 1;
        for (; k < n; k++) {
            c = cps[k];
            if (!is_case_ignorable(c)) break;
        }
        final_sigma = k == n || !is_cased(c);
    }
    return final_sigma ? 0x3C2 : 0x3C3;
}

static int is_number_separator(uint32_t c) {
    return c == '.' || c == ',' || c == 0x60C || c == 0x66B || c == 0x2396 || c == 0x2397 || c == 0x2398;
}

static size_t utf8_length(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

static size_t put_utf8(uint8_t *d, uint32_t c) {
    if (c < 0x80) {
        d[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (uint8_t)(0xC0 | (c >> 6));
        d[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (c >> 12));
        d[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (c >> 18));
    d[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

// ASCII classes, filled from dt_has_prop on first use: 1 = datatrove punctuation, 2 = whitespace.
static uint8_t ascii_class[128];
static int ascii_ready;

static void fill_ascii(void) {
    for (uint32_t c = 0; c < 128; c++)
        ascii_class[c] = dt_has_prop(DT_PROP_DT_PUNCTUATION, c) ? 1 : dt_has_prop(DT_PROP_SPACE, c) ? 2 : 0;
    __atomic_store_n(&ascii_ready, 1, __ATOMIC_RELEASE);
}

long dt_simplify(const uint8_t *text, size_t len, uint8_t *out, size_t capacity) {
    if (!__atomic_load_n(&ascii_ready, __ATOMIC_ACQUIRE)) fill_ascii();
    // Original code points, then lower-cased ones (U+0130 becomes two).
    uint32_t *cps = malloc((len + 1) * sizeof(uint32_t));
    uint32_t *low = malloc((2 * len + 1) * sizeof(uint32_t));
    if (!cps || !low) {
        free(cps);
        free(low);
        return -1;
    }
    size_t n = 0;
    const uint8_t *p = text, *end = text + len;
    while (p < end) {
        int k;
        cps[n++] = dt_decode(p, end, &k);
        p += k;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cps[i];
        if (c < 0x80) {
            low[m++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        } else if (c == 0x130) {
            low[m++] = 'i';
            low[m++] = 0x307;
        } else if (c == 0x3A3) {
            low[m++] = lower_sigma(cps, n, i);
        } else {
            low[m++] = (uint32_t)u_tolower((UChar32)c);
        }
    }
    // Numbers and punctuation, then whitespace runs to one space without leading or trailing space, into cps.
    size_t w = 0;
    int pending = 0;
    for (size_t i = 0; i < m;) {
        uint32_t c = low[i];
        uint32_t emit;
        if (c < 0x80 && !(c >= '0' && c <= '9')) {
            i++;
            uint8_t k = ascii_class[c];
            if (k) {
                pending = w > 0;
                continue;
            }
            if (pending) {
                cps[w++] = ' ';
                pending = 0;
            }
            cps[w++] = c;
            continue;
        }
        if (c >= '0' && c <= '9' ? 1 : dt_has_prop(DT_PROP_DECIMAL, c)) {
            size_t j = i;
            while (j < m && dt_has_prop(DT_PROP_DECIMAL, low[j])) j++;
            if (j + 1 < m && is_number_separator(low[j]) && dt_has_prop(DT_PROP_DECIMAL, low[j + 1])) {
                j++;
                while (j < m && dt_has_prop(DT_PROP_DECIMAL, low[j])) j++;
            }
            i = j;
            emit = '0';
        } else {
            i++;
            emit = dt_has_prop(DT_PROP_DT_PUNCTUATION, c) ? ' ' : c;
        }
        if (emit == ' ' || dt_has_prop(DT_PROP_SPACE, emit)) {
            pending = w > 0;
            continue;
        }
        if (pending) {
            cps[w++] = ' ';
            pending = 0;
        }
        cps[w++] = emit;
    }
    // Canonical decomposition, non-spacing marks dropped; UTF-8 out.
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&status);
    if (U_FAILURE(status)) {
        free(cps);
        free(low);
        return -1;
    }
    size_t o = 0;
    UChar buf[32];
    // Writes c when it fits; counts its bytes either way.
#define EMIT(c)                                                           \
    do {                                                                  \
        size_t need_ = utf8_length(c);                                    \
        if (o + need_ <= capacity) put_utf8(out + o, c);                  \
        o += need_;                                                       \
    } while (0)
    for (size_t i = 0; i < w; i++) {
        uint32_t c = cps[i];
        if (c < 0x80) {
            if (o < capacity) out[o] = (uint8_t)c;
            o++;
            continue;
        }
        if (c < 0xC0) {  // nothing below U+00C0 decomposes or is a non-spacing mark
            EMIT(c);
            continue;
        }
        status = U_ZERO_ERROR;
        int32_t k = unorm2_getDecomposition(nfd, (UChar32)c, buf, 32, &status);
        if (k < 0 || U_FAILURE(status)) {
            if (dt_has_prop(DT_PROP_NONSPACING_MARK, c)) continue;
            EMIT(c);
            continue;
        }
        for (int32_t q = 0; q < k;) {
            uint32_t d = buf[q++];
            if (d >= 0xD800 && d < 0xDC00 && q < k) d = 0x10000 + ((d - 0xD800) << 10) + (buf[q++] - 0xDC00);
            if (dt_has_prop(DT_PROP_NONSPACING_MARK, d)) continue;
            EMIT(d);
        }
    }
#undef EMIT
    free(cps);
    free(low);
    // Python's strip(): removing marks may have left a space at either end.
    if (o > capacity) return (long)o;
    size_t start = 0;
    while (start < o && out[start] == ' ') start++;
    while (o > start && out[o - 1] == ' ') o--;
    if (start > 0) {
        for (size_t i = start; i < o; i++) out[i - start] = out[i];
        o -= start;
    }
    return (long)o;
}
