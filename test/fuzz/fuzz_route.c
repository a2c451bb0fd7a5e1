/*
 * fuzz_route.c — libFuzzer target for path template matching
 * (core/nk_route.c), differential against the regex routes_derive() stores.
 *
 * The input is "template\npath". For a template of the routes table's
 * shape, nk_route_match must agree with POSIX regexec on the anchored regex
 * that routes_derive() builds ('.' escaped, each {name} as ([^/]+)), and
 * the parameters it returns must be the regex's groups; paths holding NUL
 * bytes (which regexec cannot see) must never match a literal segment.
 * Built by the test runner with clang -fsanitize=fuzzer,address,undefined.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The template's regex as routes_derive() writes it, or NULL when the
 * template holds a byte the table's CHECK constraint would refuse. */
static char *
derived_regex(const char *t)
{
    size_t n = strlen(t), i, o = 0;
    char *re = malloc(4 * n + 3);
    int in_param = 0;

    re[o++] = '^';
    for (i = 0; i < n; i++) {
        char c = t[i];

        if (in_param) {
            if (c == '}') {
                memcpy(re + o, "([^/]+)", 7), o += 7, in_param = 0;
            } else if (!((c >= 'a' && c <= 'z') || c == '_' ||
                         (c >= '0' && c <= '9'))) {
                free(re);
                return NULL;
            }
        } else if (c == '{')
            in_param = 1;
        else if (c == '.')
            re[o++] = '\\', re[o++] = '.';
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '/')
            re[o++] = c;
        else {
            free(re);
            return NULL;
        }
    }
    re[o++] = '$';
    re[o] = '\0';
    return re;
}

static void
compare_with_regex(const char *t, const char *path, size_t path_len, int got,
                   const nk_route_param *p)
{
    regex_t rx;
    regmatch_t m[NK_ROUTE_MAX_PARAMS + 1];
    char *re = derived_regex(t);
    int i, want;

    if (re == NULL)
        return;
    if (regcomp(&rx, re, REG_EXTENDED) != 0)
        abort();
    if (memchr(path, '\0', path_len)) {
        regfree(&rx);
        free(re);
        return;
    }
    want = regexec(&rx, path, NK_ROUTE_MAX_PARAMS + 1, m, 0) == 0;
    if (want != (got >= 0))
        abort();
    for (i = 0; want && i < got; i++)
        if ((size_t)(m[i + 1].rm_eo - m[i + 1].rm_so) != p[i].len ||
            p[i].value != path + m[i + 1].rm_so)
            abort();
    regfree(&rx);
    free(re);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    nk_route_param p[NK_ROUTE_MAX_PARAMS];
    char *t, *path;
    size_t tlen, plen;
    int got, literals;

    if (nl == NULL)
        return 0;
    tlen = (size_t)(nl - data);
    plen = size - tlen - 1;
    t = malloc(tlen + 1);
    memcpy(t, data, tlen);
    t[tlen] = '\0';
    path = malloc(plen + 1); /* NUL-terminated for regexec */
    memcpy(path, nl + 1, plen);
    path[plen] = '\0';
    got = nk_route_match(t, path, plen, p);
    literals = nk_route_literal_segments(t);
    if (strlen(t) == tlen) {
        /* a template is bad for both functions or for neither */
        if ((got == NK_ROUTE_BAD_TEMPLATE) != (literals < 0) &&
            got != NK_ROUTE_BAD_TEMPLATE) /* too many parameters: match only */
            abort();
        if (got != NK_ROUTE_BAD_TEMPLATE)
            compare_with_regex(t, path, plen, got, p);
    }
    if (got >= 0 && memchr(path, '\0', plen)) {
        /* a NUL may only sit inside a parameter */
        int i;
        const char *z = memchr(path, '\0', plen);
        int inside = 0;

        for (i = 0; i < got; i++)
            if (z >= p[i].value && z < p[i].value + p[i].len)
                inside = 1;
        if (!inside)
            abort();
    }
    free(t);
    free(path);
    return 0;
}
