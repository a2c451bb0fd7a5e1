/*
 * nk_jsonscan.c — the strict, bounded JSON scanner (pure C; contract in
 * nk_jsonscan.h). Recursive descent over the text; nothing is allocated.
 * A failing scan function returns -1; the scanner state says why when it
 * was a limit or a duplicate, else it was the syntax.
 */
#include "nk_jsonscan.h"

#include <stdint.h>
#include <string.h>

typedef struct jscan {
    const char *s;
    size_t len;
    size_t pos;
    const nk_json_limits *lim;
    size_t values;
    nk_json_status status; /* why the scan failed, when not the syntax */
} jscan;

typedef struct key_span {
    size_t start;
    size_t len;
    int escaped;
} key_span;

static inline void skip_ws(jscan *j);
static int fail(jscan *j, nk_json_status st);
static int scan_string(jscan *j, size_t *start, size_t *len, int *escaped);
static int scan_number(jscan *j);
static int scan_literal(jscan *j, const char *lit);
static int scan_value(jscan *j, int depth, nk_json_kind *kind);
static int scan_object(jscan *j, int depth, nk_json_member_cb cb, void *arg);
static int scan_array(jscan *j, int depth, nk_json_member_cb cb, void *arg);
static int member_seen(const jscan *j, size_t vstart, nk_json_member *m,
                       nk_json_member_cb cb, void *arg);
static int hex4(const char *p, uint32_t *out);
static uint32_t next_cp(const char *s, size_t *i);

static const char *const status_names[NK_JSON_STATUS_COUNT] = {
    [NK_JSON_OK] = "ok",
    [NK_JSON_SYNTAX] = "syntax",
    [NK_JSON_TOO_DEEP] = "depth",
    [NK_JSON_TOO_MANY_MEMBERS] = "members_per_object",
    [NK_JSON_DUPLICATE_MEMBER] = "duplicate_member",
    [NK_JSON_STRING_TOO_LONG] = "string_length",
    [NK_JSON_TOO_MANY_VALUES] = "values",
};

const char *
nk_json_status_name(nk_json_status st)
{
    return (unsigned)st < NK_JSON_STATUS_COUNT ? status_names[st] : "syntax";
}

/* A limit (or a duplicate) ends the scan: the first reason is kept. */
static int
fail(jscan *j, nk_json_status st)
{
    if (j->status == NK_JSON_OK)
        j->status = st;
    return -1;
}

/* Hands the value that began at vstart (kind in m) to cb. */
static int
member_seen(const jscan *j, size_t vstart, nk_json_member *m,
            nk_json_member_cb cb, void *arg)
{
    m->val = j->s + vstart;
    m->val_len = j->pos - vstart;
    if (m->kind == NK_JSON_STRING) {
        m->val++;
        m->val_len -= 2;
    }
    return cb(arg, m);
}

