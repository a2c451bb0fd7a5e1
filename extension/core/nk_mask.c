/*
 * nk_mask.c — masking of personal data and secrets in text (pure C).
 *
 * All maskers write through a "sink" that behaves like snprintf but only
 * ever appends whole pieces (a masked value, a copied run of input), so a
 * cut result is a clean prefix. The free-text scanner (nk_mask_text) tries,
 * at each position that can start a match, the recognisers in a fixed order
 * (bearer credential, JWT, email, card, phone). Numbers are recognised in
 * bounded windows; tokens and addresses only where a run of their bytes
 * starts, each run being scanned once, so the scan is linear in the input
 * length. A match starts after an ASCII byte (or at the start) and ends
 * before one (or at the end), so a UTF-8 sequence is never cut.
 */
#include "nk_mask.h"
#include "nk_sanitize.h"
#include "nk_validate.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define CARD_MIN_DIGITS 12
#define CARD_MAX_DIGITS 19
#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS 15
#define PHONE_GROUPS_MAX 8
#define TOKEN_KEEP 4
#define BEARER_MIN_CHARS 8
#define JWT_HEADER_MIN 16

typedef struct sink {
    char *buf;
    size_t size;
    size_t pos;  /* bytes written */
    size_t need; /* bytes the full result needs */
    int full;    /* a piece did not fit: write nothing more */
} sink;

/* What the free-text scanner found. */
typedef enum match_kind {
    MATCH_NONE = 0,
    MATCH_BEARER,
    MATCH_JWT,
    MATCH_EMAIL,
    MATCH_CARD,
    MATCH_PHONE
} match_kind;

static void sink_init(sink *s, char *buf, size_t size);
static void sink_put(sink *s, const char *p, size_t n);
static void sink_repeat(sink *s, const char *p, size_t n, size_t times);
static size_t sink_end(sink *s);
static int ascii_ci_eq(const char *a, const char *b, size_t n);
static int is_alnum(unsigned char c);
static int is_digit(unsigned char c);
static int is_b64url(unsigned char c);
static int is_local(unsigned char c);
static size_t char_len(const char *p, size_t len);
static size_t count_chars(const char *p, size_t len);
static size_t char_offset(const char *p, size_t len, size_t nchars);
static void trim(const char **p, size_t *len);
static int parse_card(const char *p, size_t len, size_t *nd);
static int parse_phone(const char *p, size_t len, size_t *nd);
static void put_email(sink *s, const char *p, size_t len);
static void put_phone(sink *s, const char *p, size_t len);
static void put_card(sink *s, const char *p, size_t len);
static void put_credential(sink *s, const char *p, size_t len);
static void put_token(sink *s, const char *p, size_t len);
static void put_sensitive(sink *s, const char *p, size_t len);
static size_t mask_into(char *out, size_t out_size,
                        void (*put)(sink *s, const char *p, size_t len),
                        const char *in, size_t in_len);
static int boundary_before(const char *p, size_t i);
static int boundary_after(const char *p, size_t len, size_t j);
static int runs_into_at(const char *p, size_t len, size_t j);
static size_t match_bearer(const char *p, size_t len, size_t i);
static size_t match_jwt(const char *p, size_t len, size_t i);
static int is_local_wide(unsigned char c);
static int is_domain_wide(unsigned char c);
static int email_shape_ok(const char *p, size_t at, size_t len);
static size_t match_email(const char *p, size_t len, size_t i, int after_match);
static size_t email_chain_end(const char *p, size_t len, size_t i, size_t k);
static size_t match_card(const char *p, size_t len, size_t i);
static size_t match_phone(const char *p, size_t len, size_t i);
static match_kind match_at(const char *p, size_t len, size_t i, size_t *end,
                           int after_match);

/* ---- output ------------------------------------------------------------ */

static void
sink_init(sink *s, char *buf, size_t size)
{
    s->buf = buf;
    s->size = buf ? size : 0;
    s->pos = 0;
    s->need = 0;
    s->full = 0;
}

static void
sink_put(sink *s, const char *p, size_t n)
{
    s->need += n;
    if (!s->full && s->size > 0 && n <= s->size - 1 - s->pos) {
        if (n > 0)
            memcpy(s->buf + s->pos, p, n);
        s->pos += n;
    } else {
        s->full = 1;
    }
}

static void
sink_repeat(sink *s, const char *p, size_t n, size_t times)
{
    size_t k;

    for (k = 0; k < times; k++)
        sink_put(s, p, n);
}

