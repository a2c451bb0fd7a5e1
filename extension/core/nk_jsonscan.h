/*
 * nk_jsonscan.h — a strict, bounded, single-pass JSON scanner (pure C).
 *
 * Reads JSON text without building anything: RFC 8259 syntax, valid UTF-8,
 * no \u0000 and only paired surrogates, exponents within what PostgreSQL's
 * numeric accepts (so whatever passes is also accepted by jsonb input), no
 * duplicate member names in any object (a reader and a consumer that
 * disagree on which duplicate wins is a classic confusion: JWT claims,
 * {"password": "wrong", "password": "right"}), and caller-chosen limits on
 * depth, members per object, string length and values. The cost is linear
 * in the input: duplicate detection compares within one object, whose
 * members are bounded by max_members.
 *
 * Used by the JWT verifier (claims and headers, nk_jwt.c) and by the
 * request pipeline before a body becomes jsonb (extension/pipeline.c).
 */
#ifndef NK_JSONSCAN_H
#define NK_JSONSCAN_H

#include <stddef.h>

/* The most members an object may have under any limits (stack per level). */
#define NK_JSON_MEMBERS_CAP 128

typedef enum nk_json_status {
    NK_JSON_OK = 0,
    NK_JSON_SYNTAX,           /* not (strict) JSON */
    NK_JSON_TOO_DEEP,         /* nesting deeper than max_depth */
    NK_JSON_TOO_MANY_MEMBERS, /* an object with more than max_members */
    NK_JSON_DUPLICATE_MEMBER, /* one name twice in one object */
    NK_JSON_STRING_TOO_LONG,  /* a string or name over max_string bytes */
    NK_JSON_TOO_MANY_VALUES,  /* more than max_values values in all */
    NK_JSON_STATUS_COUNT
} nk_json_status;

typedef struct nk_json_limits {
    int max_depth;     /* the top-level value is depth 1 when a container */
    int max_members;   /* per object, at most NK_JSON_MEMBERS_CAP */
    size_t max_string; /* raw bytes between the quotes, escapes undecoded */
    size_t max_values; /* every value counts, containers included */
} nk_json_limits;

typedef enum nk_json_kind {
    NK_JSON_STRING,
    NK_JSON_NUMBER,
    NK_JSON_OBJECT,
    NK_JSON_ARRAY,
    NK_JSON_TRUE,
    NK_JSON_FALSE,
    NK_JSON_NULL
} nk_json_kind;

/* One member of the scanned object (or element of the scanned array, with
 * key NULL): raw key (between the quotes, escapes undecoded) and raw value
 * (strings without their quotes). */
typedef struct nk_json_member {
    const char *key;
    size_t key_len;
    int key_escaped; /* the raw key contains a backslash escape */
    nk_json_kind kind;
    const char *val;
    size_t val_len;
} nk_json_member;

/* Return non-zero to stop the scan (it then fails with NK_JSON_SYNTAX). */
typedef int (*nk_json_member_cb)(void *arg, const nk_json_member *m);

/* Stable snake_case name of a status ("duplicate_member", ...). */
const char *nk_json_status_name(nk_json_status st);

/* Checks that s[0..len) is exactly one JSON value (whitespace around
 * allowed) within lim. */
nk_json_status nk_json_scan(const char *s, size_t len,
                            const nk_json_limits *lim);

/*
 * Checks that s[0..len) is exactly one JSON object within lim, calling cb
 * (when not NULL) for each top-level member in order.
 */
nk_json_status nk_json_scan_object(const char *s, size_t len,
                                   const nk_json_limits *lim,
                                   nk_json_member_cb cb, void *arg);

/* The same for exactly one JSON array, cb called for each element. */
nk_json_status nk_json_scan_array(const char *s, size_t len,
                                  const nk_json_limits *lim,
                                  nk_json_member_cb cb, void *arg);

/* Whether two raw string bodies (already validated by the scanner) decode
 * to the same text; b may be plain text without escapes. */
int nk_json_str_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Decodes a raw JSON string body (already validated by the scanner) into out
 * (room for out_size bytes, NUL-terminated). Returns the decoded length, or
 * (size_t)-1 when it does not fit.
 */
size_t nk_json_unescape(const char *raw, size_t raw_len, char *out,
                        size_t out_size);

#endif
