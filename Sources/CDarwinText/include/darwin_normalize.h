#ifndef DARWIN_NORMALIZE_H
#define DARWIN_NORMALIZE_H

#include <stddef.h>

typedef struct {
    int nfc;        /* Unicode NFC */
    int mojibake;   /* repair UTF-8 read as windows-1252 / Latin-1, also twice */
    int controls;   /* remove control characters (tab and newline stay) */
    int whitespace; /* trailing spaces, runs of spaces, CR LF, more than one blank line; never in ``` blocks */
} dn_options;

typedef struct {
    char *text; /* UTF-8, malloc'd */
    size_t length;
    size_t mojibake_fixed;  /* runs repaired */
    size_t controls_removed;
    int nfc_changed;
    int whitespace_changed;
} dn_result;

/// Normalises valid UTF-8 text; returns 0, or -1 when memory runs out.
int dn_normalize(const char *text, size_t length, const dn_options *options, dn_result *result);

void dn_result_free(dn_result *result);

#endif
