/*
 * nk_framing.c — the framing rules of an HTTP/1.1 request head (see
 * nk_framing.h). Used by namaskahd before anything of a request reaches
 * the database; unit-tested and fuzzed here.
 */
#include "nk_framing.h"

#include <string.h>

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~", digits and letters. */
static int
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

int
nk_is_token(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Whether s[0..len) equals lower (a lower-case literal), ignoring case. */
static int
equals_nocase(const char *s, size_t len, const char *lower)
{
    size_t i;

    if (len != strlen(lower))
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return 0;
    }
    return 1;
}

static int
name_is(const struct nk_field *f, const char *name)
{
    return equals_nocase(f->name, f->name_len, name);
}

static int
value_is_digits(const struct nk_field *f)
{
    size_t i;

    if (f->value_len == 0 || f->value_len > NK_CONTENT_LENGTH_DIGITS)
        return 0;
    for (i = 0; i < f->value_len; i++)
        if (f->value[i] < '0' || f->value[i] > '9')
            return 0;
    return 1;
}

/* "chunked", in any case, as the one and only coding. */
static int
value_is_chunked(const struct nk_field *f)
{
    return equals_nocase(f->value, f->value_len, "chunked");
}

enum nk_framing
nk_framing_check(const struct nk_field *fields, size_t n, int http11,
                 size_t max_fields)
{
    size_t i, lengths = 0, codings = 0, hosts = 0, auths = 0;

    if (n > max_fields)
        return NK_FRAMING_TOO_MANY_FIELDS;
    for (i = 0; i < n; i++) {
        const struct nk_field *f = &fields[i];

        if (!nk_is_token(f->name, f->name_len))
            return NK_FRAMING_NAME_INVALID;
        if (name_is(f, "content-length")) {
            if (++lengths > 1)
                return NK_FRAMING_LENGTH_REPEATED;
            if (!value_is_digits(f))
                return NK_FRAMING_LENGTH_INVALID;
        } else if (name_is(f, "transfer-encoding")) {
            /* one field, exactly chunked; HTTP/1.0 has no codings (§ 6.1) */
            if (++codings > 1 || !http11 || !value_is_chunked(f))
                return NK_FRAMING_CODING_UNSUPPORTED;
        } else if (name_is(f, "host")) {
            if (++hosts > 1)
                return NK_FRAMING_HOST_REPEATED;
        } else if (name_is(f, "authorization")) {
            if (++auths > 1)
                return NK_FRAMING_AUTHORIZATION_REPEATED;
        }
    }
    if (lengths > 0 && codings > 0)
        return NK_FRAMING_LENGTH_AND_CHUNKED;
    if (http11 && hosts == 0)
        return NK_FRAMING_HOST_MISSING;
    return NK_FRAMING_OK;
}

int
nk_framing_status(enum nk_framing verdict)
{
    return verdict == NK_FRAMING_TOO_MANY_FIELDS ||
                   verdict == NK_FRAMING_HEAD_TOO_LARGE
               ? 431
               : 400;
}

const char *
nk_framing_detail(enum nk_framing verdict)
{
    switch (verdict) {
    case NK_FRAMING_OK:
        return "The request is well framed.";
    case NK_FRAMING_LENGTH_AND_CHUNKED:
        return "The request has both Content-Length and Transfer-Encoding.";
    case NK_FRAMING_LENGTH_REPEATED:
        return "The request has more than one Content-Length.";
    case NK_FRAMING_LENGTH_INVALID:
        return "The request's Content-Length is not a plain decimal number.";
    case NK_FRAMING_CODING_UNSUPPORTED:
        return "The only transfer coding accepted is a single chunked "
               "(HTTP/1.1).";
    case NK_FRAMING_HOST_MISSING:
        return "An HTTP/1.1 request must have a Host header.";
    case NK_FRAMING_HOST_REPEATED:
        return "The request has more than one Host header.";
    case NK_FRAMING_AUTHORIZATION_REPEATED:
        return "The request has more than one Authorization header.";
    case NK_FRAMING_NAME_INVALID:
        return "A header name is not a valid token.";
    case NK_FRAMING_SPACE_BEFORE_COLON:
        return "A header name is followed by whitespace before its colon.";
    case NK_FRAMING_OBS_FOLD:
        return "A header is continued on the next line (obsolete folding).";
    case NK_FRAMING_BARE_LF:
        return "A line of the request head does not end with CRLF.";
    case NK_FRAMING_REQUEST_LINE:
        return "The request line is not method, target and version "
               "separated by single spaces.";
    case NK_FRAMING_LINE_INVALID:
        return "A line of the request head is not a header field.";
    case NK_FRAMING_TOO_MANY_FIELDS:
        return "The request has more header fields than this server "
               "accepts.";
    case NK_FRAMING_HEAD_TOO_LARGE:
        return "The request head is larger than this server accepts.";
    }
    return "The request is malformed.";
}

/* Where nk_head_lines is within its current line. */
enum {
    NK_HL_START = 0, /* at the first byte of a line */
    NK_HL_NAME,      /* in a field name */
    NK_HL_REST,      /* in the request line, or a field's value */
    NK_HL_CR,        /* a CR was seen: LF must follow */
    NK_HL_END_CR     /* a CR opened the line: the head ends with LF */
};

/* Records the first problem only. */
static void
head_problem(struct nk_head_lines *h, enum nk_framing verdict)
{
    if (h->verdict == NK_FRAMING_OK)
        h->verdict = verdict;
}

/* The first byte of a line (not CR, not LF). */
static void
head_line_start(struct nk_head_lines *h, unsigned char c)
{
    h->line++;
    if (h->line == 1) {
        h->pos = NK_HL_REST;
        return;
    }
    if (++h->fields > h->max_fields)
        head_problem(h, NK_FRAMING_TOO_MANY_FIELDS);
    if (c == ' ' || c == '\t')
        head_problem(h, NK_FRAMING_OBS_FOLD);
    else if (!is_tchar(c))
        head_problem(h, NK_FRAMING_LINE_INVALID);
    h->pos = NK_HL_NAME;
}

size_t
nk_head_lines_feed(struct nk_head_lines *h, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && !h->done) {
        unsigned char c = (unsigned char)p[i];

        switch (h->pos) {
        case NK_HL_CR:
        case NK_HL_END_CR:
            /* an empty line ends the head, unless before the request */
            h->done = c == '\n' && h->pos == NK_HL_END_CR && h->line > 0;
            h->pos = NK_HL_START;
            if (c != '\n') {
                head_problem(h, NK_FRAMING_BARE_LF);
                continue; /* the byte after a bare CR opens a line */
            }
            break;
        case NK_HL_START:
            if (c == '\r')
                h->pos = NK_HL_END_CR;
            else if (c == '\n')
                head_problem(h, NK_FRAMING_BARE_LF);
            else
                head_line_start(h, c);
            break;
        default:
            if (c == '\r')
                h->pos = NK_HL_CR;
            else if (c == '\n')
                head_problem(h, NK_FRAMING_BARE_LF);
            else if (h->pos == NK_HL_NAME && c == ':')
                h->pos = NK_HL_REST;
            else if (h->pos == NK_HL_NAME && (c == ' ' || c == '\t'))
                head_problem(h, NK_FRAMING_SPACE_BEFORE_COLON);
            else if (h->pos == NK_HL_NAME && !is_tchar(c))
                head_problem(h, NK_FRAMING_NAME_INVALID);
            break;
        }
        i++;
    }
    h->size += i;
    return i;
}