/* Inline, and a first byte above ' ' (the usual case) returns at once. */
static inline void
skip_ws(jscan *j)
{
    if (j->pos < j->len && (unsigned char)j->s[j->pos] > ' ')
        return;
    while (j->pos < j->len) {
        char c = j->s[j->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static int
hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return 0;
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* 1 for the bytes a string holds as they are: ASCII from ' ', but '"', '\\'. */
static const unsigned char plain_string_byte[256] = {
    [' '] = 1,
    ['!'] = 1,
    ['#' ... '['] = 1,
    [']' ... 0x7F] = 1,
};

/*
 * At '"': validates the string and leaves pos after the closing quote.
 * Rejects what PostgreSQL's jsonb input would reject (\u0000, unpaired
 * surrogates) so a scanned payload always converts to jsonb.
 */
static int
scan_string(jscan *j, size_t *start, size_t *len, int *escaped)
{
    size_t p = j->pos + 1;

    *escaped = 0;
    *start = p;
    while (p < j->len) {
        unsigned char c = (unsigned char)j->s[p];

        /* Most bytes of a claim are plain ASCII: one test each. */
        if (plain_string_byte[c]) {
            p++;
            continue;
        }
        if (c == '"') {
            *len = p - *start;
            j->pos = p + 1;
            return *len > j->lim->max_string ? fail(j, NK_JSON_STRING_TOO_LONG)
                                             : 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            char e;

            *escaped = 1;
            if (p + 1 >= j->len)
                return -1;
            e = j->s[p + 1];
            if (e == 'u') {
                uint32_t cp, lo;

                if (p + 6 > j->len || hex4(j->s + p + 2, &cp) != 0)
                    return -1;
                if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                    return -1;
                p += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (p + 6 > j->len || j->s[p] != '\\' ||
                        j->s[p + 1] != 'u' || hex4(j->s + p + 2, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    p += 6;
                }
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0')
                return -1;
            p += 2;
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        {
            size_t n = utf8_seq((const unsigned char *)j->s + p, j->len - p);

            if (n == 0)
                return -1;
            p += n;
        }
    }
    return -1;
}

/* JSON's digits are ASCII whatever the locale, and no table is read. */
static inline int
ascii_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* RFC 8259 number; the exponent is kept within what numeric accepts. */
static int
scan_number(jscan *j)
{
    const char *s = j->s;
    size_t p = j->pos;
    long exp = 0;

    if (p < j->len && s[p] == '-')
        p++;
    if (p >= j->len)
        return -1;
    if (s[p] == '0')
        p++;
    else if (s[p] >= '1' && s[p] <= '9')
        while (p < j->len && ascii_digit(s[p]))
            p++;
    else
        return -1;
    if (p < j->len && s[p] == '.') {
        p++;
        if (p >= j->len || !ascii_digit(s[p]))
            return -1;
        while (p < j->len && ascii_digit(s[p]))
            p++;
    }
    if (p < j->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < j->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= j->len || !ascii_digit(s[p]))
            return -1;
        while (p < j->len && ascii_digit(s[p])) {
            if (exp <= 1000)
                exp = exp * 10 + (s[p] - '0');
            p++;
        }
        if (exp > 1000)
            return -1;
    }
    j->pos = p;
    return 0;
}

static int
scan_literal(jscan *j, const char *lit)
{
    size_t n = strlen(lit);

    if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0)
        return -1;
    j->pos += n;
    return 0;
}

/* At the first byte of a value (whitespace already skipped). */
static int
scan_value(jscan *j, int depth, nk_json_kind *kind)
{
    size_t st, ln;
    int esc;
    char c;

    if (j->pos >= j->len)
        return -1;
    if (++j->values > j->lim->max_values)
        return fail(j, NK_JSON_TOO_MANY_VALUES);
    c = j->s[j->pos];
    switch (c) {
    case '{':
        *kind = NK_JSON_OBJECT;
        return scan_object(j, depth + 1, NULL, NULL);
    case '[':
        *kind = NK_JSON_ARRAY;
        return scan_array(j, depth + 1, NULL, NULL);
    case '"':
        *kind = NK_JSON_STRING;
        return scan_string(j, &st, &ln, &esc);
    case 't':
        *kind = NK_JSON_TRUE;
        return scan_literal(j, "true");
    case 'f':
        *kind = NK_JSON_FALSE;
        return scan_literal(j, "false");
    case 'n':
        *kind = NK_JSON_NULL;
        return scan_literal(j, "null");
    default:
        *kind = NK_JSON_NUMBER;
        return scan_number(j);
    }
}

/* At '['; cb (when not NULL) sees each element. */
static int
scan_array(jscan *j, int depth, nk_json_member_cb cb, void *arg)
{
    if (depth > j->lim->max_depth)
        return fail(j, NK_JSON_TOO_DEEP);
    j->pos++; /* '[' */
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        nk_json_member m = {0};
        size_t vstart;

        skip_ws(j);
        vstart = j->pos;
        if (scan_value(j, depth, &m.kind) != 0)
            return -1;
        if (cb && member_seen(j, vstart, &m, cb, arg) != 0)
            return -1;
        skip_ws(j);
        if (j->pos >= j->len)
            return -1;
        if (j->s[j->pos] == ']') {
            j->pos++;
            return 0;
        }
        if (j->s[j->pos] != ',')
            return -1;
        j->pos++;
    }
}

/*
 * At '{'. Keys of this object are remembered (up to max_members) to
 * refuse duplicates.
 */
static int
scan_object(jscan *j, int depth, nk_json_member_cb cb, void *arg)
{
    key_span keys[NK_JSON_MEMBERS_CAP];
    int nkeys = 0, i;

    if (depth > j->lim->max_depth)
        return fail(j, NK_JSON_TOO_DEEP);
    j->pos++; /* '{' */
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
        return 0;
    }
    for (;;) {
        nk_json_member m;
        key_span *k;
        size_t vstart;

        skip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != '"')
            return -1;
        if (nkeys >= j->lim->max_members || nkeys >= NK_JSON_MEMBERS_CAP)
            return fail(j, NK_JSON_TOO_MANY_MEMBERS);
        /* Scanned straight into its slot: no copy of a just-stored span. */
        k = &keys[nkeys];
        if (scan_string(j, &k->start, &k->len, &k->escaped) != 0)
            return -1;
        for (i = 0; i < nkeys; i++) {
            const key_span *o = &keys[i];

            if (!o->escaped && !k->escaped) {
                /* First bytes first: most keys differ there. */
                if (o->len == k->len && j->s[o->start] == j->s[k->start] &&
                    memcmp(j->s + o->start, j->s + k->start, k->len) == 0)
                    return fail(j, NK_JSON_DUPLICATE_MEMBER);
            } else if (nk_json_str_equal(j->s + o->start, o->len,
                                         j->s + k->start, k->len))
                return fail(j, NK_JSON_DUPLICATE_MEMBER);
        }
        nkeys++;
        skip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':')
            return -1;
        j->pos++;
        skip_ws(j);
        vstart = j->pos;
        if (scan_value(j, depth, &m.kind) != 0)
            return -1;
        if (cb) {
            m.key = j->s + k->start;
            m.key_len = k->len;
            m.key_escaped = k->escaped;
            if (member_seen(j, vstart, &m, cb, arg) != 0)
                return -1;
        }
        skip_ws(j);
        if (j->pos >= j->len)
            return -1;
        if (j->s[j->pos] == '}') {
            j->pos++;
            return 0;
        }
        if (j->s[j->pos] != ',')
            return -1;
        j->pos++;
    }
}

