/*
 * test_jwt.c — unit tests of core/nk_jwt.c: HMAC vectors (RFC 4231), the
 * RFC 7515 A.1 example, every rejection reason of the strict verifier with
 * an injected clock and the secret check (the JSON scanner: test_jsonscan.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nk_base64url.h"
#include "nk_jwt.h"
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NOW 1700000000.0

static nk_hmac_key *key256, *key512;

static void hex(const unsigned char *b, size_t n, char *out);
static nk_hmac_key *lookup(void *arg, const char *kid, size_t len);
static char *make(nk_hmac_key *k, const char *header, const char *payload);
static nk_jwt_reason verify_with(const char *tok, const nk_jwt_policy *pol,
                                 nk_jwt_result *res);
static nk_jwt_reason verify(const char *tok);
static void test_names(void);
static void test_hmac(void);
static void test_rfc7515(void);
static void test_reasons(void);
static void test_memo(void);
static void test_claims(void);
static void test_claims_role(void);

static void
hex(const unsigned char *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static nk_hmac_key *
lookup(void *arg, const char *kid, size_t len)
{
    (void)arg;
    if (len == 2 && memcmp(kid, "k1", 2) == 0)
        return key256;
    if (len == 2 && memcmp(kid, "k5", 2) == 0)
        return key512;
    return NULL;
}

/* A token with exactly these header and payload bytes (static buffer). */
static char *
make(nk_hmac_key *k, const char *header, const char *payload)
{
    static char out[NK_JWT_MAX_TOKEN * 2];

    if (nk_jwt_sign(k, header, strlen(header), payload, strlen(payload), out,
                    sizeof(out)) == 0)
        return NULL;
    return out;
}

static nk_jwt_reason
verify_with(const char *tok, const nk_jwt_policy *pol, nk_jwt_result *res)
{
    static unsigned char scratch[NK_JWT_SCRATCH];

    return nk_jwt_verify(tok, strlen(tok), pol, lookup, NULL, scratch, res);
}

static nk_jwt_reason
verify(const char *tok)
{
    nk_jwt_policy pol = {NOW, 30, NULL, NULL, 0};
    nk_jwt_result res;

    return verify_with(tok, &pol, &res);
}

#define H256 "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define GOOD                                                                   \
    "{\"sub\":\"u1\",\"jti\":\"j1\",\"iat\":1700000000,\"exp\":1700000600}"

static void
test_names(void)
{
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_OK), "ok");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_MALFORMED), "malformed");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_TOKEN_TOO_LARGE), "token_too_large");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_ALG_NOT_ALLOWED), "alg_not_allowed");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_BAD_SIGNATURE), "bad_signature");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_UNKNOWN_KID), "unknown_kid");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_TOKEN_EXPIRED), "token_expired");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_EXP_TOO_FAR), "exp_too_far");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_BAD_NUMERIC_DATE),
                "bad_numeric_date");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_TOKEN_NOT_YET_VALID),
                "token_not_yet_valid");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_TOKEN_ISSUED_IN_FUTURE),
                "token_issued_in_future");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_MISSING_EXP), "missing_exp");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_BAD_ISSUER), "bad_issuer");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_BAD_AUDIENCE), "bad_audience");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_UNSUPPORTED_CRIT),
                "unsupported_crit");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_REVOKED), "revoked");
    CHECK_STREQ(nk_jwt_reason_name(NK_JWT_REASON_COUNT), "malformed");
    CHECK(nk_jwt_alg_from_name("HS256", 5) == NK_JWT_HS256);
    CHECK(nk_jwt_alg_from_name("HS384", 5) == NK_JWT_HS384);
    CHECK(nk_jwt_alg_from_name("HS512", 5) == NK_JWT_HS512);
    CHECK(nk_jwt_alg_from_name("hs256", 5) == NK_JWT_ALG_INVALID);
    CHECK(nk_jwt_alg_from_name("none", 4) == NK_JWT_ALG_INVALID);
    CHECK(nk_jwt_alg_from_name("HS2560", 6) == NK_JWT_ALG_INVALID);
    CHECK(nk_jwt_alg_mac_len(NK_JWT_HS384) == 48);
}

