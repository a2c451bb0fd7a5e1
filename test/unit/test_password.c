/*
 * test_password.c — unit tests of core/nk_password.c: the RFC 7914 scrypt
 * vector, the hash string format, verification, malformed input and
 * rehash decisions. Low cost parameters keep it fast.
 */
#include <stdio.h>

#include "nk_password.h"
#include "unit.h"

static void test_rfc7914(void);
static void test_roundtrip(void);
static void test_malformed(void);
static void test_rehash(void);
static int verify(const char *pw, const char *enc);

static const nk_scrypt_params fast = {4, 8, 1};

static int
verify(const char *pw, const char *enc)
{
    return nk_password_verify(pw, strlen(pw), enc, enc ? strlen(enc) : 0,
                              &fast);
}

static void
test_rfc7914(void)
{
    /* RFC 7914 section 12: P="password", S="NaCl", N=1024, r=8, p=16. */
    static const unsigned char want[16] = {0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34,
                                           0x72, 0x00, 0x78, 0x56, 0xe7, 0x19,
                                           0x0d, 0x01, 0xe9, 0xfe};
    nk_scrypt_params p = {10, 8, 16};
    unsigned char out[64];

    CHECK(nk_scrypt("password", 8, (const unsigned char *)"NaCl", 4, &p, out,
                    64) == NK_PW_OK);
    CHECK(memcmp(out, want, sizeof(want)) == 0);
    CHECK(out[63] == 0x40);
}

static void
test_roundtrip(void)
{
    unsigned char salt[NK_PW_SALT_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                          9, 10, 11, 12, 13, 14, 15, 16};
    char enc[NK_PW_ENCODED_MAX], enc2[NK_PW_ENCODED_MAX];

    CHECK(nk_password_hash("correct horse", 13, salt, &fast, enc,
                           sizeof(enc)) == NK_PW_OK);
    CHECK(strncmp(enc, "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$", 44) ==
          0);
    CHECK(strlen(enc) == 44 + 43);
    CHECK(verify("correct horse", enc) == NK_PW_OK);
    CHECK(verify("correct horsE", enc) == NK_PW_MISMATCH);
    CHECK(verify("", enc) == NK_PW_MISMATCH);
    /* Deterministic for a fixed salt; another salt, another hash. */
    CHECK(nk_password_hash("correct horse", 13, salt, &fast, enc2,
                           sizeof(enc2)) == NK_PW_OK);
    CHECK_STREQ(enc, enc2);
    salt[0] ^= 1;
    CHECK(nk_password_hash("correct horse", 13, salt, &fast, enc2,
                           sizeof(enc2)) == NK_PW_OK);
    CHECK(strcmp(enc, enc2) != 0);
    /* Empty passwords and passwords with NUL bytes work as bytes. */
    CHECK(nk_password_hash("a\0b", 3, salt, &fast, enc2, sizeof(enc2)) ==
          NK_PW_OK);
    CHECK(nk_password_verify("a\0b", 3, enc2, strlen(enc2), &fast) == NK_PW_OK);
    CHECK(nk_password_verify("a\0c", 3, enc2, strlen(enc2), &fast) ==
          NK_PW_MISMATCH);
    /* Bad parameters and small buffers are refused. */
    {
        nk_scrypt_params bad = {0, 8, 1};

        CHECK(nk_password_hash("x", 1, salt, &bad, enc2, sizeof(enc2)) ==
              NK_PW_BAD_PARAMS);
        bad.ln = NK_PW_MAX_LN + 1;
        CHECK(nk_password_hash("x", 1, salt, &bad, enc2, sizeof(enc2)) ==
              NK_PW_BAD_PARAMS);
        CHECK(nk_password_hash("x", 1, salt, &fast, enc2, 10) ==
              NK_PW_NO_SPACE);
    }
}

static void
test_malformed(void)
{
    const char *good = "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    CHECK(verify("x", good) == NK_PW_MISMATCH);
    CHECK(verify("x", NULL) == NK_PW_MALFORMED);
    CHECK(verify("x", "") == NK_PW_MALFORMED);
    CHECK(verify("x", "plaintext") == NK_PW_MALFORMED);
    CHECK(verify("x", "$2b$12$abcdefghijklmnopqrstuv") == NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA") ==
          NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=99,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") ==
          NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=04,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") ==
          NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA==$"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") ==
          NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"
                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$") ==
          NK_PW_MALFORMED);
    CHECK(verify("x", "$scrypt$ln=4,r=8,p=1$AQ$AAAAAAAAAAAAAAAAAAAAAA") ==
          NK_PW_MALFORMED);
    {
        nk_scrypt_params p;

        CHECK(nk_password_params(good, strlen(good), &p) == NK_PW_OK &&
              p.ln == 4 && p.r == 8 && p.p == 1);
        CHECK(nk_password_params("$scrypt$", 8, &p) == NK_PW_MALFORMED);
    }
}

static void
test_rehash(void)
{
    const char *h4 = "$scrypt$ln=4,r=8,p=1$AQIDBAUGBwgJCgsMDQ4PEA$"
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    nk_scrypt_params want = {4, 8, 1};

    CHECK(nk_password_needs_rehash(h4, strlen(h4), &want) == 0);
    want.ln = 5;
    CHECK(nk_password_needs_rehash(h4, strlen(h4), &want) == 1);
    want.ln = 4;
    want.p = 2;
    CHECK(nk_password_needs_rehash(h4, strlen(h4), &want) == 1);
    CHECK(nk_password_needs_rehash("junk", 4, &want) == 1);
}

int
main(void)
{
    test_rfc7914();
    test_roundtrip();
    test_malformed();
    test_rehash();
    return unit_report();
}
