/*
 * test_dotenv.c — the .env line grammar (core/nk_dotenv.c) on the files the
 * scripts' reader is tested on too (test/dotenv/, test/ops/dotenv.sh), so
 * that namaskahd and scripts/lib-env.sh are held to one expected reading:
 * tricky.env must read as tricky.expected (the last assignment of a key
 * counting, as in config.c and lib-env.sh), and every bad_*.env must be
 * refused at the lines its first line names. Run from the repository root
 * (test/run_all does).
 */
#include "unit.h"

#include "nk_dotenv.h"

#include <dirent.h>
#include <stdlib.h>

#define DOTENV_DIR "test/dotenv"
#define MAX_KEYS 256 /* tricky.env has about 60 */
#define MAX_BAD 8    /* bad lines one bad_*.env may name */

struct kv {
    char *key;
    char *value;
};

static struct kv table[MAX_KEYS];
static size_t n_table;

static void set_key(const char *key, const char *value);
static void free_table(void);
static int by_key(const void *a, const void *b);
static void encode(const char *v, char *out, size_t out_size);
static int read_file(const char *path, size_t *bad, size_t max_bad,
                     size_t *n_bad);
static void test_tricky(void);
static void test_bad_file(const char *name);
static void test_bad_files(void);
static void test_in_place(void);

/* The last assignment of a key counts (what config.c and lib-env.sh do). */
static void
set_key(const char *key, const char *value)
{
    size_t i;

    for (i = 0; i < n_table; i++)
        if (strcmp(table[i].key, key) == 0) {
            free(table[i].value);
            table[i].value = strdup(value);
            return;
        }
    if (n_table == MAX_KEYS) {
        CHECK(!"more keys than MAX_KEYS");
        return;
    }
    table[n_table].key = strdup(key);
    table[n_table].value = strdup(value);
    n_table++;
}

static void
free_table(void)
{
    size_t i;

    for (i = 0; i < n_table; i++) {
        free(table[i].key);
        free(table[i].value);
    }
    n_table = 0;
}