static void
test_hmac(void)
{
    /* RFC 4231 test case 2: key "Jefe". */
    const char *data = "what do ya want for nothing?";
    unsigned char mac[NK_JWT_MAX_MAC], big[131];
    char h[2 * NK_JWT_MAX_MAC + 1];
    size_t n;

    n = nk_jwt_hmac(NK_JWT_HS256, (const unsigned char *)"Jefe", 4,
                    (const unsigned char *)data, strlen(data), mac);
    hex(mac, n, h);
    CHECK_STREQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b9"
                   "64ec3843");
    n = nk_jwt_hmac(NK_JWT_HS384, (const unsigned char *)"Jefe", 4,
                    (const unsigned char *)data, strlen(data), mac);
    hex(mac, n, h);
    CHECK_STREQ(h, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec373"
                   "6322445e8e2240ca5e69e2c78b3239ecfab21649");
    n = nk_jwt_hmac(NK_JWT_HS512, (const unsigned char *)"Jefe", 4,
                    (const unsigned char *)data, strlen(data), mac);
    hex(mac, n, h);
    CHECK_STREQ(h, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7"
                   "ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b"
                   "636e070a38bce737");
    /* Test case 6: a key longer than the block is hashed first. */
    memset(big, 0xaa, sizeof(big));
    data = "Test Using Larger Than Block-Size Key - Hash Key First";
    n = nk_jwt_hmac(NK_JWT_HS256, big, sizeof(big), (const unsigned char *)data,
                    strlen(data), mac);
    hex(mac, n, h);
    CHECK_STREQ(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f"
                   "0ee37f54");
    n = nk_jwt_hmac(NK_JWT_HS512, big, sizeof(big), (const unsigned char *)data,
                    strlen(data), mac);
    hex(mac, n, h);
    CHECK_STREQ(h, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b0137"
                   "83f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec"
                   "8b915a985d786598");
    /* A precomputed key gives the same MAC every time. */
    {
        nk_hmac_key *k =
            nk_hmac_key_new(NK_JWT_HS384, (const unsigned char *)"Jefe", 4);
        int i;

        for (i = 0; i < 3; i++) {
            n = nk_hmac_key_mac(k,
                                (const unsigned char *)"what do ya want "
                                                       "for nothing?",
                                28, mac);
            hex(mac, n, h);
            CHECK_STREQ(h, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47"
                           "e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
        }
        nk_hmac_key_free(k);
    }
    CHECK(nk_hmac_key_new(NK_JWT_ALG_INVALID, (const unsigned char *)"k", 1) ==
          NULL);
    nk_hmac_key_free(NULL);
}

/*
 * One key object MACs messages that share their first hash block with the
 * one before (the remembered inner state), that do not, and that are
 * shorter than, exactly or just over a block: each equals OpenSSL's own
 * one-shot HMAC().
 */
static void
test_hmac_first_block(void)
{
    static const nk_jwt_alg algs[] = {NK_JWT_HS256, NK_JWT_HS384, NK_JWT_HS512};
    static const size_t lens[] = {300, 0,   63,  64, 65,  127, 128,
                                  129, 300, 256, 64, 200, 1,   300};
    const unsigned char key[] = "first-block-memo-key-0123456789-abcdef";
    unsigned char msg[300], mac[NK_JWT_MAX_MAC], want[EVP_MAX_MD_SIZE];
    unsigned int want_len;
    size_t a, i, n;

    for (a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        const EVP_MD *md = algs[a] == NK_JWT_HS256   ? EVP_sha256()
                           : algs[a] == NK_JWT_HS384 ? EVP_sha384()
                                                     : EVP_sha512();
        nk_hmac_key *k = nk_hmac_key_new(algs[a], key, sizeof(key) - 1);

        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            /* every third message changes a byte of the first block */
            memset(msg, 'h', sizeof(msg));
            if (i % 3 == 2)
                msg[i % 64] = 'x';
            msg[sizeof(msg) - 1 - i] = (unsigned char)i; /* tails differ */
            n = nk_hmac_key_mac(k, msg, lens[i], mac);
            HMAC(md, key, (int)(sizeof(key) - 1), msg, lens[i], want,
                 &want_len);
            CHECK(n == want_len && memcmp(mac, want, n) == 0);
        }
        nk_hmac_key_free(k);
    }
}

