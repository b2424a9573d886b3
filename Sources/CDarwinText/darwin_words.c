// spaCy-compatible English word splitting, in C.
//
// The algorithm follows spaCy's Tokenizer (3.x): split on whitespace (runs other than a single space
// become tokens), then for each span: special cases, an affix loop taking prefixes and suffixes,
// special cases again, the URL match, and infix splitting. The rules themselves are data exported from
// spaCy by scripts/gen/spacy-en-rules.py (spacy_en_rules.h). Regex semantics are reproduced exactly
// for the patterns those rules use: ordered alternatives for prefixes and infixes, leftmost start for
// suffixes, single-character look-behind and look-ahead bounded by the span being searched.
#include "darwin_words.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint32_t *ranges;  // lo, hi pairs, sorted
    uint32_t count;
} dt_class;

typedef struct {
    uint8_t nbehind;
    int32_t behind[2];  // atoms, farthest first
    uint8_t nbody;
    int32_t body[8];    // >= 0: code point; < 0: -(class + 1)
    uint8_t plus;       // the last body atom repeats (one or more)
    uint8_t has_ahead;
    uint8_t ahead_negative;
    int32_t ahead;      // atom
} dt_rule;

#include "spacy_en_rules.h"

// MARK: - Character classes

static uint8_t *bmp_bits[DT_CLASS_COUNT];  // one bit per BMP code point, per class
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int class_has_slow(int cls, uint32_t cp) {
    const dt_class *c = &dt_classes[cls];
    uint32_t lo = 0, hi = c->count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (cp < c->ranges[2 * mid]) {
            hi = mid;
        } else if (cp > c->ranges[2 * mid + 1]) {
            lo = mid + 1;
        } else {
            return 1;
        }
    }
    return 0;
}

static inline int class_has(int cls, uint32_t cp) {
    if (cp < 0x10000) return (bmp_bits[cls][cp >> 3] >> (cp & 7)) & 1;
    return class_has_slow(cls, cp);
}

static inline int atom_matches(int32_t atom, uint32_t cp) {
    return atom >= 0 ? (uint32_t)atom == cp : class_has(-atom - 1, cp);
}

// MARK: - Special cases (hash table over the UTF-8 keys)

static int32_t *exc_table;
static uint32_t exc_mask;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

// Rules indexed for speed: suffix rules by their last literal, and which code points can start an infix.
#define IDX_BUCKETS 1024
static int16_t *suffix_by_last[IDX_BUCKETS];
static int suffix_by_last_n[IDX_BUCKETS];
static int16_t suffix_class_last[DT_SUFFIX_RULES];
static int suffix_class_last_n;
static uint8_t infix_start_bits[0x10000 / 8];
// Prefix rules that can start with a given code point, in rule order (class-first rules are in every list).
static int16_t *prefix_by_first[IDX_BUCKETS];
static int prefix_by_first_n[IDX_BUCKETS];
static int infix_class_first;  // some infix rule starts with a class (checked for every code point)

static void init_tables(void) {
    for (int c = 0; c < DT_CLASS_COUNT; c++) {
        bmp_bits[c] = calloc(0x10000 / 8, 1);
        const dt_class *k = &dt_classes[c];
        for (uint32_t i = 0; i < k->count; i++) {
            uint32_t lo = k->ranges[2 * i], hi = k->ranges[2 * i + 1];
            if (lo > 0xFFFF) break;
            if (hi > 0xFFFF) hi = 0xFFFF;
            for (uint32_t cp = lo; cp <= hi; cp++) bmp_bits[c][cp >> 3] |= (uint8_t)(1u << (cp & 7));
        }
    }
    uint32_t size = 1;
    while (size < DT_EXCEPTIONS * 4) size <<= 1;
    exc_table = malloc(sizeof(int32_t) * size);
    for (uint32_t i = 0; i < size; i++) exc_table[i] = -1;
    exc_mask = size - 1;
    for (int i = 0; i < DT_EXCEPTIONS; i++) {
        const char *k = dt_exception_keys[i];
        uint32_t slot = (uint32_t)fnv1a((const uint8_t *)k, strlen(k)) & exc_mask;
        while (exc_table[slot] >= 0) slot = (slot + 1) & exc_mask;
        exc_table[slot] = i;
    }
    for (int r = 0; r < DT_SUFFIX_RULES; r++) {
        const dt_rule *rule = &dt_suffix_rules[r];
        int32_t last = rule->body[rule->nbody - 1];
        if (last >= 0) {
            int b = last % IDX_BUCKETS;
            suffix_by_last[b] = realloc(suffix_by_last[b], sizeof(int16_t) * (size_t)(suffix_by_last_n[b] + 1));
            suffix_by_last[b][suffix_by_last_n[b]++] = (int16_t)r;
        } else {
            suffix_class_last[suffix_class_last_n++] = (int16_t)r;
        }
    }
    for (int b = 0; b < IDX_BUCKETS; b++) {
        for (int r = 0; r < DT_PREFIX_RULES; r++) {
            int32_t first = dt_prefix_rules[r].body[0];
            if (first < 0 || first % IDX_BUCKETS == b) {
                prefix_by_first[b] = realloc(prefix_by_first[b], sizeof(int16_t) * (size_t)(prefix_by_first_n[b] + 1));
                prefix_by_first[b][prefix_by_first_n[b]++] = (int16_t)r;
            }
        }
    }
    for (int r = 0; r < DT_INFIX_RULES; r++) {
        int32_t first = dt_infix_rules[r].body[0];
        if (first >= 0 && first < 0x10000) {
            infix_start_bits[first >> 3] |= (uint8_t)(1u << (first & 7));
        } else if (first < 0) {
            int cls = -first - 1;
            for (uint32_t cp = 0; cp < 0x10000; cp++)
                if (class_has(cls, cp)) infix_start_bits[cp >> 3] |= (uint8_t)(1u << (cp & 7));
            infix_class_first = 1;
        }
    }
}

