/*
 * test_framing.c — the HTTP/1.1 framing rules (core/nk_framing.c): each way
 * a head can be read two ways is refused with its own verdict, and the
 * ordinary heads of real clients pass.
 */
#include "unit.h"

#include "nk_framing.h"

#define F(n, v)                                                                \
    {                                                                          \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                     \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static enum nk_framing
check11(const struct nk_field *f, size_t n)
{
    return nk_framing_check(f, n, 1, 63);
}

/* The verdict on a whole head fed in one piece and byte by byte (both
 * must agree), and whether the head's end was seen. */
static enum nk_framing
lines(const char *head, int *done)
{
    struct nk_head_lines whole = {0}, bytes = {0};
    size_t i, n = strlen(head), used;

    whole.max_fields = bytes.max_fields = 63;
    used = nk_head_lines_feed(&whole, head, n);
    for (i = 0; i < n; i++)
        nk_head_lines_feed(&bytes, head + i, 1);
    CHECK(whole.verdict == bytes.verdict && whole.done == bytes.done);
    CHECK(!whole.done || used <= n);
    *done = whole.done;
    return whole.verdict;
}

static void
test_head_lines(void)
{
    struct nk_head_lines h = {0};
    char many[2048];
    int done, i;
    size_t used;

    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\n\r\n", &done) == NK_FRAMING_OK &&
          done);
    CHECK(lines("\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", &done) ==
              NK_FRAMING_OK &&
          done); /* an empty line before the request is skipped */
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\n", &done) == NK_FRAMING_OK &&
          !done);
    /* the line ends civetweb turns into NULs alike */
    CHECK(lines("GET / HTTP/1.1\n\rHost: t\r\n\r\n", &done) ==
          NK_FRAMING_BARE_LF);
    CHECK(lines("GET / HTTP/1.1\r\rHost: t\r\n\r\n", &done) ==
          NK_FRAMING_BARE_LF);
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\nX: 1\n\n", &done) ==
          NK_FRAMING_BARE_LF);
    CHECK(lines("GET / HTTP/1.1\nHost: t\n\n", &done) == NK_FRAMING_BARE_LF);
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\n\r\r\n", &done) ==
          NK_FRAMING_BARE_LF);
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", &done) ==
          NK_FRAMING_OBS_FOLD);
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n", &done) ==
          NK_FRAMING_LINE_INVALID);
    CHECK(lines("GET / HTTP/1.1\r\nHost: t\r\n\xc3\xa9: x\r\n\r\n", &done) ==
          NK_FRAMING_LINE_INVALID);
    CHECK(lines("GET / HTTP/1.1\r\nHost : t\r\n\r\n", &done) ==
          NK_FRAMING_SPACE_BEFORE_COLON);
    CHECK(lines("GET / HTTP/1.1\r\nX(Y): t\r\n\r\n", &done) ==
          NK_FRAMING_NAME_INVALID);
    /* values may hold anything but CR and LF */
    CHECK(lines("GET / HTTP/1.1\r\nX: a : b (c) \"d\"\r\n\r\n", &done) ==
              NK_FRAMING_OK &&
          done);
    /* 63 fields, then 64 */
    strcpy(many, "GET / HTTP/1.1\r\n");
    for (i = 0; i < 63; i++)
        strcat(many, "X: 1\r\n");
    CHECK(lines(strcat(many, "\r\n"), &done) == NK_FRAMING_OK);
    many[strlen(many) - 2] = '\0';
    CHECK(lines(strcat(many, "Y: 2\r\n\r\n"), &done) ==
          NK_FRAMING_TOO_MANY_FIELDS);
    /* the bytes after the head are not the head's */
    h.max_fields = 63;
    used = nk_head_lines_feed(&h, "GET / HTTP/1.1\r\nHost: t\r\n\r\n{\n}", 30);
    CHECK(h.done && used == 27 && h.size == 27 && h.verdict == NK_FRAMING_OK);
}

