/*
 * test_audit.c — the audit record hash: a vector computed independently
 * (Python hashlib over the documented encoding), NULL versus empty text, and
 * field boundaries that must not collide.
 */
#include "unit.h"

#include "nk_audit.h"

static void
to_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static void
hash_hex(const nk_audit_field *fields, size_t n, char *hex)
{
    unsigned char prev[NK_AUDIT_HASH_LEN], out[NK_AUDIT_HASH_LEN];
    size_t i;

    for (i = 0; i < sizeof prev; i++)
        prev[i] = (unsigned char)i;
    CHECK(nk_audit_hash(prev, fields, n, out) == NK_AUDIT_OK);
    to_hex(out, sizeof out, hex);
}

int
main(void)
{
    char hex[2 * NK_AUDIT_HASH_LEN + 1], other[2 * NK_AUDIT_HASH_LEN + 1];
    nk_audit_field vector[] = {
        {"1", 1}, {NULL, 0}, {"", 0}, {"h\xc3\xa9llo", 6}};
    nk_audit_field ab_c[] = {{"ab", 2}, {"c", 1}};
    nk_audit_field a_bc[] = {{"a", 1}, {"bc", 2}};
    nk_audit_field null_field[] = {{NULL, 0}};
    nk_audit_field empty_field[] = {{"", 0}};

    hash_hex(vector, 4, hex);
    CHECK_STREQ(
        hex,
        "6248fbcd0c2ea26c5b003d5c206fe6fee55b62949d1384658d3bca1055eda310");

    hash_hex(ab_c, 2, hex);
    CHECK_STREQ(
        hex,
        "488e14bb3977c321a356568e0d612af595c6e3611817d05a816c4d575f617ad3");
    hash_hex(a_bc, 2, other);
    CHECK_STREQ(
        other,
        "a4bd159909205834aac039a2fec024bfc6a81cea022dd77dfdabd31b42324775");
    CHECK(strcmp(hex, other) != 0);

    hash_hex(null_field, 1, hex);
    hash_hex(empty_field, 1, other);
    CHECK(strcmp(hex, other) != 0);

    hash_hex(NULL, 0, hex);
    CHECK(strlen(hex) == 64);
    return unit_report();
}