static inline void ensure_tables(void) { pthread_once(&tables_once, init_tables); }

int dt_has_prop(dt_prop prop, uint32_t cp) {
    ensure_tables();
    static const int map[] = {DT_CLASS_PY_SPACE,  DT_CLASS_PY_ALPHA,  DT_CLASS_PY_DECIMAL, DT_CLASS_PY_WORD,
                              DT_CLASS_CAT_P,     DT_CLASS_DT_PUNCT,  DT_CLASS_DT_TERMINAL, DT_CLASS_CAT_CC,
                              DT_CLASS_CAT_CN,    DT_CLASS_CAT_CO,    DT_CLASS_CAT_MN, DT_CLASS_DT_PUNCTUATION_STR};
    if ((int)prop < 0 || (int)prop > 11) return 0;
    return class_has(map[prop], cp);
}

// MARK: - UTF-8

uint32_t dt_decode(const uint8_t *p, const uint8_t *end, int *n) {
    uint8_t c = p[0];
    if (c < 0x80 || end - p < 2) {
        *n = 1;
        return c;
    }
    if (c < 0xE0) {
        *n = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
    }
    if (c < 0xF0 || end - p < 4) {
        *n = 3;
        if (end - p < 3) {
            *n = 1;
            return c;
        }
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    }
    *n = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
           (p[3] & 0x3F);
}

// MARK: - Tokenizer state

typedef struct {
    const uint8_t *text;
    uint32_t *cp;     // code points of the current span
    uint32_t *off;    // byte offset (in text) of each code point, plus one past the end
    int *aff;         // prefix and suffix bounds of the current span (4 ints per code point)
    size_t cap;
    dt_token *out;
    size_t out_cap;
    size_t n;
    int with_space;
    int with_special;  // 0 while building the special-case matcher (spaCy's _tokenize_affixes(.., False))
} tk;

static void emit(tk *t, uint32_t start, uint32_t end, int space) {
    if (t->n == t->out_cap) {
        size_t cap = t->out_cap ? t->out_cap * 2 : 256;
        dt_token *o = realloc(t->out, cap * sizeof(dt_token));
        if (!o) return;  // out of memory: the token is dropped (never seen in practice)
        t->out = o;
        t->out_cap = cap;
    }
    {
        dt_token *tok = &t->out[t->n];
        tok->start = start;
        tok->end = end;
        uint32_t chars = 0, flags = space ? DT_TOK_SPACE : 0;
        int all_dt = 1, all_p = 1;
        uint32_t first = 0;
        const uint8_t *p = t->text + start, *e = t->text + end;
        while (p < e) {
            int k;
            uint32_t c = dt_decode(p, e, &k);
            if (chars == 0) first = c;
            p += k;
            chars++;
            if (class_has(DT_CLASS_PY_ALPHA, c)) flags |= DT_TOK_HAS_ALPHA;
            if (!class_has(DT_CLASS_DT_PUNCT, c)) all_dt = 0;
            if (!class_has(DT_CLASS_CAT_P, c)) all_p = 0;
        }
        if (chars > 0 && all_dt) flags |= DT_TOK_ALL_DT_PUNCT;
        if (chars > 0 && all_p) flags |= DT_TOK_ALL_CAT_P;
        if (chars == 1 && class_has(DT_CLASS_SENT_PUNCT, first)) flags |= DT_TOK_SENT_PUNCT;
        tok->chars = chars;
        tok->flags = flags;
    }
    t->n++;
}

