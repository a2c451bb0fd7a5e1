/*
 * nk_http.h — the HTTP vocabulary namaskahd and the extension share (pure
 * C): status -> reason phrase (which is also a problem document's "title"),
 * the problem document itself, and percent-decoding.
 *
 * The frontend writes its status lines and its own problem documents from
 * here; the extension's namaskah.http_reason (extension/pipeline.c) returns
 * nk_http_reason, and namaskah.problem_body takes its title from it.
 */
#ifndef NK_HTTP_H
#define NK_HTTP_H

#include <stddef.h>

/* nk_percent_decode flags */
#define NK_PCT_PLUS_SPACE 0x1 /* '+' is a space (query-string components) */

/*
 * The reason phrase of an HTTP status: the name RFC 9110 § 15 gives it (or
 * the RFC that registered it: 423, 424 and 507 RFC 4918, 425 RFC 8470, 428,
 * 429, 431 and 511 RFC 6585, 451 RFC 7725, 508 RFC 5842). A status in 100..599
 * that is not in the table gets the phrase of its class's x00 status, which is
 * how RFC 9110 § 15 tells a client to read an unknown status ("Bad Request" for
 * 499); anything outside 100..599 gets "Unknown Status". Never NULL; a static
 * string.
 */
const char *nk_http_reason(int status);

/*
 * Writes the RFC 9457 problem document of an error answer into out (room for
 * out_size bytes, NUL-terminated when out_size > 0), like snprintf: returns
 * the length the whole document needs, so a return value >= out_size means it
 * was cut (out then holds a prefix of it, never cut inside an escape or a
 * UTF-8 sequence). out may be NULL when out_size is 0, to measure.
 *
 * The document is what namaskah.problem_body (sql/60_pipeline.sql) writes for
 * the same values and no extra members, byte for byte: jsonb's member order
 * (by name length, then name: code, type, title, detail, status, instance,
 * request_id), jsonb's separators (", " and ": "), type
 * "urn:namaskah:problem:<code>", title nk_http_reason(status), and strings
 * escaped by nk_json_escape (HTML-inert like namaskah.json_text). The one
 * difference: DEL and the C1 controls, which nk_json_escape writes as \u
 * escapes and jsonb as raw characters. A NULL string is written as null.
 * Strings must be valid UTF-8 (bytes that are not become U+FFFD).
 */
size_t nk_problem_json(char *out, size_t out_size, int status, const char *code,
                       const char *detail, const char *instance,
                       const char *request_id);

/*
 * Percent-decodes in[0..len) into out (room for at least len bytes: the
 * result is never longer than the input). With NK_PCT_PLUS_SPACE, '+'
 * becomes a space (query-string components); without it, '+' is kept (a
 * path).
 *
 * Strict: every '%' must be followed by two hex digits (either case). A
 * stray or malformed '%' ("100%", "%zz", "%4", "%%41") is never kept as it
 * is or guessed at: the whole input is refused (-1), and the request with it
 * (400). Otherwise returns the decoded length. The result may contain any
 * byte, NUL included, and is not NUL-terminated: the caller validates it as
 * text.
 */
long nk_percent_decode(char *out, const char *in, size_t len, unsigned flags);

#endif
