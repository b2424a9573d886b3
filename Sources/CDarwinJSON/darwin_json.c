// A validating JSON scanner for JSON Lines (RFC 8259 grammar, strict UTF-8 per RFC 3629).
//
// Hot path: long string values (document text). Plain runs are skipped 16 bytes at a time with
// SSE2 where available; non-ASCII runs are validated sequence by sequence.
#include "darwin_json.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define DJ_HAVE_SSE2 1
#endif

typedef struct {
    const uint8_t *base;
    const uint8_t *p;
    const uint8_t *end;
    dj_token *tokens;  // NULL: validate only
    size_t capacity;
    size_t count;
    int code;
    size_t offset;
    uint32_t last_decoded;  // decoded length of the last string value scanned
} dj_ctx;

static int fail(dj_ctx *c, const uint8_t *at, int code) {
    if (c->code == DJ_OK) {
        c->code = code;
        c->offset = (size_t)(at - c->base);
    }
    return -1;
}

static inline void skip_ws(dj_ctx *c) {
    const uint8_t *p = c->p, *end = c->end;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    c->p = p;
}

// Advances past bytes that need no attention inside a string: printable ASCII other than '"' and '\'.
static inline const uint8_t *skip_plain(const uint8_t *p, const uint8_t *end) {
#ifdef DJ_HAVE_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches controls and non-ASCII.
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) p++;
    return p;
}

