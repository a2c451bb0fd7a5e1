/*
 * sbuf.c — the growable byte buffer namaskahd builds headers, bodies and log
 * lines in (sbuf.h).
 */
#include "sbuf.h"

#include <stdlib.h>
#include <string.h>

#include "nk_json.h"

void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
sb_addz(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Makes room for extra more bytes (plus the NUL); 0 on success. */
int
sb_reserve(struct sbuf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    while (cap < b->len + extra + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Appends s as a quoted JSON string (HTML-inert escaping, nk_json.h). */
void
sb_json(struct sbuf *b, const char *s, size_t n)
{
    size_t need = nk_json_escape(NULL, 0, s, n);

    sb_add(b, "\"", 1);
    if (sb_reserve(b, need) != 0)
        return;
    nk_json_escape(b->p + b->len, b->cap - b->len, s, n);
    b->len += need;
    sb_add(b, "\"", 1);
}