static int lookup_special(const uint8_t *k, size_t len) {
    if (len == 0 || len > 255) return -1;
    uint32_t slot = (uint32_t)fnv1a(k, len) & exc_mask;
    while (exc_table[slot] >= 0) {
        const char *key = dt_exception_keys[exc_table[slot]];
        if (strlen(key) == len && memcmp(key, k, len) == 0) return exc_table[slot];
        slot = (slot + 1) & exc_mask;
    }
    return -1;
}

// Index of the special case for code points [lo, hi), or -1.
static int special(tk *t, int lo, int hi) {
    if (!t->with_special) return -1;
    uint32_t b0 = t->off[lo], b1 = t->off[hi];
    return lookup_special(t->text + b0, b1 - b0);
}

static void emit_special(tk *t, int idx, int lo) {
    uint32_t base = t->off[lo];
    uint32_t prev = 0;
    for (int i = 0; i < dt_exception_pieces[idx]; i++) {
        uint32_t e = dt_exception_ends[idx][i];
        emit(t, base + prev, base + e, 0);
        prev = e;
    }
}

// Whether `rule` matches with its body starting at `pos`, inside the searched string [lo, hi).
// Returns the end of the match, or -1. `to_end`: the body must end exactly at hi (suffixes).
static int rule_at(tk *t, const dt_rule *rule, int pos, int lo, int hi, int to_end) {
    const uint32_t *cp = t->cp;
    if (pos - rule->nbehind < lo) return -1;
    for (int i = 0; i < rule->nbehind; i++)
        if (!atom_matches(rule->behind[i], cp[pos - rule->nbehind + i])) return -1;
    int p = pos;
    int fixed = rule->plus ? rule->nbody - 1 : rule->nbody;
    for (int i = 0; i < fixed; i++) {
        if (p >= hi || !atom_matches(rule->body[i], cp[p])) return -1;
        p++;
    }
    if (rule->plus) {
        int32_t a = rule->body[rule->nbody - 1];
        if (p >= hi || !atom_matches(a, cp[p])) return -1;
        p++;
        while (p < hi && atom_matches(a, cp[p])) p++;  // greedy
    }
    if (to_end && p != hi) return -1;
    if (rule->has_ahead) {
        int ok = p < hi && atom_matches(rule->ahead, cp[p]);
        if (rule->ahead_negative ? ok : !ok) return -1;
    }
    return p;
}

static int find_prefix(tk *t, int lo, int hi) {
    uint32_t c = t->cp[lo];
    int b = (int)(c % IDX_BUCKETS);
    for (int i = 0; i < prefix_by_first_n[b]; i++) {
        const dt_rule *rule = &dt_prefix_rules[prefix_by_first[b][i]];
        if (!atom_matches(rule->body[0], c)) continue;
        int e = rule_at(t, rule, lo, lo, hi, 0);
        if (e > lo) return e - lo;
    }
    return 0;
}

// Leftmost start of any suffix rule matching up to hi, as a length; 0 if none.
static int suffix_try(tk *t, const dt_rule *rule, int lo, int hi) {
    if (!rule->plus) {
        int pos = hi - rule->nbody;
        if (pos < lo) return -1;
        return rule_at(t, rule, pos, lo, hi, 1) == hi ? pos : -1;
    }
    // Fixed atoms then a repeated atom reaching the end: try starts from the left of the trailing run.
    int r = hi;
    int32_t rep = rule->body[rule->nbody - 1];
    while (r > lo && atom_matches(rep, t->cp[r - 1])) r--;
    int fixed = rule->nbody - 1;
    int first = r - fixed;
    if (first < lo) first = lo;
    for (int pos = first; pos + fixed < hi; pos++)
        if (rule_at(t, rule, pos, lo, hi, 1) == hi) return pos;
    return -1;
}

