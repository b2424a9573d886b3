// Charset decoding of web pages to UTF-8 through ICU converters, with the order of sources browsers use.
#include "darwin_charset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>
#include <unicode/ucsdet.h>
#include <unicode/ustring.h>

static int utf8_sequence(const unsigned char *s, size_t i, size_t n) {
    unsigned char b = s[i];
    if (b < 0x80) return 1;
    int k;
    uint32_t min;
    if (b >= 0xC2 && b <= 0xDF) { k = 2; min = 0x80; }
    else if (b >= 0xE0 && b <= 0xEF) { k = 3; min = 0x800; }
    else if (b >= 0xF0 && b <= 0xF4) { k = 4; min = 0x10000; }
    else return 0;
    if (i + (size_t)k > n) return 0;
    uint32_t c = b & (0x7F >> k);
    for (int j = 1; j < k; j++) {
        if ((s[i + j] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i + j] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return k;
}

char *dc_utf16_to_utf8(const uint16_t *units, int32_t count, size_t *length) {
    int32_t blen = 0;
    UErrorCode e = U_ZERO_ERROR;
    u_strToUTF8WithSub(NULL, 0, &blen, units, count, 0xFFFD, NULL, &e);
    char *b = malloc((size_t)blen + 1);
    if (!b) return NULL;
    e = U_ZERO_ERROR;
    u_strToUTF8WithSub(b, blen + 1, &blen, units, count, 0xFFFD, NULL, &e);
    b[blen] = 0;
    *length = (size_t)blen;
    return b;
}

int dc_utf8_length(const unsigned char *s, size_t n) { return utf8_sequence(s, 0, n); }

/// Bytes from `i` that are ASCII, eight at a time.
static size_t ascii_run(const unsigned char *s, size_t i, size_t n) {
    size_t j = i;
    while (j + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + j, 8);
        if (w & 0x8080808080808080ull) break;
        j += 8;
    }
    while (j < n && s[j] < 0x80) j++;
    return j;
}

/// Invalid bytes in `s` (0: valid UTF-8).
static size_t invalid_bytes(const unsigned char *s, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        i = ascii_run(s, i, n);
        if (i >= n) break;
        int k = utf8_sequence(s, i, n);
        if (k == 0) { bad++; i++; } else i += (size_t)k;
    }
    return bad;
}

size_t dc_repair_utf8(const char *bytes, size_t n, char **out, size_t *out_length) {
    const unsigned char *s = (const unsigned char *)bytes;
    size_t bad = invalid_bytes(s, n);
    if (bad == 0) {
        char *o = malloc(n + 1);
        if (!o) return (size_t)-1;
        memcpy(o, bytes, n);
        o[n] = 0;
        *out = o;
        *out_length = n;
        return 0;
    }
    char *o = malloc(n + bad * 2 + 1);
    if (!o) return (size_t)-1;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        int k = utf8_sequence(s, i, n);
        if (k == 0) {
            o[w++] = (char)0xEF; o[w++] = (char)0xBF; o[w++] = (char)0xBD;
            i++;
        } else {
            memcpy(o + w, s + i, (size_t)k);
            w += (size_t)k;
            i += (size_t)k;
        }
    }
    o[w] = 0;
    *out = o;
    *out_length = w;
    return bad;
}

static void lower_label(const char *in, size_t n, char *out, size_t cap) {
    size_t w = 0;
    size_t i = 0;
    while (i < n && (in[i] == ' ' || in[i] == '"' || in[i] == '\'')) i++;
    for (; i < n && w + 1 < cap; i++) {
        char ch = in[i];
        if (ch == '"' || ch == '\'' || ch == ';' || ch == ' ' || ch == '>' || ch == '/' || ch == ',') break;
        out[w++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch | 0x20) : ch;
    }
    out[w] = 0;
}

