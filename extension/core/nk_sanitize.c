/*
 * nk_sanitize.c — log-safe text and strict UTF-8 decoding (pure C).
 *
 * The sanitizer works in "units": each input character (or each invalid
 * byte) becomes one unit of output, either the character copied or its
 * visible escape. A cut only ever happens between units, which is what keeps
 * the output valid UTF-8 and every escape whole.
 */
#include "nk_sanitize.h"

#include <string.h>

/* The longest unit: "\u2028" (6 bytes); a copied character is at most 4. */
#define NK_UNIT_MAX 8

/*
 * Bidirectional formatting characters (U+061C, U+200E/F, U+202A..U+202E,
 * U+2066..U+2069) reorder how a terminal or viewer shows the rest of a line,
 * so a logged value could make a line read differently from what it holds
 * ("Trojan Source"). They are escaped like controls.
 */
static int
is_bidi_control(unsigned int cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

static size_t sanitize_unit(const unsigned char *in, size_t len, char *unit,
                            size_t *consumed);
static size_t hex_escape(char *unit, const char *prefix, unsigned int value,
                         int digits);

static const char hexdigits[] = "0123456789abcdef";

size_t
nk_utf8_decode(const unsigned char *s, size_t len, unsigned int *cp)
{
    unsigned char b0;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    size_t n, i;
    unsigned int c;

    if (s == NULL || len == 0)
        return 0;
    b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        c = b0 & 0x0F;
        if (b0 == 0xE0)
            lo = 0xA0; /* below is overlong */
        else if (b0 == 0xED)
            hi = 0x9F; /* above is a surrogate */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        c = b0 & 0x07;
        if (b0 == 0xF0)
            lo = 0x90; /* below is overlong */
        else if (b0 == 0xF4)
            hi = 0x8F; /* above is beyond U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return n;
}

int
nk_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    unsigned int cp;

    while (i < len) {
        n = nk_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || cp == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* Writes prefix followed by value as lower-case hex of the given width. */
static size_t
hex_escape(char *unit, const char *prefix, unsigned int value, int digits)
{
    size_t n = strlen(prefix);
    int d;

    memcpy(unit, prefix, n);
    for (d = digits - 1; d >= 0; d--)
        unit[n++] = hexdigits[(value >> (4 * d)) & 0xF];
    return n;
}

/*
 * Produces the output unit for the character (or invalid byte) at in; sets
 * *consumed to the input bytes it stands for and returns its length.
 */
static size_t
sanitize_unit(const unsigned char *in, size_t len, char *unit, size_t *consumed)
{
    unsigned int cp;
    size_t n = nk_utf8_decode(in, len, &cp);

    if (n == 0) {
        *consumed = 1;
        return hex_escape(unit, "\\x", in[0], 2);
    }
    *consumed = n;
    switch (cp) {
    case '\\':
        unit[0] = unit[1] = '\\';
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
    if (cp < 0x20 || cp == 0x7F) /* C0 (ESC included) and DEL */
        return hex_escape(unit, "\\x", cp, 2);
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
        is_bidi_control(cp))
        return hex_escape(unit, "\\u", cp, 4);
    memcpy(unit, in, n);
    return n;
}

size_t
nk_sanitize_log(char *out, size_t out_size, const char *in, size_t in_len)
{
    const unsigned char *p = (const unsigned char *)in;
    const size_t mlen = sizeof(NK_SANITIZE_TRUNCATED) - 1;
    size_t cap, safe_limit, safe = 0, pos = 0, i = 0, ulen, used;
    int use_marker;
    char unit[NK_UNIT_MAX];

    if (out == NULL || out_size == 0)
        return 0;
    cap = out_size - 1; /* room for the NUL */
    /* A buffer too small for the marker just gets what fits, unmarked. */
    use_marker = cap >= mlen + 1;
    safe_limit = use_marker ? cap - mlen : cap;

    while (i < in_len) {
        ulen = sanitize_unit(p + i, in_len - i, unit, &used);
        if (pos + ulen > cap) {
            /* Does not fit: back up to the last boundary leaving room. */
            pos = safe;
            if (use_marker) {
                memcpy(out + pos, NK_SANITIZE_TRUNCATED, mlen);
                pos += mlen;
            }
            out[pos] = '\0';
            return pos;
        }
        memcpy(out + pos, unit, ulen);
        pos += ulen;
        if (pos <= safe_limit)
            safe = pos;
        i += used;
    }
    out[pos] = '\0';
    return pos;
}