static int find_suffix(tk *t, int lo, int hi) {
    if (hi <= lo) return 0;
    int best = hi;
    uint32_t last = t->cp[hi - 1];
    int b = (int)(last % IDX_BUCKETS);
    for (int i = 0; i < suffix_by_last_n[b]; i++) {
        const dt_rule *rule = &dt_suffix_rules[suffix_by_last[b][i]];
        if ((uint32_t)rule->body[rule->nbody - 1] != last) continue;
        int pos = suffix_try(t, rule, lo, hi);
        if (pos >= 0 && pos < best) best = pos;
    }
    for (int i = 0; i < suffix_class_last_n; i++) {
        int pos = suffix_try(t, &dt_suffix_rules[suffix_class_last[i]], lo, hi);
        if (pos >= 0 && pos < best) best = pos;
    }
    return hi - best;
}

// MARK: - URL match (spaCy's URL_PATTERN, coded by hand)

static inline int is_x(uint32_t c) {  // [A-Za-z0-9\u00a1-\uffff]
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 0xA1 && c <= 0xFFFF);
}

static inline int is_dec(uint32_t c) { return class_has(DT_CLASS_PY_DECIMAL, c); }

static int url_tail(tk *t, int p, int hi) {
    const uint32_t *cp = t->cp;
    if (p == hi) return 1;
    if (cp[p] == '/' || cp[p] == '?' || cp[p] == '#') return 1;  // then \S* to the end
    if (cp[p] == ':') {
        int q = p + 1, d = 0;
        while (q < hi && is_dec(cp[q])) {
            q++;
            d++;
        }
        // \d{2,5} may stop early only if a path follows; digits are not [/?#], so it must take them all.
        if (d < 2 || d > 5) return 0;
        return q == hi || cp[q] == '/' || cp[q] == '?' || cp[q] == '#';
    }
    return 0;
}

// Reads 1-3 decimal digits as an octet candidate list: returns a bitmask of accepted lengths.
static int octet_lengths(tk *t, int p, int hi, int kind) {
    // kind 0: first octet (?:[1-9]\d?|1\d\d|2[01]\d|22[0-3]); 1: middle (?:1?\d{1,2}|2[0-4]\d|25[0-5]);
    // 2: last (?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4])
    const uint32_t *cp = t->cp;
    int mask = 0;
    uint32_t c0 = p < hi ? cp[p] : 0, c1 = p + 1 < hi ? cp[p + 1] : 0, c2 = p + 2 < hi ? cp[p + 2] : 0;
    int d1 = p + 1 < hi && is_dec(c1), d2 = p + 2 < hi && is_dec(c2);
    if (p >= hi) return 0;
    if (kind == 0 || kind == 2) {
        if (c0 >= '1' && c0 <= '9') {
            mask |= 2;
            if (d1) mask |= 4;
        }
        if (c0 == '1' && d1 && d2) mask |= 8;
        if (kind == 0) {
            if (c0 == '2' && (c1 == '0' || c1 == '1') && d2) mask |= 8;
            if (c0 == '2' && c1 == '2' && c2 >= '0' && c2 <= '3') mask |= 8;
        } else {
            if (c0 == '2' && c1 >= '0' && c1 <= '4' && d2) mask |= 8;
            if (c0 == '2' && c1 == '5' && c2 >= '0' && c2 <= '4') mask |= 8;
        }
    } else {
        // 1?\d{1,2}
        if (is_dec(c0)) {
            mask |= 2;
            if (d1) mask |= 4;
        }
        if (c0 == '1' && d1) {
            mask |= 4;
            if (d2) mask |= 8;
        }
        if (c0 == '2' && c1 >= '0' && c1 <= '4' && d2) mask |= 8;
        if (c0 == '2' && c1 == '5' && c2 >= '0' && c2 <= '5') mask |= 8;
    }
    return mask;
}

static int ip_from(tk *t, int p, int hi, int octet) {
    if (octet == 4) return url_tail(t, p, hi);
    if (octet > 0) {
        if (p >= hi || t->cp[p] != '.') return 0;
        p++;
    }
    int mask = octet_lengths(t, p, hi, octet == 0 ? 0 : octet == 3 ? 2 : 1);
    for (int len = 1; len <= 3; len++)
        if ((mask >> len) & 1)
            if (ip_from(t, p + len, hi, octet + 1)) return 1;
    return 0;
}

// (?:\.\d{1,3}){count} as a prefix at p.
static int dotted_digits(tk *t, int p, int hi, int count) {
    for (int i = 0; i < count; i++) {
        if (p >= hi || t->cp[p] != '.') return 0;
        p++;
        int d = 0;
        while (p < hi && d < 3 && is_dec(t->cp[p])) {
            p++;
            d++;
        }
        if (d == 0) return 0;
    }
    return 1;
}

