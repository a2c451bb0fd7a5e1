/*
 * fuzz_framing.c — libFuzzer target for the HTTP/1.1 framing rules
 * (core/nk_framing.c).
 *
 * The input is a request head's field lines ("name:value" separated by
 * '\n'; the first byte picks HTTP/1.0 or 1.1 and the field limit). Asserted
 * for any input: nk_framing_check never reads outside the fields, and an OK
 * verdict holds only for a head a second, independent reading agrees is
 * unambiguous: at most one Content-Length, all digits; at most one
 * Transfer-Encoding, exactly "chunked" in HTTP/1.1, never both; one Host in
 * HTTP/1.1, at most one in 1.0; at most one Authorization; token names; no
 * more fields than the limit. Every verdict has a status (400/431) and a
 * detail. The same bytes also go through the raw line checker
 * (nk_head_lines_feed), whole and in two pieces, which must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nk_framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 80

static int
named(const struct nk_field *f, const char *name)
{
    return f->name_len == strlen(name) &&
           strncasecmp(f->name, name, f->name_len) == 0;
}

/* The oracle: 1 if the head is unambiguous, read independently. */
static int
unambiguous(const struct nk_field *f, size_t n, int http11, size_t max)
{
    size_t i, j, cl = 0, te = 0, host = 0, auth = 0;

    if (n > max)
        return 0;
    for (i = 0; i < n; i++) {
        if (f[i].name_len == 0)
            return 0;
        for (j = 0; j < f[i].name_len; j++) {
            unsigned char c = (unsigned char)f[i].name[j];

            if (c <= ' ' || c >= 0x7F || strchr("\"(),/:;<=>?@[\\]{}", c))
                return 0;
        }
        if (named(&f[i], "content-length")) {
            cl++;
            if (f[i].value_len == 0 || f[i].value_len > 18)
                return 0;
            for (j = 0; j < f[i].value_len; j++)
                if (f[i].value[j] < '0' || f[i].value[j] > '9')
                    return 0;
        } else if (named(&f[i], "transfer-encoding")) {
            te++;
            if (f[i].value_len != 7 ||
                strncasecmp(f[i].value, "chunked", 7) != 0 || !http11)
                return 0;
        } else if (named(&f[i], "host")) {
            host++;
        } else if (named(&f[i], "authorization")) {
            auth++;
        }
    }
    return cl <= 1 && te <= 1 && !(cl && te) && host <= 1 && auth <= 1 &&
           (!http11 || host == 1);
}

/*
 * The raw line checker reads the same bytes alike whole and in two pieces
 * split anywhere, never claims more bytes than it was given, and when it
 * saw a head's end, the last two bytes it took are CR LF.
 */
static void
check_head_lines(const uint8_t *data, size_t size, size_t max)
{
    struct nk_head_lines whole, split;
    size_t used, cut = size / 3, a, b = 0;

    memset(&whole, 0, sizeof(whole));
    memset(&split, 0, sizeof(split));
    whole.max_fields = split.max_fields = max;
    used = nk_head_lines_feed(&whole, (const char *)data, size);
    a = nk_head_lines_feed(&split, (const char *)data, cut);
    if (!split.done)
        b = nk_head_lines_feed(&split, (const char *)data + cut, size - cut);
    if (used > size || whole.size != used || a + b != used ||
        whole.done != split.done || whole.verdict != split.verdict)
        abort();
    if (whole.done &&
        (used < 2 || data[used - 2] != '\r' || data[used - 1] != '\n'))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nk_field fields[MAX_FIELDS];
    size_t n = 0, max, i = 1;
    enum nk_framing verdict;
    const char *detail;
    char *copy;
    int http11, status;

    if (size < 1)
        return 0;
    http11 = data[0] & 1;
    max = (size_t)(data[0] >> 1) % MAX_FIELDS;
    /* a private copy of exactly the input: any read past it is reported */
    copy = malloc(size);
    memcpy(copy, data, size);
    while (i < size && n < MAX_FIELDS) {
        const char *line = copy + i, *colon;
        size_t len = 0;

        while (i + len < size && copy[i + len] != '\n')
            len++;
        colon = memchr(line, ':', len);
        fields[n].name = line;
        fields[n].name_len = colon ? (size_t)(colon - line) : len;
        fields[n].value = colon ? colon + 1 : line + len;
        fields[n].value_len = colon ? len - fields[n].name_len - 1 : 0;
        n++;
        i += len + 1;
    }
    verdict = nk_framing_check(fields, n, http11, max);
    if ((verdict == NK_FRAMING_OK) != unambiguous(fields, n, http11, max))
        abort();
    check_head_lines(data + 1, size - 1, max);
    status = nk_framing_status(verdict);
    detail = nk_framing_detail(verdict);
    if ((status != 400 && status != 431) || detail == NULL || detail[0] == '\0')
        abort();
    free(copy);
    return 0;
}
