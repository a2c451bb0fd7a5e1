/*
 * test_json.c — unit tests of nk_json_escape (JSON string escaping, HTML-safe).
 */
#include "unit.h"
#include "nk_json.h"
#include "nk_sanitize.h"

static char out[4096];

static const char *
esc(const char *in, size_t len)
{
    nk_json_escape(out, sizeof(out), in, len);
    return out;
}

#define ESC(lit) esc((lit), sizeof(lit) - 1)

static void
test_escapes(void)
{
    CHECK_STREQ(ESC(""), "");
    CHECK_STREQ(ESC("hello"), "hello");
    CHECK_STREQ(ESC("say \"hi\""), "say \\\"hi\\\"");
    CHECK_STREQ(ESC("a\\b"), "a\\\\b");
    CHECK_STREQ(ESC("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
    CHECK_STREQ(ESC("\x01\x1b\x1f"), "\\u0001\\u001b\\u001f");
    CHECK_STREQ(ESC("nul\0x"), "nul\\u0000x");
    CHECK_STREQ(ESC("<script>alert('x')&</script>"),
                "\\u003cscript\\u003ealert(\\u0027x\\u0027)\\u0026\\u003c/"
                "script\\u003e");
    CHECK_STREQ(ESC("\xe2\x80\xa8\xe2\x80\xa9"), "\\u2028\\u2029");
    CHECK_STREQ(ESC("\x7f\xc2\x85"), "\\u007f\\u0085");
    CHECK_STREQ(ESC("caf\xc3\xa9 \xf0\x9f\x98\x80"),
                "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK_STREQ(ESC("%s%n"), "%s%n");
    CHECK_STREQ(ESC("/"), "/");
}

static void
test_invalid(void)
{
    CHECK_STREQ(ESC("a\xff"
                    "b"),
                "a\xef\xbf\xbd"
                "b");
    CHECK_STREQ(ESC("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_STREQ(ESC("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    CHECK_STREQ(ESC("x\xe2\x82"), "x\xef\xbf\xbd\xef\xbf\xbd");
}

static void
test_measure_and_cut(void)
{
    char small[16];
    size_t n;

    CHECK(nk_json_escape(NULL, 0, "<>", 2) == 12);
    CHECK(nk_json_escape(NULL, 0, "", 0) == 0);
    CHECK(nk_json_escape(NULL, 0, NULL, 0) == 0);
    /* Exactly fits: 12 chars + NUL. */
    n = nk_json_escape(small, 13, "<>", 2);
    CHECK(n == 12);
    CHECK_STREQ(small, "\\u003c\\u003e");
    /* One byte short: the second escape is dropped whole. */
    n = nk_json_escape(small, 12, "<>", 2);
    CHECK(n == 12);
    CHECK_STREQ(small, "\\u003c");
    /* Cut never splits a UTF-8 sequence. */
    n = nk_json_escape(small, 4, "ab\xc3\xa9", 4);
    CHECK(n == 4);
    CHECK_STREQ(small, "ab");
    /* After a unit does not fit, a later small one is not written. */
    n = nk_json_escape(small, 8, "ab<c", 4);
    CHECK(n == 9);
    CHECK_STREQ(small, "ab");
    n = nk_json_escape(small, 1, "abc", 3);
    CHECK(n == 3 && small[0] == '\0');
}

static void
test_all_bytes(void)
{
    unsigned char in[2];
    int a, b, bad = 0;
    size_t n, k;

    for (a = 0; a < 256; a++) {
        for (b = 0; b < 256; b++) {
            in[0] = (unsigned char)a;
            in[1] = (unsigned char)b;
            n = nk_json_escape(out, sizeof(out), (const char *)in, 2);
            if (n >= sizeof(out) || !nk_utf8_valid(out, n))
                bad++;
            for (k = 0; k < n; k++) {
                unsigned char c = (unsigned char)out[k];
                if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\'' ||
                    c == 0x7F)
                    bad++;
            }
        }
    }
    CHECK(bad == 0);
}

static void
test_html(void)
{
    char small[8];

    nk_html_escape(out, sizeof(out), "<a href='x' title=\"y\">&amp;</a>", 32);
    CHECK_STREQ(out, "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;amp;"
                     "&lt;/a&gt;");
    CHECK(nk_html_escape(NULL, 0, "", 0) == 0);
    CHECK(nk_html_escape(NULL, 0, "&", 1) == 5);
    nk_html_escape(out, sizeof(out), "caf\xc3\xa9 \xff", 7);
    CHECK_STREQ(out, "caf\xc3\xa9 \xef\xbf\xbd");
    /* Cut between entities, never inside one. */
    CHECK(nk_html_escape(small, sizeof(small), "a<b", 3) == 6);
    CHECK_STREQ(small, "a&lt;b");
    CHECK(nk_html_escape(small, 6, "a<b", 3) == 6);
    CHECK_STREQ(small, "a&lt;");
    CHECK(nk_html_escape(small, 5, "a<b", 3) == 6);
    CHECK_STREQ(small, "a");
}

static void
test_inert(void)
{
    char small[8];
    static const char doc[] =
        "{\"a\": \"<b>&'\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xa7\"}";

    nk_json_inert(out, sizeof(out), doc, sizeof(doc) - 1);
    CHECK_STREQ(out, "{\"a\": \"\\u003cb\\u003e\\u0026\\u0027\\u2028\\u2029"
                     "\xe2\x80\xa7\"}");
    CHECK(nk_json_inert(NULL, 0, doc, sizeof(doc) - 1) == strlen(out));
    /* nothing to do: the same bytes */
    nk_json_inert(out, sizeof(out), "{\"k\": [1, \"caf\xc3\xa9\"]}", 19);
    CHECK_STREQ(out, "{\"k\": [1, \"caf\xc3\xa9\"]}");
    /* a lone 0xE2 at the end is copied */
    CHECK(nk_json_inert(out, sizeof(out), "\xe2\x80", 2) == 2);
    /* cut between units, never inside an escape */
    CHECK(nk_json_inert(small, sizeof(small), "a<b", 3) == 8);
    CHECK_STREQ(small, "a\\u003c");
    CHECK(nk_json_inert(small, 7, "a<b", 3) == 8);
    CHECK_STREQ(small, "a");
}

int
main(void)
{
    test_inert();
    test_html();
    test_escapes();
    test_invalid();
    test_measure_and_cut();
    test_all_bytes();
    return unit_report();
}