static int starts_with(tk *t, int p, int hi, const char *s) {
    for (; *s; s++, p++)
        if (p >= hi || t->cp[p] != (uint32_t)(unsigned char)*s) return 0;
    return 1;
}

static int url_ip(tk *t, int p, int hi) {
    // Private and local ranges are refused by negative look-aheads.
    if ((starts_with(t, p, hi, "10") && dotted_digits(t, p + 2, hi, 3)) ||
        (starts_with(t, p, hi, "127") && dotted_digits(t, p + 3, hi, 3)))
        return 0;
    if ((starts_with(t, p, hi, "169.254") || starts_with(t, p, hi, "192.168")) && dotted_digits(t, p + 7, hi, 2))
        return 0;
    if (starts_with(t, p, hi, "172.") && p + 6 <= hi) {
        uint32_t a = t->cp[p + 4], b = t->cp[p + 5];
        int mid = (a == '1' && b >= '6' && b <= '9') || (a == '2' && is_dec(b)) || (a == '3' && (b == '0' || b == '1'));
        if (mid && dotted_digits(t, p + 6, hi, 2)) return 0;
    }
    return ip_from(t, p, hi, 0);
}

static int url_domain(tk *t, int p, int hi) {
    const uint32_t *cp = t->cp;
    int labels = 0;
    for (;;) {
        if (labels > 0) {
            // Could the rest be the top-level domain?
            int q = p;
            while (q < hi && class_has(DT_CLASS_URL_TLD, cp[q])) q++;
            int l = q - p;
            if (l >= 2 && l <= 63 && url_tail(t, q, hi)) return 1;
        }
        // Another label: [X][X_-]{0,62}[X] or [X], then '.'.
        int q = p;
        while (q < hi && (is_x(cp[q]) || cp[q] == '_' || cp[q] == '-')) q++;
        int l = q - p;
        if (l < 1 || l > 64 || q >= hi || cp[q] != '.') return 0;
        if (!is_x(cp[p]) || !is_x(cp[q - 1])) return 0;
        labels++;
        p = q + 1;
    }
}

static int url_host(tk *t, int p, int hi) { return url_ip(t, p, hi) || url_domain(t, p, hi); }

static int url_after_scheme(tk *t, int p, int hi) {
    if (url_host(t, p, hi)) return 1;
    // Optional user info: \S+(?::\S*)?@ — any '@' with at least one character before it.
    for (int q = p + 1; q < hi; q++)
        if (t->cp[q] == '@' && url_host(t, q + 1, hi)) return 1;
    return 0;
}

static int url_match(tk *t, int lo, int hi) {
    const uint32_t *cp = t->cp;
    // Optional scheme: [\w\+\-\.]{2,}://
    int k = lo;
    while (k < hi && (class_has(DT_CLASS_PY_WORD, cp[k]) || cp[k] == '+' || cp[k] == '-' || cp[k] == '.')) k++;
    if (k - lo >= 2 && k + 3 <= hi && cp[k] == ':' && cp[k + 1] == '/' && cp[k + 2] == '/')
        if (url_after_scheme(t, k + 3, hi)) return 1;
    return url_after_scheme(t, lo, hi);
}

// MARK: - Spans

static void attach_infixes(tk *t, int lo, int hi) {
    int start = lo;
    int pos = lo;
    while (pos < hi) {
        uint32_t c = t->cp[pos];
        int candidate = c < 0x10000 ? (infix_start_bits[c >> 3] >> (c & 7)) & 1 : infix_class_first;
        int end = -1;
        if (candidate) {
            for (int r = 0; r < DT_INFIX_RULES; r++) {
                end = rule_at(t, &dt_infix_rules[r], pos, lo, hi, 0);
                if (end >= 0) break;
            }
        }
        if (end < 0) {
            pos++;
            continue;
        }
        if (pos != lo) {  // a match at the very start is skipped (spaCy's start_before_infixes)
            if (pos != start) emit(t, t->off[start], t->off[pos], 0);
            if (end != pos) emit(t, t->off[pos], t->off[end], 0);
            start = end;
        }
        pos = end > pos ? end : pos + 1;
    }
    if (start < hi) emit(t, t->off[start], t->off[hi], 0);
}

