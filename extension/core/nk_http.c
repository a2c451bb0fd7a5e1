/*
 * nk_http.c — the HTTP vocabulary shared by namaskahd and the extension
 * (pure C): the one status -> reason phrase table, the problem document
 * built from it, and the one percent-decoder (strict about '%').
 */
#include "nk_http.h"
#include "nk_json.h"

#include <stdio.h>
#include <string.h>

#define PROBLEM_TYPE_PREFIX "urn:namaskah:problem:"

struct reason {
    int status;
    const char *phrase;
};

/*
 * Every status either side sends (the pipeline, the endpoints'
 * raise_problem, namaskahd, and the civetweb refusals namaskahd relays on
 * its metrics listener), and the rest of RFC 9110's, in status order.
 */
static const struct reason reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {511, "Network Authentication Required"},
};

#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

/* The phrase of status in the table, or NULL. */
static const char *
table_phrase(int status)
{
    size_t lo = 0, hi = N_REASONS;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (reasons[mid].status == status)
            return reasons[mid].phrase;
        if (reasons[mid].status < status)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *
nk_http_reason(int status)
{
    const char *phrase;

    if (status < 100 || status > 599)
        return "Unknown Status";
    phrase = table_phrase(status);
    /* RFC 9110 § 15: an unknown status reads as its class's x00 */
    return phrase != NULL ? phrase : table_phrase(status / 100 * 100);
}

/* ---- the problem document ----------------------------------------------- */

/* An snprintf-like output: whole pieces are written while they fit. */
struct out {
    char *p;
    size_t size;
    size_t pos;  /* bytes written */
    size_t need; /* bytes the whole document needs */
};

static void
put_raw(struct out *o, const char *s, size_t n)
{
    if (o->pos == o->need && o->size > 0 && o->pos + n < o->size) {
        memcpy(o->p + o->pos, s, n);
        o->pos += n;
    }
    o->need += n;
}

static void
put_str(struct out *o, const char *s)
{
    put_raw(o, s, strlen(s));
}

/*
 * A JSON string: prefix (plain text, nothing to escape) followed by s
 * escaped with nk_json_escape; null when s is NULL (as prefix || NULL is in
 * SQL).
 */
static void
put_json(struct out *o, const char *prefix, const char *s)
{
    size_t n, m;

    if (s == NULL) {
        put_str(o, "null");
        return;
    }
    n = strlen(s);
    m = nk_json_escape(NULL, 0, s, n);
    put_raw(o, "\"", 1);
    put_str(o, prefix);
    if (o->pos == o->need && o->size > 0 && o->pos + m < o->size) {
        nk_json_escape(o->p + o->pos, o->size - o->pos, s, n);
        o->pos += m;
    }
    o->need += m;
    put_raw(o, "\"", 1);
}

size_t
nk_problem_json(char *out, size_t out_size, int status, const char *code,
                const char *detail, const char *instance,
                const char *request_id)
{
    struct out o = {out, out_size, 0, 0};
    char num[16];

    snprintf(num, sizeof(num), "%d", status);
    put_str(&o, "{\"code\": ");
    put_json(&o, "", code);
    put_str(&o, ", \"type\": ");
    put_json(&o, PROBLEM_TYPE_PREFIX, code);
    put_str(&o, ", \"title\": ");
    put_json(&o, "", nk_http_reason(status));
    put_str(&o, ", \"detail\": ");
    put_json(&o, "", detail);
    put_str(&o, ", \"status\": ");
    put_str(&o, num);
    put_str(&o, ", \"instance\": ");
    put_json(&o, "", instance);
    put_str(&o, ", \"request_id\": ");
    put_json(&o, "", request_id);
    put_str(&o, "}");
    if (out_size > 0)
        out[o.pos] = '\0';
    return o.need;
}

/* ---- percent-decoding ------------------------------------------------- */

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
nk_percent_decode(char *out, const char *in, size_t len, unsigned flags)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '%') {
            int hi, lo;

            if (len - i < 3)
                return -1;
            hi = hex_value(in[i + 1]);
            lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+' && (flags & NK_PCT_PLUS_SPACE)) {
            out[n++] = ' ';
        } else {
            out[n++] = in[i];
        }
    }
    return (long)n;
}
