/// Word splitting compatible with spaCy's English tokenizer (as used by datatrove's filters), and the
/// Python character properties those filters depend on.
#ifndef DARWIN_WORDS_H
#define DARWIN_WORDS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Token flags.
enum {
    DT_TOK_SPACE = 1,         ///< a whitespace token (spaCy keeps runs of whitespace other than one space)
    DT_TOK_HAS_ALPHA = 2,     ///< some character is alphabetic (Python str.isalpha)
    DT_TOK_ALL_DT_PUNCT = 4,  ///< every character is in datatrove's PUNCTUATION_SET
    DT_TOK_ALL_CAT_P = 8,     ///< every character is Unicode punctuation (category P*), spaCy's is_punct
    DT_TOK_SENT_PUNCT = 16,   ///< the token is one of the sentencizer's sentence-final characters
};

/// One token: a byte range of the text.
typedef struct {
    uint32_t start;  ///< byte offset
    uint32_t end;    ///< byte offset, exclusive
    uint32_t chars;  ///< length in code points
    uint32_t flags;  ///< DT_TOK_*
} dt_token;

/// Character properties, by name.
typedef enum {
    DT_PROP_SPACE = 0,     ///< Python str.isspace
    DT_PROP_ALPHA = 1,     ///< Python str.isalpha
    DT_PROP_DECIMAL = 2,   ///< Python str.isdecimal (regex \d)
    DT_PROP_WORD = 3,      ///< regex \w
    DT_PROP_PUNCT = 4,     ///< Unicode category P*
    DT_PROP_DT_PUNCT = 5,  ///< datatrove PUNCTUATION_SET
    DT_PROP_DT_TERMINAL = 6,  ///< datatrove TERMINAL_PUNCTUATION
    DT_PROP_CONTROL = 7,      ///< category Cc
    DT_PROP_UNASSIGNED = 8,   ///< category Cn
    DT_PROP_PRIVATE_USE = 9,  ///< category Co
    DT_PROP_NONSPACING_MARK = 10,  ///< category Mn
    DT_PROP_DT_PUNCTUATION = 11,   ///< datatrove's PUNCTUATION string (what simplify_text blanks out)
} dt_prop;

/// Whether code point `cp` has property `prop`.
int dt_has_prop(dt_prop prop, uint32_t cp);

/// Splits valid UTF-8 into spaCy English tokens.
///
/// Whitespace tokens are included (flagged DT_TOK_SPACE) when `with_space` is non-zero. Returns the number of
/// tokens, which may exceed `capacity` (only the first `capacity` are written; call again with more room).
size_t dt_tokenize_en(const uint8_t *text, size_t len, dt_token *tokens, size_t capacity, int with_space);

/// MinHash slots, as datatrove computes them: out[j] = min over the n shingles h of ((h·a[j] + b[j]) mod 2⁶⁴)
/// mod (2⁶¹ − 1); UINT64_MAX when n is 0. Uses AVX-512 when the processor has it (same results).
void dt_minhash(const uint64_t *shingles, size_t n, const uint64_t *a, const uint64_t *b, size_t slots,
                uint64_t *out);
/// The same without SIMD (what dt_minhash runs on processors without AVX-512).
void dt_minhash_portable(const uint64_t *shingles, size_t n, const uint64_t *a, const uint64_t *b, size_t slots,
                         uint64_t *out);

/// datatrove's simplify_text with its default settings (lower case as Python's str.lower, decimal digit runs
/// with an optional decimal part to "0", datatrove's PUNCTUATION to spaces, whitespace runs to one space,
/// canonical decomposition without non-spacing marks, stripped). Writes UTF-8 into `out` and returns its
/// length; when that exceeds `capacity` nothing complete was written: call again with a larger buffer
/// (4 * len + 16 always suffices). -1 when memory runs out.
long dt_simplify(const uint8_t *text, size_t len, uint8_t *out, size_t capacity);

/// Splits valid UTF-8 into words with ICU's dictionary-based word breaker (Thai, Lao, Khmer, Burmese,
/// Chinese, Japanese use dictionaries; other scripts follow UAX #29). Only word-like segments (letters,
/// numbers, kana, ideographs) are returned. Returns the count (may exceed `capacity`), or -1 if ICU fails.
long dt_icu_words(const uint8_t *text, size_t len, dt_token *tokens, size_t capacity);

/// Decodes one UTF-8 code point at `p` (valid UTF-8), storing its length in `*n`.
uint32_t dt_decode(const uint8_t *p, const uint8_t *end, int *n);

#ifdef __cplusplus
}
#endif
#endif