static void
test_rfc7515(void)
{
    /* RFC 7515 Appendix A.1: the exact header and payload bytes (CRLF). */
    const char *header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    const char *payload = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                          "\"http://example.com/is_root\":true}";
    const char *k64 = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75a"
                      "KtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    unsigned char key[64];
    size_t klen;
    nk_hmac_key *k;
    char *tok;

    CHECK(nk_b64url_decode_strict(key, sizeof(key), &klen, k64, strlen(k64)) ==
          NK_B64_OK);
    k = nk_hmac_key_new(NK_JWT_HS256, key, klen);
    tok = make(k, header, payload);
    CHECK_STREQ(tok,
                "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
                "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    nk_hmac_key_free(k);
}

static void
test_reasons(void)
{
    char buf[NK_JWT_MAX_TOKEN * 2], tok[512];
    nk_jwt_result res;
    nk_jwt_policy pol = {NOW, 30, NULL, NULL, 0};

    /* make() reuses its buffer: keep our own copy of the good token. */
    snprintf(tok, sizeof(tok), "%s", make(key256, H256, GOOD));
    CHECK(verify_with(tok, &pol, &res) == NK_JWT_OK);
    CHECK_STREQ(res.kid, "k1");
    CHECK_STREQ(res.jti, "j1");
    CHECK_STREQ(res.sub, "u1");
    CHECK(res.has_iat && res.iat == 1700000000.0);
    CHECK(res.payload_len == strlen(GOOD) &&
          memcmp(res.payload, GOOD, res.payload_len) == 0);

    /* bad_signature: one flipped signature character, wrong key. */
    strcpy(buf, tok);
    buf[strlen(buf) - 2] = buf[strlen(buf) - 2] == 'A' ? 'B' : 'A';
    CHECK(verify(buf) == NK_JWT_BAD_SIGNATURE);
    strcpy(buf, make(key512, H256, GOOD));
    CHECK(verify(buf) == NK_JWT_BAD_SIGNATURE);
    /* Truncated signature, signature stripped. */
    strcpy(buf, tok);
    buf[strlen(buf) - 3] = '\0'; /* 40 symbols: 30 canonical bytes */
    CHECK(verify(buf) == NK_JWT_BAD_SIGNATURE);
    strcpy(buf, tok);
    *(strrchr(buf, '.') + 1) = '\0';
    CHECK(verify(buf) == NK_JWT_BAD_SIGNATURE);
    /* malformed: pieces, padding, non-canonical, whitespace. */
    CHECK(verify("") == NK_JWT_MALFORMED);
    CHECK(verify("abc") == NK_JWT_MALFORMED);
    CHECK(verify("a.b") == NK_JWT_MALFORMED);
    CHECK(verify("a.b.c.d") == NK_JWT_MALFORMED);
    CHECK(verify(".b.c") == NK_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s=", tok);
    CHECK(verify(buf) == NK_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), " %s", tok);
    CHECK(verify(buf) == NK_JWT_MALFORMED);
    /* A different (non-canonical) spelling of the same signature. */
    strcpy(buf, tok);
    {
        char *last = buf + strlen(buf) - 1;
        int v = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-_",
                       *last) -
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_";

        /* 32 bytes -> 43 symbols, the last carries 2 unused bits. */
        *last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_"[v | 1];
        CHECK(verify(buf) == NK_JWT_MALFORMED);
    }
    CHECK(verify(make(key256, "[1]", GOOD)) == NK_JWT_MALFORMED);
    CHECK(
        verify(make(key256, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"kid\":\"k1\"}",
                    GOOD)) == NK_JWT_MALFORMED);
    CHECK(verify(make(key256, "{\"alg\":256,\"kid\":\"k1\"}", GOOD)) ==
          NK_JWT_MALFORMED);
    CHECK(verify(make(key256, "{\"kid\":\"k1\"}", GOOD)) == NK_JWT_MALFORMED);
    CHECK(verify(make(key256, H256,
                      "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":"
                      "1700000600}")) == NK_JWT_MALFORMED);
    CHECK(verify(make(key256, H256, "{\"exp\":\"1700000600\"}")) ==
          NK_JWT_MALFORMED);
    CHECK(verify(make(key256, H256, "[]")) == NK_JWT_MALFORMED);
    /* alg_not_allowed: none, unknown, lower case, mismatching the key. */
    CHECK(verify(make(key256, "{\"alg\":\"none\",\"kid\":\"k1\"}", GOOD)) ==
          NK_JWT_ALG_NOT_ALLOWED);
    snprintf(buf, sizeof(buf), "%s",
             make(key256, "{\"alg\":\"none\",\"kid\":\"k1\"}", GOOD));
    *(strrchr(buf, '.') + 1) = '\0';
    CHECK(verify(buf) == NK_JWT_ALG_NOT_ALLOWED);
    CHECK(verify(make(key256, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", GOOD)) ==
          NK_JWT_ALG_NOT_ALLOWED);
    CHECK(verify(make(key256, "{\"alg\":\"hs256\",\"kid\":\"k1\"}", GOOD)) ==
          NK_JWT_ALG_NOT_ALLOWED);
    CHECK(verify(make(key256, "{\"alg\":\"HS512\",\"kid\":\"k1\"}", GOOD)) ==
          NK_JWT_ALG_NOT_ALLOWED);
    /* Escaped spelling of a good alg is the same string. */
    CHECK(verify(make(key256, "{\"alg\":\"HS\\u0032\\u00356\",\"kid\":\"k1\"}",
                      GOOD)) == NK_JWT_OK);
    /* unknown_kid: absent, unknown, too long. */
    CHECK(verify(make(key256, "{\"alg\":\"HS256\"}", GOOD)) ==
          NK_JWT_UNKNOWN_KID);
    CHECK(verify(make(key256, "{\"alg\":\"HS256\",\"kid\":\"k9\"}", GOOD)) ==
          NK_JWT_UNKNOWN_KID);
    /* unsupported_crit, whatever it lists; jku/jwk are ignored. */
    CHECK(verify(make(key256,
                      "{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"]}",
                      GOOD)) == NK_JWT_UNSUPPORTED_CRIT);
    CHECK(verify(make(key256,
                      "{\"alg\":\"HS256\",\"kid\":\"k1\",\"jku\":\"https://"
                      "evil.example/k\",\"jwk\":{\"k\":\"x\"}}",
                      GOOD)) == NK_JWT_OK);
    /* HS512 key with its own alg. */
    CHECK(verify(make(key512, "{\"alg\":\"HS512\",\"kid\":\"k5\"}", GOOD)) ==
          NK_JWT_OK);
    /* token_too_large, checked before anything else. */
    memset(buf, 'A', NK_JWT_MAX_TOKEN + 1);
    buf[NK_JWT_MAX_TOKEN + 1] = '\0';
    CHECK(verify(buf) == NK_JWT_TOKEN_TOO_LARGE);
}