static void tokenize_span(tk *t, int lo, int hi) {
    int sp = special(t, lo, hi);
    if (sp >= 0) {
        emit_special(t, sp, lo);
        return;
    }
    // Fast path: letters only, or digits only. No prefix, suffix or infix rule can split such a span (every
    // rule needs punctuation, a symbol, or a digit next to a letter), so it is one token.
    {
        int letters = 0, digits = 0, other = 0;
        for (int i = lo; i < hi && !other; i++) {
            uint32_t c = t->cp[i];
            if (c < 0x80) {
                if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') letters = 1;
                else if (c >= '0' && c <= '9') digits = 1;
                else other = 1;
            } else if (class_has(DT_CLASS_PY_ALPHA, c)) {
                letters = 1;
            } else {
                other = 1;
            }
        }
        if (!other && !(letters && digits)) {
            emit(t, t->off[lo], t->off[hi], 0);
            return;
        }
    }
    // Prefixes in order, suffixes in reverse order of discovery. Each affix takes at least one code
    // point, so the span's length bounds how many there can be.
    int *pre_lo = t->aff, *pre_hi = t->aff + t->cap, *suf_lo = t->aff + 2 * t->cap, *suf_hi = t->aff + 3 * t->cap;
    int npre = 0, nsuf = 0;
    int last_size = -1;
    while (hi > lo && hi - lo != last_size) {
        if (special(t, lo, hi) >= 0) break;
        last_size = hi - lo;
        int pre = find_prefix(t, lo, hi);
        if (pre) {
            if (hi - (lo + pre) > 0 && special(t, lo + pre, hi) >= 0) {
                pre_lo[npre] = lo;
                pre_hi[npre++] = lo + pre;
                lo += pre;
                break;
            }
        }
        int suf = find_suffix(t, lo + pre, hi);
        if (suf) {
            if (hi - suf - lo > 0 && special(t, lo, hi - suf) >= 0) {
                suf_lo[nsuf] = hi - suf;
                suf_hi[nsuf++] = hi;
                hi -= suf;
                break;
            }
        }
        if (pre && suf && pre + suf <= hi - lo) {
            pre_lo[npre] = lo;
            pre_hi[npre++] = lo + pre;
            suf_lo[nsuf] = hi - suf;
            suf_hi[nsuf++] = hi;
            lo += pre;
            hi -= suf;
        } else if (pre) {
            pre_lo[npre] = lo;
            pre_hi[npre++] = lo + pre;
            lo += pre;
        } else if (suf) {
            suf_lo[nsuf] = hi - suf;
            suf_hi[nsuf++] = hi;
            hi -= suf;
        }
    }
    for (int i = 0; i < npre; i++) emit(t, t->off[pre_lo[i]], t->off[pre_hi[i]], 0);
    if (hi > lo) {
        sp = special(t, lo, hi);
        if (sp >= 0) {
            emit_special(t, sp, lo);
        } else if (url_match(t, lo, hi)) {
            emit(t, t->off[lo], t->off[hi], 0);
        } else {
            attach_infixes(t, lo, hi);
        }
    }
    for (int i = nsuf - 1; i >= 0; i--) emit(t, t->off[suf_lo[i]], t->off[suf_hi[i]], 0);
}

static int load_span(tk *t, uint32_t b0, uint32_t b1) {
    // Decode [b0, b1) into t->cp / t->off.
    size_t need = (size_t)(b1 - b0) + 1;
    if (need > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < need) cap *= 2;
        uint32_t *cp = realloc(t->cp, cap * sizeof(uint32_t));
        if (!cp) return -1;
        t->cp = cp;
        uint32_t *off = realloc(t->off, (cap + 1) * sizeof(uint32_t));
        if (!off) return -1;
        t->off = off;
        int *aff = realloc(t->aff, 4 * cap * sizeof(int));
        if (!aff) return -1;
        t->aff = aff;
        t->cap = cap;
    }
    const uint8_t *p = t->text + b0, *e = t->text + b1;
    int n = 0;
    while (p < e) {
        int k;
        t->off[n] = (uint32_t)(p - t->text);
        t->cp[n++] = dt_decode(p, e, &k);
        p += k;
    }
    t->off[n] = b1;
    return n;
}

// MARK: - Special cases that span affixes (spaCy's special-case matcher)
//
// spaCy re-matches, after affix splitting, the special cases that contain a prefix, suffix or infix:
// a run of adjacent tokens (no whitespace between them) whose text is such a special case, split the
// way the affix rules alone would split it, becomes the special case's tokens ("a" "." → "a.").

