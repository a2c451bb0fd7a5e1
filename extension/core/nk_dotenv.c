/*
 * nk_dotenv.c — one line of a .env file (see nk_dotenv.h for the grammar).
 * Used by namaskahd's configuration (frontend/config.c); unit-tested
 * (test/unit/test_dotenv.c, on the files scripts/lib-env.sh is tested on)
 * and fuzzed here.
 */
#include "nk_dotenv.h"

#include <string.h>

static int is_blank(char c);
static int is_key_start(char c);
static int is_key_char(char c);
static size_t skip_blanks(const char *s, size_t i, size_t end);
static int only_comment(const char *s, size_t i, size_t end);

/* Only space and tab: the locale never decides what a line means. */
static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ASCII only, for the same reason (no isalpha). */
static int
is_key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_key_char(char c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

static size_t
skip_blanks(const char *s, size_t i, size_t end)
{
    while (i < end && is_blank(s[i]))
        i++;
    return i;
}

/*
 * Whether s[i..end) may follow a closing quote: blanks, then possibly a
 * comment. The '#' must follow a blank, as in a bare value, so that "a"#b
 * (which a shell reads as a#b) is refused rather than read differently.
 */
static int
only_comment(const char *s, size_t i, size_t end)
{
    size_t j = skip_blanks(s, i, end);

    return j == end || (s[j] == '#' && j > i);
}

enum nk_dotenv_result
nk_dotenv_parse_line(char *line, size_t len, char **key, char **value)
{
    size_t i, k, k_end, v, r, w, start, stop, end = len;

    if (memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
        return NK_DOTENV_BAD;
    if (end > 0 && line[end - 1] == '\r')
        end--; /* CRLF files */
    i = skip_blanks(line, 0, end);
    if (i == end || line[i] == '#')
        return NK_DOTENV_SKIP;
    /* "export KEY=..." as a shell file has it; "export=1" is a key */
    if (end - i > 6 && memcmp(line + i, "export", 6) == 0 &&
        is_blank(line[i + 6])) {
        k = skip_blanks(line, i + 6, end);
        if (k < end && is_key_start(line[k]))
            i = k;
    }
    if (!is_key_start(line[i]))
        return NK_DOTENV_BAD;
    k = i;
    while (i < end && is_key_char(line[i]))
        i++;
    k_end = i;
    i = skip_blanks(line, i, end);
    if (i == end || line[i] != '=')
        return NK_DOTENV_BAD;
    i++;
    v = skip_blanks(line, i, end);
    if (v < end && line[v] == '\'') {
        const char *close = memchr(line + v + 1, '\'', end - v - 1);

        if (close == NULL ||
            !only_comment(line, (size_t)(close - line) + 1, end))
            return NK_DOTENV_BAD;
        start = v + 1;
        stop = (size_t)(close - line);
    } else if (v < end && line[v] == '"') {
        /* decoded over itself, one byte left (over the opening quote) */
        for (r = v + 1, w = v; r < end && line[r] != '"'; r++) {
            if (line[r] == '\\' && r + 1 < end) {
                char c = line[r + 1];

                if (c == 'n' || c == '"' || c == '\\' || c == '$' || c == '`') {
                    line[w++] = c == 'n' ? '\n' : c;
                    r++;
                    continue;
                }
            }
            line[w++] = line[r];
        }
        if (r == end || !only_comment(line, r + 1, end))
            return NK_DOTENV_BAD;
        start = v;
        stop = w;
    } else {
        /* bare: a '#' after a blank (including the blanks right after the
         * '=') starts a comment; "a#b" is a value */
        for (r = i; r < end; r++)
            if (line[r] == '#' && r > i && is_blank(line[r - 1]))
                break;
        stop = r;
        while (stop > v && is_blank(line[stop - 1]))
            stop--;
        start = v;
    }
    line[k_end] = '\0';
    line[stop] = '\0';
    *key = line + k;
    *value = line + start;
    return NK_DOTENV_OK;
}
