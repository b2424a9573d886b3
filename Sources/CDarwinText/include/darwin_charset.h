#ifndef DARWIN_CHARSET_H
#define DARWIN_CHARSET_H

#include <stddef.h>
#include <stdint.h>

/// Where the charset of a page came from.
enum dc_source { DC_BOM = 0, DC_HTTP = 1, DC_META = 2, DC_UTF8 = 3, DC_DETECTED = 4, DC_FALLBACK = 5 };

typedef struct {
    char *text;          /* UTF-8, malloc'd */
    size_t length;
    char charset[40];    /* the charset used, lower case (utf-8, windows-1252, shift_jis, …) */
    int source;          /* enum dc_source */
    size_t invalid;      /* bytes or sequences replaced by U+FFFD */
    int borrowed;        /* text points into the input (valid UTF-8 needed no copy); not freed */
} dc_result;

/// Decodes an HTML or text page to UTF-8: byte-order mark, then the HTTP header's charset (`declared`, may
/// be NULL), then <meta charset> / http-equiv in the first 4 KB (HTML only), then valid UTF-8, then ICU's
/// detector, then windows-1252. Labels are read as browsers do (iso-8859-1 and ascii are windows-1252).
/// Returns 0, or -1 when memory runs out.
int dc_decode(const char *bytes, size_t length, const char *declared, int is_html, dc_result *out);

void dc_result_free(dc_result *r);

/// UTF-16 code units as UTF-8 in a malloc'd, NUL-terminated string (unpaired surrogates become U+FFFD); NULL
/// when memory runs out.
char *dc_utf16_to_utf8(const uint16_t *units, int32_t count, size_t *length);

/// The length of the valid UTF-8 character at `s` (at most `n` bytes available), or 0 if it is not one.
int dc_utf8_length(const unsigned char *s, size_t n);

/// Copies valid UTF-8 and replaces every invalid byte with U+FFFD; returns the number replaced.
size_t dc_repair_utf8(const char *bytes, size_t length, char **out, size_t *out_length);

#endif
