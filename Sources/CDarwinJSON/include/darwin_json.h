/// A validating JSON scanner for JSON Lines, tuned for documents with one large string field.
///
/// The scanner checks a whole line (grammar, strict UTF-8, nesting depth) and reports the byte
/// ranges of values instead of building a tree, so callers can pass unchanged values through
/// byte for byte and decode only the fields they need.
#ifndef DARWIN_JSON_H
#define DARWIN_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The kind of a JSON value.
typedef enum {
    DJ_NULL = 0,
    DJ_FALSE = 1,
    DJ_TRUE = 2,
    DJ_NUMBER = 3,
    DJ_STRING = 4,
    DJ_ARRAY = 5,
    DJ_OBJECT = 6,
} dj_type;

/// Why a line was rejected.
typedef enum {
    DJ_OK = 0,
    DJ_ERR_EMPTY = 1,         ///< the line holds only whitespace
    DJ_ERR_SYNTAX = 2,        ///< not valid JSON at the offset
    DJ_ERR_UTF8 = 3,          ///< invalid UTF-8 at the offset
    DJ_ERR_NOT_OBJECT = 4,    ///< the line is valid JSON but not an object
    DJ_ERR_DEPTH = 5,         ///< nesting deeper than DJ_MAX_DEPTH
    DJ_ERR_TRAILING = 6,      ///< extra characters after the value
    DJ_ERR_CONTROL = 7,       ///< unescaped control character inside a string
    DJ_ERR_ESCAPE = 8,        ///< invalid escape sequence inside a string
    DJ_ERR_TOO_LARGE = 9,     ///< the line is 4 GiB or longer
    DJ_ERR_NUMBER = 10,       ///< malformed number
} dj_error_code;

/// Deepest nesting of arrays and objects accepted.
#define DJ_MAX_DEPTH 512

/// One top-level member of an object line.
typedef struct {
    uint32_t key_start;     ///< first byte after the key's opening quote
    uint32_t key_end;       ///< offset of the key's closing quote
    uint32_t value_start;   ///< first byte of the value (the quote, for strings)
    uint32_t value_end;     ///< one past the value's last byte
    uint8_t value_type;     ///< a dj_type
    uint8_t key_escaped;    ///< the key contains a backslash escape
    uint8_t value_escaped;  ///< the value is a string containing a backslash escape
    uint8_t reserved;
    uint32_t value_decoded_length;  ///< strings: UTF-8 length once unescaped
} dj_member;

/// One node of a flattened value tree ("tape"), in document order.
typedef struct {
    uint32_t start;         ///< first byte of the token (inside the quotes for strings)
    uint32_t end;           ///< one past the last byte (the closing quote for strings)
    uint32_t count;         ///< arrays: elements; objects: members (each a key token then a value)
    uint8_t type;           ///< a dj_type
    uint8_t escaped;        ///< strings: contains a backslash escape
    uint8_t reserved[2];
} dj_token;

/// Where and why scanning failed.
typedef struct {
    size_t offset;
    int code;
} dj_error;

/// Validates `buf` as one JSON object (surrounding whitespace allowed) and lists its top-level members.
///
/// Returns the number of members, which may exceed `capacity` (then only the first `capacity` are
/// written and the caller should retry with more room), or -1 with `error` filled in.
long dj_scan_object(const uint8_t *buf, size_t len, dj_member *members, size_t capacity, dj_error *error);

/// Validates `buf` as one JSON value and flattens it into tokens in document order.
///
/// Returns the number of tokens needed, which may exceed `capacity` (retry with more room), or -1.
long dj_tape(const uint8_t *buf, size_t len, dj_token *tokens, size_t capacity, dj_error *error);

/// Decodes the body of a validated JSON string (without quotes) into UTF-8.
///
/// `dst` needs room for `len` bytes; decoding never grows. Lone surrogate escapes become U+FFFD.
/// Returns the number of bytes written.
size_t dj_unescape(const uint8_t *src, size_t len, uint8_t *dst);

/// Writes `src` (valid UTF-8) as the body of a JSON string, without quotes.
///
/// `dst` needs room for `6 * len` bytes. Escapes `"`, `\` and control characters only.
/// Returns the number of bytes written.
size_t dj_escape(const uint8_t *src, size_t len, uint8_t *dst);

/// Returns 1 when `src` needs no escaping inside a JSON string (the common case), else 0.
int dj_is_plain(const uint8_t *src, size_t len);

/// Checks that `buf` is well-formed UTF-8; returns the offset of the first bad byte, or `len`.
size_t dj_validate_utf8(const uint8_t *buf, size_t len);

/// A short lower-case description of an error code.
const char *dj_error_message(int code);

#ifdef __cplusplus
}
#endif
#endif