static size_t
sink_end(sink *s)
{
    if (s->size > 0)
        s->buf[s->pos] = '\0';
    return s->need;
}

/* ---- characters -------------------------------------------------------- */

/* a[0..n) equals b[0..n) ignoring ASCII case (b is lower case). */
static int
ascii_ci_eq(const char *a, const char *b, size_t n)
{
    size_t k;

    for (k = 0; k < n; k++) {
        unsigned char c = (unsigned char)a[k];

        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)b[k])
            return 0;
    }
    return 1;
}

static int
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
is_alnum(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_b64url(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

static int
is_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
           c == '-';
}

/* Bytes of the character at p; an invalid byte is a character of its own. */
static size_t
char_len(const char *p, size_t len)
{
    unsigned int cp;
    size_t n = nk_utf8_decode((const unsigned char *)p, len, &cp);

    return n ? n : 1;
}

static size_t
count_chars(const char *p, size_t len)
{
    size_t i = 0, n = 0;

    while (i < len) {
        i += char_len(p + i, len - i);
        n++;
    }
    return n;
}

/* Byte offset just after the first nchars characters (len if fewer). */
static size_t
char_offset(const char *p, size_t len, size_t nchars)
{
    size_t i = 0;

    while (i < len && nchars-- > 0)
        i += char_len(p + i, len - i);
    return i;
}

static void
trim(const char **p, size_t *len)
{
    while (*len > 0 &&
           (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' ||
                        (*p)[*len - 1] == '\n' || (*p)[*len - 1] == '\r'))
        (*len)--;
}

/* ---- shapes ------------------------------------------------------------ */

int
nk_mask_luhn_ok(const char *digits, size_t n)
{
    size_t i, sum = 0;
    int dbl = 0;

    if (n == 0)
        return 0;
    for (i = n; i-- > 0;) {
        unsigned int d;

        if (!is_digit((unsigned char)digits[i]))
            return 0;
        d = (unsigned int)(digits[i] - '0');
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

/*
 * 1 when p is 12..19 digits, single spaces or dashes allowed between
 * digits, passing Luhn; *nd gets the digit count.
 */
static int
parse_card(const char *p, size_t len, size_t *nd)
{
    char digits[CARD_MAX_DIGITS];
    size_t i, n = 0;

    if (len == 0 || !is_digit((unsigned char)p[0]) ||
        !is_digit((unsigned char)p[len - 1]))
        return 0;
    for (i = 0; i < len; i++) {
        if (is_digit((unsigned char)p[i])) {
            if (n == CARD_MAX_DIGITS)
                return 0;
            digits[n++] = p[i];
        } else if ((p[i] == ' ' || p[i] == '-') &&
                   is_digit((unsigned char)p[i + 1])) {
            continue; /* p[len-1] is a digit, so p[i+1] is in range */
        } else {
            return 0;
        }
    }
    *nd = n;
    return n >= CARD_MIN_DIGITS && nk_mask_luhn_ok(digits, n);
}

/*
 * 1 when p is an optional leading '+' then 7..15 digits mixed with spaces,
 * '-', '.', '(' and ')'; *nd gets the digit count.
 */
static int
parse_phone(const char *p, size_t len, size_t *nd)
{
    size_t i = 0, n = 0;

    if (len > 0 && p[0] == '+')
        i = 1;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (is_digit(c))
            n++;
        else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')')
            return 0;
    }
    *nd = n;
    return n >= PHONE_MIN_DIGITS && n <= PHONE_MAX_DIGITS;
}

static void
put_email(sink *s, const char *p, size_t len)
{
    size_t at, i, dlen, dot = 0;
    const char *d;

    trim(&p, &len);
    if (len == 0)
        return;
    at = len; /* "no '@'" */
    for (i = 0; i < len; i++)
        if (p[i] == '@')
            at = i;
    if (at == len || at == 0 || at == len - 1) {
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
        return;
    }
    sink_put(s, p, char_len(p, at));
    sink_put(s, "***@", 4);
    d = p + at + 1;
    dlen = len - at - 1;
    sink_put(s, d, char_len(d, dlen));
    sink_put(s, "***", 3);
    for (i = 1; i + 1 < dlen; i++)
        if (d[i] == '.')
            dot = i;
    if (dot > 0)
        sink_put(s, d + dot, dlen - dot);
}

static void
put_phone(sink *s, const char *p, size_t len)
{
    size_t nd, i, seen = 0;

    trim(&p, &len);
    if (len == 0)
        return;
    if (!parse_phone(p, len, &nd)) {
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
        return;
    }
    if (p[0] == '+')
        sink_put(s, "+", 1);
    sink_repeat(s, "*", 1, nd - 2);
    for (i = 0; i < len; i++) {
        if (!is_digit((unsigned char)p[i]))
            continue;
        if (++seen > nd - 2)
            sink_put(s, p + i, 1);
    }
}

static void
put_card(sink *s, const char *p, size_t len)
{
    size_t nd, i, seen = 0;

    trim(&p, &len);
    if (len == 0)
        return;
    if (!parse_card(p, len, &nd)) {
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
        return;
    }
    for (i = 0; i < len; i++) {
        if (!is_digit((unsigned char)p[i]))
            sink_put(s, p + i, 1); /* separators stay in place */
        else if (++seen > nd - 4)
            sink_put(s, p + i, 1);
        else
            sink_put(s, "*", 1);
    }
}

/* A bare credential: first and last TOKEN_KEEP characters, or hidden. */
static void
put_credential(sink *s, const char *p, size_t len)
{
    size_t n = count_chars(p, len), head, tail;

    if (n < NK_MASK_TOKEN_MIN_CHARS) {
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
        return;
    }
    head = char_offset(p, len, TOKEN_KEEP);
    tail = char_offset(p, len, n - TOKEN_KEEP);
    sink_put(s, p, head);
    sink_put(s, "***", 3);
    sink_put(s, p + tail, len - tail);
}

static void
put_token(sink *s, const char *p, size_t len)
{
    static const char *const schemes[] = {"bearer", "basic", "token", "apikey",
                                          NULL};
    size_t w = 0, k, j;

    trim(&p, &len);
    if (len == 0)
        return;
    while (w < len &&
           ((p[w] >= 'a' && p[w] <= 'z') || (p[w] >= 'A' && p[w] <= 'Z')))
        w++;
    j = w;
    while (j < len && p[j] == ' ')
        j++;
    if (w > 0 && j > w && j < len) {
        for (k = 0; schemes[k] != NULL; k++) {
            if (strlen(schemes[k]) == w && ascii_ci_eq(p, schemes[k], w)) {
                sink_put(s, p, w);
                sink_put(s, " ", 1);
                put_credential(s, p + j, len - j);
                return;
            }
        }
    }
    put_credential(s, p, len);
}

static void
put_sensitive(sink *s, const char *p, size_t len)
{
    size_t nd;

    trim(&p, &len);
    if (len == 0)
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
    else if (nk_validate_email(p, len))
        put_email(s, p, len);
    else if (parse_card(p, len, &nd))
        put_card(s, p, len);
    else if (parse_phone(p, len, &nd))
        put_phone(s, p, len);
    else
        sink_put(s, NK_MASK_HIDDEN, strlen(NK_MASK_HIDDEN));
}

/* ---- free text --------------------------------------------------------- */

static int
boundary_before(const char *p, size_t i)
{
    return i == 0 || !(is_alnum((unsigned char)p[i - 1]) || p[i - 1] == '_');
}

/*
 * A number must end a word, and must not be the start of an address's
 * local part: "4155552671+x@y.io" is an email, which the email rule masks.
 */
static int
boundary_after(const char *p, size_t len, size_t j)
{
    size_t k = j;

    if (j < len && (is_alnum((unsigned char)p[j]) || p[j] == '_'))
        return 0;
    return !runs_into_at(p, len, k);
}

/* 1 when local-part bytes from j on lead to an '@' (an address follows). */
static int
runs_into_at(const char *p, size_t len, size_t j)
{
    while (j < len && is_local_wide((unsigned char)p[j]))
        j++;
    return j < len && p[j] == '@';
}

/* "Bearer <credential>": returns the end, or 0. */
static size_t
match_bearer(const char *p, size_t len, size_t i)
{
    size_t j = i + 6, t;

    if (len - i < 8 || !ascii_ci_eq(p + i, "bearer", 6) ||
        !boundary_before(p, i) || p[j] != ' ')
        return 0;
    while (j < len && p[j] == ' ')
        j++;
    t = j;
    while (j < len &&
           (is_b64url((unsigned char)p[j]) || p[j] == '.' || p[j] == '~' ||
            p[j] == '+' || p[j] == '/' || p[j] == '='))
        j++;
    return j - t >= BEARER_MIN_CHARS && !runs_into_at(p, len, j) ? j : 0;
}

/* A compact JWS: eyJ<b64url>.<b64url>.<b64url or empty>. */
static size_t
match_jwt(const char *p, size_t len, size_t i)
{
    size_t j = i, seg;
    int part;

    /* Not after b64url or '.', so a failed scan is never repeated inside. */
    if (len - i < 3 || strncmp(p + i, "eyJ", 3) != 0 ||
        (i > 0 && (is_b64url((unsigned char)p[i - 1]) || p[i - 1] == '.')))
        return 0;
    for (part = 0; part < 3; part++) {
        seg = j;
        while (j < len && is_b64url((unsigned char)p[j]))
            j++;
        /* The smallest header ({"alg":"x"}) is 16 characters encoded. */
        if (part == 0 && j - seg < JWT_HEADER_MIN)
            return 0;
        if (part < 2) {
            if (j == seg || j >= len || p[j] != '.')
                return 0;
            j++;
        }
    }
    /* eyJ...x@example.com is an address; the email rule masks it. */
    return runs_into_at(p, len, j) ? 0 : j;
}

/*
 * Local-part and domain bytes for the free-text scan: the ASCII sets of
 * nk_validate_email plus every non-ASCII byte, so that internationalised
 * addresses (ok@bücher.de) are masked too. A run of such bytes always ends
 * on an ASCII byte or the end, so a match never cuts a UTF-8 sequence.
 */
static int
is_local_wide(unsigned char c)
{
    return is_local(c) || c >= 0x80;
}

static int
is_domain_wide(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c >= 0x80;
}

/*
 * The shape of an address found in free text, more lenient than
 * nk_validate_email because masking too much is better than too little:
 * any non-empty local part that is not only dots (non-ASCII and long ones
 * included), at least two non-empty domain labels without edge '-', and a
 * top-level label of two or more characters that is not all digits.
 */
static int
email_shape_ok(const char *p, size_t at, size_t len)
{
    size_t i, start = at + 1, labels = 0, last = at + 1;
    int digits_only = 1, dots_only = 1;

    for (i = 0; i < at; i++)
        if (p[i] != '.')
            dots_only = 0;
    if (dots_only)
        return 0;
    for (i = at + 1; i <= len; i++) {
        if (i < len && p[i] != '.')
            continue;
        if (i == start || p[start] == '-' || p[i - 1] == '-')
            return 0; /* empty label, or one with an edge '-' */
        labels++;
        last = start;
        start = i + 1;
    }
    if (labels < 2 || len - last < 2)
        return 0;
    for (i = last; i < len; i++)
        if (!is_digit((unsigned char)p[i]))
            digits_only = 0;
    return !digits_only;
}

/*
 * name@domain.tld in free text. Tried only where a run of local-part bytes
 * starts, or right after a previous match (whose end may fall inside such a
 * run: "a@b.io_x@c.io"), and each run is scanned once from there, so the
 * whole scan stays linear without any length cap.
 */
static size_t
match_email(const char *p, size_t len, size_t i, int after_match)
{
    size_t j = i, k;

    if (!is_local_wide((unsigned char)p[i]))
        return 0;
    if (i > 0 && !after_match && is_local_wide((unsigned char)p[i - 1]))
        return 0;
    while (j < len && is_local_wide((unsigned char)p[j]))
        j++;
    if (j >= len || p[j] != '@')
        return 0;
    k = j + 1;
    while (k < len && is_domain_wide((unsigned char)p[k]))
        k++;
    while (k > j + 1 && (p[k - 1] == '.' || p[k - 1] == '-'))
        k--;
    if (!email_shape_ok(p + i, j - i, k - i))
        return 0;
    return email_chain_end(p, len, i, k);
}

/*
 * "a@b.in@c.io": after a match that ends on another '@', the whole chain
 * is one value to mask (else its tail would read as a fresh address). The
 * chain ends where a further '@' and domain would no longer form a valid
 * shape; each step consumes input, so this stays linear.
 */
static size_t
email_chain_end(const char *p, size_t len, size_t i, size_t k)
{
    size_t at, m;

    while (k + 1 < len && p[k] == '@' &&
           is_domain_wide((unsigned char)p[k + 1])) {
        at = k;
        m = k + 1;
        while (m < len && is_domain_wide((unsigned char)p[m]))
            m++;
        while (m > at + 1 && (p[m - 1] == '.' || p[m - 1] == '-'))
            m--;
        if (!email_shape_ok(p + i, at - i, m - i))
            break;
        k = m;
    }
    return k;
}

/* 12..19 digits with single spaces/dashes, Luhn-valid. */
static size_t
match_card(const char *p, size_t len, size_t i)
{
    size_t j = i, nd = 0;

    if (!is_digit((unsigned char)p[i]) || !boundary_before(p, i))
        return 0;
    while (j < len) {
        if (is_digit((unsigned char)p[j])) {
            if (++nd > CARD_MAX_DIGITS)
                return 0;
            j++;
        } else if ((p[j] == ' ' || p[j] == '-') && j + 1 < len &&
                   is_digit((unsigned char)p[j + 1])) {
            j++;
        } else {
            break;
        }
    }
    return parse_card(p + i, j - i, &nd) && boundary_after(p, len, j) ? j : 0;
}

/* Phone numbers by the free-text rules of nk_mask.h. */
static size_t
match_phone(const char *p, size_t len, size_t i)
{
    size_t j = i, end = 0, nd = 0, ng = 0, cur = 0, nseps = 0;
    size_t groups[PHONE_GROUPS_MAX];
    int plus = 0, only_dots = 1;
    unsigned char c0 = (unsigned char)p[i];

    if (!boundary_before(p, i))
        return 0;
    if ((c0 == '+' || c0 == '(') &&
        !(i + 1 < len && is_digit((unsigned char)p[i + 1])))
        return 0;
    if (c0 != '+' && c0 != '(' && !is_digit(c0))
        return 0;
    if (c0 == '+') {
        plus = 1;
        j++;
    }
    while (j < len) {
        unsigned char c = (unsigned char)p[j];

        if (is_digit(c)) {
            if (++nd > PHONE_MAX_DIGITS)
                return 0;
            cur++;
            end = ++j;
            continue;
        }
        if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')')
            break;
        if (j - (end ? end : i) >= 2)
            break; /* a run of separators ends the number */
        if (cur > 0) {
            if (ng < PHONE_GROUPS_MAX)
                groups[ng] = cur;
            ng++;
            cur = 0;
        }
        j++;
    }
    if (end == 0)
        return 0;
    if (cur > 0) {
        if (ng < PHONE_GROUPS_MAX)
            groups[ng] = cur;
        ng++;
    }
    for (j = i + (size_t)plus; j < end; j++) {
        if (!is_digit((unsigned char)p[j])) {
            nseps++;
            if (p[j] != '.')
                only_dots = 0;
        }
    }
    if (plus)
        return nd >= 8 && boundary_after(p, len, end) ? end : 0;
    if (nd < 10 || nd > 11)
        return 0;
    if (!(c0 == '(' || c0 == '0' || nseps > 0))
        return 0;
    /* 2026-11-27 ... is a date, not a phone. */
    if (ng > 1 && groups[0] == 4 &&
        (p[i + 4] == '-' || p[i + 4] == '/' || p[i + 4] == '.'))
        return 0;
    /* 192.168.100.200 is an address, not a phone. */
    if (only_dots && nseps > 0 && ng == 4 && groups[0] <= 3 && groups[1] <= 3 &&
        groups[2] <= 3 && groups[3] <= 3)
        return 0;
    return boundary_after(p, len, end) ? end : 0;
}

