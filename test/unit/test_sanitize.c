/*
 * test_sanitize.c — unit tests of nk_sanitize (log sanitizer, UTF-8 checks).
 */
#include "unit.h"
#include "nk_sanitize.h"

#include <stdlib.h>

static char out[4096];

/* Sanitizes a C string literal of known length into the static buffer. */
static const char *
san(const char *in, size_t len)
{
    nk_sanitize_log(out, sizeof(out), in, len);
    return out;
}

#define SAN(lit) san((lit), sizeof(lit) - 1)

static void
test_escapes(void)
{
    CHECK_STREQ(SAN(""), "");
    CHECK_STREQ(SAN("plain text"), "plain text");
    CHECK_STREQ(SAN("a\r\nb"), "a\\r\\nb");
    CHECK_STREQ(SAN("tab\there"), "tab\\there");
    CHECK_STREQ(SAN("back\\slash"), "back\\\\slash");
    CHECK_STREQ(SAN("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
    CHECK_STREQ(SAN("nul\0byte"), "nul\\x00byte");
    CHECK_STREQ(SAN("del\x7f"), "del\\x7f");
    CHECK_STREQ(SAN("\x01\x02\x1f"), "\\x01\\x02\\x1f");
    CHECK_STREQ(SAN("nel\xc2\x85x"), "nel\\u0085x");
    CHECK_STREQ(SAN("c1\xc2\x80\xc2\x9f"), "c1\\u0080\\u009f");
    CHECK_STREQ(SAN("ls\xe2\x80\xa8ps\xe2\x80\xa9"), "ls\\u2028ps\\u2029");
    CHECK_STREQ(SAN("%s%n%x"), "%s%n%x");
    /* Ordinary multi-byte text is copied. */
    CHECK_STREQ(SAN("caf\xc3\xa9 \xe0\xa4\xa8\xe0\xa4\xae \xf0\x9f\x98\x80"),
                "caf\xc3\xa9 \xe0\xa4\xa8\xe0\xa4\xae \xf0\x9f\x98\x80");
    /* U+00A0 (just above C1) is kept. */
    CHECK_STREQ(SAN("\xc2\xa0"), "\xc2\xa0");
    /* Bidirectional overrides ("Trojan Source") are escaped, their
     * neighbours (U+2029 is a separator, U+202F a space) handled as usual. */
    CHECK_STREQ(SAN("a\xe2\x80\xae"
                    "b\xe2\x81\xa6"
                    "c\xe2\x81\xa9"),
                "a\\u202eb\\u2066c\\u2069");
    CHECK_STREQ(SAN("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c"),
                "\\u200e\\u200f\\u061c");
    CHECK_STREQ(SAN("\xe2\x80\xaf"), "\xe2\x80\xaf");
    CHECK_STREQ(SAN("\xe2\x81\xa5"), "\xe2\x81\xa5");
}

static void
test_invalid_utf8(void)
{
    CHECK_STREQ(SAN("\xc0\xaf"), "\\xc0\\xaf");          /* overlong '/' */
    CHECK_STREQ(SAN("\xe0\x80\xaf"), "\\xe0\\x80\\xaf"); /* overlong */
    CHECK_STREQ(SAN("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* surrogate */
    CHECK_STREQ(SAN("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* >10FFFF */
    CHECK_STREQ(SAN("ab\xe2\x82"), "ab\\xe2\\x82"); /* truncated */
    CHECK_STREQ(SAN("\xff\xfe"), "\\xff\\xfe");
    CHECK_STREQ(SAN("\x80x"), "\\x80x"); /* stray continuation */
    /* A bad lead byte does not swallow the valid character after it. */
    CHECK_STREQ(SAN("\xe2\xc3\xa9"), "\\xe2\xc3\xa9");
}

static void
test_truncation(void)
{
    char small[32];
    size_t n;
    char big[3000];
    size_t i;

    /* Fits exactly: no marker. */
    n = nk_sanitize_log(small, 20, "0123456789abcdefghi", 19);
    CHECK(n == 19);
    CHECK_STREQ(small, "0123456789abcdefghi");
    /* One byte too long: cut and marked, within out_size. */
    n = nk_sanitize_log(small, 20, "0123456789abcdefghij", 20);
    CHECK(n == 19);
    CHECK_STREQ(small, "01234" NK_SANITIZE_TRUNCATED);
    /* Never cut inside an escape: "\r" needs 2 bytes. */
    n = nk_sanitize_log(small, 16, "ab\rcdefghijklmnopq", 18);
    CHECK_STREQ(small, "a" NK_SANITIZE_TRUNCATED);
    n = nk_sanitize_log(small, 17, "ab\rcdefghijklmnopq", 18);
    CHECK_STREQ(small, "ab" NK_SANITIZE_TRUNCATED);
    n = nk_sanitize_log(small, 18, "ab\rcdefghijklmnopq", 18);
    CHECK_STREQ(small, "ab" NK_SANITIZE_TRUNCATED);
    n = nk_sanitize_log(small, 19, "ab\rcdefghijklmnopq", 18);
    CHECK_STREQ(small, "ab\\r" NK_SANITIZE_TRUNCATED);
    n = nk_sanitize_log(small, 20, "ab\rcdefghijklmnopq", 18);
    CHECK(n == 19);
    CHECK_STREQ(small, "ab\\rcdefghijklmnopq");
    /* Never cut inside a UTF-8 sequence: e-acute is 2 bytes. */
    n = nk_sanitize_log(small, 17, "a\xc3\xa9zzzzzzzzzzzzzzzzzz", 22);
    CHECK_STREQ(small, "a" NK_SANITIZE_TRUNCATED);
    n = nk_sanitize_log(small, 18, "a\xc3\xa9zzzzzzzzzzzzzzzzzz", 22);
    CHECK_STREQ(small, "a\xc3\xa9" NK_SANITIZE_TRUNCATED);
    CHECK(nk_utf8_valid(small, strlen(small)));
    /* 4-byte emoji at the cut. */
    n = nk_sanitize_log(small, 19, "ab\xf0\x9f\x98\x80zzzzzzzzzzzzzzzzz", 23);
    CHECK_STREQ(small, "ab" NK_SANITIZE_TRUNCATED);
    CHECK(n == strlen(small));
    /* Minimal buffer: just the marker. */
    n = nk_sanitize_log(small, sizeof(NK_SANITIZE_TRUNCATED) + 1,
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxx", 27);
    CHECK_STREQ(small, "x" NK_SANITIZE_TRUNCATED);
    /* Empty and NULL input. */
    n = nk_sanitize_log(small, sizeof(small), NULL, 0);
    CHECK(n == 0 && small[0] == '\0');
    /* Tiny buffers below the contract stay safe (no marker). */
    n = nk_sanitize_log(small, 4, "abcdef", 6);
    CHECK(n == 3);
    CHECK_STREQ(small, "abc");
    n = nk_sanitize_log(small, 1, "abcdef", 6);
    CHECK(n == 0 && small[0] == '\0');
    CHECK(nk_sanitize_log(NULL, 0, "abc", 3) == 0);

    /* A long string of newlines: output all escapes, cut on a boundary. */
    for (i = 0; i < sizeof(big); i++)
        big[i] = '\n';
    n = nk_sanitize_log(out, 1025, big, sizeof(big));
    CHECK(n <= 1024);
    CHECK(n == strlen(out));
    CHECK(strstr(out, NK_SANITIZE_TRUNCATED) != NULL);
    CHECK(strchr(out, '\n') == NULL);
    /* Prefix is whole "\n" escapes. */
    CHECK((n - (sizeof(NK_SANITIZE_TRUNCATED) - 1)) % 2 == 0);
}

static void
test_utf8_valid(void)
{
    CHECK(nk_utf8_valid("", 0));
    CHECK(nk_utf8_valid(NULL, 0));
    CHECK(nk_utf8_valid("abc", 3));
    CHECK(nk_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK(nk_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    CHECK(nk_utf8_valid("\xee\x80\x80", 3));      /* U+E000 */
    CHECK(nk_utf8_valid("\xed\x9f\xbf", 3));      /* U+D7FF */
    CHECK(!nk_utf8_valid("a\0b", 3));             /* NUL */
    CHECK(!nk_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    CHECK(!nk_utf8_valid("\xc1\xbf", 2));         /* overlong */
    CHECK(!nk_utf8_valid("\xe0\x9f\xbf", 3));     /* overlong */
    CHECK(!nk_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    CHECK(!nk_utf8_valid("\xed\xa0\x80", 3));     /* high surrogate */
    CHECK(!nk_utf8_valid("\xed\xbf\xbf", 3));     /* low surrogate */
    CHECK(!nk_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!nk_utf8_valid("\xf5\x80\x80\x80", 4));
    CHECK(!nk_utf8_valid("\xe2\x82", 2)); /* truncated */
    CHECK(!nk_utf8_valid("\x80", 1));
    CHECK(!nk_utf8_valid("\xff", 1));
    CHECK(!nk_utf8_valid("\xc3\x28", 2)); /* bad continuation */
}

static void
test_decode(void)
{
    unsigned int cp = 0;

    CHECK(nk_utf8_decode((const unsigned char *)"\xe2\x80\xa8", 3, &cp) == 3);
    CHECK(cp == 0x2028);
    CHECK(nk_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp) ==
          4);
    CHECK(cp == 0x1F600);
    CHECK(nk_utf8_decode((const unsigned char *)"\xf0\x9f\x98", 3, &cp) == 0);
    CHECK(nk_utf8_decode((const unsigned char *)"", 0, &cp) == 0);
    CHECK(nk_utf8_decode(NULL, 0, &cp) == 0);
}

/* Every byte value alone and in pairs: output valid, no raw controls. */
static void
test_exhaustive_pairs(void)
{
    unsigned char in[2];
    int a, b, bad = 0;
    size_t n, k;

    for (a = 0; a < 256; a++) {
        for (b = 0; b < 256; b++) {
            in[0] = (unsigned char)a;
            in[1] = (unsigned char)b;
            n = nk_sanitize_log(out, sizeof(out), (const char *)in, 2);
            if (!nk_utf8_valid(out, n))
                bad++;
            for (k = 0; k < n; k++) {
                unsigned char c = (unsigned char)out[k];
                if (c < 0x20 || c == 0x7F)
                    bad++;
            }
        }
    }
    CHECK(bad == 0);
}

int
main(void)
{
    test_escapes();
    test_invalid_utf8();
    test_truncation();
    test_utf8_valid();
    test_decode();
    test_exhaustive_pairs();
    return unit_report();
}
