// L1 text normalisation: mojibake repair, control characters, NFC and whitespace, in that order.
#include "darwin_normalize.h"

#include "darwin_buffer.h"
#include "darwin_charset.h"
#include "darwin_words.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

/// The code point at `s[i]` (the text is valid UTF-8) and its length.
static uint32_t decode(const unsigned char *s, size_t n, size_t i, int *len) { return dt_decode(s + i, s + n, len); }

/// The windows-1252 byte of a character, or -1. C1 controls stand for their own byte (Latin-1 readings).
static int cp1252_byte(uint32_t c) {
    if (c >= 0x80 && c <= 0xFF) return (int)c;
    switch (c) {
    case 0x20AC: return 0x80; case 0x201A: return 0x82; case 0x0192: return 0x83; case 0x201E: return 0x84;
    case 0x2026: return 0x85; case 0x2020: return 0x86; case 0x2021: return 0x87; case 0x02C6: return 0x88;
    case 0x2030: return 0x89; case 0x0160: return 0x8A; case 0x2039: return 0x8B; case 0x0152: return 0x8C;
    case 0x017D: return 0x8E; case 0x2018: return 0x91; case 0x2019: return 0x92; case 0x201C: return 0x93;
    case 0x201D: return 0x94; case 0x2022: return 0x95; case 0x2013: return 0x96; case 0x2014: return 0x97;
    case 0x02DC: return 0x98; case 0x2122: return 0x99; case 0x0161: return 0x9A; case 0x203A: return 0x9B;
    case 0x0153: return 0x9C; case 0x017E: return 0x9E; case 0x0178: return 0x9F;
    default: return -1;
    }
}

/// Whether `b[0..n)` is valid UTF-8 made only of multi-byte sequences.
static int all_multibyte_utf8(const unsigned char *b, size_t n) {
    if (n < 2) return 0;
    for (size_t i = 0; i < n;) {
        int k = dc_utf8_length(b + i, n - i);
        if (k < 2) return 0;
        i += (size_t)k;
    }
    return 1;
}

/// One pass of mojibake repair: every run of non-ASCII characters that are windows-1252 bytes of valid UTF-8
/// is replaced by what those bytes mean.
static int fix_mojibake(const char *in, size_t n, dt_buffer *out, size_t *fixed) {
    const unsigned char *s = (const unsigned char *)in;
    unsigned char bytes[256];
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            size_t j = i;
            while (j < n && s[j] < 0x80) j++;
            if (dt_buffer_put(out, in + i, j - i)) return -1;
            i = j;
            continue;
        }
        // A run of characters with windows-1252 bytes.
        size_t j = i, nb = 0;
        while (j < n && s[j] >= 0x80 && nb < sizeof bytes) {
            int len;
            uint32_t c = decode(s, n, j, &len);
            int b = cp1252_byte(c);
            if (b < 0) break;
            bytes[nb++] = (unsigned char)b;
            j += (size_t)len;
        }
        if (nb >= 2 && all_multibyte_utf8(bytes, nb)) {
            if (dt_buffer_put(out, (const char *)bytes, nb)) return -1;
            (*fixed)++;
            i = j;
            continue;
        }
        // Not mojibake: copy the first character and go on.
        int len;
        decode(s, n, i, &len);
        if (j == i) j = i + (size_t)len;
        if (dt_buffer_put(out, in + i, j - i)) return -1;
        i = j;
    }
    return 0;
}

static int is_control(uint32_t c) {
    if (c == '\t' || c == '\n') return 0;
    if (c < 0x20 || c == 0x7F) return 1;
    if (c >= 0x80 && c <= 0x9F) return 1;
    if (c == 0xFEFF || c == 0xFFFE || c == 0xFFFF) return 1;
    return 0;
}

static int remove_controls(const char *in, size_t n, dt_buffer *out, size_t *removed) {
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < n) {
        int len;
        uint32_t c = decode(s, n, i, &len);
        if (c == '\r') {
            // CR LF and lone CR become LF.
            if (!(i + 1 < n && s[i + 1] == '\n') && dt_buffer_put(out, "\n", 1)) return -1;
        } else if (is_control(c)) {
            (*removed)++;
        } else if (dt_buffer_put(out, in + i, (size_t)len)) {
            return -1;
        }
        i += (size_t)len;
    }
    return 0;
}

static int needs_nfc_check(const char *in, size_t n) {
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0xCC && (s[i] & 0xC0) != 0x80) return 1;
    return 0;
}

static int nfc(const char *in, size_t n, dt_buffer *out, int *changed) {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *norm = unorm2_getNFCInstance(&e);
    if (U_FAILURE(e)) return -1;
    int32_t ulen = 0;
    UChar *u = malloc((n + 1) * sizeof(UChar));
    if (!u) return -1;
    u_strFromUTF8WithSub(u, (int32_t)n + 1, &ulen, in, (int32_t)n, 0xFFFD, NULL, &e);
    if (U_FAILURE(e)) { free(u); return -1; }
    if (unorm2_isNormalized(norm, u, ulen, &e) && U_SUCCESS(e)) {
        free(u);
        return 0;  // already NFC: `out` stays empty
    }
    e = U_ZERO_ERROR;
    UChar *v = malloc(((size_t)ulen * 3 + 16) * sizeof(UChar));
    if (!v) { free(u); return -1; }
    int32_t vlen = unorm2_normalize(norm, u, ulen, v, ulen * 3 + 16, &e);
    free(u);
    if (U_FAILURE(e)) { free(v); return -1; }
    size_t blen = 0;
    char *b = dc_utf16_to_utf8(v, vlen, &blen);
    free(v);
    if (!b) return -1;
    int r = dt_buffer_put(out, b, blen);
    free(b);
    *changed = 1;
    return r;
}