/* The header memo gives the same verdicts as parsing every time. */
static void
test_memo(void)
{
    static unsigned char scratch[NK_JWT_SCRATCH];
    nk_jwt_header_memo memo;
    nk_jwt_result res;
    const char *seg;
    size_t seglen;
    char good[512], other[512], bad[512];

    memset(&memo, 0, sizeof(memo));
    snprintf(good, sizeof(good), "%s", make(key256, H256, GOOD));
    snprintf(other, sizeof(other), "%s",
             make(key512, "{\"alg\":\"HS512\",\"kid\":\"k5\"}", GOOD));
    snprintf(bad, sizeof(bad), "%s",
             make(key256, "{\"alg\":\"none\",\"kid\":\"k1\"}", GOOD));
#define VS(t)                                                                  \
    nk_jwt_verify_signature((t), strlen(t), lookup, NULL, &memo, scratch,      \
                            &seg, &seglen, &res)
    CHECK(VS(good) == NK_JWT_OK && strcmp(res.kid, "k1") == 0);
    CHECK(memo.len > 0 && memo.alg == NK_JWT_HS256);
    CHECK(seg == strchr(good, '.') + 1 && seglen == strlen(seg) - 44);
    CHECK(VS(good) == NK_JWT_OK && strcmp(res.kid, "k1") == 0);
    CHECK(VS(other) == NK_JWT_OK && strcmp(res.kid, "k5") == 0);
    CHECK(memo.alg == NK_JWT_HS512);
    /* A refused header is never remembered. */
    CHECK(VS(bad) == NK_JWT_ALG_NOT_ALLOWED);
    CHECK(memo.alg == NK_JWT_HS512);
    CHECK(VS(bad) == NK_JWT_ALG_NOT_ALLOWED);
    /* Same header, tampered signature: still refused. */
    good[strlen(good) - 2] = good[strlen(good) - 2] == 'A' ? 'B' : 'A';
    CHECK(VS(good) == NK_JWT_BAD_SIGNATURE);
    CHECK(VS(good) == NK_JWT_BAD_SIGNATURE);
#undef VS
}