static match_kind
match_at(const char *p, size_t len, size_t i, size_t *end, int after_match)
{
    unsigned char c = (unsigned char)p[i];

    /*
     * Only an email can start on a non-ASCII byte (élise@example.com); its
     * run starts after an ASCII byte, so on a character boundary.
     */
    if (c >= 0x80)
        return (*end = match_email(p, len, i, after_match)) != 0 ? MATCH_EMAIL
                                                                 : MATCH_NONE;
    if ((c == 'b' || c == 'B') && (*end = match_bearer(p, len, i)) != 0)
        return MATCH_BEARER;
    if (c == 'e' && (*end = match_jwt(p, len, i)) != 0)
        return MATCH_JWT;
    if ((*end = match_email(p, len, i, after_match)) != 0)
        return MATCH_EMAIL;
    if ((*end = match_card(p, len, i)) != 0)
        return MATCH_CARD;
    if ((*end = match_phone(p, len, i)) != 0)
        return MATCH_PHONE;
    return MATCH_NONE;
}

/* ---- public ------------------------------------------------------------ */

/* One masking rule applied to in, written to out (see the header). */
static size_t
mask_into(char *out, size_t out_size,
          void (*put)(sink *s, const char *p, size_t len), const char *in,
          size_t in_len)
{
    sink s;

    sink_init(&s, out, out_size);
    put(&s, in, in_len);
    return sink_end(&s);
}