/// Trailing spaces, runs of spaces inside a line (indentation kept), more than one blank line, blank lines at
/// both ends; lines inside ``` fences are left as they are.
static int whitespace(const char *in, size_t n, dt_buffer *out) {
    size_t i = 0;
    int in_fence = 0;
    int blank_run = 0;
    int started = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && in[j] != '\n') j++;
        const char *line = in + i;
        size_t len = j - i;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
        int fence = len - k >= 3 && strncmp(line + k, "```", 3) == 0;
        if (in_fence || fence) {
            if (!in_fence && started && blank_run > 0 && dt_buffer_put(out, "\n", 1)) return -1;
            if (dt_buffer_put(out, line, len) || dt_buffer_put(out, "\n", 1)) return -1;
            if (fence) in_fence = !in_fence;
            started = 1;
            blank_run = 0;
        } else {
            size_t end = len;
            while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) end--;
            if (end == 0) {
                blank_run++;
            } else {
                if (started && blank_run > 0 && dt_buffer_put(out, "\n", 1)) return -1;
                blank_run = 0;
                started = 1;
                if (dt_buffer_put(out, line, k)) return -1;  // indentation as written
                // Words as written, one space between them.
                for (size_t p = k; p < end;) {
                    size_t q = p;
                    while (q < end && line[q] != ' ' && line[q] != '\t') q++;
                    if (p > k && dt_buffer_put(out, " ", 1)) return -1;
                    if (dt_buffer_put(out, line + p, q - p)) return -1;
                    p = q;
                    while (p < end && (line[p] == ' ' || line[p] == '\t')) p++;
                }
                if (dt_buffer_put(out, "\n", 1)) return -1;
            }
        }
        i = j + 1;
    }
    while (out->n > 0 && out->p[out->n - 1] == '\n') out->n--;
    if (out->p) out->p[out->n] = 0;
    return 0;
}

static int has_non_ascii(const char *in, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] >= 0x80) return 1;
    return 0;
}

/// Whether any character `remove_controls` would touch is there (a control, CR, DEL, C1, BOM or U+FFFE/F).
static int has_controls(const char *in, size_t n) {
    const unsigned char *s = (const unsigned char *)in;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) return 1;
        if (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) return 1;
        if (c == 0xEF && i + 2 < n && ((s[i + 1] == 0xBB && s[i + 2] == 0xBF) || (s[i + 1] == 0xBF && s[i + 2] >= 0xBE)))
            return 1;
    }
    return 0;
}

/// The text moves on to what a pass wrote into `next`, unless the pass wrote nothing (it had nothing to change).
static void take(dt_buffer *cur, dt_buffer *next, const char **text, size_t *n) {
    if (!next->p) return;
    free(cur->p);
    *cur = *next;
    *text = cur->p;
    *n = cur->n;
}

int dn_normalize(const char *text, size_t n, const dn_options *o, dn_result *r) {
    memset(r, 0, sizeof *r);
    // `cur` owns the text once a pass has changed it; until then the passes read the input.
    dt_buffer cur = {0};
    const char *t = text;
    if (o->mojibake && has_non_ascii(t, n)) {
        for (int pass = 0; pass < 2; pass++) {
            size_t fixed = 0;
            dt_buffer next = {0};
            if (fix_mojibake(t, n, &next, &fixed)) { free(cur.p); free(next.p); return -1; }
            if (!fixed) {
                free(next.p);
                break;
            }
            take(&cur, &next, &t, &n);
            r->mojibake_fixed += fixed;
        }
    }
    if (o->controls && has_controls(t, n)) {
        dt_buffer next = {0};
        if (remove_controls(t, n, &next, &r->controls_removed) || dt_buffer_put(&next, "", 0)) {
            free(cur.p);
            free(next.p);
            return -1;
        }
        take(&cur, &next, &t, &n);
    }
    if (o->nfc && needs_nfc_check(t, n)) {
        dt_buffer next = {0};
        if (nfc(t, n, &next, &r->nfc_changed)) { free(cur.p); free(next.p); return -1; }
        take(&cur, &next, &t, &n);
    }
    if (o->whitespace) {
        dt_buffer next = {0};
        if (whitespace(t, n, &next) || dt_buffer_put(&next, "", 0)) { free(cur.p); free(next.p); return -1; }
        r->whitespace_changed = next.n != n || (next.n && memcmp(next.p, t, next.n) != 0);
        take(&cur, &next, &t, &n);
    }
    if (!cur.p && dt_buffer_put(&cur, t, n)) return -1;
    r->text = cur.p;
    r->length = cur.n;
    return 0;
}

void dn_result_free(dn_result *r) {
    free(r->text);
    r->text = NULL;
}
