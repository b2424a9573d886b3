/// Byte-level text helpers for the hot paths of text steps (normalisation before hashing).
#ifndef DARWIN_TEXT_H
#define DARWIN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Length of the Unicode White_Space character at `p` (UTF-8), or 0 if there is none.
size_t dt_whitespace_length(const uint8_t *p, const uint8_t *end);

/// Copies valid UTF-8 `src` to `dst`, turning every run of Unicode White_Space into one space and
/// dropping leading and trailing whitespace. With `lower_ascii`, A–Z become a–z.
///
/// `dst` needs room for `len` bytes. Returns the number of bytes written.
size_t dt_collapse_whitespace(const uint8_t *src, size_t len, uint8_t *dst, int lower_ascii);

/// Returns 1 when every byte is ASCII.
int dt_is_ascii(const uint8_t *src, size_t len);

#ifdef __cplusplus
}
#endif
#endif