/// The label as browsers read it: the Latin-1 family and ASCII are windows-1252, GB2312 is GBK, and so on.
static void canonical(char *label) {
    static const char *const latin[] = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii",
                                        "iso_8859-1", "cp1252", "x-cp1252", "cp819", "ibm819", "ansi_x3.4-1968"};
    for (size_t i = 0; i < sizeof latin / sizeof *latin; i++)
        if (strcmp(label, latin[i]) == 0) { strcpy(label, "windows-1252"); return; }
    if (strcmp(label, "utf8") == 0 || strcmp(label, "unicode-1-1-utf-8") == 0) strcpy(label, "utf-8");
    else if (strcmp(label, "gb2312") == 0 || strcmp(label, "gb_2312-80") == 0 || strcmp(label, "x-gbk") == 0)
        strcpy(label, "gbk");
    else if (strcmp(label, "iso-8859-9") == 0 || strcmp(label, "latin5") == 0) strcpy(label, "windows-1254");
    else if (strcmp(label, "tis-620") == 0 || strcmp(label, "iso-8859-11") == 0) strcpy(label, "windows-874");
    else if (strcmp(label, "x-sjis") == 0 || strcmp(label, "sjis") == 0 || strcmp(label, "ms_kanji") == 0)
        strcpy(label, "shift_jis");
    else if (strcmp(label, "ks_c_5601-1987") == 0 || strcmp(label, "ksc5601") == 0) strcpy(label, "euc-kr");
}

/// charset= in a Content-Type value.
static int charset_param(const char *v, size_t n, char *out, size_t cap) {
    for (size_t i = 0; i + 8 <= n; i++) {
        if (strncasecmp(v + i, "charset", 7) == 0) {
            size_t j = i + 7;
            while (j < n && v[j] == ' ') j++;
            if (j < n && v[j] == '=') {
                lower_label(v + j + 1, n - j - 1, out, cap);
                return out[0] != 0;
            }
        }
    }
    return 0;
}

/// <meta charset=…> or <meta http-equiv="content-type" content="…; charset=…"> in the first 4 KB.
static int meta_charset(const char *s, size_t n, char *out, size_t cap) {
    if (n > 4096) n = 4096;
    for (size_t i = 0; i + 5 < n; i++) {
        if (s[i] != '<' || strncasecmp(s + i + 1, "meta", 4) != 0) continue;
        size_t end = i + 5;
        while (end < n && s[end] != '>') end++;
        if (charset_param(s + i + 5, end - i - 5, out, cap)) return 1;
    }
    return 0;
}

static int convert(const char *name, const char *s, size_t n, dc_result *out);

typedef struct { size_t count; } counter_t;

static void count_and_substitute(const void *context, UConverterToUnicodeArgs *args, const char *units,
                                 int32_t length, UConverterCallbackReason reason, UErrorCode *err) {
    if (reason <= UCNV_IRREGULAR) ((counter_t *)context)->count += length > 0 ? (size_t)length : 1;
    UCNV_TO_U_CALLBACK_SUBSTITUTE(NULL, args, units, length, reason, err);
}

static int convert(const char *name, const char *s, size_t n, dc_result *out) {
    UErrorCode e = U_ZERO_ERROR;
    UConverter *cv = ucnv_open(name, &e);
    if (U_FAILURE(e) || !cv) return 1;  // unknown charset
    counter_t counter = {0};
    ucnv_setToUCallBack(cv, count_and_substitute, &counter, NULL, NULL, &e);
    UChar *u = malloc((n * 2 + 16) * sizeof(UChar));
    if (!u) { ucnv_close(cv); return -1; }
    int32_t ulen = ucnv_toUChars(cv, u, (int32_t)(n * 2 + 16), s, (int32_t)n, &e);
    ucnv_close(cv);
    if (U_FAILURE(e)) { free(u); return 1; }
    size_t blen = 0;
    char *b = dc_utf16_to_utf8(u, ulen, &blen);
    free(u);
    if (!b) return -1;
    out->text = b;
    out->length = blen;
    out->invalid = counter.count;
    return 0;
}