static int
by_key(const void *a, const void *b)
{
    return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

/* tricky.expected's visible form: \\ \n \r \t \xHH, other bytes as is. */
static void
encode(const char *v, char *out, size_t out_size)
{
    size_t n = 0;

    for (; *v != '\0' && n + 5 < out_size; v++) {
        unsigned char c = (unsigned char)*v;

        if (c == '\\')
            n += (size_t)snprintf(out + n, out_size - n, "\\\\");
        else if (c == '\n')
            n += (size_t)snprintf(out + n, out_size - n, "\\n");
        else if (c == '\r')
            n += (size_t)snprintf(out + n, out_size - n, "\\r");
        else if (c == '\t')
            n += (size_t)snprintf(out + n, out_size - n, "\\t");
        else if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(out + n, out_size - n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    out[n] = '\0';
}

/*
 * Reads path line by line as config.c does (getline, the '\n' cut off),
 * keeping its assignments in table and the numbers of its bad lines in
 * bad[]. Returns -1 when the file cannot be read.
 */
static int
read_file(const char *path, size_t *bad, size_t max_bad, size_t *n_bad)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, *key, *value;
    size_t cap = 0, lineno = 0;
    ssize_t n;

    *n_bad = 0;
    if (f == NULL) {
        fprintf(stderr, "cannot read %s (run from the repository root)\n",
                path);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        switch (nk_dotenv_parse_line(line, (size_t)n, &key, &value)) {
        case NK_DOTENV_OK:
            set_key(key, value);
            break;
        case NK_DOTENV_SKIP:
            break;
        case NK_DOTENV_BAD:
            if (*n_bad < max_bad)
                bad[*n_bad] = lineno;
            (*n_bad)++;
            break;
        }
    }
    free(line);
    fclose(f);
    return 0;
}

static void
test_tricky(void)
{
    char got[1024], enc[900], *line = NULL;
    size_t cap = 0, n_bad, i = 0, bad[1];
    ssize_t n;
    FILE *f;

    CHECK(read_file(DOTENV_DIR "/tricky.env", bad, 1, &n_bad) == 0);
    CHECK(n_bad == 0);
    qsort(table, n_table, sizeof(table[0]), by_key);
    f = fopen(DOTENV_DIR "/tricky.expected", "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (i < n_table) {
            encode(table[i].value, enc, sizeof(enc));
            snprintf(got, sizeof(got), "%s=[%s]", table[i].key, enc);
            CHECK_STREQ(got, line);
        } else {
            CHECK_STREQ("(no more keys)", line);
        }
        i++;
    }
    CHECK(i == n_table); /* no key read that is not expected */
    free(line);
    fclose(f);
    free_table();
}

/* name's first line says "# refused at line N: ..." (or "lines N M: ..."). */
static void
test_bad_file(const char *name)
{
    char path[512], head[256], *p;
    size_t want[MAX_BAD], n_want = 0, got[MAX_BAD], n_got, i;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", DOTENV_DIR, name);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    if (fgets(head, sizeof(head), f) == NULL)
        head[0] = '\0';
    fclose(f);
    p = strstr(head, "refused at line");
    CHECK(p != NULL);
    if (p == NULL)
        return;
    p += strcspn(p, "0123456789");
    while (*p >= '0' && *p <= '9' && n_want < MAX_BAD) {
        want[n_want++] = strtoul(p, &p, 10);
        while (*p == ' ')
            p++;
    }
    CHECK(read_file(path, got, MAX_BAD, &n_got) == 0);
    if (n_got != n_want)
        fprintf(stderr, "FAIL %s: %zu bad line(s) found, %zu expected\n", name,
                n_got, n_want);
    CHECK(n_got == n_want);
    for (i = 0; i < n_want && i < n_got; i++)
        CHECK(got[i] == want[i]);
    free_table();
}

static void
test_bad_files(void)
{
    DIR *d = opendir(DOTENV_DIR);
    struct dirent *e;
    size_t n = 0, len;

    CHECK(d != NULL);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (strncmp(e->d_name, "bad_", 4) != 0 || len < 8 ||
            strcmp(e->d_name + len - 4, ".env") != 0)
            continue;
        test_bad_file(e->d_name);
        n++;
    }
    closedir(d);
    CHECK(n >= 10); /* the set was found */
}

/* The API's own promises: in place, within the line, len respected. */
static void
test_in_place(void)
{
    char a[] = "  export KEY = \"x\\\"y\" # c";
    char b[] = "K=v\nL=w";
    char c[] = "K=abcdef";
    char d[] = "K='v'\r";
    char *key, *value;

    CHECK(nk_dotenv_parse_line(a, strlen(a), &key, &value) == NK_DOTENV_OK);
    CHECK_STREQ(key, "KEY");
    CHECK_STREQ(value, "x\"y");
    CHECK(key > a && value > key && value < a + sizeof(a));
    CHECK(nk_dotenv_parse_line(b, strlen(b), &key, &value) == NK_DOTENV_BAD);
    CHECK(nk_dotenv_parse_line(b, 3, &key, &value) == NK_DOTENV_OK);
    CHECK_STREQ(value, "v");
    /* only len bytes are read: "K=abc", the terminator written at len */
    CHECK(nk_dotenv_parse_line(c, 5, &key, &value) == NK_DOTENV_OK);
    CHECK_STREQ(value, "abc");
    CHECK(nk_dotenv_parse_line(d, strlen(d), &key, &value) == NK_DOTENV_OK);
    CHECK_STREQ(value, "v");
    CHECK(nk_dotenv_parse_line(d, 0, &key, &value) == NK_DOTENV_SKIP);
}

int
main(void)
{
    test_in_place();
    test_tricky();
    test_bad_files();
    return unit_report();
}