// Length of the well-formed UTF-8 sequence starting at p (lead byte >= 0x80), or 0.
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *end) {
    uint8_t c0 = p[0];
    size_t avail = (size_t)(end - p);
    if (c0 < 0xC2) return 0;
    if (c0 < 0xE0) {
        if (avail < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c0 < 0xF0) {
        if (avail < 3) return 0;
        uint8_t c1 = p[1];
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c0 == 0xE0 && c1 < 0xA0) return 0;   // overlong
        if (c0 == 0xED && c1 >= 0xA0) return 0;  // UTF-16 surrogate
        return 3;
    }
    if (c0 < 0xF5) {
        if (avail < 4) return 0;
        uint8_t c1 = p[1];
        if ((c1 & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (c0 == 0xF0 && c1 < 0x90) return 0;   // overlong
        if (c0 == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

static inline int is_hex(uint8_t b) {
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

static inline int hex_value(uint8_t b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    return b - 'A' + 10;
}

static inline uint32_t read_hex4(const uint8_t *p) {
    return (uint32_t)((hex_value(p[0]) << 12) | (hex_value(p[1]) << 8) | (hex_value(p[2]) << 4) | hex_value(p[3]));
}

// Scans a string starting at the opening quote. On success c->p is past the closing quote.
static int scan_string(dj_ctx *c, uint32_t *start, uint32_t *end_out, uint8_t *escaped, uint32_t *decoded) {
    const uint8_t *p = c->p + 1, *end = c->end;
    uint8_t esc = 0;
    size_t saved = 0;  // bytes the escapes save once decoded
    for (;;) {
        p = skip_plain(p, end);
        if (p >= end) return fail(c, c->p, DJ_ERR_SYNTAX);  // unterminated string
        uint8_t b = *p;
        if (b == '"') break;
        if (b == '\\') {
            if (end - p < 2) return fail(c, p, DJ_ERR_ESCAPE);
            uint8_t e = p[1];
            esc = 1;
            if (e == 'u') {
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return fail(c, p, DJ_ERR_ESCAPE);
                uint32_t cp = read_hex4(p + 2);
                p += 6;
                if (cp < 0x80) {
                    saved += 5;
                } else if (cp < 0x800) {
                    saved += 4;
                } else if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                           is_hex(p[2]) && is_hex(p[3]) && is_hex(p[4]) && is_hex(p[5]) &&
                           read_hex4(p + 2) >= 0xDC00 && read_hex4(p + 2) <= 0xDFFF) {
                    p += 6;
                    saved += 8;  // a surrogate pair: 12 bytes become 4
                } else {
                    saved += 3;  // BMP character or lone surrogate (U+FFFD): 3 bytes
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                       e == 't') {
                p += 2;
                saved += 1;
            } else {
                return fail(c, p, DJ_ERR_ESCAPE);
            }
            continue;
        }
        if (b < 0x20) return fail(c, p, DJ_ERR_CONTROL);
        // Non-ASCII: validate this run of multi-byte sequences in one go.
        do {
            size_t n = utf8_seq(p, end);
            if (n == 0) return fail(c, p, DJ_ERR_UTF8);
            p += n;
        } while (p < end && *p >= 0x80);
    }
    *start = (uint32_t)(c->p + 1 - c->base);
    *end_out = (uint32_t)(p - c->base);
    *escaped = esc;
    if (decoded) *decoded = (uint32_t)((size_t)(*end_out - *start) - saved);
    c->p = p + 1;
    return 0;
}

static int scan_number(dj_ctx *c) {
    const uint8_t *p = c->p, *end = c->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return fail(c, p, DJ_ERR_NUMBER);
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return fail(c, p, DJ_ERR_NUMBER);
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return fail(c, p, DJ_ERR_NUMBER);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return fail(c, p, DJ_ERR_NUMBER);
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    c->p = p;
    return 0;
}

static int scan_literal(dj_ctx *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return fail(c, c->p, DJ_ERR_SYNTAX);
    c->p += n;
    return 0;
}

// Reserves a tape slot; returns its index (slots past capacity are counted but not written).
static inline size_t push_token(dj_ctx *c, uint8_t type, uint32_t start, uint32_t end, uint8_t escaped) {
    size_t i = c->count++;
    if (c->tokens && i < c->capacity) {
        dj_token *t = &c->tokens[i];
        t->start = start;
        t->end = end;
        t->count = 0;
        t->type = type;
        t->escaped = escaped;
        t->reserved[0] = t->reserved[1] = 0;
    }
    return i;
}

static inline void finish_token(dj_ctx *c, size_t i, uint32_t end, uint32_t count) {
    if (c->tokens && i < c->capacity) {
        c->tokens[i].end = end;
        c->tokens[i].count = count;
    }
}

static int scan_value(dj_ctx *c, int depth, uint8_t *type_out, uint8_t *escaped_out);

static int scan_array(dj_ctx *c, int depth) {
    uint32_t start = (uint32_t)(c->p - c->base);
    size_t slot = push_token(c, DJ_ARRAY, start, start, 0);
    uint32_t n = 0;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
    } else {
        for (;;) {
            uint8_t t, e;
            if (scan_value(c, depth + 1, &t, &e) < 0) return -1;
            n++;
            skip_ws(c);
            if (c->p >= c->end) return fail(c, c->p, DJ_ERR_SYNTAX);
            if (*c->p == ',') {
                c->p++;
                skip_ws(c);
                continue;
            }
            if (*c->p == ']') {
                c->p++;
                break;
            }
            return fail(c, c->p, DJ_ERR_SYNTAX);
        }
    }
    finish_token(c, slot, (uint32_t)(c->p - c->base), n);
    return 0;
}

static int scan_object(dj_ctx *c, int depth) {
    uint32_t start = (uint32_t)(c->p - c->base);
    size_t slot = push_token(c, DJ_OBJECT, start, start, 0);
    uint32_t n = 0;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
    } else {
        for (;;) {
            if (c->p >= c->end || *c->p != '"') return fail(c, c->p, DJ_ERR_SYNTAX);
            uint32_t ks, ke;
            uint8_t kesc;
            if (scan_string(c, &ks, &ke, &kesc, NULL) < 0) return -1;
            push_token(c, DJ_STRING, ks, ke, kesc);
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return fail(c, c->p, DJ_ERR_SYNTAX);
            c->p++;
            skip_ws(c);
            uint8_t t, e;
            if (scan_value(c, depth + 1, &t, &e) < 0) return -1;
            n++;
            skip_ws(c);
            if (c->p >= c->end) return fail(c, c->p, DJ_ERR_SYNTAX);
            if (*c->p == ',') {
                c->p++;
                skip_ws(c);
                continue;
            }
            if (*c->p == '}') {
                c->p++;
                break;
            }
            return fail(c, c->p, DJ_ERR_SYNTAX);
        }
    }
    finish_token(c, slot, (uint32_t)(c->p - c->base), n);
    return 0;
}

// Scans one value at c->p (no leading whitespace).
static int scan_value(dj_ctx *c, int depth, uint8_t *type_out, uint8_t *escaped_out) {
    if (c->p >= c->end) return fail(c, c->p, DJ_ERR_SYNTAX);
    *escaped_out = 0;
    uint32_t start = (uint32_t)(c->p - c->base);
    switch (*c->p) {
    case '"': {
        uint32_t s, e;
        uint8_t esc;
        if (scan_string(c, &s, &e, &esc, &c->last_decoded) < 0) return -1;
        push_token(c, DJ_STRING, s, e, esc);
        *type_out = DJ_STRING;
        *escaped_out = esc;
        return 0;
    }
    case '{':
        if (depth >= DJ_MAX_DEPTH) return fail(c, c->p, DJ_ERR_DEPTH);
        *type_out = DJ_OBJECT;
        return scan_object(c, depth);
    case '[':
        if (depth >= DJ_MAX_DEPTH) return fail(c, c->p, DJ_ERR_DEPTH);
        *type_out = DJ_ARRAY;
        return scan_array(c, depth);
    case 't':
        *type_out = DJ_TRUE;
        if (scan_literal(c, "true", 4) < 0) return -1;
        break;
    case 'f':
        *type_out = DJ_FALSE;
        if (scan_literal(c, "false", 5) < 0) return -1;
        break;
    case 'n':
        *type_out = DJ_NULL;
        if (scan_literal(c, "null", 4) < 0) return -1;
        break;
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
            *type_out = DJ_NUMBER;
            if (scan_number(c) < 0) return -1;
            break;
        }
        if (*c->p >= 0x80 && utf8_seq(c->p, c->end) == 0) return fail(c, c->p, DJ_ERR_UTF8);
        return fail(c, c->p, DJ_ERR_SYNTAX);
    }
    push_token(c, *type_out, start, (uint32_t)(c->p - c->base), 0);
    return 0;
}

static int check_size(size_t len, dj_error *error) {
    if (len >= 0xFFFFFFFFu) {
        if (error) {
            error->offset = 0;
            error->code = DJ_ERR_TOO_LARGE;
        }
        return -1;
    }
    return 0;
}

static long report(dj_ctx *c, dj_error *error) {
    if (error) {
        error->offset = c->offset;
        error->code = c->code;
    }
    return -1;
}

long dj_scan_object(const uint8_t *buf, size_t len, dj_member *members, size_t capacity, dj_error *error) {
    if (check_size(len, error) < 0) return -1;
    dj_ctx c = {buf, buf, buf + len, NULL, 0, 0, DJ_OK, 0, 0};
    skip_ws(&c);
    if (c.p >= c.end) {
        fail(&c, c.p, DJ_ERR_EMPTY);
        return report(&c, error);
    }
    if (*c.p != '{') {
        // Tell "valid JSON, but not an object" apart from garbage.
        const uint8_t *value_start = c.p;
        uint8_t t, e;
        if (scan_value(&c, 0, &t, &e) == 0) {
            skip_ws(&c);
            if (c.p == c.end)
                fail(&c, value_start, DJ_ERR_NOT_OBJECT);
            else
                fail(&c, c.p, DJ_ERR_TRAILING);
        }
        return report(&c, error);
    }
    long n = 0;
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            if (c.p >= c.end || *c.p != '"') {
                fail(&c, c.p, DJ_ERR_SYNTAX);
                return report(&c, error);
            }
            uint32_t ks, ke;
            uint8_t kesc;
            if (scan_string(&c, &ks, &ke, &kesc, NULL) < 0) return report(&c, error);
            skip_ws(&c);
            if (c.p >= c.end || *c.p != ':') {
                fail(&c, c.p, DJ_ERR_SYNTAX);
                return report(&c, error);
            }
            c.p++;
            skip_ws(&c);
            uint32_t vs = (uint32_t)(c.p - c.base);
            uint8_t vt, vesc;
            if (scan_value(&c, 1, &vt, &vesc) < 0) return report(&c, error);
            if ((size_t)n < capacity) {
                dj_member *m = &members[n];
                m->key_start = ks;
                m->key_end = ke;
                m->value_start = vs;
                m->value_end = (uint32_t)(c.p - c.base);
                m->value_type = vt;
                m->key_escaped = kesc;
                m->value_escaped = vesc;
                m->reserved = 0;
                m->value_decoded_length = vt == DJ_STRING ? c.last_decoded : 0;
            }
            n++;
            skip_ws(&c);
            if (c.p >= c.end) {
                fail(&c, c.p, DJ_ERR_SYNTAX);
                return report(&c, error);
            }
            if (*c.p == ',') {
                c.p++;
                skip_ws(&c);
                continue;
            }
            if (*c.p == '}') {
                c.p++;
                break;
            }
            fail(&c, c.p, DJ_ERR_SYNTAX);
            return report(&c, error);
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        fail(&c, c.p, DJ_ERR_TRAILING);
        return report(&c, error);
    }
    return n;
}

long dj_tape(const uint8_t *buf, size_t len, dj_token *tokens, size_t capacity, dj_error *error) {
    if (check_size(len, error) < 0) return -1;
    dj_token dummy;
    dj_ctx c = {buf, buf, buf + len, tokens ? tokens : &dummy, tokens ? capacity : 0, 0, DJ_OK, 0, 0};
    skip_ws(&c);
    if (c.p >= c.end) {
        fail(&c, c.p, DJ_ERR_EMPTY);
        return report(&c, error);
    }
    uint8_t t, e;
    if (scan_value(&c, 0, &t, &e) < 0) return report(&c, error);
    skip_ws(&c);
    if (c.p != c.end) {
        fail(&c, c.p, DJ_ERR_TRAILING);
        return report(&c, error);
    }
    return (long)c.count;
}

static inline size_t put_utf8(uint8_t *d, uint32_t cp) {
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

size_t dj_unescape(const uint8_t *src, size_t len, uint8_t *dst) {
    const uint8_t *p = src, *end = src + len;
    uint8_t *d = dst;
    while (p < end) {
        const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs) {
            memcpy(d, p, (size_t)(end - p));
            d += end - p;
            break;
        }
        memcpy(d, p, (size_t)(bs - p));
        d += bs - p;
        p = bs;
        if (end - p < 2) break;  // cannot happen on validated input
        uint8_t e = p[1];
        switch (e) {
        case 'n': *d++ = '\n'; p += 2; break;
        case 't': *d++ = '\t'; p += 2; break;
        case 'r': *d++ = '\r'; p += 2; break;
        case 'b': *d++ = '\b'; p += 2; break;
        case 'f': *d++ = '\f'; p += 2; break;
        case 'u': {
            if (end - p < 6) {
                p = end;
                break;
            }
            uint32_t cp = read_hex4(p + 2);
            p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    uint32_t lo = read_hex4(p + 2);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            d += put_utf8(d, cp);
            break;
        }
        default: *d++ = e; p += 2; break;  // '"', '\\', '/'
        }
    }
    return (size_t)(d - dst);
}

// Advances past bytes that may appear unescaped in a JSON string (anything but '"', '\' and controls).
static inline const uint8_t *skip_unescaped(const uint8_t *p, const uint8_t *end) {
#ifdef DJ_HAVE_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i bias = _mm_set1_epi8((char)0x80);
    const __m128i limit = _mm_set1_epi8((char)(0x20 ^ 0x80));
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        // Unsigned "< 0x20" through a sign flip.
        __m128i ctl = _mm_cmplt_epi8(_mm_xor_si128(v, bias), limit);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)), ctl);
        int mask = _mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) p++;
    return p;
}

