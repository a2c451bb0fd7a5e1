/*
 * fuzz_mask.c — libFuzzer target for the maskers (core/nk_mask.c).
 *
 * The first input byte chooses the masker and the keep counts of
 * nk_mask_partial, the rest is the value. Asserted for any input: the
 * measured length equals the full run's, output stays within out_size and
 * NUL-terminated, a cut run is a prefix of the full one, and for valid UTF-8
 * input the output is valid UTF-8 (no sequence is ever split). For the free
 * text masker also: no email address survives (every '@' in the output
 * that has a plausible address around it is preceded by the mask "***").
 * Built by the test runner with clang -fsanitize=fuzzer,address,undefined
 * together with every C file of extension/core (see common build rules).
 */
#include <stdint.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "nk_mask.h"
#include "nk_sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef size_t (*mask_fn)(char *, size_t, const char *, size_t);

static size_t partial_ks, partial_ke;

static size_t run_partial(char *out, size_t out_size, const char *in,
                          size_t in_len);
static int at_sign_unmasked(const char *s, size_t n);

/*
 * 1 when some '@' in s is directly preceded by a letter or digit and
 * followed by "<alnum>...<dot><2+ letters>", i.e. an address the masker
 * should have caught (the scanner's email rule, simplified).
 */
static int
at_sign_unmasked(const char *s, size_t n)
{
    size_t i, j, k, dot, tld;

    for (i = 1; i + 4 < n; i++) {
        if (s[i] != '@')
            continue;
        if (!isalnum((unsigned char)s[i - 1]) || i < 2 ||
            !isalnum((unsigned char)s[i - 2]))
            continue;
        dot = 0;
        for (j = i + 1; j < n && (isalnum((unsigned char)s[j]) || s[j] == '.' ||
                                  s[j] == '-' || (unsigned char)s[j] >= 0x80);
             j++)
            if (s[j] == '.')
                dot = j;
        if (dot == 0 || s[i + 1] == '.' || s[i + 1] == '-' || s[dot - 1] == '-')
            continue;
        for (k = i + 2; k <= dot; k++)
            if (s[k] == '.' &&
                (s[k - 1] == '.' || s[k - 1] == '-' || s[k + 1] == '-'))
                break;
        if (k <= dot)
            continue; /* an empty label, or one with an edge '-' */
        for (tld = dot + 1; tld < j && isalpha((unsigned char)s[tld]); tld++)
            ;
        if (tld == j && j - dot - 1 >= 2 && (j == n || s[j] != '.'))
            return 1;
    }
    return 0;
}

static size_t
run_partial(char *out, size_t out_size, const char *in, size_t in_len)
{
    return nk_mask_partial(out, out_size, in, in_len, partial_ks, partial_ke,
                           "\xe2\x80\xa2", 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mask_fn fns[] = {
        nk_mask_text,  nk_mask_email,     nk_mask_phone, nk_mask_card,
        nk_mask_token, nk_mask_sensitive, run_partial,   nk_mask_text};
    const char *in;
    size_t len, need, got, cut;
    char *full, *out;
    mask_fn fn;
    int valid;

    if (size < 1)
        return 0;
    fn = fns[data[0] & 7];
    partial_ks = (data[0] >> 3) & 3;
    partial_ke = (data[0] >> 5) & 7;
    in = (const char *)data + 1;
    len = size - 1;
    valid = nk_utf8_valid(in, len);

    need = fn(NULL, 0, in, len);
    if (fn != run_partial && need >= NK_MASK_BOUND(len))
        abort();
    full = malloc(need + 2);
    full[need + 1] = 0x5A;
    got = fn(full, need + 1, in, len);
    if (got != need || full[need] != '\0' || full[need + 1] != 0x5A)
        abort();
    if (valid && !nk_utf8_valid(full, need))
        abort();

    cut = (size_t)data[0] % (need + 1) + 1;
    out = malloc(cut);
    if (fn(out, cut, in, len) != need || strlen(out) >= cut ||
        strncmp(out, full, strlen(out)) != 0)
        abort();
    free(out);

    /* What the free-text masker writes holds no email address any more. */
    if (fn == nk_mask_text && valid) {
        if (at_sign_unmasked(full, need))
            abort();
    }
    free(full);
    return 0;
}
