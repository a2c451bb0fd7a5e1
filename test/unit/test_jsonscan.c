/*
 * test_jsonscan.c — unit tests of the strict, bounded JSON scanner
 * (nk_jsonscan.h): syntax, what jsonb would refuse, duplicates, each limit,
 * the member and element callbacks, and the cost of a hostile body.
 */
#include "unit.h"
#include "nk_jsonscan.h"
#include "nk_jwt.h"

#include <stdlib.h>
#include <time.h>

/* The limits the pipeline applies to request bodies (pipeline.c). */
static const nk_json_limits body = {.max_depth = 16,
                                    .max_members = 64,
                                    .max_string = 16384,
                                    .max_values = 4096};

static nk_json_status
scan(const char *json)
{
    return nk_json_scan_object(json, strlen(json), &nk_jwt_json_limits, NULL,
                               NULL);
}

static nk_json_status
scan_body(const char *json, size_t len)
{
    return nk_json_scan(json, len, &body);
}

static void
test_strict_syntax(void)
{
    CHECK(scan("{}") == NK_JSON_OK);
    CHECK(scan(" {\"a\" : [1, -0.5e+3, true, false, null, {}, []] } ") ==
          NK_JSON_OK);
    CHECK(
        scan("{\"a\":\"\\ud83d\\ude00 \\u00e9 \xc3\xa9 \xf0\x9f\x98\x80\"}") ==
        NK_JSON_OK);
    CHECK(scan("") == NK_JSON_SYNTAX);
    CHECK(scan("[]") == NK_JSON_SYNTAX);
    CHECK(scan("{} x") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":1,}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":01}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":1.}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":+1}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":1e1000}") == NK_JSON_OK);
    CHECK(scan("{\"a\":1e1001}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":tru}") == NK_JSON_SYNTAX);
    CHECK(scan("{'a':1}") == NK_JSON_SYNTAX);
    /* Duplicates, also through escapes and nested. */
    CHECK(scan("{\"a\":1,\"a\":2}") == NK_JSON_DUPLICATE_MEMBER);
    CHECK(scan("{\"a\":1,\"\\u0061\":2}") == NK_JSON_DUPLICATE_MEMBER);
    CHECK(scan("{\"x\":{\"b\":1,\"b\":2}}") == NK_JSON_DUPLICATE_MEMBER);
    CHECK(scan("{\"x\":[{\"b\":1},{\"b\":2}]}") == NK_JSON_OK);
    /* What jsonb would refuse. */
    CHECK(scan("{\"a\":\"\\u0000\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\\ud800\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\\udc00\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\\ud800\\u0041\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\\x41\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\t\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\xc0\xaf\"}") == NK_JSON_SYNTAX); /* overlong */
    CHECK(scan("{\"a\":\"\xed\xa0\x80\"}") ==
          NK_JSON_SYNTAX); /* UTF-8 surrogate */
    CHECK(scan("{\"a\":\"\xf4\x90\x80\x80\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"\xe2\x82\"}") == NK_JSON_SYNTAX);
    CHECK(scan("{\"a\":\"x") == NK_JSON_SYNTAX);
    /* Depth bound. */
    {
        char deep[200];
        int i, n = 0;

        deep[n++] = '{';
        deep[n++] = '"';
        deep[n++] = 'a';
        deep[n++] = '"';
        deep[n++] = ':';
        for (i = 0; i < 40; i++)
            deep[n++] = '[';
        for (i = 0; i < 40; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        CHECK(scan(deep) == NK_JSON_TOO_DEEP);
    }
}

/* Any value at the top for nk_json_scan, exactly one. */
static void
test_any_value(void)
{
    CHECK(scan_body("[1,2]", 5) == NK_JSON_OK);
    CHECK(scan_body(" \"x\" ", 5) == NK_JSON_OK);
    CHECK(scan_body("12", 2) == NK_JSON_OK);
    CHECK(scan_body("null", 4) == NK_JSON_OK);
    CHECK(scan_body("1 2", 3) == NK_JSON_SYNTAX);
    CHECK(scan_body("", 0) == NK_JSON_SYNTAX);
    CHECK(scan_body("   ", 3) == NK_JSON_SYNTAX);
    CHECK(scan_body("{\"a\":1}\0", 8) == NK_JSON_SYNTAX);
    CHECK(nk_json_scan_array("{}", 2, &body, NULL, NULL) == NK_JSON_SYNTAX);
    CHECK(nk_json_scan_object("[]", 2, &body, NULL, NULL) == NK_JSON_SYNTAX);
}

/* A JSON text of n members {"k0":0,"k1":0,...} into buf (NUL-terminated). */
static size_t
members(char *buf, size_t size, int n, int same_name)
{
    size_t len = 0;
    int i;

    buf[len++] = '{';
    for (i = 0; i < n && len + 32 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s\"k%d\":0",
                                i ? "," : "", same_name ? 0 : i);
    buf[len++] = '}';
    buf[len] = '\0';
    return len;
}

static void
test_limits(void)
{
    static char buf[1 << 20];
    size_t len;
    int i;

    len = members(buf, sizeof(buf), 64, 0);
    CHECK(scan_body(buf, len) == NK_JSON_OK);
    len = members(buf, sizeof(buf), 65, 0);
    CHECK(scan_body(buf, len) == NK_JSON_TOO_MANY_MEMBERS);
    len = members(buf, sizeof(buf), 10000, 0);
    CHECK(scan_body(buf, len) == NK_JSON_TOO_MANY_MEMBERS);
    /* the first limit met is the answer */
    len = members(buf, sizeof(buf), 10000, 1);
    CHECK(scan_body(buf, len) == NK_JSON_DUPLICATE_MEMBER);

    /* depth: 16 arrays nest, 17 do not */
    for (len = 0; len < 16; len++)
        buf[len] = '[';
    for (i = 0; i < 16; i++)
        buf[len++] = ']';
    CHECK(scan_body(buf, len) == NK_JSON_OK);
    memmove(buf + 1, buf, len);
    buf[0] = '[';
    buf[len + 1] = ']';
    CHECK(scan_body(buf, len + 2) == NK_JSON_TOO_DEEP);
    /* unbalanced depth is still refused for depth, not read to the end */
    memset(buf, '[', 500000);
    CHECK(scan_body(buf, 500000) == NK_JSON_TOO_DEEP);

    /* strings: 16384 raw bytes, names too */
    len = (size_t)snprintf(buf, sizeof(buf), "\"%0*d\"", 16384, 0);
    CHECK(scan_body(buf, len) == NK_JSON_OK);
    len = (size_t)snprintf(buf, sizeof(buf), "\"%0*d\"", 16385, 0);
    CHECK(scan_body(buf, len) == NK_JSON_STRING_TOO_LONG);
    len = (size_t)snprintf(buf, sizeof(buf), "{\"%0*d\":1}", 16385, 0);
    CHECK(scan_body(buf, len) == NK_JSON_STRING_TOO_LONG);

    /* values: 4096 in all, containers counted */
    len = 0;
    buf[len++] = '[';
    for (i = 0; i < 4095; i++) {
        if (i)
            buf[len++] = ',';
        buf[len++] = '0';
    }
    buf[len++] = ']';
    CHECK(scan_body(buf, len) == NK_JSON_OK);
    buf[len - 1] = ',';
    buf[len++] = '0';
    buf[len++] = ']';
    CHECK(scan_body(buf, len) == NK_JSON_TOO_MANY_VALUES);
    CHECK(strcmp(nk_json_status_name(NK_JSON_TOO_MANY_MEMBERS),
                 "members_per_object") == 0);
    CHECK(strcmp(nk_json_status_name(NK_JSON_DUPLICATE_MEMBER),
                 "duplicate_member") == 0);
    CHECK(strcmp(nk_json_status_name(NK_JSON_STATUS_COUNT), "syntax") == 0);
}

static int
count_element(void *arg, const nk_json_member *m)
{
    int *n = arg;

    if (m->key == NULL && (m->kind != NK_JSON_STRING || m->val[0] != '"'))
        (*n)++;
    return 0;
}

static int
stop_at_b(void *arg, const nk_json_member *m)
{
    (void)arg;
    return m->key_len == 1 && m->key[0] == 'b';
}

static void
test_callbacks(void)
{
    const char *arr = "[\"x\", 1, {\"a\": [2]}, [], \"y\"]";
    const char *obj = "{\"a\": 1, \"b\": 2}";
    int n = 0;

    CHECK(nk_json_scan_array(arr, strlen(arr), &body, count_element, &n) ==
          NK_JSON_OK);
    CHECK(n == 5);
    CHECK(nk_json_scan_object(obj, strlen(obj), &body, stop_at_b, NULL) ==
          NK_JSON_SYNTAX);
    CHECK(nk_json_str_equal("\\u0061b", 7, "ab", 2));
    CHECK(!nk_json_str_equal("ab", 2, "abc", 3));
}

/*
 * Many hostile bodies of 1 MB each are scanned in linear time: the scan
 * stops at the first limit. Not timed (benchmarks time, make bench); this
 * checks the verdicts, and the loop stays cheap enough that a quadratic
 * scanner would show up as a slow unit test run.
 */
static void
test_hostile_megabyte(void)
{
    static char buf[1 << 20];
    size_t n = sizeof(buf);

    memset(buf, ' ', n);
    CHECK(scan_body(buf, n) == NK_JSON_SYNTAX);
    memset(buf, '{', n);
    CHECK(scan_body(buf, n) == NK_JSON_SYNTAX);
    members(buf, n, 100000, 0);
    CHECK(scan_body(buf, strlen(buf)) == NK_JSON_TOO_MANY_MEMBERS);
}

static void
test_unescape(void)
{
    char out[16];

    CHECK(nk_json_unescape("a\\nb\\u00e9", 10, out, sizeof(out)) == 5);
    CHECK_STREQ(out, "a\nb\xc3\xa9");
    CHECK(nk_json_unescape("abcdef", 6, out, 4) == (size_t)-1);
}

int
main(void)
{
    test_strict_syntax();
    test_any_value();
    test_limits();
    test_callbacks();
    test_hostile_megabyte();
    test_unescape();
    return unit_report();
}
