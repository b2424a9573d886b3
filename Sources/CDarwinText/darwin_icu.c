// Word segmentation for scripts written without spaces, through ICU's break iterator.
#include "darwin_words.h"

#include <stdlib.h>
#include <unicode/ubrk.h>
#include <unicode/utypes.h>

long dt_icu_words(const uint8_t *text, size_t len, dt_token *tokens, size_t capacity) {
    // UTF-16 copy with, for every UTF-16 unit, the byte offset of its code point.
    UChar *u = malloc((len + 1) * sizeof(UChar));
    uint32_t *off = malloc((len + 2) * sizeof(uint32_t));
    uint32_t *chars = malloc((len + 2) * sizeof(uint32_t));  // code points before each UTF-16 unit
    if (!u || !off || !chars) {
        free(u);
        free(off);
        free(chars);
        return -1;
    }
    int32_t n = 0;
    uint32_t ncp = 0;
    const uint8_t *p = text, *end = text + len;
    while (p < end) {
        int k;
        uint32_t c = dt_decode(p, end, &k);
        uint32_t b = (uint32_t)(p - text);
        if (c >= 0x10000) {
            c -= 0x10000;
            off[n] = b;
            chars[n] = ncp;
            u[n++] = (UChar)(0xD800 + (c >> 10));
            off[n] = b;
            chars[n] = ncp;
            u[n++] = (UChar)(0xDC00 + (c & 0x3FF));
        } else {
            off[n] = b;
            chars[n] = ncp;
            u[n++] = (UChar)c;
        }
        ncp++;
        p += k;
    }
    off[n] = (uint32_t)len;
    chars[n] = ncp;
    UErrorCode status = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_open(UBRK_WORD, "", u, n, &status);
    if (U_FAILURE(status)) {
        free(u);
        free(off);
        free(chars);
        return -1;
    }
    size_t count = 0;
    int32_t start = ubrk_first(bi);
    for (int32_t e = ubrk_next(bi); e != UBRK_DONE; start = e, e = ubrk_next(bi)) {
        if (ubrk_getRuleStatus(bi) < UBRK_WORD_NONE_LIMIT) continue;  // spaces and punctuation
        if (count < capacity) {
            dt_token *t = &tokens[count];
            t->start = off[start];
            t->end = off[e];
            t->chars = chars[e] - chars[start];
            t->flags = 0;
            // Flags as the English splitter computes them.
            const uint8_t *q = text + t->start, *qe = text + t->end;
            int all_dt = 1, all_p = 1;
            while (q < qe) {
                int k;
                uint32_t c = dt_decode(q, qe, &k);
                q += k;
                if (dt_has_prop(DT_PROP_ALPHA, c)) t->flags |= DT_TOK_HAS_ALPHA;
                if (!dt_has_prop(DT_PROP_DT_PUNCT, c)) all_dt = 0;
                if (!dt_has_prop(DT_PROP_PUNCT, c)) all_p = 0;
            }
            if (all_dt) t->flags |= DT_TOK_ALL_DT_PUNCT;
            if (all_p) t->flags |= DT_TOK_ALL_CAT_P;
        }
        count++;
    }
    ubrk_close(bi);
    free(u);
    free(off);
    free(chars);
    return (long)count;
}
