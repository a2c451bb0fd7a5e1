/*
 * nk_framing.h — the framing rules of an HTTP/1.1 request head (RFC 9112
 * §§ 2.2, 3.2, 5, 6.3), checked on its parsed fields (pure C).
 *
 * A request whose body length or identity two parsers could read in two
 * ways is refused, never guessed: that ambiguity is what request smuggling
 * lives on. The caller answers a refusal with its status and closes the
 * connection, since what follows on it can no longer be framed.
 */
#ifndef NK_FRAMING_H
#define NK_FRAMING_H

#include <stddef.h>

/* One header field as received (not NUL-terminated). */
struct nk_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

enum nk_framing {
    NK_FRAMING_OK = 0,
    NK_FRAMING_LENGTH_AND_CHUNKED, /* Content-Length with Transfer-Encoding */
    NK_FRAMING_LENGTH_REPEATED,    /* more than one Content-Length */
    NK_FRAMING_LENGTH_INVALID,     /* not 1*DIGIT, or absurdly long */
    NK_FRAMING_CODING_UNSUPPORTED, /* Transfer-Encoding other than chunked */
    NK_FRAMING_HOST_MISSING,       /* HTTP/1.1 without Host */
    NK_FRAMING_HOST_REPEATED,
    NK_FRAMING_AUTHORIZATION_REPEATED,
    NK_FRAMING_NAME_INVALID,       /* a field name that is not a token */
    NK_FRAMING_SPACE_BEFORE_COLON, /* "Name : value" */
    NK_FRAMING_OBS_FOLD,           /* a line continued by leading space */
    NK_FRAMING_BARE_LF,            /* a line not ended by CRLF */
    NK_FRAMING_REQUEST_LINE,       /* not method SP target SP version CRLF */
    NK_FRAMING_LINE_INVALID,       /* a line that is no field */
    NK_FRAMING_TOO_MANY_FIELDS,    /* 431 */
    NK_FRAMING_HEAD_TOO_LARGE      /* 431 */
};

/* The longest Content-Length accepted: 18 digits never overflow. */
#define NK_CONTENT_LENGTH_DIGITS 18

/*
 * Checks the fields of one request head: http11 is 1 for HTTP/1.1, 0 for
 * HTTP/1.0; more than max_fields fields are refused. Returns NK_FRAMING_OK
 * or the first rule broken.
 */
enum nk_framing nk_framing_check(const struct nk_field *fields, size_t n,
                                 int http11, size_t max_fields);

/* 1 if s[0..len) is an RFC 9110 token (a valid field name or method). */
int nk_is_token(const char *s, size_t len);

/* The HTTP status a refusal is answered with: 400, or 431. */
int nk_framing_status(enum nk_framing verdict);

/* One sentence for the problem's detail and the log (static text). */
const char *nk_framing_detail(enum nk_framing verdict);

/*
 * The lines of a request head as its bytes arrive, before any parser has
 * normalised them: every line ends with CRLF (no bare CR, no bare LF), no
 * field line begins with whitespace (obs-fold) or anything but a field
 * name, a field name is followed directly by its colon, and there are no
 * more than max_fields field lines. Empty lines before the request line
 * are skipped (RFC 9112 § 2.2). The caller zeroes the struct, sets
 * max_fields, then feeds the bytes in order.
 */
struct nk_head_lines {
    size_t max_fields;
    size_t fields;           /* field lines begun */
    size_t size;             /* bytes of the head so far */
    int line;                /* lines begun, the request line being 1 */
    int pos;                 /* NK_HL_* position within the current line */
    int done;                /* the empty line ending the head was seen */
    enum nk_framing verdict; /* the first problem, or NK_FRAMING_OK */
};

/*
 * Feeds n bytes; returns how many belonged to the head (n until the empty
 * line that ends it; what follows is a body or the next request).
 */
size_t nk_head_lines_feed(struct nk_head_lines *h, const char *p, size_t n);

#endif
