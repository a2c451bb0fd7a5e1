/*
 * nk_secret.c — the one rule for secret strength (see nk_secret.h).
 *
 * Pure C (no PostgreSQL headers, no libm): the extension, namaskahd and the
 * unit tests link it as it is.
 */
#include "nk_secret.h"

#include <string.h>

#include "nk_sanitize.h"

/* Values copied from examples, templates and .env files. */
static const char *const placeholders[] = {
    "changeme",    "change-me",   "change_me", "change me", "changethis",
    "change-this", "change_this", "changeit",  "replace",   "your-",
    "your_",       "placeholder", "example",   "secret",    "password",
    "passwd",      "default",     "insecure",  "dummy",     "sample",
    "12345678",    "qwerty",      "xxxxxxxx",  NULL};

const char nk_secret_rule_text[] =
    "A secret needs at least 32 characters (and at least the hash output's "
    "length for a signing key), at least 10 distinct characters, no "
    "placeholder words, and no runs, steps or repeated patterns.";

/* ASCII case-insensitive substring test; word is lower case. */
static int
contains_word(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word), i, k;

    for (i = 0; i + wl <= len; i++) {
        for (k = 0; k < wl; k++) {
            unsigned char c = (unsigned char)s[i + k];

            if (c >= 'A' && c <= 'Z')
                c = (unsigned char)(c - 'A' + 'a');
            if (c != (unsigned char)word[k])
                break;
        }
        if (k == wl)
            return 1;
    }
    return 0;
}

/* log2 for x >= 1 without libm (the unit tests link only libcrypto). */
static double
log2_of(double x)
{
    double r = 0.0, bit = 0.5;
    int i;

    while (x >= 2.0) {
        x /= 2.0;
        r += 1.0;
    }
    for (i = 0; i < 24; i++) {
        x *= x;
        if (x >= 2.0) {
            x /= 2.0;
            r += bit;
        }
        bit /= 2.0;
    }
    return r;
}

/* Characters (code points) of s, or 0 when invalid or a control is in it. */
static size_t
count_printable_chars(const unsigned char *s, size_t len)
{
    size_t i, n, chars = 0;
    unsigned int cp;

    for (i = 0; i < len; i += n) {
        n = nk_utf8_decode(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return 0;
        chars++;
    }
    return chars;
}

/* 1 when s is one pattern of at most len/3 bytes repeated. */
static int
is_repetition(const unsigned char *s, size_t len)
{
    size_t p, i;

    for (p = 1; p <= len / 3; p++) {
        for (i = p; i < len && s[i] == s[i - p]; i++)
            ;
        if (i == len)
            return 1;
    }
    return 0;
}

/* Secrets a human typed: few symbols, little information, runs, repeats. */
static int
is_low_entropy(const unsigned char *s, size_t len)
{
    size_t counts[256];
    size_t i, distinct = 0, steps = 0;
    double bits = 0.0;

    memset(counts, 0, sizeof(counts));
    for (i = 0; i < len; i++) {
        if (counts[s[i]]++ == 0)
            distinct++;
        if (i > 0 &&
            (s[i] == s[i - 1] || s[i] == s[i - 1] + 1 || s[i] + 1 == s[i - 1]))
            steps++;
    }
    for (i = 0; i < 256; i++)
        if (counts[i] > 0)
            bits += (double)counts[i] * log2_of((double)len / counts[i]);
    memset(counts, 0, sizeof(counts));
    return distinct < NK_SECRET_MIN_DISTINCT || bits < NK_SECRET_MIN_BITS ||
           bits < 3.0 * (double)len || steps * 2 >= len ||
           is_repetition(s, len);
}

nk_secret_status
nk_secret_judge(const char *s, size_t len, size_t min_bytes)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars, i;

    if (s == NULL)
        return NK_SECRET_INVALID;
    chars = count_printable_chars(p, len);
    if (chars == 0 && len > 0)
        return NK_SECRET_INVALID;
    for (i = 0; placeholders[i] != NULL; i++)
        if (contains_word(s, len, placeholders[i]))
            return NK_SECRET_PLACEHOLDER;
    if (chars < NK_SECRET_MIN_CHARS || len < min_bytes)
        return NK_SECRET_TOO_SHORT;
    if (is_low_entropy(p, len))
        return NK_SECRET_LOW_ENTROPY;
    return NK_SECRET_OK;
}

const char *
nk_secret_status_text(nk_secret_status st)
{
    switch (st) {
    case NK_SECRET_OK:
        return "is acceptable";
    case NK_SECRET_INVALID:
        return "contains invalid UTF-8 or control characters";
    case NK_SECRET_PLACEHOLDER:
        return "contains a known placeholder or example value";
    case NK_SECRET_TOO_SHORT:
        return "is too short";
    case NK_SECRET_LOW_ENTROPY:
        return "has too little entropy";
    }
    return "is not acceptable";
}