static void
test_claims(void)
{
    nk_jwt_policy pol = {NOW, 30, NULL, NULL, 0};
    nk_jwt_result res;

#define V(payload) verify_with(make(key256, H256, payload), &pol, &res)
    CHECK(V("{\"sub\":\"u\"}") == NK_JWT_MISSING_EXP);
    CHECK(*res.sub == '\0'); /* nothing handed back on rejection */
    /* exp: valid while now < exp + leeway. */
    CHECK(V("{\"exp\":1699999971}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1699999970}") == NK_JWT_TOKEN_EXPIRED);
    CHECK(V("{\"exp\":1699999970.5}") == NK_JWT_OK);
    /* nbf: valid from nbf - leeway. */
    CHECK(V("{\"exp\":1800000000,\"nbf\":1700000030}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"nbf\":1700000031}") ==
          NK_JWT_TOKEN_NOT_YET_VALID);
    /* iat: at most leeway in the future. */
    CHECK(V("{\"exp\":1800000000,\"iat\":1700000030}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"iat\":1700000031}") ==
          NK_JWT_TOKEN_ISSUED_IN_FUTURE);
    CHECK(V("{\"exp\":1800000000,\"iat\":1.7e9}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"iat\":true}") == NK_JWT_MALFORMED);
    /* NumericDates this service could never have issued */
    CHECK(V("{\"exp\":1e1000}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":-1}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":1800000000,\"nbf\":-1}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":1800000000,\"iat\":-1}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":1800000000,\"iat\":-1e1000}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":1800000000,\"nbf\":1e1000}") == NK_JWT_BAD_NUMERIC_DATE);
    CHECK(V("{\"exp\":1800000000,\"nbf\":0,\"iat\":0}") == NK_JWT_OK);
    /* exp no further ahead than the longest lifetime issued (+ leeway) */
    pol.max_lifetime = 480 * 60;
    CHECK(V("{\"exp\":1700028830}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1700028830.5}") == NK_JWT_EXP_TOO_FAR);
    CHECK(V("{\"exp\":1700028831}") == NK_JWT_EXP_TOO_FAR);
    CHECK(V("{\"exp\":1e300}") == NK_JWT_EXP_TOO_FAR);
    CHECK(V("{\"exp\":9223372036854775808}") == NK_JWT_EXP_TOO_FAR);
    CHECK(V("{\"exp\":18446744073709551616}") == NK_JWT_EXP_TOO_FAR);
    CHECK(V("{\"exp\":1700000600.25}") == NK_JWT_OK); /* fractions: RFC 7519 */
    pol.max_lifetime = 0;
    CHECK(V("{\"exp\":1e300}") == NK_JWT_OK); /* unbounded when not set */
    /* No leeway. */
    pol.leeway = 0;
    CHECK(V("{\"exp\":1700000000}") == NK_JWT_TOKEN_EXPIRED);
    CHECK(V("{\"exp\":1700000001}") == NK_JWT_OK);
    pol.leeway = 30;
    /* iss / aud, only when configured. */
    CHECK(V("{\"exp\":1800000000,\"iss\":\"other\"}") == NK_JWT_OK);
    pol.issuer = "namaskah";
    CHECK(V("{\"exp\":1800000000,\"iss\":\"namaskah\"}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"iss\":\"other\"}") == NK_JWT_BAD_ISSUER);
    CHECK(V("{\"exp\":1800000000}") == NK_JWT_BAD_ISSUER);
    CHECK(V("{\"exp\":1800000000,\"iss\":[\"namaskah\"]}") ==
          NK_JWT_BAD_ISSUER);
    pol.issuer = NULL;
    pol.audience = "api";
    CHECK(V("{\"exp\":1800000000,\"aud\":\"api\"}") == NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"aud\":[\"x\",1,{\"a\":\"api\"},\"api\"]}") ==
          NK_JWT_OK);
    CHECK(V("{\"exp\":1800000000,\"aud\":[\"x\"]}") == NK_JWT_BAD_AUDIENCE);
    CHECK(V("{\"exp\":1800000000,\"aud\":\"apix\"}") == NK_JWT_BAD_AUDIENCE);
    CHECK(V("{\"exp\":1800000000}") == NK_JWT_BAD_AUDIENCE);
    pol.audience = NULL;
    /* jti / sub must be strings. */
    CHECK(V("{\"exp\":1800000000,\"sub\":42}") == NK_JWT_MALFORMED);
    CHECK(V("{\"exp\":1800000000,\"sub\":\"\\u00e9\"}") == NK_JWT_OK &&
          strcmp(res.sub, "\xc3\xa9") == 0);