int
main(void)
{
    const struct nk_field browser[] = {
        F("Host", "127.0.0.1:8080"), F("User-Agent", "curl/7.88"),
        F("Accept", "*/*"),          F("Authorization", "Bearer abc"),
        F("Content-Length", "17"),   F("Content-Type", "application/json")};
    const struct nk_field chunked[] = {F("Host", "h"),
                                       F("Transfer-Encoding", "Chunked")};
    const struct nk_field both[] = {F("Host", "h"), F("Content-Length", "5"),
                                    F("Transfer-Encoding", "chunked")};
    const struct nk_field two_lengths[] = {
        F("Host", "h"), F("Content-Length", "5"), F("content-length", "7")};
    const struct nk_field same_lengths[] = {
        F("Host", "h"), F("Content-Length", "5"), F("Content-Length", "5")};
    const char *bad_lengths[] = {
        "+2", "0x2", "-1",  "",    "1 ",
        " 1", "1,1", "1.0", "1e3", "1234567890123456789"};
    const char *bad_codings[] = {
        "gzip",  "identity", "chunked, gzip", "gzip, chunked", "chunked ",
        "chunk", ""};
    const struct nk_field no_host[] = {F("Accept", "*/*")};
    const struct nk_field two_hosts[] = {F("Host", "a"), F("HOST", "b")};
    const struct nk_field two_auth[] = {F("Host", "h"),
                                        F("Authorization", "Bearer a"),
                                        F("authorization", "Bearer b")};
    const char *bad_names[] = {"X Y", "X(Y)", "X:Y", "\"X\"", "X/Y", "X\x80",
                               "X@Y", "{X}",  "X;Y", "X=Y",   "X,Y", "X[Y]"};
    struct nk_field many[70];
    size_t i;

    CHECK(check11(browser, N(browser)) == NK_FRAMING_OK);
    CHECK(check11(chunked, N(chunked)) == NK_FRAMING_OK);
    CHECK(nk_framing_check(no_host, N(no_host), 0, 63) == NK_FRAMING_OK);
    CHECK(check11(both, N(both)) == NK_FRAMING_LENGTH_AND_CHUNKED);
    CHECK(check11(two_lengths, N(two_lengths)) == NK_FRAMING_LENGTH_REPEATED);
    CHECK(check11(same_lengths, N(same_lengths)) == NK_FRAMING_LENGTH_REPEATED);
    for (i = 0; i < N(bad_lengths); i++) {
        struct nk_field f[] = {
            F("Host", "h"),
            {"Content-Length", 14, bad_lengths[i], strlen(bad_lengths[i])}};

        CHECK(check11(f, 2) == NK_FRAMING_LENGTH_INVALID);
    }
    {
        struct nk_field f[] = {F("Host", "h"),
                               F("Content-Length", "123456789012345678")};

        CHECK(check11(f, 2) == NK_FRAMING_OK); /* 18 digits fit */
    }
    for (i = 0; i < N(bad_codings); i++) {
        struct nk_field f[] = {
            F("Host", "h"),
            {"Transfer-Encoding", 17, bad_codings[i], strlen(bad_codings[i])}};

        CHECK(check11(f, 2) == NK_FRAMING_CODING_UNSUPPORTED);
    }
    {
        struct nk_field f[] = {F("Transfer-Encoding", "chunked"),
                               F("Transfer-Encoding", "chunked"),
                               F("Host", "h")};

        CHECK(check11(f, 3) == NK_FRAMING_CODING_UNSUPPORTED);
        /* HTTP/1.0 knows no transfer codings */
        CHECK(nk_framing_check(f + 1, 2, 0, 63) ==
              NK_FRAMING_CODING_UNSUPPORTED);
    }
    CHECK(check11(no_host, N(no_host)) == NK_FRAMING_HOST_MISSING);
    CHECK(check11(two_hosts, N(two_hosts)) == NK_FRAMING_HOST_REPEATED);
    CHECK(nk_framing_check(two_hosts, N(two_hosts), 0, 63) ==
          NK_FRAMING_HOST_REPEATED);
    CHECK(check11(two_auth, N(two_auth)) == NK_FRAMING_AUTHORIZATION_REPEATED);
    for (i = 0; i < N(bad_names); i++) {
        struct nk_field f[] = {F("Host", "h"),
                               {bad_names[i], strlen(bad_names[i]), "v", 1}};

        CHECK(check11(f, 2) == NK_FRAMING_NAME_INVALID);
    }
    {
        struct nk_field f[] = {F("Host", "h"), {"", 0, "v", 1}};

        CHECK(check11(f, 2) == NK_FRAMING_NAME_INVALID);
    }
    CHECK(nk_is_token("X-Request-Id", 12));
    CHECK(nk_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
    /* the limit on fields: never more, never silently fewer */
    for (i = 0; i < N(many); i++) {
        many[i].name = "X-Filler";
        many[i].name_len = 8;
        many[i].value = "1";
        many[i].value_len = 1;
    }
    many[0].name = "Host";
    many[0].name_len = 4;
    CHECK(check11(many, 63) == NK_FRAMING_OK);
    CHECK(check11(many, 64) == NK_FRAMING_TOO_MANY_FIELDS);
    CHECK(nk_framing_status(NK_FRAMING_TOO_MANY_FIELDS) == 431);
    CHECK(nk_framing_status(NK_FRAMING_HEAD_TOO_LARGE) == 431);
    CHECK(nk_framing_status(NK_FRAMING_OBS_FOLD) == 400);
    CHECK(nk_framing_status(NK_FRAMING_LENGTH_AND_CHUNKED) == 400);
    for (i = NK_FRAMING_OK; i <= NK_FRAMING_HEAD_TOO_LARGE; i++) {
        const char *d = nk_framing_detail((enum nk_framing)i);

        CHECK(d != NULL && d[0] >= 'A' && d[0] <= 'Z' &&
              d[strlen(d) - 1] == '.');
    }
    test_head_lines();
    return unit_report();
}
