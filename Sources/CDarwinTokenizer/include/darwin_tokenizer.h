// Regular expressions (Oniguruma, the engine Hugging Face tokenizers uses) and Unicode normalization and
// case mapping (ICU) on UTF-8 bytes, for darwin's tokenizer.
#ifndef DARWIN_TOKENIZER_H
#define DARWIN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct dt_regex dt_regex;

/// Compiles `pattern` (UTF-8, Ruby syntax as the onig crate uses by default). Returns NULL and writes a
/// message to `error` when it does not compile.
dt_regex *dt_regex_new(const uint8_t *pattern, size_t len, char *error, size_t error_capacity);
void dt_regex_free(dt_regex *regex);

/// Every match of `regex` in `text`, as the onig crate's find_iter yields them: searches from the end of the
/// last match over the whole text (look-behind sees what came before); an empty match right after the last
/// match is skipped by one character. Writes up to `capacity` (start, end) byte pairs to `out`; returns the
/// number of matches (more than `capacity` when `out` was too small: call again with room for them), or -1
/// on a matching error.
long dt_regex_find_all(const dt_regex *regex, const uint8_t *text, size_t len, int64_t *out, size_t capacity);

/// Normalization forms.
enum { DT_NFC = 0, DT_NFD = 1, DT_NFKC = 2, DT_NFKD = 3 };

/// Normalizes UTF-8 `text` to `form` into `out` (capacity `capacity` bytes). Returns the length written,
/// the length needed when larger than `capacity`, or -1 on an error.
long dt_normalize(int form, const uint8_t *text, size_t len, uint8_t *out, size_t capacity);

/// Lower-cases UTF-8 `text` (Unicode default case mapping, final sigma included) into `out`. Same returns as
/// dt_normalize.
long dt_lowercase(const uint8_t *text, size_t len, uint8_t *out, size_t capacity);

#endif
