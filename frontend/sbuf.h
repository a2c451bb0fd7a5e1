/*
 * sbuf.h — a growable byte buffer for namaskahd: appends never fail
 * visibly; out of memory sets `failed`, which sticks, and the caller checks
 * it once at the end.
 */
#ifndef NAMASKAHD_SBUF_H
#define NAMASKAHD_SBUF_H

#include <stddef.h>

struct sbuf {
    char *p; /* NUL-terminated once anything was added */
    size_t len, cap;
    int failed;
};

/* Makes room for extra more bytes (plus the NUL); 0 on success. */
int sb_reserve(struct sbuf *b, size_t extra);
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_addz(struct sbuf *b, const char *s);
/* Appends s as a quoted JSON string (HTML-inert escaping, nk_json.h). */
void sb_json(struct sbuf *b, const char *s, size_t n);

#endif