static int decode_as(const char *label, const char *s, size_t n, dc_result *out) {
    if (strcmp(label, "utf-8") == 0 && invalid_bytes((const unsigned char *)s, n) == 0) {
        out->text = (char *)s;
        out->length = n;
        out->borrowed = 1;
        return 0;
    }
    if (strcmp(label, "utf-8") == 0) {
        size_t bad = dc_repair_utf8(s, n, &out->text, &out->length);
        if (bad == (size_t)-1) return -1;
        out->invalid = bad;
        return 0;
    }
    return convert(label, s, n, out);
}

int dc_decode(const char *bytes, size_t n, const char *declared, int is_html, dc_result *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *u = (const unsigned char *)bytes;
    char label[40] = {0};
    // 1. Byte-order mark.
    if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        strcpy(out->charset, "utf-8");
        out->source = DC_BOM;
        return decode_as("utf-8", bytes + 3, n - 3, out);
    }
    if (n >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        strcpy(out->charset, u[0] == 0xFF ? "utf-16le" : "utf-16be");
        out->source = DC_BOM;
        int r = convert(out->charset, bytes + 2, n - 2, out);
        return r > 0 ? -1 : r;
    }
    // 2. HTTP header, 3. <meta>.
    int source = -1;
    if (declared && *declared) {
        lower_label(declared, strlen(declared), label, sizeof label);
        if (label[0]) source = DC_HTTP;
    }
    if (source < 0 && is_html && meta_charset(bytes, n, label, sizeof label)) source = DC_META;
    if (source >= 0) {
        canonical(label);
        // A page that says UTF-16 in its own ASCII bytes is not UTF-16.
        if (strncmp(label, "utf-16", 6) == 0) strcpy(label, "utf-8");
        int r = decode_as(label, bytes, n, out);
        if (r <= 0) {
            strncpy(out->charset, label, sizeof out->charset - 1);
            out->source = source;
            return r;
        }
        // An unknown label: go on as if none was given.
    }
    // 4. Valid UTF-8 (pure ASCII included): the input itself.
    if (invalid_bytes(u, n) == 0) {
        strcpy(out->charset, "utf-8");
        out->source = DC_UTF8;
        out->text = (char *)bytes;
        out->length = n;
        out->borrowed = 1;
        return 0;
    }
    // 5. ICU's detector; 6. windows-1252.
    UErrorCode e = U_ZERO_ERROR;
    UCharsetDetector *d = ucsdet_open(&e);
    const char *name = NULL;
    if (U_SUCCESS(e)) {
        ucsdet_enableInputFilter(d, is_html ? 1 : 0);
        ucsdet_setText(d, bytes, (int32_t)(n > (1 << 16) ? (1 << 16) : n), &e);
        const UCharsetMatch *m = ucsdet_detect(d, &e);
        if (U_SUCCESS(e) && m && ucsdet_getConfidence(m, &e) >= 30) name = ucsdet_getName(m, &e);
    }
    if (name && strcmp(name, "UTF-8") != 0 && strncmp(name, "UTF-16", 6) != 0 && strncmp(name, "UTF-32", 6) != 0) {
        lower_label(name, strlen(name), label, sizeof label);
        canonical(label);
        ucsdet_close(d);
        int r = decode_as(label, bytes, n, out);
        if (r <= 0) {
            strncpy(out->charset, label, sizeof out->charset - 1);
            out->source = DC_DETECTED;
            return r;
        }
    } else if (d) {
        ucsdet_close(d);
    }
    strcpy(out->charset, "windows-1252");
    out->source = DC_FALLBACK;
    int r = decode_as("windows-1252", bytes, n, out);
    return r > 0 ? -1 : r;
}

void dc_result_free(dc_result *r) {
    if (!r->borrowed) free(r->text);
    r->text = NULL;
}
