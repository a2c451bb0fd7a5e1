/*
 * nk_json.c — JSON string escaping that is also inert in HTML (pure C).
 *
 * nk_json_inert makes a whole document inert the same way.
 *
 * Like nk_sanitize.c it works in units (one input character, or one invalid
 * byte, becomes one output unit) so that a cut output never ends inside an
 * escape or a UTF-8 sequence. Beyond what nk_json.h promises, DEL and the C1
 * controls are written as \u escapes too: still the same JSON string, and
 * nothing invisible reaches a terminal or a log viewer.
 */
#include "nk_json.h"
#include "nk_sanitize.h"

#include <string.h>

#define NK_JSON_UNIT_MAX 8

typedef size_t (*unit_fn)(const unsigned char *in, size_t len, char *unit,
                          size_t *consumed);

static size_t json_unit(const unsigned char *in, size_t len, char *unit,
                        size_t *consumed);
static size_t html_unit(const unsigned char *in, size_t len, char *unit,
                        size_t *consumed);
static size_t inert_unit(const unsigned char *in, size_t len, char *unit,
                         size_t *consumed);
static size_t escape_units(unit_fn fn, char *out, size_t out_size,
                           const char *in, size_t in_len);

static size_t
json_unit(const unsigned char *in, size_t len, char *unit, size_t *consumed)
{
    static const char hex[] = "0123456789abcdef";
    unsigned int cp;
    size_t n = nk_utf8_decode(in, len, &cp);

    if (n == 0) {
        /* Invalid byte: U+FFFD REPLACEMENT CHARACTER, raw. */
        *consumed = 1;
        memcpy(unit, "\xEF\xBF\xBD", 3);
        return 3;
    }
    *consumed = n;
    switch (cp) {
    case '"':
        memcpy(unit, "\\\"", 2);
        return 2;
    case '\\':
        memcpy(unit, "\\\\", 2);
        return 2;
    case '\b':
        memcpy(unit, "\\b", 2);
        return 2;
    case '\f':
        memcpy(unit, "\\f", 2);
        return 2;
    case '\n':
        memcpy(unit, "\\n", 2);
        return 2;
    case '\r':
        memcpy(unit, "\\r", 2);
        return 2;
    case '\t':
        memcpy(unit, "\\t", 2);
        return 2;
    default:
        break;
    }
    if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&' || cp == '\'' ||
        (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
        unit[0] = '\\';
        unit[1] = 'u';
        unit[2] = hex[(cp >> 12) & 0xF];
        unit[3] = hex[(cp >> 8) & 0xF];
        unit[4] = hex[(cp >> 4) & 0xF];
        unit[5] = hex[cp & 0xF];
        return 6;
    }
    memcpy(unit, in, n);
    return n;
}

/* One character of HTML-escaped output (entities for & < > " '). */
static size_t
html_unit(const unsigned char *in, size_t len, char *unit, size_t *consumed)
{
    unsigned int cp;
    size_t n = nk_utf8_decode(in, len, &cp);
    const char *ent = NULL;

    if (n == 0) {
        *consumed = 1;
        memcpy(unit, "\xEF\xBF\xBD", 3);
        return 3;
    }
    *consumed = n;
    switch (cp) {
    case '&':
        ent = "&amp;";
        break;
    case '<':
        ent = "&lt;";
        break;
    case '>':
        ent = "&gt;";
        break;
    case '"':
        ent = "&quot;";
        break;
    case '\'':
        ent = "&#39;";
        break;
    default:
        memcpy(unit, in, n);
        return n;
    }
    memcpy(unit, ent, strlen(ent));
    return strlen(ent);
}

/*
 * The snprintf-like driver shared by both escapers: writes whole units while
 * they fit, stops writing at the first one that does not (so the output is
 * a clean prefix), and keeps counting the full length.
 */
static size_t
escape_units(unit_fn fn, char *out, size_t out_size, const char *in,
             size_t in_len)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t need = 0, pos = 0, i = 0, ulen, used;
    int full = 0; /* set once a unit did not fit: write nothing more */
    char unit[NK_JSON_UNIT_MAX];

    while (i < in_len) {
        ulen = fn(p + i, in_len - i, unit, &used);
        if (!full && out_size > 0 && pos + ulen <= out_size - 1) {
            memcpy(out + pos, unit, ulen);
            pos += ulen;
        } else {
            full = 1;
        }
        need += ulen;
        i += used;
    }
    if (out_size > 0)
        out[pos] = '\0';
    return need;
}

size_t
nk_json_escape(char *out, size_t out_size, const char *in, size_t in_len)
{
    return escape_units(json_unit, out, out_size, in, in_len);
}

size_t
nk_html_escape(char *out, size_t out_size, const char *in, size_t in_len)
{
    return escape_units(html_unit, out, out_size, in, in_len);
}

/* One unit of nk_json_inert: an escape, or one byte as it is (the document
 * is valid already; multi-byte characters pass through byte by byte). */
static size_t
inert_unit(const unsigned char *in, size_t len, char *unit, size_t *consumed)
{
    const char *esc = NULL;

    *consumed = 1;
    switch (in[0]) {
    case '<':
        esc = "\\u003c";
        break;
    case '>':
        esc = "\\u003e";
        break;
    case '&':
        esc = "\\u0026";
        break;
    case '\'':
        esc = "\\u0027";
        break;
    case 0xE2:
        if (len >= 3 && in[1] == 0x80 && (in[2] == 0xA8 || in[2] == 0xA9)) {
            esc = in[2] == 0xA8 ? "\\u2028" : "\\u2029";
            *consumed = 3;
        }
        break;
    }
    if (esc == NULL) {
        unit[0] = (char)in[0];
        return 1;
    }
    memcpy(unit, esc, 6);
    return 6;
}

size_t
nk_json_inert(char *out, size_t out_size, const char *in, size_t in_len)
{
    return escape_units(inert_unit, out, out_size, in, in_len);
}
