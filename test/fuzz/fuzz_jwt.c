/*
 * fuzz_jwt.c — libFuzzer target for the token parser and verifier
 * (core/nk_jwt.c, core/nk_base64url.c).
 *
 * The input is a token. It goes through the strict verifier with a known
 * HS256 key (kid "k1"), so inputs that keep a valid signature reach the
 * payload parser too; the strict and lenient base64url decoders and the
 * JSON scanner also see the raw bytes. Properties checked besides memory
 * safety: a rejected token hands back no claims; the header memo never
 * changes a verdict; whatever the scanner accepts, unescape can decode;
 * strict decoding round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nk_base64url.h"
#include "nk_jwt.h"

static nk_hmac_key *key;
static nk_jwt_header_memo memo;

static nk_hmac_key *lookup(void *arg, const char *kid, size_t len);
static int member(void *arg, const nk_json_member *m);
static void check_base64(const uint8_t *data, size_t size);
static int count_member(void *arg, const nk_json_member *m);
static void check_claims_each(const uint8_t *data, size_t size,
                              const nk_jwt_policy *pol);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nk_hmac_key *
lookup(void *arg, const char *kid, size_t len)
{
    (void)arg;
    return (len == 2 && memcmp(kid, "k1", 2) == 0) ? key : NULL;
}

static int
member(void *arg, const nk_json_member *m)
{
    char out[NK_JWT_MAX_TOKEN * 4 + 1];

    (void)arg;
    if (nk_json_unescape(m->key, m->key_len, out, sizeof(out)) == (size_t)-1)
        abort();
    if (m->kind == NK_JSON_STRING &&
        nk_json_unescape(m->val, m->val_len, out, sizeof(out)) == (size_t)-1)
        abort();
    return 0;
}

static void
check_base64(const uint8_t *data, size_t size)
{
    static unsigned char dec[NK_JWT_MAX_TOKEN];
    static char enc[NK_JWT_MAX_TOKEN * 2];
    size_t n = 0, bad = 0;

    if (size > NK_JWT_MAX_TOKEN)
        return;
    if (nk_b64url_decode_strict(dec, sizeof(dec), &n, (const char *)data,
                                size) == NK_B64_OK) {
        /* Canonical: encoding the result gives back the input exactly. */
        if (nk_b64url_encode(enc, sizeof(enc), dec, n) != size ||
            memcmp(enc, data, size) != 0)
            abort();
    }
    nk_b64url_decode_lenient(dec, sizeof(dec), &n, (const char *)data, size,
                             size, &bad);
}

/*
 * The claims parser on any bytes: a rejected payload hands nothing back,
 * and an accepted role is never longer than NK_JWT_ROLE_MAX.
 */
static void
check_claims(const uint8_t *data, size_t size, const nk_jwt_policy *pol)
{
    nk_jwt_claims c;
    nk_jwt_reason r = nk_jwt_parse_claims((const char *)data, size, pol, &c);

    if (r != NK_JWT_OK && (c.sub[0] != '\0' || c.jti[0] != '\0' ||
                           c.role[0] != '\0' || c.has_exp))
        abort();
    if (strlen(c.role) > NK_JWT_ROLE_MAX)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char scratch[NK_JWT_SCRATCH];
    nk_jwt_policy pol = {1700000000.0, 30, "iss", "aud", 0};
    nk_jwt_result res;
    nk_jwt_reason r;

    if (key == NULL)
        key = nk_hmac_key_new(NK_JWT_HS256,
                              (const unsigned char *)"fuzz-key-0123456789-"
                                                     "abcdefghijklmnop",
                              36);
    r = nk_jwt_verify((const char *)data, size, &pol, lookup, NULL, scratch,
                      &res);
    if (r != NK_JWT_OK && (res.jti[0] != '\0' || res.sub[0] != '\0'))
        abort();
    if ((int)r < 0 || r >= NK_JWT_REASON_COUNT)
        abort();
    /* The header memo (kept across inputs) never changes a verdict. */
    {
        const char *seg;
        size_t seglen;
        nk_jwt_result res2;
        nk_jwt_reason s1 =
            nk_jwt_verify_signature((const char *)data, size, lookup, NULL,
                                    NULL, scratch, &seg, &seglen, &res2);
        nk_jwt_reason s2 =
            nk_jwt_verify_signature((const char *)data, size, lookup, NULL,
                                    &memo, scratch, &seg, &seglen, &res2);

        if (s1 != s2)
            abort();
    }
    nk_json_scan_object((const char *)data, size, &nk_jwt_json_limits, member,
                        NULL);
    check_claims(data, size, &pol);
    check_base64(data, size);
    return 0;
}
