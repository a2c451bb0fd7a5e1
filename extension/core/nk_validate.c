/*
 * nk_validate.c — input validators for the API and for configuration (pure C).
 *
 * Byte-level and allocation-free, so the frontend and the extension give the
 * same answer for the same bytes. See nk_validate.h for what each accepts.
 */
#include "nk_validate.h"
#include "nk_sanitize.h"

#include <string.h>

static int is_alpha(unsigned char c);
static int is_digit(unsigned char c);
static int is_hex(unsigned char c);
static int is_local_char(unsigned char c);
static int valid_domain(const char *s, size_t len);
static int is_blocked_char(unsigned int cp);

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
is_local_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '%' ||
           c == '+' || c == '-';
}

/* Characters that printable API text must not hold (see the header). */
static int
is_blocked_char(unsigned int cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 ||
           cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
           cp == 0x061C;
}

nk_text_status
nk_validate_text(const char *s, size_t len, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, chars = 0;
    unsigned int cp;

    while (i < len) {
        n = nk_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || cp == 0)
            return NK_TEXT_INVALID_UTF8;
        if (is_blocked_char(cp))
            return NK_TEXT_CONTROL;
        if (++chars > max_chars)
            return NK_TEXT_TOO_LONG;
        i += n;
    }
    return NK_TEXT_OK;
}

/* Labels of [A-Za-z0-9-], 1..63, no edge '-', >= 2 labels, sane TLD. */
static int
valid_domain(const char *s, size_t len)
{
    size_t i, start = 0, labels = 0, llen;
    int tld_alpha = 1;

    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!is_alpha(c) && !is_digit(c) && c != '-')
                return 0;
            continue;
        }
        llen = i - start;
        if (llen == 0 || llen > 63 || s[start] == '-' || s[i - 1] == '-')
            return 0;
        labels++;
        if (i == len) {
            size_t k;
            for (k = start; k < i; k++)
                if (!is_alpha((unsigned char)s[k]))
                    tld_alpha = 0;
            if (llen >= 4 && strncmp(s + start, "xn--", 4) == 0)
                tld_alpha = 1;
            if (llen < 2 || !tld_alpha)
                return 0;
        }
        start = i + 1;
    }
    return labels >= 2;
}

int
nk_validate_email(const char *s, size_t len)
{
    size_t i, at = len, nat = 0;

    if (s == NULL || len < 6 || len > 254)
        return 0;
    for (i = 0; i < len; i++)
        if (s[i] == '@') {
            at = i;
            nat++;
        }
    if (nat != 1 || at == 0 || at > 64)
        return 0;
    for (i = 0; i < at; i++) {
        if (!is_local_char((unsigned char)s[i]))
            return 0;
        if (s[i] == '.' && (i == 0 || i == at - 1 || s[i + 1] == '.'))
            return 0;
    }
    return valid_domain(s + at + 1, len - at - 1);
}

int
nk_validate_e164(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len < 9 || len > 16 || s[0] != '+' || s[1] == '0')
        return 0;
    for (i = 1; i < len; i++)
        if (!is_digit((unsigned char)s[i]))
            return 0;
    return 1;
}

int
nk_validate_uuid(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}