size_t
nk_mask_email(char *out, size_t out_size, const char *in, size_t in_len)
{
    return mask_into(out, out_size, put_email, in, in_len);
}

size_t
nk_mask_phone(char *out, size_t out_size, const char *in, size_t in_len)
{
    return mask_into(out, out_size, put_phone, in, in_len);
}

size_t
nk_mask_card(char *out, size_t out_size, const char *in, size_t in_len)
{
    return mask_into(out, out_size, put_card, in, in_len);
}

size_t
nk_mask_token(char *out, size_t out_size, const char *in, size_t in_len)
{
    return mask_into(out, out_size, put_token, in, in_len);
}

size_t
nk_mask_sensitive(char *out, size_t out_size, const char *in, size_t in_len)
{
    return mask_into(out, out_size, put_sensitive, in, in_len);
}

size_t
nk_mask_partial(char *out, size_t out_size, const char *in, size_t in_len,
                size_t keep_start, size_t keep_end, const char *fill,
                size_t fill_len)
{
    sink s;
    size_t n = count_chars(in, in_len), head, tail;

    sink_init(&s, out, out_size);
    if (keep_start >= n || keep_end >= n - keep_start) {
        sink_repeat(&s, fill, fill_len, n);
        return sink_end(&s);
    }
    head = char_offset(in, in_len, keep_start);
    tail = char_offset(in, in_len, n - keep_end);
    sink_put(&s, in, head);
    sink_repeat(&s, fill, fill_len, n - keep_start - keep_end);
    sink_put(&s, in + tail, in_len - tail);
    return sink_end(&s);
}

