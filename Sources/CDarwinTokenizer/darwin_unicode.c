// ICU normalization and case mapping for darwin's tokenizer (see darwin_tokenizer.h). Kept apart from the
// Oniguruma file: both libraries define a type named UChar.
#include "darwin_tokenizer.h"

#include <stdlib.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

// UTF-8 <-> UTF-16 through ICU's converters.
static UChar *to_utf16(const uint8_t *text, size_t len, int32_t *out_len) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(NULL, 0, &n, (const char *)text, (int32_t)len, &status);
    if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) return NULL;
    status = U_ZERO_ERROR;
    UChar *u = malloc(((size_t)n + 1) * sizeof(UChar));
    if (!u) return NULL;
    u_strFromUTF8(u, n + 1, &n, (const char *)text, (int32_t)len, &status);
    if (U_FAILURE(status)) {
        free(u);
        return NULL;
    }
    *out_len = n;
    return u;
}

static long from_utf16(const UChar *u, int32_t n, uint8_t *out, size_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t written = 0;
    u_strToUTF8((char *)out, (int32_t)capacity, &written, u, n, &status);
    if (status == U_BUFFER_OVERFLOW_ERROR || status == U_STRING_NOT_TERMINATED_WARNING) return written;
    if (U_FAILURE(status)) return -1;
    return written;
}

long dt_normalize(int form, const uint8_t *text, size_t len, uint8_t *out, size_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *normalizer = NULL;
    switch (form) {
    case DT_NFC: normalizer = unorm2_getNFCInstance(&status); break;
    case DT_NFD: normalizer = unorm2_getNFDInstance(&status); break;
    case DT_NFKC: normalizer = unorm2_getNFKCInstance(&status); break;
    case DT_NFKD: normalizer = unorm2_getNFKDInstance(&status); break;
    default: return -1;
    }
    if (U_FAILURE(status)) return -1;
    int32_t n = 0;
    UChar *u = to_utf16(text, len, &n);
    if (!u) return -1;
    int32_t cap = n * 4 + 16;
    UChar *normalized = malloc((size_t)cap * sizeof(UChar));
    if (!normalized) {
        free(u);
        return -1;
    }
    int32_t m = unorm2_normalize(normalizer, u, n, normalized, cap, &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) {
        status = U_ZERO_ERROR;
        free(normalized);
        cap = m + 1;
        normalized = malloc((size_t)cap * sizeof(UChar));
        if (!normalized) {
            free(u);
            return -1;
        }
        m = unorm2_normalize(normalizer, u, n, normalized, cap, &status);
    }
    free(u);
    long result = U_FAILURE(status) ? -1 : from_utf16(normalized, m, out, capacity);
    free(normalized);
    return result;
}

long dt_lowercase(const uint8_t *text, size_t len, uint8_t *out, size_t capacity) {
    // Character by character, as Rust's char::to_lowercase: full mappings (İ → i̇), no context (a final
    // capital sigma becomes σ, not ς).
    int32_t n = 0;
    UChar *u = to_utf16(text, len, &n);
    if (!u) return -1;
    UChar *lower = malloc(((size_t)n * 3 + 16) * sizeof(UChar));
    if (!lower) {
        free(u);
        return -1;
    }
    int32_t m = 0;
    for (int32_t i = 0; i < n;) {
        int32_t k = (U16_IS_LEAD(u[i]) && i + 1 < n && U16_IS_TRAIL(u[i + 1])) ? 2 : 1;
        UErrorCode status = U_ZERO_ERROR;
        int32_t w = u_strToLower(lower + m, n * 3 + 16 - m, u + i, k, "", &status);
        if (U_FAILURE(status)) {
            free(u);
            free(lower);
            return -1;
        }
        m += w;
        i += k;
    }
    free(u);
    long result = from_utf16(lower, m, out, capacity);
    free(lower);
    return result;
}
