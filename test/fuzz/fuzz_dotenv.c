/*
 * fuzz_dotenv.c — libFuzzer target for the .env line grammar
 * (core/nk_dotenv.c), which namaskahd reads its ENV_FILE with.
 *
 * The input is one line. Asserted for any input:
 *   a NUL or '\n' in it makes it BAD;
 *   SKIP exactly when it is blanks, or blanks and then '#' (a final CR
 *     dropped);
 *   on OK the key is [A-Za-z_][A-Za-z0-9_]* and key and value lie inside
 *     the line, NUL-terminated, the value no longer than the line;
 *   on OK the value written back double-quoted with the grammar's escapes
 *     (\\ \" \$ \` \n), and single-quoted when it holds no "'", reads back
 *     as the same key and value: a writer that quotes so round-trips.
 * Built by the test runner with clang -fsanitize=fuzzer,address,undefined
 * together with every C file of extension/core (see common build rules).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_dotenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_skip(const char *s, size_t n);
static void check_key(const char *key);
static void round_trip(const char *key, const char *value, int single);

/* The SKIP rule restated independently of the parser. */
static int
is_skip(const char *s, size_t n)
{
    size_t i = 0;

    if (n > 0 && s[n - 1] == '\r')
        n--;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i == n || s[i] == '#';
}

static void
check_key(const char *key)
{
    const char *p = key;

    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
        abort();
    for (p++; *p != '\0'; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            abort();
}

/* Writes KEY="escaped" (or KEY='literal') and parses it again. */
static void
round_trip(const char *key, const char *value, int single)
{
    size_t klen = strlen(key), vlen = strlen(value), n = 0, i;
    char *line = malloc(klen + 2 * vlen + 4), *k2, *v2;

    memcpy(line, key, klen);
    n = klen;
    line[n++] = '=';
    line[n++] = single ? '\'' : '"';
    for (i = 0; i < vlen; i++) {
        char c = value[i];

        if (!single &&
            (c == '\\' || c == '"' || c == '$' || c == '`' || c == '\n')) {
            line[n++] = '\\';
            line[n++] = c == '\n' ? 'n' : c;
        } else {
            line[n++] = c;
        }
    }
    line[n++] = single ? '\'' : '"';
    line[n] = '\0';
    if (nk_dotenv_parse_line(line, n, &k2, &v2) != NK_DOTENV_OK ||
        strcmp(k2, key) != 0 || strcmp(v2, value) != 0)
        abort();
    free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1), *key, *value, *k, *v;
    enum nk_dotenv_result r;

    memcpy(line, data, size);
    line[size] = '\0';
    r = nk_dotenv_parse_line(line, size, &key, &value);
    if (memchr(data, '\0', size) != NULL || memchr(data, '\n', size) != NULL) {
        if (r != NK_DOTENV_BAD)
            abort();
    } else if ((r == NK_DOTENV_SKIP) != is_skip((const char *)data, size)) {
        abort();
    }
    if (r == NK_DOTENV_OK) {
        if (key < line || key >= line + size || value < line ||
            value > line + size ||
            memchr(key, '\0', size + 1 - (size_t)(key - line)) == NULL ||
            strlen(value) > size)
            abort();
        check_key(key);
        /* copies: round_trip must not read the line it rewrites */
        k = strdup(key);
        v = strdup(value);
        round_trip(k, v, 0);
        if (strchr(v, '\'') == NULL && strchr(v, '\n') == NULL)
            round_trip(k, v, 1);
        free(k);
        free(v);
    }
    free(line);
    return 0;
}