static uint8_t **matcher_ends;  // per special case: NULL, or [n, end1, ..., endn] (byte ends of its affix split)
static pthread_once_t matcher_once = PTHREAD_ONCE_INIT;
// The first pieces of those splits: a hash set of byte strings, with a first-byte filter.
static const uint8_t **first_keys;
static uint8_t *first_lens;
static uint32_t first_mask;
static uint8_t first_byte_bits[32];
static size_t first_max_len;
static size_t matcher_max_pieces, matcher_max_len;  // longest matcher pattern, in tokens and bytes

static void first_pass(tk *t, const uint8_t *text, size_t len);

static int first_piece_known(const uint8_t *p, size_t len) {
    if (len == 0 || len > first_max_len || !((first_byte_bits[p[0] >> 3] >> (p[0] & 7)) & 1)) return 0;
    uint32_t slot = (uint32_t)fnv1a(p, len) & first_mask;
    while (first_keys[slot]) {
        if (first_lens[slot] == len && memcmp(first_keys[slot], p, len) == 0) return 1;
        slot = (slot + 1) & first_mask;
    }
    return 0;
}

static void init_matcher(void) {
    ensure_tables();
    matcher_ends = calloc(DT_EXCEPTIONS, sizeof(uint8_t *));
    uint32_t size = 1;
    while (size < DT_EXCEPTIONS * 4) size <<= 1;
    first_keys = calloc(size, sizeof(uint8_t *));
    first_lens = calloc(size, 1);
    first_mask = size - 1;
    for (int i = 0; i < DT_EXCEPTIONS; i++) {
        const uint8_t *key = (const uint8_t *)dt_exception_keys[i];
        size_t len = strlen(dt_exception_keys[i]);
        // faster_heuristics: only keys where a prefix, suffix or infix rule fires.
        tk probe = {key, NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0};
        int n = load_span(&probe, 0, (uint32_t)len);
        int fires = n > 0 && (find_prefix(&probe, 0, n) || find_suffix(&probe, 0, n));
        for (int pos = 0; !fires && pos < n; pos++)
            for (int r = 0; r < DT_INFIX_RULES && !fires; r++)
                if (rule_at(&probe, &dt_infix_rules[r], pos, 0, n, 0) >= 0) fires = 1;
        free(probe.cp);
        free(probe.off);
        free(probe.aff);
        if (!fires) continue;
        tk t = {key, NULL, NULL, NULL, 0, NULL, 0, 0, 0, 0};
        first_pass(&t, key, len);
        if (t.n > 0 && t.n < 255) {
            uint8_t *e = malloc(t.n + 1);
            e[0] = (uint8_t)t.n;
            for (size_t k = 0; k < t.n; k++) e[k + 1] = (uint8_t)t.out[k].end;
            matcher_ends[i] = e;
            if (t.n > matcher_max_pieces) matcher_max_pieces = t.n;
            if (len > matcher_max_len) matcher_max_len = len;
            size_t flen = t.out[0].end;
            if (!first_piece_known(key, flen)) {
                uint32_t slot = (uint32_t)fnv1a(key, flen) & first_mask;
                while (first_keys[slot]) slot = (slot + 1) & first_mask;
                first_keys[slot] = key;
                first_lens[slot] = (uint8_t)flen;
                first_byte_bits[key[0] >> 3] |= (uint8_t)(1u << (key[0] & 7));
                if (flen > first_max_len) first_max_len = flen;
            }
        }
        free(t.out);
    }
}

typedef struct {
    uint32_t start, end;  // token indices
} span_match;

static int cmp_len_start(const void *a, const void *b) {
    const span_match *x = a, *y = b;
    uint32_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly) return lx < ly ? -1 : 1;
    return x->start > y->start ? -1 : x->start < y->start ? 1 : 0;  // equal length: larger start first
}