/* Whitespace, one value of the expected kind (any when kind < 0), whitespace.
 */
static nk_json_status
scan_top(const char *s, size_t len, const nk_json_limits *lim, int kind,
         nk_json_member_cb cb, void *arg)
{
    jscan j = {s, len, 0, lim, 0, NK_JSON_OK};
    nk_json_kind k;
    int rc;

    skip_ws(&j);
    if (j.pos >= j.len)
        return NK_JSON_SYNTAX;
    if (kind == NK_JSON_OBJECT || kind == NK_JSON_ARRAY) {
        if (s[j.pos] != (kind == NK_JSON_OBJECT ? '{' : '['))
            return NK_JSON_SYNTAX;
        j.values = 1;
        rc = kind == NK_JSON_OBJECT ? scan_object(&j, 1, cb, arg)
                                    : scan_array(&j, 1, cb, arg);
    } else
        rc = scan_value(&j, 0, &k);
    if (rc != 0)
        return j.status != NK_JSON_OK ? j.status : NK_JSON_SYNTAX;
    skip_ws(&j);
    return j.pos == j.len ? NK_JSON_OK : NK_JSON_SYNTAX;
}

nk_json_status
nk_json_scan(const char *s, size_t len, const nk_json_limits *lim)
{
    return scan_top(s, len, lim, -1, NULL, NULL);
}

nk_json_status
nk_json_scan_object(const char *s, size_t len, const nk_json_limits *lim,
                    nk_json_member_cb cb, void *arg)
{
    return scan_top(s, len, lim, NK_JSON_OBJECT, cb, arg);
}

nk_json_status
nk_json_scan_array(const char *s, size_t len, const nk_json_limits *lim,
                   nk_json_member_cb cb, void *arg)
{
    return scan_top(s, len, lim, NK_JSON_ARRAY, cb, arg);
}

/* Next code point of an already validated raw string body. */
static uint32_t
next_cp(const char *s, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s + *i;
    uint32_t cp, lo;

    if (u[0] == '\\') {
        *i += 2;
        switch (u[1]) {
        case 'b':
            return 8;
        case 'f':
            return 12;
        case 'n':
            return 10;
        case 'r':
            return 13;
        case 't':
            return 9;
        case 'u':
            hex4(s + *i, &cp);
            *i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                hex4(s + *i + 2, &lo);
                *i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            return cp;
        default:
            return u[1];
        }
    }
    if (u[0] < 0x80) {
        *i += 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *i += 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0) {
        *i += 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) |
               ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *i += 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
           ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

int
nk_json_str_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, k = 0;

    while (i < alen && k < blen)
        if (next_cp(a, &i) != next_cp(b, &k))
            return 0;
    return i >= alen && k >= blen;
}

size_t
nk_json_unescape(const char *raw, size_t raw_len, char *out, size_t out_size)
{
    size_t i = 0, o = 0;

    if (memchr(raw, '\\', raw_len) == NULL) {
        /* No escapes (the usual case): the raw bytes are the text. */
        if (raw_len + 1 > out_size)
            return (size_t)-1;
        memcpy(out, raw, raw_len);
        out[raw_len] = '\0';
        return raw_len;
    }
    while (i < raw_len) {
        uint32_t cp = next_cp(raw, &i);
        unsigned char b[4];
        size_t n;

        if (cp < 0x80) {
            b[0] = (unsigned char)cp;
            n = 1;
        } else if (cp < 0x800) {
            b[0] = (unsigned char)(0xC0 | (cp >> 6));
            b[1] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xE0 | (cp >> 12));
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | (cp >> 18));
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 4;
        }
        if (o + n + 1 > out_size)
            return (size_t)-1;
        memcpy(out + o, b, n);
        o += n;
    }
    if (o + 1 > out_size)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}
