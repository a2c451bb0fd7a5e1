/*
 * nk_http.h — small HTTP text helpers for the request pipeline (pure C).
 */
#ifndef NK_HTTP_H
#define NK_HTTP_H

#include <stddef.h>

/*
 * Decodes a percent-encoded query-string component in[0..len) into out (room
 * for at least len bytes; the result is never longer than the input). '+'
 * becomes a space. Returns the decoded length, or -1 when a '%' is not
 * followed by two hex digits. The result may contain any byte, including NUL:
 * the caller validates it as text.
 */
long nk_percent_decode(char *out, const char *in, size_t len);

#endif
