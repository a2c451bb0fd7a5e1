/*
 * test_mask.c — unit tests of nk_mask (masking shapes, free-text scanning,
 * Luhn, key matching, HMAC).
 */
#include "unit.h"
#include "nk_mask.h"
#include "nk_sanitize.h"

#include <stdlib.h>

static char out[8192];

typedef size_t (*mask_fn)(char *, size_t, const char *, size_t);

static const char *
run(mask_fn fn, const char *in)
{
    fn(out, sizeof(out), in, strlen(in));
    return out;
}

#define EMAIL(s) run(nk_mask_email, (s))
#define PHONE(s) run(nk_mask_phone, (s))
#define CARD(s) run(nk_mask_card, (s))
#define TOKEN(s) run(nk_mask_token, (s))
#define TEXT(s) run(nk_mask_text, (s))
#define SENS(s) run(nk_mask_sensitive, (s))

static const char *
partial(const char *in, size_t ks, size_t ke, const char *fill)
{
    nk_mask_partial(out, sizeof(out), in, strlen(in), ks, ke, fill,
                    strlen(fill));
    return out;
}

static void
test_email(void)
{
    CHECK_STREQ(EMAIL("john.doe@example.com"), "j***@e***.com");
    CHECK_STREQ(EMAIL("a@b.co"), "a***@b***.co");
    CHECK_STREQ(EMAIL("x@mail.example.co.uk"), "x***@m***.uk");
    CHECK_STREQ(EMAIL("  padded@example.org \n"), "p***@e***.org");
    CHECK_STREQ(EMAIL("root@localhost"), "r***@l***");
    CHECK_STREQ(EMAIL("\xc3\xa9lise@b\xc3\xbc"
                      "cher.de"),
                "\xc3\xa9***@b***.de");
    CHECK_STREQ(EMAIL("no-at-sign"), "***");
    CHECK_STREQ(EMAIL("@example.com"), "***");
    CHECK_STREQ(EMAIL("user@"), "***");
    CHECK_STREQ(EMAIL(""), "");
    CHECK_STREQ(EMAIL("a@b@c.com"), "a***@c***.com");
}

static void
test_phone(void)
{
    CHECK_STREQ(PHONE("+14155552671"), "+*********71");
    CHECK_STREQ(PHONE("+1 (415) 555-2671"), "+*********71");
    CHECK_STREQ(PHONE("020 7946 0958"), "*********58");
    CHECK_STREQ(PHONE("06.12.34.56.78"), "********78");
    CHECK_STREQ(PHONE("5552671"), "*****71");
    CHECK_STREQ(PHONE("123456"), "***");            /* too short */
    CHECK_STREQ(PHONE("+1234567890123456"), "***"); /* too long */
    CHECK_STREQ(PHONE("call me"), "***");
    CHECK_STREQ(PHONE("415-555-2671 ext"), "***");
    CHECK_STREQ(PHONE(""), "");
}

static void
test_card(void)
{
    CHECK(nk_mask_luhn_ok("4111111111111111", 16));
    CHECK(!nk_mask_luhn_ok("4111111111111112", 16));
    CHECK(nk_mask_luhn_ok("79927398713", 11));
    CHECK(!nk_mask_luhn_ok("", 0));
    CHECK(!nk_mask_luhn_ok("41x1", 4));
    CHECK_STREQ(CARD("4111111111111111"), "************1111");
    CHECK_STREQ(CARD("4111 1111 1111 1111"), "**** **** **** 1111");
    CHECK_STREQ(CARD("4111-1111-1111-1111"), "****-****-****-1111");
    CHECK_STREQ(CARD("378282246310005"), "***********0005"); /* Amex, 15 */
    CHECK_STREQ(CARD("4111111111111112"), "***");            /* fails Luhn */
    CHECK_STREQ(CARD("41111111111"), "***");                 /* 11 digits */
    CHECK_STREQ(CARD("41111111111111111111"), "***");        /* 20 digits */
    CHECK_STREQ(CARD("4111  1111 1111 1111"), "***");        /* double space */
    CHECK_STREQ(CARD("4111 1111 1111 111a"), "***");
    CHECK_STREQ(CARD(""), "");
}

