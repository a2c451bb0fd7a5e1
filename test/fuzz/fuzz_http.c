/*
 * fuzz_http.c — libFuzzer target for the HTTP vocabulary (core/nk_http.c)
 * that namaskahd and the extension share.
 *
 * The first byte picks the decoder's flags and a status; the rest is the
 * text. Asserted for any input:
 *   nk_percent_decode writes at most len bytes, and refuses exactly the
 *     inputs with a '%' not followed by two hex digits (restated here
 *     independently); an accepted input decodes to len - 2 per escape bytes,
 *     '+' becoming a space only with NK_PCT_PLUS_SPACE; the output written
 *     back with every byte escaped decodes to itself;
 *   nk_http_reason is never NULL, empty or holding CR/LF;
 *   nk_problem_json with the text as detail and instance is one JSON value
 *     (nk_json_scan), measures what it writes, holds no raw < > & ' and
 *     every cut of it is a NUL-terminated prefix.
 * Built by the test runner with clang -fsanitize=fuzzer,address,undefined
 * together with every C file of extension/core.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_http.h"
#include "nk_jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int escapes_well_formed(const char *s, size_t n, size_t *escapes);
static void check_decode(const char *s, size_t n, unsigned flags);
static void check_problem(int status, const char *text, size_t cut);

static int
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* The strict rule restated: every '%' starts a '%' HEX HEX triplet. */
static int
escapes_well_formed(const char *s, size_t n, size_t *escapes)
{
    size_t i;

    *escapes = 0;
    for (i = 0; i < n; i++)
        if (s[i] == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return 0;
            (*escapes)++;
            i += 2;
        }
    return 1;
}

static void
check_decode(const char *s, size_t n, unsigned flags)
{
    /* exactly n bytes: ASan sees a write past the promised room */
    char *out = malloc(n > 0 ? n : 1);
    char *again, *enc;
    size_t escapes, i, j, k;
    long got;
    int ok = escapes_well_formed(s, n, &escapes);

    if (out == NULL)
        return;
    got = nk_percent_decode(out, s, n, flags);
    if (!ok) {
        if (got != -1)
            abort();
        free(out);
        return;
    }
    if (got != (long)(n - 2 * escapes))
        abort();
    for (i = 0, j = 0; i < n; i++, j++) {
        if (s[i] == '%') {
            char h[3] = {s[i + 1], s[i + 2], '\0'};

            if ((unsigned char)out[j] != strtoul(h, NULL, 16))
                abort();
            i += 2;
            continue;
        }
        if (out[j] != (s[i] == '+' && (flags & NK_PCT_PLUS_SPACE) ? ' ' : s[i]))
            abort();
    }
    /* every byte escaped decodes back to the same bytes */
    enc = malloc(3 * (size_t)got + 1);
    again = malloc((size_t)got * 3 + 1);
    if (enc != NULL && again != NULL) {
        static const char hex[] = "0123456789ABCDEF";

        for (k = 0; k < (size_t)got; k++) {
            enc[3 * k] = '%';
            enc[3 * k + 1] = hex[(unsigned char)out[k] >> 4];
            enc[3 * k + 2] = hex[(unsigned char)out[k] & 0xF];
        }
        if (nk_percent_decode(again, enc, 3 * (size_t)got, flags) != got ||
            memcmp(again, out, (size_t)got) != 0)
            abort();
    }
    free(enc);
    free(again);
    free(out);
}

static void
check_problem(int status, const char *text, size_t cut)
{
    static const nk_json_limits loose = {8, 16, (size_t)1 << 30, 64};
    size_t need = nk_problem_json(NULL, 0, status, "fuzz", text, text, "id");
    char *doc = malloc(need + 1), *part;
    size_t size = need > 0 ? cut % (need + 1) : 0;

    if (doc == NULL)
        return;
    if (nk_problem_json(doc, need + 1, status, "fuzz", text, text, "id") !=
            need ||
        strlen(doc) != need)
        abort();
    if (nk_json_scan(doc, need, &loose) != NK_JSON_OK)
        abort();
    if (strpbrk(doc, "<>&'") != NULL)
        abort();
    part = malloc(size > 0 ? size : 1);
    if (part != NULL) {
        if (nk_problem_json(part, size, status, "fuzz", text, text, "id") !=
            need)
            abort();
        if (size > 0 &&
            (strlen(part) >= size || strncmp(part, doc, strlen(part)) != 0))
            abort();
    }
    free(part);
    free(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text;
    const char *reason;
    char *z;
    unsigned flags;
    int status;

    if (size == 0)
        return 0;
    flags = (data[0] & 1) ? NK_PCT_PLUS_SPACE : 0;
    status = (int)data[0] * 3 - 100; /* -100 .. 665 */
    text = (const char *)data + 1;
    check_decode(text, size - 1, flags);
    reason = nk_http_reason(status);
    if (reason == NULL || reason[0] == '\0' || strpbrk(reason, "\r\n") != NULL)
        abort();
    /* the problem's strings are C strings: up to the first NUL */
    z = malloc(size);
    if (z == NULL)
        return 0;
    memcpy(z, text, size - 1);
    z[size - 1] = '\0';
    check_problem(status, z, size * 7);
    free(z);
    return 0;
}
