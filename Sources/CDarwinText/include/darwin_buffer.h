#ifndef DARWIN_BUFFER_H
#define DARWIN_BUFFER_H

#include <stdlib.h>
#include <string.h>

/// A growable byte string, kept NUL-terminated after its `n` bytes.
typedef struct {
    char *p;
    size_t n, cap;
} dt_buffer;

/// Appends `n` bytes; -1 when memory runs out (the buffer is left as it was).
static inline int dt_buffer_put(dt_buffer *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *q = (char *)realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

#endif