#undef V
}

/* The role nk_jwt_parse_claims finds in json, or "(rejected)". */
static const char *
role_of(const char *json, nk_jwt_claims *c)
{
    nk_jwt_policy pol = {NOW, 30, NULL, NULL, 0};

    if (nk_jwt_parse_claims(json, strlen(json), &pol, c) != NK_JWT_OK)
        return "(rejected)";
    return c->role;
}

/* The role claim: a short string, unescaped; anything else is no role. */
static void
test_claims_role(void)
{
    nk_jwt_claims c;
    char j[160];

    CHECK_STREQ(role_of("{\"exp\":1,\"role\":\"admin\"}", &c), "admin");
    CHECK_STREQ(role_of("{\"exp\":1,\"role\":\"\\u0061dmin\"}", &c), "admin");
    CHECK_STREQ(role_of("{\"exp\":1,\"role\":7}", &c), "");
    CHECK_STREQ(role_of("{\"exp\":1,\"role\":[\"admin\"]}", &c), "");
    CHECK_STREQ(role_of("{\"exp\":1}", &c), "");
    snprintf(j, sizeof(j), "{\"exp\":1,\"role\":\"%s\"}",
             "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"); /* 32: kept */
    CHECK(strlen(role_of(j, &c)) == NK_JWT_ROLE_MAX);
    snprintf(j, sizeof(j), "{\"exp\":1,\"role\":\"%s\"}",
             "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"); /* 33: none, never cut */
    CHECK_STREQ(role_of(j, &c), "");
    /* a rejected payload hands nothing back */
    CHECK_STREQ(role_of("{\"role\":\"admin\",\"role\":\"x\"}", &c),
                "(rejected)");
    CHECK_STREQ(c.role, "");
}

int
main(void)
{
    key256 = nk_hmac_key_new(NK_JWT_HS256,
                             (const unsigned char *)"unit-test-key-256-"
                                                    "0123456789abcdef",
                             34);
    key512 = nk_hmac_key_new(NK_JWT_HS512,
                             (const unsigned char *)"unit-test-key-512", 17);
    test_names();
    test_hmac();
    test_hmac_first_block();
    test_rfc7515();
    test_reasons();
    test_memo();
    test_claims();
    test_claims_role();
    nk_hmac_key_free(key256);
    nk_hmac_key_free(key512);
    return unit_report();
}
