/*
 * test_base64url.c — unit tests of core/nk_base64url.c: RFC 4648 vectors,
 * strict canonical decoding, and the pgjwt-compatible lenient decoder.
 */
#include <stdlib.h>

#include "nk_base64url.h"
#include "unit.h"

static void test_encode(void);
static void test_strict(void);
static void test_lenient(void);
static void test_roundtrip(void);
static int strict_ok(const char *in, const char *want, size_t want_len);
static nk_b64_status strict_status(const char *in);
static nk_b64_status lenient(const char *in, char *out, size_t *out_len);

static void
test_encode(void)
{
    /* RFC 4648 section 10 vectors, unpadded. */
    static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",       "Zg",      "Zm8",     "Zm9v",
                                      "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[32];
    size_t i;

    for (i = 0; i < 7; i++) {
        size_t n =
            nk_b64url_encode(out, sizeof(out), (const unsigned char *)plain[i],
                             strlen(plain[i]));
        CHECK(n == strlen(enc[i]));
        CHECK_STREQ(out, enc[i]);
        CHECK(nk_b64url_encoded_len(strlen(plain[i])) == strlen(enc[i]));
    }
    /* The url alphabet: 0xfb 0xff -> "-_8". */
    {
        const unsigned char b[] = {0xfb, 0xff};

        nk_b64url_encode(out, sizeof(out), b, 2);
        CHECK_STREQ(out, "-_8");
    }
    /* Too small a buffer is refused, not overrun. */
    CHECK(nk_b64url_encode(out, 3, (const unsigned char *)"foo", 3) ==
          (size_t)-1);
}

static int
strict_ok(const char *in, const char *want, size_t want_len)
{
    unsigned char out[64];
    size_t n = 0;

    if (nk_b64url_decode_strict(out, sizeof(out), &n, in, strlen(in)) !=
        NK_B64_OK)
        return 0;
    return n == want_len && memcmp(out, want, want_len) == 0;
}

static nk_b64_status
strict_status(const char *in)
{
    unsigned char out[64];
    size_t n = 0;

    return nk_b64url_decode_strict(out, sizeof(out), &n, in, strlen(in));
}

static void
test_strict(void)
{
    CHECK(strict_ok("", "", 0));
    CHECK(strict_ok("Zg", "f", 1));
    CHECK(strict_ok("Zm8", "fo", 2));
    CHECK(strict_ok("Zm9vYmFy", "foobar", 6));
    CHECK(strict_ok("-_8", "\xfb\xff", 2));
    /* Padding, whitespace, the standard alphabet: refused. */
    CHECK(strict_status("Zg==") == NK_B64_BAD_SYMBOL);
    CHECK(strict_status("Zm9v\n") == NK_B64_BAD_LENGTH);
    CHECK(strict_status("Zm 9") == NK_B64_BAD_SYMBOL);
    CHECK(strict_status("+_8") == NK_B64_BAD_SYMBOL);
    CHECK(strict_status("-/8") == NK_B64_BAD_SYMBOL);
    CHECK(strict_status("Zm9v\x80") == NK_B64_BAD_LENGTH);
    CHECK(strict_status("Zm9vZ\x80") == NK_B64_BAD_SYMBOL);
    /* Length 1 mod 4 cannot be canonical. */
    CHECK(strict_status("Z") == NK_B64_BAD_LENGTH);
    CHECK(strict_status("Zm9vY") == NK_B64_BAD_LENGTH);
    /* Non-zero unused bits: "Zh" also decodes to 'f' in a lax decoder. */
    CHECK(strict_status("Zh") == NK_B64_NONCANONICAL);
    CHECK(strict_status("Zm9") == NK_B64_NONCANONICAL);
    CHECK(strict_status("Zm8") == NK_B64_OK);
    /* Output room is checked. */
    {
        unsigned char out[2];
        size_t n;

        CHECK(nk_b64url_decode_strict(out, sizeof(out), &n, "Zm9v", 4) ==
              NK_B64_NO_SPACE);
    }
}

static nk_b64_status
lenient(const char *in, char *out, size_t *out_len)
{
    size_t bad = 0;

    return nk_b64url_decode_lenient((unsigned char *)out, 64, out_len, in,
                                    strlen(in), strlen(in), &bad);
}

static void
test_lenient(void)
{
    char out[64];
    size_t n = 0, bad = 0;

    /* What pgjwt's url_decode accepts. */
    CHECK(lenient("Zg", out, &n) == NK_B64_OK && n == 1 && out[0] == 'f');
    CHECK(lenient("Zg==", out, &n) == NK_B64_OK && n == 1);
    CHECK(lenient("Zg=", out, &n) == NK_B64_OK && n == 1);
    /* Whitespace is skipped but counts for the padding rule. */
    CHECK(lenient("Zm9v\r\n\t YmFy", out, &n) == NK_B64_OK && n == 6 &&
          memcmp(out, "foobar", 6) == 0);
    CHECK(lenient("Zm9v\nYmFy", out, &n) == NK_B64_UNEXPECTED_EQ);
    CHECK(lenient("+/8", out, &n) == NK_B64_OK && n == 2 &&
          (unsigned char)out[0] == 0xfb);
    CHECK(lenient("-_8", out, &n) == NK_B64_OK && n == 2 &&
          (unsigned char)out[1] == 0xff);
    CHECK(lenient("Zh", out, &n) == NK_B64_OK && n == 1 && out[0] == 'f');
    CHECK(lenient("", out, &n) == NK_B64_OK && n == 0);
    /* ... and what makes PostgreSQL's decoder fail. */
    CHECK(lenient("Z", out, &n) == NK_B64_UNEXPECTED_EQ);
    CHECK(lenient("=Zg", out, &n) == NK_B64_UNEXPECTED_EQ);
    CHECK(lenient("Zm9v YmF", out, &n) == NK_B64_BAD_END);
    CHECK(nk_b64url_decode_lenient((unsigned char *)out, 64, &n, "Zm*v", 4, 4,
                                   &bad) == NK_B64_BAD_SYMBOL &&
          bad == 2);
}

static void
test_roundtrip(void)
{
    unsigned char in[200], back[200];
    char enc[300];
    size_t len, n;

    srand(7);
    for (len = 0; len < sizeof(in); len++) {
        size_t i;

        for (i = 0; i < len; i++)
            in[i] = (unsigned char)rand();
        n = nk_b64url_encode(enc, sizeof(enc), in, len);
        CHECK(nk_b64url_decode_strict(back, sizeof(back), &n, enc, n) ==
                  NK_B64_OK &&
              n == len && memcmp(in, back, len) == 0);
    }
}

int
main(void)
{
    test_encode();
    test_strict();
    test_lenient();
    test_roundtrip();
    return unit_report();
}
