#ifndef DARWIN_HTML_H
#define DARWIN_HTML_H

#include <stddef.h>
#include <stdint.h>

/// Which side of the precision/recall trade-off the extractor leans to.
enum dh_favor { DH_BALANCED = 0, DH_PRECISION = 1, DH_RECALL = 2 };

/// Why an extraction produced no text.
enum dh_failure {
    DH_OK = 0,
    DH_PARSE_FAILED = 1, /* libxml2 returned no document */
    DH_NO_BODY = 2,      /* the document has no body or no text at all */
    DH_NO_CONTENT = 3,   /* text exists but all of it is boilerplate */
};

typedef struct {
    int keep_links;  /* link text kept (1) or dropped (0) */
    int keep_tables; /* tables as pipe tables (1) or dropped (0) */
    int keep_images; /* image alt text as ![alt] (1) */
    int favor;       /* enum dh_favor */
    int max_depth;   /* elements nested deeper are not read (the DOM is cut there) */
} dh_options;

typedef struct {
    char *text; /* UTF-8, malloc'd; NULL on failure */
    size_t length;
    char *title; /* the page title (<title> or og:title), malloc'd, may be NULL */
    int failure; /* enum dh_failure */
    int has_math, has_code, has_table;
    int depth_capped; /* the DOM was deeper than max_depth */
    size_t html_text_bytes; /* bytes of visible text in the whole page */
} dh_result;

/// Parses `html` (UTF-8) with libxml2's HTML parser and extracts its main content as Markdown-like text.
int dh_extract(const char *html, size_t length, const dh_options *options, dh_result *result);

/// Frees what dh_extract allocated.
void dh_result_free(dh_result *result);

/// Parses and frees the document without extracting: the floor the extractor is measured against.
int dh_parse_only(const char *html, size_t length);

#endif