static void
test_token(void)
{
    const char *jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    CHECK_STREQ(TOKEN(jwt), "eyJh***sw5c");
    CHECK_STREQ(TOKEN("Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x"),
                "Bearer eyJh***30.x");
    CHECK_STREQ(TOKEN("bearer   sk_live_0123456789abcdefghijklmn"),
                "bearer sk_l***klmn");
    CHECK_STREQ(TOKEN("Basic dXNlcjpwYXNz"), "Basic ***");
    CHECK_STREQ(TOKEN("short"), "***");
    CHECK_STREQ(TOKEN("Bearer"), "***");
    CHECK_STREQ(TOKEN("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
                "ghp_***6789");
    CHECK_STREQ(TOKEN(""), "");
    /* 24 characters counted as characters: multi-byte kept whole. */
    CHECK_STREQ(
        TOKEN("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9xxxxxxxxxxxxxxxx\xf0\x9f"
              "\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"),
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9***\xf0\x9f\x98\x80\xf0\x9f"
        "\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
}

static void
test_partial(void)
{
    CHECK_STREQ(partial("abcdefgh", 2, 2, "*"), "ab****gh");
    CHECK_STREQ(partial("abcdefgh", 0, 0, "*"), "********");
    CHECK_STREQ(partial("abcdefgh", 0, 3, "#"), "#####fgh");
    CHECK_STREQ(partial("abcdefgh", 4, 4, "*"), "********"); /* all kept */
    CHECK_STREQ(partial("abcdefgh", 100, 1, "*"), "********");
    CHECK_STREQ(partial("abcdefgh", (size_t)-1, (size_t)-1, "*"), "********");
    CHECK_STREQ(partial("abcdefgh", 2, 2, ""), "abgh");
    CHECK_STREQ(partial("abcdefgh", 2, 2, "xy"), "abxyxyxyxygh");
    CHECK_STREQ(partial("", 2, 2, "*"), "");
    /* Characters, not bytes. */
    CHECK_STREQ(partial("h\xc3\xa9llo w\xc3\xb6rld", 2, 2, "*"),
                "h\xc3\xa9*******ld");
    CHECK_STREQ(partial("\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82", 1,
                        1, "\xe2\x80\xa2"),
                "\xf0\x9f\x98\x80\xe2\x80\xa2\xf0\x9f\x98\x82");
}

static void
test_sensitive(void)
{
    CHECK_STREQ(SENS("hunter2"), "***");
    CHECK_STREQ(SENS(""), "***");
    CHECK_STREQ(SENS("john@example.com"), "j***@e***.com");
    CHECK_STREQ(SENS("+14155552671"), "+*********71");
    CHECK_STREQ(SENS("4111 1111 1111 1111"), "**** **** **** 1111");
    CHECK_STREQ(SENS("4111111111111112"), "***"); /* not Luhn, too long */
    CHECK_STREQ(SENS("1234"), "***");
}

static void
test_text(void)
{
    CHECK_STREQ(TEXT(""), "");
    CHECK_STREQ(TEXT("nothing to see"), "nothing to see");
    CHECK_STREQ(TEXT("mail john.doe@example.com, thanks"),
                "mail j***@e***.com, thanks");
    CHECK_STREQ(TEXT("<a@b.io>"), "<a***@b***.io>");
    CHECK_STREQ(TEXT("end user@example.com."), "end u***@e***.com.");
    CHECK_STREQ(TEXT("list: a@x.org;b@y.net"),
                "list: a***@x***.org;b***@y***.net");
    CHECK_STREQ(TEXT("ok@b\xc3\xbc"
                     "cher.de"),
                "o***@b***.de");
    CHECK_STREQ(TEXT("not@anemail x@1.2.3.4"), "not@anemail x@1.2.3.4");
    CHECK_STREQ(TEXT("call +1 (415) 555-2671 now"), "call +*********71 now");
    CHECK_STREQ(TEXT("call (415) 555-2671"), "call ********71");
    CHECK_STREQ(TEXT("uk 020 7946 0958 or 07911123456"),
                "uk *********58 or *********56");
    CHECK_STREQ(TEXT("card 4111 1111 1111 1111 ok"),
                "card **** **** **** 1111 ok");
    CHECK_STREQ(TEXT("card 4111-1111-1111-1111"), "card ****-****-****-1111");
    CHECK_STREQ(TEXT("not a card 4111 1111 1111 1112"),
                "not a card 4111 1111 1111 1112");
    CHECK_STREQ(TEXT("order 4111111111111112 shipped"),
                "order 4111111111111112 shipped");
    /* Not phones: dates, times, IPv4, bare timestamps, short numbers. */
    CHECK_STREQ(TEXT("at 2026-11-27 18:01:27 from 192.168.100.200"),
                "at 2026-11-27 18:01:27 from 192.168.100.200");
    CHECK_STREQ(TEXT("ts 1764266487 id 42 v1.2.3"),
                "ts 1764266487 id 42 v1.2.3");
    CHECK_STREQ(
        TEXT("Authorization: Bearer "
             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnopqrst"),
        "Authorization: Bearer eyJh***qrst");
    CHECK_STREQ(TEXT("bearer abc"), "bearer abc"); /* too short to be one */
    CHECK_STREQ(TEXT("Bearer 0123456789"), "Bearer ***");
    CHECK_STREQ(
        TEXT("token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig123456789&x=1"),
        "token=eyJh***6789&x=1");
    CHECK_STREQ(TEXT("eyJ.not.a.jwt"), "eyJ.not.a.jwt");
    CHECK_STREQ(TEXT("eyJhbGciOiJIUzI1NiJ9.x"), "eyJhbGciOiJIUzI1NiJ9.x");
    /* Multi-byte text around matches is untouched. */
    CHECK_STREQ(TEXT("\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4"
                     "\x95\xe0\xa4\xbe a@b.in \xf0\x9f\x98\x80"),
                "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4"
                "\x95\xe0\xa4\xbe a***@b***.in \xf0\x9f\x98\x80");
    /* Control characters and format strings pass through (sanitize later). */
    CHECK_STREQ(TEXT("%s%n\r\n"), "%s%n\r\n");
}

static void
test_measure_and_cut(void)
{
    char small[8];
    const char *in = "mail john.doe@example.com";
    size_t need = nk_mask_text(NULL, 0, in, strlen(in));

    CHECK(need == strlen("mail j***@e***.com"));
    CHECK(nk_mask_text(small, sizeof(small), in, strlen(in)) == need);
    /* A cut result is a prefix of the full one, never of the original. */
    CHECK(strncmp(small, "mail j***@e***.com", strlen(small)) == 0);
    CHECK(strlen(small) < sizeof(small));
    CHECK(nk_mask_email(small, 1, "a@b.c", 5) == strlen("a***@b***.c"));
    CHECK(small[0] == '\0');
}

static void
test_keys(void)
{
    const char *keys[] = {"password", "api_key", "email"};
    size_t lens[] = {8, 7, 5};

    CHECK(nk_mask_key_match("password", 8, keys, lens, 3));
    CHECK(nk_mask_key_match("PassWord", 8, keys, lens, 3));
    CHECK(nk_mask_key_match("API_KEY", 7, keys, lens, 3));
    CHECK(!nk_mask_key_match("passwords", 9, keys, lens, 3));
    CHECK(!nk_mask_key_match("pass", 4, keys, lens, 3));
    CHECK(!nk_mask_key_match("", 0, keys, lens, 3));
    CHECK(!nk_mask_key_match("email", 5, keys, lens, 0));
}

static void
test_hmac(void)
{
    /* RFC 4231 test case 2. */
    static const unsigned char want[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    unsigned char mac[NK_MASK_HMAC_LEN];
    const char *msg = "what do ya want for nothing?";

    CHECK(nk_mask_hmac_sha256((const unsigned char *)"Jefe", 4,
                              (const unsigned char *)msg, strlen(msg),
                              mac) == NK_MASK_OK);
    CHECK(memcmp(mac, want, 32) == 0);
    CHECK(nk_mask_hmac_sha256(NULL, 0, NULL, 0, mac) == NK_MASK_OK);
}

/* Long and adversarial inputs: bounded output, valid UTF-8, no crash. */
static void
test_long(void)
{
    size_t n = 200000, i, got;
    char *big = malloc(n + 1), *res = malloc(NK_MASK_BOUND(n));

    for (i = 0; i < n; i++)
        big[i] = "a.@-1 +(eyJ."[i % 12];
    big[n] = '\0';
    got = nk_mask_text(res, NK_MASK_BOUND(n), big, n);
    CHECK(got < NK_MASK_BOUND(n));
    CHECK(nk_utf8_valid(res, got));
    for (i = 0; i < n; i++)
        big[i] = (char)("\xc3\xa9"
                        "4111111111111111 "[i % 19]);
    got = nk_mask_text(res, NK_MASK_BOUND(n), big, n);
    CHECK(got < NK_MASK_BOUND(n));
    CHECK(strstr(res, "4111111111111111") == NULL);
    free(big);
    free(res);
}

int
main(void)
{
    test_email();
    test_phone();
    test_card();
    test_token();
    test_partial();
    test_sensitive();
    test_text();
    test_measure_and_cut();
    test_keys();
    test_hmac();
    test_long();
    return unit_report();
}