static int cmp_start(const void *a, const void *b) {
    const span_match *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

static void apply_special_matcher(tk *t) {
    pthread_once(&matcher_once, init_matcher);
    span_match *found = NULL;
    size_t nfound = 0, capfound = 0;
    dt_token *T = t->out;
    uint8_t key[256];
    for (size_t i = 0; i < t->n; i++) {
        if (T[i].flags & DT_TOK_SPACE) continue;
        if (!first_piece_known(t->text + T[i].start, T[i].end - T[i].start)) continue;
        // Consecutive tokens, as spaCy's phrase matcher sees them: a single space between two tokens is not
        // a token, so it does not stop a match (but such a match is not applied, see below).
        size_t klen = 0;
        uint8_t ends[256];
        for (size_t k = i; k < t->n && k - i < matcher_max_pieces; k++) {
            if (T[k].flags & DT_TOK_SPACE) break;
            size_t piece = T[k].end - T[k].start;
            if (klen + piece > matcher_max_len) break;
            memcpy(key + klen, t->text + T[k].start, piece);
            klen += piece;
            ends[k - i] = (uint8_t)klen;
            int idx = lookup_special(key, klen);
            if (idx < 0 || !matcher_ends[idx]) continue;
            const uint8_t *e = matcher_ends[idx];
            if (e[0] != k - i + 1) continue;
            if (memcmp(e + 1, ends, k - i + 1) != 0) continue;
            if (nfound == capfound) {
                capfound = capfound ? capfound * 2 : 16;
                found = realloc(found, capfound * sizeof(span_match));
            }
            found[nfound++] = (span_match){(uint32_t)i, (uint32_t)(k + 1)};
        }
    }
    if (nfound == 0) {
        free(found);
        return;
    }
    // Longest first, then leftmost; keep spans whose first and last tokens are not taken yet.
    qsort(found, nfound, sizeof(span_match), cmp_len_start);
    uint8_t *seen = calloc(t->n, 1);
    span_match *kept = malloc(nfound * sizeof(span_match));
    size_t nkept = 0;
    for (size_t q = nfound; q-- > 0;) {
        span_match m = found[q];
        if (!seen[m.start] && !seen[m.end - 1]) kept[nkept++] = m;
        for (uint32_t x = m.start; x < m.end; x++) seen[x] = 1;
    }
    qsort(kept, nkept, sizeof(span_match), cmp_start);
    // Rebuild the token list.
    dt_token *old = t->out;
    size_t old_n = t->n;
    t->out = NULL;
    t->out_cap = 0;
    t->n = 0;
    size_t next = 0;
    for (size_t i = 0; i < old_n;) {
        int gapless = 0;
        if (next < nkept && kept[next].start == i) {
            gapless = 1;
            for (uint32_t x = kept[next].start + 1; x < kept[next].end; x++)
                if (old[x].start != old[x - 1].end) gapless = 0;
            if (!gapless) next++;  // matched across a space: its text is not the special case; keep the tokens
        }
        if (gapless) {
            span_match m = kept[next++];
            int idx = lookup_special(t->text + old[m.start].start, old[m.end - 1].end - old[m.start].start);
            uint32_t base = old[m.start].start, prev = 0;
            for (int p = 0; p < dt_exception_pieces[idx]; p++) {
                uint32_t e = dt_exception_ends[idx][p];
                emit(t, base + prev, base + e, 0);
                prev = e;
            }
            i = m.end;
        } else {
            emit(t, old[i].start, old[i].end, (old[i].flags & DT_TOK_SPACE) != 0);
            i++;
        }
    }
    free(old);
    free(seen);
    free(kept);
    free(found);
}

static void first_pass(tk *t, const uint8_t *text, size_t len) {
    const uint8_t *p = text, *end = text + len;
    // Runs of whitespace and non-whitespace; a run of whitespace loses one leading ' ' (it belongs to the
    // token before), the rest of it is a token.
    while (p < end) {
        const uint8_t *run = p;
        int k;
        uint32_t c = dt_decode(p, end, &k);
        int ws = class_has(DT_CLASS_PY_SPACE, c);
        const uint8_t *q = p;
        while (q < end) {
            uint32_t d = dt_decode(q, end, &k);
            if (class_has(DT_CLASS_PY_SPACE, d) != ws) break;
            q += k;
        }
        if (ws) {
            const uint8_t *s = run;
            if (run != text && *s == ' ') s++;  // the single space after a token
            if (s < q) emit(t, (uint32_t)(s - text), (uint32_t)(q - text), 1);
        } else {
            int n = load_span(t, (uint32_t)(run - text), (uint32_t)(q - text));
            if (n > 0) tokenize_span(t, 0, n);
        }
        p = q;
    }
    free(t->cp);
    free(t->off);
    free(t->aff);
    t->cp = NULL;
    t->off = NULL;
    t->aff = NULL;
    t->cap = 0;
}

size_t dt_tokenize_en(const uint8_t *text, size_t len, dt_token *tokens, size_t capacity, int with_space) {
    ensure_tables();
    tk t = {text, NULL, NULL, NULL, 0, NULL, 0, 0, with_space, 1};
    first_pass(&t, text, len);
    apply_special_matcher(&t);
    size_t n = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (!with_space && (t.out[i].flags & DT_TOK_SPACE)) continue;
        if (n < capacity) tokens[n] = t.out[i];
        n++;
    }
    free(t.out);
    return n;
}
