/*
 * test_route.c — unit tests of nk_route (path template matching).
 */
#include "unit.h"
#include "nk_route.h"

#define MATCH(t, lit, p) nk_route_match((t), (lit), sizeof(lit) - 1, (p))

static void
test_literals(void)
{
    nk_route_param p[NK_ROUTE_MAX_PARAMS];

    CHECK(MATCH("/api/version", "/api/version", p) == 0);
    CHECK(MATCH("/api/version", "/api/versions", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/api/versio", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/api/version/", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/api//version", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "//api/version", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "api/version", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/API/version", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/api", p) == NK_ROUTE_NO_MATCH);
    /* '.' is literal, not "any character" */
    CHECK(MATCH("/api/openapi.json", "/api/openapi.json", p) == 0);
    CHECK(MATCH("/api/openapi.json", "/api/openapiXjson", p) ==
          NK_ROUTE_NO_MATCH);
    /* a NUL inside the path never matches a literal */
    CHECK(MATCH("/api/version", "/api/version\0", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/version", "/api/vers\0on", p) == NK_ROUTE_NO_MATCH);
    CHECK(nk_route_match("/api/version", NULL, 0, p) == NK_ROUTE_NO_MATCH);
}

static void
test_params(void)
{
    nk_route_param p[NK_ROUTE_MAX_PARAMS];

    CHECK(MATCH("/api/verifications/{id}", "/api/verifications/abc-1", p) == 1);
    CHECK(p[0].len == 5 && memcmp(p[0].value, "abc-1", 5) == 0);
    CHECK(MATCH("/api/verifications/{id}", "/api/verifications/", p) ==
          NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/verifications/{id}", "/api/verifications", p) ==
          NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/verifications/{id}", "/api/verifications/a/b", p) ==
          NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/api/verifications/{id}/cancel", "/api/verifications/x/cancel",
                p) == 1);
    CHECK(p[0].len == 1 && p[0].value[0] == 'x');
    CHECK(MATCH("/api/verifications/{id}/cancel",
                "/api/verifications/x/cancels", p) == NK_ROUTE_NO_MATCH);
    CHECK(MATCH("/a/{x}/{y}", "/a/1/22", p) == 2);
    CHECK(p[0].len == 1 && p[1].len == 2 && p[1].value[1] == '2');
    /* a parameter takes any bytes but '/', NUL and spaces included */
    CHECK(MATCH("/a/{x}", "/a/ %00\0!", p) == 1);
    CHECK(p[0].len == 6);
}

static void
test_bad_templates(void)
{
    nk_route_param p[NK_ROUTE_MAX_PARAMS];

    CHECK(MATCH("", "/", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/", "/", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("a/b", "/a/b", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a/", "/a/", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a//b", "/a//b", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a/{x", "/a/1", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a/{}", "/a/1", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a/x}", "/a/x}", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a{x}", "/a1", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/a/{x}{y}", "/a/1", p) == NK_ROUTE_BAD_TEMPLATE);
    /* the template is checked even when the path already failed */
    CHECK(MATCH("/b/{x", "/a/1", p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(MATCH("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", "/1/2/3/4/5/6/7/8", p) ==
          8);
    CHECK(MATCH("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "/1/2/3/4/5/6/7/8/9",
                p) == NK_ROUTE_BAD_TEMPLATE);
    CHECK(nk_route_match(NULL, "/a", 2, p) == NK_ROUTE_BAD_TEMPLATE);
}

static void
test_literal_segments(void)
{
    CHECK(nk_route_literal_segments("/api/version") == 2);
    CHECK(nk_route_literal_segments("/api/verifications/{id}") == 2);
    CHECK(nk_route_literal_segments("/api/verifications/{id}/cancel") == 3);
    CHECK(nk_route_literal_segments("/{a}/{b}") == 0);
    CHECK(nk_route_literal_segments("/a/") == -1);
    CHECK(nk_route_literal_segments("") == -1);
    CHECK(nk_route_literal_segments(NULL) == -1);
}

int
main(void)
{
    test_literals();
    test_params();
    test_bad_templates();
    test_literal_segments();
    return unit_report();
}