int dj_is_plain(const uint8_t *src, size_t len) {
    return skip_unescaped(src, src + len) == src + len;
}

size_t dj_escape(const uint8_t *src, size_t len, uint8_t *dst) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = src, *end = src + len;
    uint8_t *d = dst;
    while (p < end) {
        const uint8_t *q = skip_unescaped(p, end);
        memcpy(d, p, (size_t)(q - p));
        d += q - p;
        p = q;
        if (p >= end) break;
        uint8_t b = *p++;
        *d++ = '\\';
        switch (b) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\n': *d++ = 'n'; break;
        case '\t': *d++ = 't'; break;
        case '\r': *d++ = 'r'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = (uint8_t)hex[b >> 4];
            *d++ = (uint8_t)hex[b & 0xF];
            break;
        }
    }
    return (size_t)(d - dst);
}

size_t dj_validate_utf8(const uint8_t *buf, size_t len) {
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
#ifdef DJ_HAVE_SSE2
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            if (_mm_movemask_epi8(v)) break;
            p += 16;
        }
#endif
        while (p < end && *p < 0x80) p++;
        while (p < end && *p >= 0x80) {
            size_t n = utf8_seq(p, end);
            if (n == 0) return (size_t)(p - buf);
            p += n;
        }
    }
    return len;
}

const char *dj_error_message(int code) {
    switch (code) {
    case DJ_OK: return "ok";
    case DJ_ERR_EMPTY: return "empty line";
    case DJ_ERR_SYNTAX: return "malformed JSON";
    case DJ_ERR_UTF8: return "invalid UTF-8";
    case DJ_ERR_NOT_OBJECT: return "line is not a JSON object";
    case DJ_ERR_DEPTH: return "JSON nested too deeply";
    case DJ_ERR_TRAILING: return "unexpected characters after the JSON object";
    case DJ_ERR_CONTROL: return "unescaped control character in a JSON string";
    case DJ_ERR_ESCAPE: return "invalid escape sequence in a JSON string";
    case DJ_ERR_TOO_LARGE: return "line of 4 GiB or more";
    case DJ_ERR_NUMBER: return "malformed JSON number";
    default: return "unknown JSON error";
    }
}
