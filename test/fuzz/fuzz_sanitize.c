/*
 * fuzz_sanitize.c — libFuzzer target for the log sanitizer, the JSON/HTML
 * escapers, the validators and the secret rule (core/nk_sanitize.c,
 * nk_json.c, nk_validate.c, nk_secret.c).
 *
 * The first input byte picks the output size (so cuts are exercised at every
 * position), the rest is the text. Asserted for any input:
 *   nk_sanitize_log: NUL-terminated within out_size, length as returned,
 *     valid UTF-8, no raw C0 control / DEL / C1 / U+2028 / U+2029 / ESC;
 *   nk_json_escape and nk_html_escape: the measured length matches a full
 *     run, a cut run is a prefix of the full one, output valid UTF-8; JSON
 *     output holds no raw '<' '>' '&' '\'' or control character;
 *   nk_json_inert: the same, and no raw '<' '>' '&' '\'' U+2028/9 left;
 *   nk_validate_text: OK only for valid UTF-8 with no blocked character.
 * Built by the test runner with clang -fsanitize=fuzzer,address,undefined
 * together with every C file of extension/core (see common build rules).
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_json.h"
#include "nk_secret.h"
#include "nk_sanitize.h"
#include "nk_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *s, size_t n, int json);

/* No raw control, DEL, C1, U+2028/9; in log text no bidi formatting; in
 * JSON also no < > & '. */
static void
check_clean(const char *s, size_t n, int json)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;
    unsigned int cp;

    if (!nk_utf8_valid(s, n))
        abort();
    while (i < n) {
        k = nk_utf8_decode(p + i, n - i, &cp);
        if (k == 0)
            abort();
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 ||
            cp == 0x2029)
            abort();
        if (json && (cp == '<' || cp == '>' || cp == '&' || cp == '\''))
            abort();
        if (!json &&
            (cp == 0x061C || cp == 0x200E || cp == 0x200F ||
             (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)))
            abort(); /* bidi formatting must be escaped in log text */
        i += k;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in;
    size_t len, out_size, n, need, cut;
    char *out, *full;

    if (size < 1)
        return 0;
    out_size = sizeof(NK_SANITIZE_TRUNCATED) + 1 + data[0] * 4;
    in = (const char *)data + 1;
    len = size - 1;

    /* Sanitizer, with a guard byte after out_size. */
    out = malloc(out_size + 1);
    out[out_size] = 0x5A;
    n = nk_sanitize_log(out, out_size, in, len);
    if (n >= out_size || out[n] != '\0' || strlen(out) != n ||
        out[out_size] != 0x5A)
        abort();
    check_clean(out, n, 0);
    free(out);

    /* JSON escape: measure, full run, cut run. */
    need = nk_json_escape(NULL, 0, in, len);
    full = malloc(need + 1);
    if (nk_json_escape(full, need + 1, in, len) != need || strlen(full) != need)
        abort();
    check_clean(full, need, 1);
    cut = data[0] % (need + 1) + 1;
    out = malloc(cut);
    if (nk_json_escape(out, cut, in, len) != need ||
        strncmp(out, full, strlen(out)) != 0 ||
        !nk_utf8_valid(out, strlen(out)))
        abort();
    free(out);
    free(full);

    /* HTML escape: measured = full, valid UTF-8, no raw < > " ' left. */
    need = nk_html_escape(NULL, 0, in, len);
    full = malloc(need + 1);
    if (nk_html_escape(full, need + 1, in, len) != need ||
        !nk_utf8_valid(full, strlen(full)) || strpbrk(full, "<>\"'") != NULL)
        abort();
    free(full);

    /* Inert JSON: measured = full, a cut is a prefix, no raw < > & ' or
     * U+2028/9 left, and nothing changed when there was nothing to do. */
    need = nk_json_inert(NULL, 0, in, len);
    full = malloc(need + 1);
    if (nk_json_inert(full, need + 1, in, len) != need ||
        memchr(full, '<', need) || memchr(full, '>', need) ||
        memchr(full, '&', need) || memchr(full, '\'', need) ||
        memmem(full, need, "\xe2\x80\xa8", 3) ||
        memmem(full, need, "\xe2\x80\xa9", 3) ||
        (need == len && memcmp(full, in, len) != 0))
        abort();
    cut = data[0] % (need + 1) + 1;
    out = malloc(cut);
    if (nk_json_inert(out, cut, in, len) != need ||
        strncmp(out, full, strlen(out)) != 0)
        abort();
    free(out);
    free(full);

    /*
     * Printable text is never altered by the sanitizer (backslash aside,
     * which it doubles), and is always valid UTF-8.
     */
    if (nk_validate_text(in, len, len) == NK_TEXT_OK) {
        if (!nk_utf8_valid(in, len))
            abort();
        if (memchr(in, '\\', len) == NULL) {
            out = malloc(4 * len + 1);
            n = nk_sanitize_log(out, 4 * len + 1, in, len);
            if (n != len || memcmp(out, in, len) != 0)
                abort();
            free(out);
        }
    }
    (void)nk_validate_email(in, len);
    (void)nk_validate_e164(in, len);
    (void)nk_validate_uuid(in, len);
    /* An accepted secret is never shorter than the rule's minimum. */
    if (nk_secret_judge(in, len, 0) == NK_SECRET_OK &&
        len < NK_SECRET_MIN_CHARS)
        abort();
    return 0;
}
