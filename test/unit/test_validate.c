/*
 * test_validate.c — unit tests of nk_validate (email, E.164, UUID, printable
 * text; the secret rule is test_secret.c).
 */
#include "unit.h"
#include "nk_validate.h"

#include <stdlib.h>

#define EMAIL(lit) nk_validate_email((lit), sizeof(lit) - 1)
#define E164(lit) nk_validate_e164((lit), sizeof(lit) - 1)
#define UUID(lit) nk_validate_uuid((lit), sizeof(lit) - 1)
#define TEXT(lit, max) nk_validate_text((lit), sizeof(lit) - 1, (max))

static void
test_email(void)
{
    char big[300];

    CHECK(EMAIL("john.doe@example.com"));
    CHECK(EMAIL("a+tag@sub.example.co.uk"));
    CHECK(EMAIL("x_y%z-1@a-b.io"));
    CHECK(EMAIL("user@xn--bcher-kva.de"));
    CHECK(EMAIL("user@example.xn--p1ai"));
    CHECK(!EMAIL(""));
    CHECK(!EMAIL("plainaddress"));
    CHECK(!EMAIL("@example.com"));
    CHECK(!EMAIL("user@"));
    CHECK(!EMAIL("a@b@example.com"));
    CHECK(!EMAIL(".user@example.com"));
    CHECK(!EMAIL("user.@example.com"));
    CHECK(!EMAIL("us..er@example.com"));
    CHECK(!EMAIL("user@localhost"));
    CHECK(!EMAIL("user@example.c"));
    CHECK(!EMAIL("user@1.2.3.4"));
    CHECK(!EMAIL("user@-example.com"));
    CHECK(!EMAIL("user@example-.com"));
    CHECK(!EMAIL("user@example..com"));
    CHECK(!EMAIL("user@.example.com"));
    CHECK(!EMAIL("user@example.com."));
    CHECK(!EMAIL("us er@example.com"));
    CHECK(!EMAIL("user@exa mple.com"));
    CHECK(!EMAIL("\"quoted\"@example.com"));
    CHECK(!EMAIL("<script>@example.com"));
    CHECK(!EMAIL("user@example.com\r\nBcc: x@y.com"));
    CHECK(!EMAIL("us\0er@example.com"));
    CHECK(!EMAIL("\xc3\xa9@example.com"));
    CHECK(!EMAIL("user@b\xc3\xbc"
                 "cher.de"));
    /* Local part limit 64, total limit 254. */
    memset(big, 'a', sizeof(big));
    memcpy(big + 64, "@example.com", 12);
    CHECK(nk_validate_email(big, 76));
    big[64] = 'a';
    memcpy(big + 65, "@example.com", 12);
    CHECK(!nk_validate_email(big, 77));
    memset(big, 'a', sizeof(big));
    big[1] = '@';
    big[60] = big[120] = big[180] = '.';
    memcpy(big + 240, ".com", 4);
    CHECK(nk_validate_email(big, 244));
    big[240] = 'a';
    memcpy(big + 250, ".com", 4);
    CHECK(!nk_validate_email(big, 254)); /* label 70 > 63 */
    CHECK(!nk_validate_email(NULL, 0));
}

static void
test_e164(void)
{
    CHECK(E164("+14155552671"));
    CHECK(E164("+12345678"));        /* 8 digits */
    CHECK(E164("+123456789012345")); /* 15 digits */
    CHECK(!E164("+1234567"));        /* 7 digits */
    CHECK(!E164("+1234567890123456"));
    CHECK(!E164("+04155552671"));
    CHECK(!E164("14155552671"));
    CHECK(!E164("+1 415 555 2671"));
    CHECK(!E164("+1-415-555-2671"));
    CHECK(!E164("++14155552671"));
    CHECK(!E164("+1415555267a"));
    CHECK(!E164("+1415555\0"
                "2671"));
    CHECK(!E164(""));
    CHECK(!E164("+"));
    CHECK(!E164("+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7"
                "\xd9\xa8")); /* Arabic-Indic digits */
}

static void
test_uuid(void)
{
    CHECK(UUID("123e4567-e89b-12d3-a456-426614174000"));
    CHECK(UUID("123E4567-E89B-12D3-A456-426614174000"));
    CHECK(UUID("00000000-0000-0000-0000-000000000000"));
    CHECK(!UUID("123e4567e89b12d3a456426614174000"));
    CHECK(!UUID("{123e4567-e89b-12d3-a456-426614174000}"));
    CHECK(!UUID("123e4567-e89b-12d3-a456-42661417400"));
    CHECK(!UUID("123e4567-e89b-12d3-a456-4266141740000"));
    CHECK(!UUID("123e4567-e89b-12d3-a456_426614174000"));
    CHECK(!UUID("g23e4567-e89b-12d3-a456-426614174000"));
    CHECK(!UUID("123e4567-e89b-12d3-a456-42661417400\0"));
    CHECK(!UUID(""));
}

static void
test_text(void)
{
    char *big;

    CHECK(TEXT("", 0) == NK_TEXT_OK);
    CHECK(TEXT("hello", 5) == NK_TEXT_OK);
    CHECK(TEXT("hello", 4) == NK_TEXT_TOO_LONG);
    CHECK(TEXT("h\xc3\xa9llo \xf0\x9f\x98\x80", 7) == NK_TEXT_OK);
    CHECK(TEXT("h\xc3\xa9llo \xf0\x9f\x98\x80", 6) == NK_TEXT_TOO_LONG);
    CHECK(TEXT("\xe0\xa4\xa8\xe0\xa4\xae", 2) == NK_TEXT_OK);
    CHECK(TEXT("a\rb", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("a\nb", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("a\tb", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("\x1b[31mred", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("del\x7f", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("nel\xc2\x85", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("c1\xc2\x9f", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("nbsp\xc2\xa0", 10) == NK_TEXT_OK);
    CHECK(TEXT("ls\xe2\x80\xa8", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("ps\xe2\x80\xa9", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("rlo\xe2\x80\xae", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("lre\xe2\x80\xaa", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("lri\xe2\x81\xa6", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("pdi\xe2\x81\xa9", 10) == NK_TEXT_CONTROL);
    CHECK(TEXT("zwj\xe2\x80\x8d", 10) == NK_TEXT_OK);
    CHECK(TEXT("nul\0", 10) == NK_TEXT_INVALID_UTF8);
    CHECK(TEXT("\xc0\xaf", 10) == NK_TEXT_INVALID_UTF8);
    CHECK(TEXT("\xed\xa0\x80", 10) == NK_TEXT_INVALID_UTF8);
    CHECK(TEXT("\xe2\x82", 10) == NK_TEXT_INVALID_UTF8);
    CHECK(TEXT("%s%n%x", 10) == NK_TEXT_OK);
    CHECK(TEXT("<script>alert(1)</script>", 100) == NK_TEXT_OK);
    big = malloc(100000);
    memset(big, 'x', 100000);
    CHECK(nk_validate_text(big, 100000, 100000) == NK_TEXT_OK);
    CHECK(nk_validate_text(big, 100000, 99999) == NK_TEXT_TOO_LONG);
    free(big);
}

int
main(void)
{
    test_email();
    test_e164();
    test_uuid();
    test_text();
    return unit_report();
}
