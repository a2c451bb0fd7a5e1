/*
 * nk_validate.h — input validators for the API and for configuration (pure C).
 *
 * Each validator takes a byte string with its length (it may contain NUL
 * bytes, which make it invalid) and answers without allocating. They are
 * deliberately pragmatic: they accept what the service can safely store,
 * echo and send to, not everything an RFC allows.
 */
#ifndef NK_VALIDATE_H
#define NK_VALIDATE_H

#include <stddef.h>

/* Why a text is not acceptable (nk_validate_text). */
typedef enum nk_text_status {
    NK_TEXT_OK = 0,
    NK_TEXT_INVALID_UTF8, /* invalid UTF-8, or a NUL byte */
    NK_TEXT_CONTROL,      /* C0/C1 control, DEL, U+2028/9, bidi override */
    NK_TEXT_TOO_LONG      /* more than max_chars characters */
} nk_text_status;

/*
 * Checks bounded printable text: valid UTF-8 without NUL, no C0 control
 * (TAB and LF included), no DEL, no C1 control, no U+2028/U+2029, no bidi
 * formatting (marks U+061C, U+200E/F, embedding/override/isolate
 * U+202A..U+202E, U+2066..U+2069), and at most
 * max_chars characters (code points). The first problem found is returned.
 */
nk_text_status nk_validate_text(const char *s, size_t len, size_t max_chars);

/*
 * 1 when s is a plausible email address: ASCII, at most 254 bytes, exactly
 * one '@'; the local part 1..64 characters of [A-Za-z0-9._%+-] with no
 * leading, trailing or doubled dot; the domain at least two dot-separated
 * labels of 1..63 [A-Za-z0-9-] (no leading/trailing '-'), the last one
 * alphabetic and at least 2 long (or punycode "xn--..."). Else 0.
 */
int nk_validate_email(const char *s, size_t len);

/* 1 when s is '+' then 8..15 digits, the first not 0 (E.164), else 0. */
int nk_validate_e164(const char *s, size_t len);

/*
 * 1 when s is a UUID in the canonical 8-4-4-4-12 hex form (either case, any
 * version, the nil UUID included), else 0.
 */
int nk_validate_uuid(const char *s, size_t len);

#endif
