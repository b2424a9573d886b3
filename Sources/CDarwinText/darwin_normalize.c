// L1 text normalisation: mojibake repair, control characters, NFC and whitespace, in that order.
#include "darwin_normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

typedef struct {
    char *p;
    size_t n, cap;
} sb_t;

static int sb_put(sb_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static uint32_t decode(const unsigned char *s, size_t n, size_t i, int *len) {
    unsigned char b = s[i];
    if (b < 0x80) { *len = 1; return b; }
    if (b >= 0xC0 && b < 0xE0 && i + 1 < n) { *len = 2; return ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu); }
    if (b >= 0xE0 && b < 0xF0 && i + 2 < n) {
        *len = 3;
        return ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
    }
    if (b >= 0xF0 && i + 3 < n) {
        *len = 4;
        return ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
    }
    *len = 1;
    return 0xFFFD;
}

static size_t encode(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

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
    size_t i = 0;
    if (n < 2) return 0;
    while (i < n) {
        unsigned char c = b[i];
        int k;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF) { k = 2; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 3; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 4; min = 0x10000; }
        else return 0;
        if (i + (size_t)k > n) return 0;
        uint32_t v = c & (0x7F >> k);
        for (int j = 1; j < k; j++) {
            if ((b[i + j] & 0xC0) != 0x80) return 0;
            v = (v << 6) | (b[i + j] & 0x3F);
        }
        if (v < min || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return 0;
        i += (size_t)k;
    }
    return 1;
}

/// One pass of mojibake repair: every run of non-ASCII characters that are windows-1252 bytes of valid UTF-8
/// is replaced by what those bytes mean.
static int fix_mojibake(const char *in, size_t n, sb_t *out, size_t *fixed) {
    const unsigned char *s = (const unsigned char *)in;
    unsigned char bytes[256];
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            size_t j = i;
            while (j < n && s[j] < 0x80) j++;
            if (sb_put(out, in + i, j - i)) return -1;
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
            if (sb_put(out, (const char *)bytes, nb)) return -1;
            (*fixed)++;
            i = j;
            continue;
        }
        // Not mojibake: copy the first character and go on.
        int len;
        decode(s, n, i, &len);
        if (j == i) j = i + (size_t)len;
        if (sb_put(out, in + i, j - i)) return -1;
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

static int remove_controls(const char *in, size_t n, sb_t *out, size_t *removed) {
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < n) {
        int len;
        uint32_t c = decode(s, n, i, &len);
        if (c == '\r') {
            // CR LF and lone CR become LF.
            if (!(i + 1 < n && s[i + 1] == '\n') && sb_put(out, "\n", 1)) return -1;
        } else if (is_control(c)) {
            (*removed)++;
        } else if (sb_put(out, in + i, (size_t)len)) {
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

static int nfc(const char *in, size_t n, sb_t *out, int *changed) {
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
        return sb_put(out, in, n);
    }
    e = U_ZERO_ERROR;
    UChar *v = malloc(((size_t)ulen * 3 + 16) * sizeof(UChar));
    if (!v) { free(u); return -1; }
    int32_t vlen = unorm2_normalize(norm, u, ulen, v, ulen * 3 + 16, &e);
    free(u);
    if (U_FAILURE(e)) { free(v); return -1; }
    int32_t blen = 0;
    UErrorCode e2 = U_ZERO_ERROR;
    u_strToUTF8WithSub(NULL, 0, &blen, v, vlen, 0xFFFD, NULL, &e2);
    char *b = malloc((size_t)blen + 1);
    if (!b) { free(v); return -1; }
    e2 = U_ZERO_ERROR;
    u_strToUTF8WithSub(b, blen + 1, &blen, v, vlen, 0xFFFD, NULL, &e2);
    free(v);
    int r = sb_put(out, b, (size_t)blen);
    free(b);
    *changed = 1;
    return r;
}

/// Trailing spaces, runs of spaces inside a line (indentation kept), more than one blank line, blank lines at
/// both ends; lines inside ``` fences are left as they are.
static int whitespace(const char *in, size_t n, sb_t *out) {
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
            if (!in_fence && started && blank_run > 0 && sb_put(out, "\n", 1)) return -1;
            if (sb_put(out, line, len) || sb_put(out, "\n", 1)) return -1;
            if (fence) in_fence = !in_fence;
            started = 1;
            blank_run = 0;
        } else {
            size_t end = len;
            while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) end--;
            if (end == 0) {
                blank_run++;
            } else {
                if (started && blank_run > 0 && sb_put(out, "\n", 1)) return -1;
                blank_run = 0;
                started = 1;
                if (sb_put(out, line, k)) return -1;  // indentation as written
                int space = 0;
                for (size_t p = k; p < end; p++) {
                    char ch = line[p];
                    if (ch == ' ' || ch == '\t') {
                        space = 1;
                        continue;
                    }
                    if (space && sb_put(out, " ", 1)) return -1;
                    space = 0;
                    if (sb_put(out, &ch, 1)) return -1;
                }
                if (sb_put(out, "\n", 1)) return -1;
            }
        }
        i = j + 1;
    }
    while (out->n > 0 && out->p[out->n - 1] == '\n') out->n--;
    if (out->p) out->p[out->n] = 0;
    return 0;
}

int dn_normalize(const char *text, size_t n, const dn_options *o, dn_result *r) {
    memset(r, 0, sizeof *r);
    sb_t cur = {0};
    if (sb_put(&cur, text, n)) return -1;
    if (o->mojibake) {
        for (int pass = 0; pass < 2; pass++) {
            size_t fixed = 0;
            sb_t next = {0};
            if (fix_mojibake(cur.p, cur.n, &next, &fixed)) { free(cur.p); free(next.p); return -1; }
            free(cur.p);
            cur = next;
            if (!cur.p && sb_put(&cur, "", 0)) return -1;
            r->mojibake_fixed += fixed;
            if (!fixed) break;
        }
    }
    if (o->controls) {
        sb_t next = {0};
        if (remove_controls(cur.p, cur.n, &next, &r->controls_removed)) { free(cur.p); free(next.p); return -1; }
        free(cur.p);
        cur = next;
        if (!cur.p && sb_put(&cur, "", 0)) return -1;
    }
    if (o->nfc && needs_nfc_check(cur.p, cur.n)) {
        sb_t next = {0};
        if (nfc(cur.p, cur.n, &next, &r->nfc_changed)) { free(cur.p); free(next.p); return -1; }
        free(cur.p);
        cur = next;
        if (!cur.p && sb_put(&cur, "", 0)) return -1;
    }
    if (o->whitespace) {
        sb_t next = {0};
        if (whitespace(cur.p, cur.n, &next)) { free(cur.p); free(next.p); return -1; }
        r->whitespace_changed = next.n != cur.n || (next.n && memcmp(next.p, cur.p, next.n) != 0);
        free(cur.p);
        cur = next;
        if (!cur.p && sb_put(&cur, "", 0)) return -1;
    }
    r->text = cur.p;
    r->length = cur.n;
    return 0;
}

void dn_result_free(dn_result *r) {
    free(r->text);
    r->text = NULL;
}
