// Oniguruma matching for darwin's tokenizer (see darwin_tokenizer.h).
#include "darwin_tokenizer.h"

#include <oniguruma.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dt_regex {
    regex_t *re;
};

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static void init_onig(void) {
    OnigEncoding encodings[1] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
}

dt_regex *dt_regex_new(const uint8_t *pattern, size_t len, char *error, size_t error_capacity) {
    pthread_once(&onig_once, init_onig);
    regex_t *re = NULL;
    OnigErrorInfo info;
    int r = onig_new(&re, pattern, pattern + len, ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &info);
    if (r != ONIG_NORMAL) {
        UChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(message, r, &info);
        if (error_capacity > 0) {
            strncpy(error, (const char *)message, error_capacity - 1);
            error[error_capacity - 1] = 0;
        }
        return NULL;
    }
    dt_regex *out = malloc(sizeof(dt_regex));
    if (!out) {
        onig_free(re);
        return NULL;
    }
    out->re = re;
    return out;
}

void dt_regex_free(dt_regex *regex) {
    if (!regex) return;
    onig_free(regex->re);
    free(regex);
}

static size_t utf8_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xF0) return 4;
    if (lead >= 0xE0) return 3;
    if (lead >= 0xC0) return 2;
    return 1;
}

long dt_regex_find_all(const dt_regex *regex, const uint8_t *text, size_t len, int64_t *out, size_t capacity) {
    OnigRegion *region = onig_region_new();
    if (!region) return -1;
    const uint8_t *end = text + len;
    size_t from = 0;
    long count = 0;
    long last_match_end = -1;
    while (from <= len) {
        onig_region_clear(region);
        int r = onig_search(regex->re, text, end, text + from, end, region, ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            onig_region_free(region, 1);
            return -1;
        }
        long s = region->beg[0], e = region->end[0];
        if (s == e && last_match_end == e) {
            // No empty match right after the last one: step over one character and search again.
            from += from < len ? utf8_length(text[from]) : 1;
            continue;
        }
        if ((size_t)count < capacity) {
            out[2 * count] = s;
            out[2 * count + 1] = e;
        }
        count++;
        from = (size_t)e;
        last_match_end = e;
    }
    onig_region_free(region, 1);
    return count;
}

