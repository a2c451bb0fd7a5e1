/*
 * nk_sanitize.h — log-safe text (pure C, no PostgreSQL headers).
 *
 * Turns any byte string that came from a request into text that cannot break
 * a log line: CR, LF, every other C0 control, DEL, every C1 control
 * (U+0080..U+009F), U+2028/U+2029, the bidirectional formatting characters
 * (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069, which can make a line
 * display differently from what it holds) and the ESC byte (so no terminal
 * escape sequence survives) are written as visible escapes ("\n", "\r", "\t",
 * "\x1b", "\u2028" ...); backslash itself is written as "\\" so the output
 * is unambiguous; invalid UTF-8 bytes become "\xNN"; everything else is
 * copied. The output is always valid UTF-8 and NUL-terminated.
 *
 * Used by the extension (namaskah.sanitize_log) and by namaskahd for its own
 * log lines; the result is then JSON-escaped (nk_json.h) into a log record.
 */
#ifndef NK_SANITIZE_H
#define NK_SANITIZE_H

#include <stddef.h>

/* Appended when the output had to be cut. */
#define NK_SANITIZE_TRUNCATED "...[truncated]"

/*
 * Writes the sanitized form of in[0..in_len) into out, which has room for
 * out_size bytes (out_size >= sizeof(NK_SANITIZE_TRUNCATED) + 1). If the
 * whole sanitized text does not fit, it is cut at a character boundary (never
 * inside a UTF-8 sequence or an escape) and NK_SANITIZE_TRUNCATED is
 * appended, all within out_size. Returns the length written (without NUL).
 * in may contain NUL bytes (escaped as "\x00"); in may be NULL when in_len is
 * 0.
 */
size_t nk_sanitize_log(char *out, size_t out_size, const char *in,
                       size_t in_len);

/*
 * Decodes the UTF-8 sequence at s[0..len): returns its length (1..4) and
 * stores the code point in *cp, or returns 0 when s does not start with a
 * valid sequence (len 0, stray continuation byte, overlong form, surrogate,
 * above U+10FFFF, or cut short). NUL is a valid one-byte sequence here.
 */
size_t nk_utf8_decode(const unsigned char *s, size_t len, unsigned int *cp);

/*
 * 1 when s[0..len) is valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF) and contains no NUL byte, else 0. s may be NULL when len
 * is 0 (the empty string is valid).
 */
int nk_utf8_valid(const char *s, size_t len);

#endif