size_t
nk_mask_text(char *out, size_t out_size, const char *in, size_t in_len)
{
    sink s;
    size_t i = 0, copied = 0, end = 0;
    match_kind kind;

    sink_init(&s, out, out_size);
    while (i < in_len) {
        kind = match_at(in, in_len, i, &end, i > 0 && i == copied);
        if (kind == MATCH_NONE) {
            i++;
            continue;
        }
        sink_put(&s, in + copied, i - copied);
        switch (kind) {
        case MATCH_BEARER:
            sink_put(&s, in + i, 6);
            sink_put(&s, " ", 1);
            i += 6;
            while (in[i] == ' ')
                i++;
            put_credential(&s, in + i, end - i);
            break;
        case MATCH_JWT:
            put_credential(&s, in + i, end - i);
            break;
        case MATCH_EMAIL:
            put_email(&s, in + i, end - i);
            break;
        case MATCH_CARD:
            put_card(&s, in + i, end - i);
            break;
        case MATCH_PHONE:
            put_phone(&s, in + i, end - i);
            break;
        case MATCH_NONE:
            break;
        }
        i = copied = end;
    }
    sink_put(&s, in + copied, in_len - copied);
    return sink_end(&s);
}

int
nk_mask_key_match(const char *key, size_t key_len, const char *const *keys,
                  const size_t *key_lens, size_t nkeys)
{
    size_t k;

    for (k = 0; k < nkeys; k++)
        if (key_lens[k] == key_len && ascii_ci_eq(key, keys[k], key_len))
            return 1;
    return 0;
}

nk_mask_status
nk_mask_hmac_sha256(const unsigned char *key, size_t key_len,
                    const unsigned char *msg, size_t msg_len,
                    unsigned char mac[NK_MASK_HMAC_LEN])
{
    unsigned int mac_len = 0;
    static const unsigned char empty = 0;

    if (key_len > (size_t)0x7fffffff)
        return NK_MASK_CRYPTO_FAILED;
    if (HMAC(EVP_sha256(), key_len ? key : &empty, (int)key_len,
             msg_len ? msg : &empty, msg_len, mac, &mac_len) == NULL ||
        mac_len != NK_MASK_HMAC_LEN) {
        OPENSSL_cleanse(mac, NK_MASK_HMAC_LEN);
        return NK_MASK_CRYPTO_FAILED;
    }
    return NK_MASK_OK;
}
