/*
 * test_http.c — the HTTP vocabulary of core/nk_http.c, which namaskahd and
 * the extension share: reason phrases (also problem titles), the problem
 * document (the bytes namaskah.problem_body writes: the expected strings
 * below are that SQL function's output for the same values), and the strict
 * percent-decoder.
 */
#include "unit.h"

#include "nk_http.h"

#include <stdlib.h>

static void test_reasons(void);
static void test_problem_bytes(void);
static void test_problem_cut(void);
static void test_decode_ok(void);
static void test_decode_stray_percent(void);
static long decode(const char *in, unsigned flags, char *out);

static void
test_reasons(void)
{
    /* every status the pipeline, the endpoints and namaskahd send */
    static const struct {
        int status;
        const char *phrase;
    } sent[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {423, "Locked"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
    };
    size_t i;

    for (i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
        CHECK_STREQ(nk_http_reason(sent[i].status), sent[i].phrase);
    /* a status missing from the table reads as its class's x00 */
    CHECK_STREQ(nk_http_reason(199), "Continue");
    CHECK_STREQ(nk_http_reason(299), "OK");
    CHECK_STREQ(nk_http_reason(399), "Multiple Choices");
    CHECK_STREQ(nk_http_reason(418), "Bad Request");
    CHECK_STREQ(nk_http_reason(499), "Bad Request");
    CHECK_STREQ(nk_http_reason(509), "Internal Server Error");
    CHECK_STREQ(nk_http_reason(599), "Internal Server Error");
    CHECK_STREQ(nk_http_reason(99), "Unknown Status");
    CHECK_STREQ(nk_http_reason(600), "Unknown Status");
    CHECK_STREQ(nk_http_reason(0), "Unknown Status");
    CHECK_STREQ(nk_http_reason(-404), "Unknown Status");
    /* never NULL, never empty, never a CR or LF (it goes on a status line) */
    for (i = 0; i < 1000; i++) {
        const char *p = nk_http_reason((int)i - 200);

        CHECK(p != NULL && p[0] != '\0' && strpbrk(p, "\r\n") == NULL);
    }
}

static void
test_problem_bytes(void)
{
    char buf[1024];
    size_t n;

    /* docs/errors.md's example, as SELECT namaskah.problem_body(404, ...) */
    n = nk_problem_json(buf, sizeof(buf), 404, "not_found",
                        "No resource exists at this path.", "/api/nope",
                        "5f0c7a1e-1d2b-4c55-9a43-0c5e3f8f9b10");
    CHECK_STREQ(buf, "{\"code\": \"not_found\", "
                     "\"type\": \"urn:namaskah:problem:not_found\", "
                     "\"title\": \"Not Found\", "
                     "\"detail\": \"No resource exists at this path.\", "
                     "\"status\": 404, \"instance\": \"/api/nope\", "
                     "\"request_id\": "
                     "\"5f0c7a1e-1d2b-4c55-9a43-0c5e3f8f9b10\"}");
    CHECK(n == strlen(buf));
    CHECK(nk_problem_json(NULL, 0, 404, "not_found",
                          "No resource exists at this path.", "/api/nope",
                          "5f0c7a1e-1d2b-4c55-9a43-0c5e3f8f9b10") == n);

    /* escaping as jsonb's text and namaskah.json_text: HTML-inert */
    nk_problem_json(buf, sizeof(buf), 422, "bad<thing>",
                    "a \"quoted\" 'single' & <b> back\\slash /solidus",
                    "/\xc3\xbc/\xe2\x82\xac/\xf0\x9f\x98\x80/\xe2\x80\xa8/"
                    "\xe2\x80\xa9/tab\there/nl\nx/cr\rx/\x01/\x1b[31m/\b\f",
                    "r");
    CHECK_STREQ(buf,
                "{\"code\": \"bad\\u003cthing\\u003e\", "
                "\"type\": \"urn:namaskah:problem:bad\\u003cthing\\u003e\", "
                "\"title\": \"Unprocessable Content\", "
                "\"detail\": \"a \\\"quoted\\\" \\u0027single\\u0027 "
                "\\u0026 \\u003cb\\u003e back\\\\slash /solidus\", "
                "\"status\": 422, "
                "\"instance\": \"/\xc3\xbc/\xe2\x82\xac/\xf0\x9f\x98\x80/"
                "\\u2028/\\u2029/tab\\there/nl\\nx/cr\\rx/\\u0001/"
                "\\u001b[31m/\\b\\f\", "
                "\"request_id\": \"r\"}");

    /* NULL is null (prefix || NULL is NULL in SQL, so type is null too) */
    nk_problem_json(buf, sizeof(buf), 500, NULL, NULL, "/x", NULL);
    CHECK_STREQ(buf, "{\"code\": null, \"type\": null, "
                     "\"title\": \"Internal Server Error\", "
                     "\"detail\": null, \"status\": 500, "
                     "\"instance\": \"/x\", \"request_id\": null}");

    /* an unknown status keeps its number and takes its class's title */
    nk_problem_json(buf, sizeof(buf), 499, "c", "", "", "");
    CHECK_STREQ(buf, "{\"code\": \"c\", \"type\": \"urn:namaskah:problem:c\", "
                     "\"title\": \"Bad Request\", \"detail\": \"\", "
                     "\"status\": 499, \"instance\": \"\", "
                     "\"request_id\": \"\"}");
}

/* Every cut of a document is a NUL-terminated prefix of the whole one. */
static void
test_problem_cut(void)
{
    const char *detail = "x<y \"z\" \xe2\x80\xa8 \xf0\x9f\x98\x80 end";
    size_t full = nk_problem_json(NULL, 0, 413, "payload_too_large", detail,
                                  "/api/\xc3\xa9", "id-1");
    char *whole = malloc(full + 1), *cut = malloc(full + 1);
    size_t size;
    int prefixes = 1;

    if (whole == NULL || cut == NULL) {
        CHECK(!"out of memory");
        free(whole);
        free(cut);
        return;
    }
    CHECK(nk_problem_json(whole, full + 1, 413, "payload_too_large", detail,
                          "/api/\xc3\xa9", "id-1") == full);
    CHECK(strlen(whole) == full);
    for (size = 1; size <= full; size++) {
        size_t n = nk_problem_json(cut, size, 413, "payload_too_large", detail,
                                   "/api/\xc3\xa9", "id-1");

        if (n != full || strlen(cut) >= size ||
            strncmp(cut, whole, strlen(cut)) != 0)
            prefixes = 0;
    }
    CHECK(prefixes);
    free(whole);
    free(cut);
}

/* Decodes NUL-terminated in into out (NUL-terminated on success). */
static long
decode(const char *in, unsigned flags, char *out)
{
    long n = nk_percent_decode(out, in, strlen(in), flags);

    if (n >= 0)
        out[n] = '\0';
    return n;
}

static void
test_decode_ok(void)
{
    char out[64];

    CHECK(decode("", 0, out) == 0);
    CHECK(decode("abc", 0, out) == 3 && strcmp(out, "abc") == 0);
    CHECK(decode("%41%62%2f", 0, out) == 3 && strcmp(out, "Ab/") == 0);
    CHECK(decode("%e2%82%AC", 0, out) == 3 && strcmp(out, "\xe2\x82\xac") == 0);
    CHECK(decode("%2541", 0, out) == 3 && strcmp(out, "%41") == 0);
    /* '+' is a space only in query-string components */
    CHECK(decode("a+b%2B", NK_PCT_PLUS_SPACE, out) == 4 &&
          strcmp(out, "a b+") == 0);
    CHECK(decode("a+b%2B", 0, out) == 4 && strcmp(out, "a+b+") == 0);
    /* any byte comes out, NUL included: the caller checks the text */
    CHECK(nk_percent_decode(out, "a%00b", 5, 0) == 3 && out[0] == 'a' &&
          out[1] == '\0' && out[2] == 'b');
    CHECK(decode("%ff%FE", 0, out) == 2 && (unsigned char)out[0] == 0xff &&
          (unsigned char)out[1] == 0xfe);
    /* only len bytes are read: a '%' past it is not looked at */
    CHECK(nk_percent_decode(out, "ab%zz", 2, 0) == 2);
}

/* The strict rule: a '%' not followed by two hex digits refuses the input
 * (namaskahd answers 400 invalid_encoding, parse_query 22023). */
static void
test_decode_stray_percent(void)
{
    static const char *const refused[] = {
        "%",    "100%", "%4",    "a%4",   "%zz",         "%4g", "%g4",
        "%%41", "%%",   "%-1",   "% 41",  "%+41",        "%0x", "%u0041",
        "a%2",  "/p%",  "%\xff", "%41%4", "x%0\xc3\xa9",
    };
    char out[64];
    size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int ok = decode(refused[i], 0, out) == -1 &&
                 decode(refused[i], NK_PCT_PLUS_SPACE, out) == -1;

        if (!ok)
            fprintf(stderr, "not refused: \"%s\"\n", refused[i]);
        CHECK(ok);
    }
    /* a '%' cut off by len is stray too, even if the bytes after it are hex */
    CHECK(nk_percent_decode(out, "%41", 2, 0) == -1);
}

int
main(void)
{
    test_reasons();
    test_problem_bytes();
    test_problem_cut();
    test_decode_ok();
    test_decode_stray_percent();
    return unit_report();
}
