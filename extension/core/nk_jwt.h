/*
 * nk_jwt.h — compact JWS (JWT) signing and strict verification (pure C).
 *
 * HMAC-SHA256/384/512 through OpenSSL, canonical base64url only
 * (nk_base64url.h), the strict JSON scanner of nk_jsonscan.h (no duplicate
 * keys at any depth, valid UTF-8, no \u0000, paired surrogates, bounded
 * depth and exponents, so that whatever passes is also accepted by
 * PostgreSQL's jsonb input), and the claim checks of RFC 7519 against an
 * injected clock.
 *
 * The verifier never trusts the token's header for the algorithm: the key
 * found by "kid" decides, and a header "alg" that differs is rejected. It
 * never follows jku/x5u/jwk; any "crit" is rejected (no extension is
 * understood). Each rejection is one nk_jwt_reason with a stable name.
 *
 * Ownership: every output goes into caller-provided buffers; the only heap
 * object is nk_hmac_key (nk_hmac_key_new / nk_hmac_key_free, which wipes
 * it). An nk_hmac_key carries working state (the first block of the last
 * message MAC'd, too), so it is not safe to use one key object from two
 * threads at once.
 */
#ifndef NK_JWT_H
#define NK_JWT_H

#include "nk_jsonscan.h"

#include <stddef.h>

/* Tokens longer than this are refused before any parsing. */
#define NK_JWT_MAX_TOKEN 8192
/* Scratch a verifier call needs (decoded header + payload + signature). */
#define NK_JWT_SCRATCH NK_JWT_MAX_TOKEN
/* Longest kid / jti / sub the verifier hands back (longer: malformed). */
#define NK_JWT_ID_MAX 255
/* Longest "role" claim handed on (roles are short names: user, admin). */
#define NK_JWT_ROLE_MAX 32
/* Largest HMAC output (SHA-512). */
#define NK_JWT_MAX_MAC 64
/* JSON limits of the scanner. */
#define NK_JWT_JSON_MAX_DEPTH 32
#define NK_JWT_JSON_MAX_KEYS 128

typedef enum nk_jwt_reason {
    NK_JWT_OK = 0,
    NK_JWT_MALFORMED,
    NK_JWT_TOKEN_TOO_LARGE,
    NK_JWT_ALG_NOT_ALLOWED,
    NK_JWT_BAD_SIGNATURE,
    NK_JWT_UNKNOWN_KID,
    NK_JWT_TOKEN_EXPIRED,
    NK_JWT_TOKEN_NOT_YET_VALID,
    NK_JWT_TOKEN_ISSUED_IN_FUTURE,
    NK_JWT_MISSING_EXP,
    NK_JWT_BAD_ISSUER,
    NK_JWT_BAD_AUDIENCE,
    NK_JWT_UNSUPPORTED_CRIT,
    NK_JWT_REVOKED,
    NK_JWT_EXP_TOO_FAR,      /* exp beyond the longest lifetime issued */
    NK_JWT_BAD_NUMERIC_DATE, /* exp/nbf/iat negative or not finite */
    NK_JWT_REASON_COUNT
} nk_jwt_reason;

/* "ok", "malformed", "token_too_large" ... — stable, used in APIs/metrics. */
const char *nk_jwt_reason_name(nk_jwt_reason r);

typedef enum nk_jwt_alg {
    NK_JWT_ALG_INVALID = 0,
    NK_JWT_HS256,
    NK_JWT_HS384,
    NK_JWT_HS512
} nk_jwt_alg;

/* Exact, case-sensitive match of "HS256" / "HS384" / "HS512". */
nk_jwt_alg nk_jwt_alg_from_name(const char *name, size_t len);
const char *nk_jwt_alg_name(nk_jwt_alg alg);
/* Output length of the algorithm's HMAC (32/48/64), 0 when invalid. */
size_t nk_jwt_alg_mac_len(nk_jwt_alg alg);

/* ---- HMAC keys --------------------------------------------------------- */

typedef struct nk_hmac_key nk_hmac_key;

/*
 * Precomputes the inner and outer hash states of HMAC for key[0..key_len),
 * so each MAC costs only the message. NULL on a bad algorithm or when
 * OpenSSL fails. Free with nk_hmac_key_free (NULL accepted).
 */
nk_hmac_key *nk_hmac_key_new(nk_jwt_alg alg, const unsigned char *key,
                             size_t key_len);
void nk_hmac_key_free(nk_hmac_key *k);
nk_jwt_alg nk_hmac_key_alg(const nk_hmac_key *k);

/* MAC of data into out (>= NK_JWT_MAX_MAC bytes); returns its length or 0. */
size_t nk_hmac_key_mac(nk_hmac_key *k, const unsigned char *data, size_t len,
                       unsigned char *out);

/* One-shot HMAC (no precomputation); returns the length or 0. */
size_t nk_jwt_hmac(nk_jwt_alg alg, const unsigned char *key, size_t key_len,
                   const unsigned char *data, size_t len, unsigned char *out);

/* ---- signing ----------------------------------------------------------- */

/*
 * Builds base64url(header) "." base64url(payload) "." base64url(mac) into
 * out (room for out_size bytes, NUL-terminated). header and payload are
 * taken as given (the caller makes them JSON). Returns the token length, or
 * 0 when out is too small or the MAC failed.
 */
size_t nk_jwt_sign(nk_hmac_key *k, const char *header, size_t header_len,
                   const char *payload, size_t payload_len, char *out,
                   size_t out_size);

/* Room nk_jwt_sign needs for the given lengths (including the NUL). */
size_t nk_jwt_signed_size(nk_jwt_alg alg, size_t header_len,
                          size_t payload_len);

/* ---- strict verification ----------------------------------------------- */

typedef struct nk_jwt_policy {
    double now;           /* seconds since the epoch */
    double leeway;        /* seconds allowed on exp/nbf/iat */
    const char *issuer;   /* required "iss", or NULL for unchecked */
    const char *audience; /* required member of "aud", or NULL */
    /* the longest lifetime a token may have left: exp after now plus this
     * (and the leeway) is refused; 0 leaves exp unbounded */
    double max_lifetime;
} nk_jwt_policy;

/*
 * Finds the key for kid[0..kid_len) (decoded; never NUL-terminated), or
 * returns NULL when no usable key has that id.
 */
typedef nk_hmac_key *(*nk_jwt_key_lookup)(void *arg, const char *kid,
                                          size_t kid_len);

typedef struct nk_jwt_result {
    nk_jwt_reason reason;
    char kid[NK_JWT_ID_MAX + 1]; /* "" when absent or not reached */
    char jti[NK_JWT_ID_MAX + 1]; /* "" when absent */
    char sub[NK_JWT_ID_MAX + 1]; /* "" when absent */
    int has_iat;
    double iat, exp;
    unsigned int sig_head; /* first 4 bytes of a verified MAC (a hash key) */
    const char *payload;   /* decoded payload JSON (in scratch) when the */
    size_t payload_len;    /* signature was good, else NULL */
} nk_jwt_result;

/*
 * Verifies token[0..len) against the policy. scratch must have room for
 * NK_JWT_SCRATCH bytes (res->payload points into it). Fills res and returns
 * res->reason. The token is never copied into res.
 *
 * It is the composition of the three stages below, which a caller may run
 * separately to remember the parsed claims of a payload it has seen before
 * (the signature is still checked on every call).
 */
nk_jwt_reason nk_jwt_verify(const char *token, size_t len,
                            const nk_jwt_policy *pol, nk_jwt_key_lookup lookup,
                            void *lookup_arg, unsigned char *scratch,
                            nk_jwt_result *res);

/* The claims the verifier checks, parsed from a payload. */
typedef struct nk_jwt_claims {
    int has_exp, has_nbf, has_iat;
    double exp, nbf, iat;
    int iss_ok; /* "iss" equals pol->issuer (1 when no issuer is required) */
    int aud_ok; /* "aud" holds pol->audience (1 when none is required) */
    char jti[NK_JWT_ID_MAX + 1];
    char sub[NK_JWT_ID_MAX + 1];
    /* "role" when it is a string of at most NK_JWT_ROLE_MAX bytes, else "" */
    char role[NK_JWT_ROLE_MAX + 1];
    size_t jti_len, sub_len, role_len; /* strlen of each */
} nk_jwt_claims;

/*
 * The last good header segment and what it said (all tokens of one key
 * share their header bytes). Zero it before first use; owned by the caller.
 */
typedef struct nk_jwt_header_memo {
    size_t len; /* 0: empty */
    char b64[256];
    nk_jwt_alg alg;
    char kid[NK_JWT_ID_MAX + 1];
    size_t kid_len;
} nk_jwt_header_memo;

/*
 * Stage 1: size, shape, header (alg, kid, crit), key lookup and signature.
 * On NK_JWT_OK, *payload_b64 / *payload_b64_len give the payload segment
 * inside token, and res->kid is set. memo (may be NULL) skips decoding a
 * header whose exact bytes were judged good before; the key lookup, the
 * alg-against-key check and the signature are never skipped. scratch as for
 * nk_jwt_verify.
 */
nk_jwt_reason
nk_jwt_verify_signature(const char *token, size_t len, nk_jwt_key_lookup lookup,
                        void *lookup_arg, nk_jwt_header_memo *memo,
                        unsigned char *scratch, const char **payload_b64,
                        size_t *payload_b64_len, nk_jwt_result *res);

/*
 * Stage 2: parses a decoded payload (a strict JSON object) into claims,
 * judging iss/aud against pol. Returns NK_JWT_OK or NK_JWT_MALFORMED.
 */
nk_jwt_reason nk_jwt_parse_claims(const char *json, size_t len,
                                  const nk_jwt_policy *pol, nk_jwt_claims *c);

/* Stage 3: exp (required), nbf, iat against pol->now and pol->leeway, then
 * the iss/aud verdicts of stage 2. */
nk_jwt_reason nk_jwt_check_claims(const nk_jwt_claims *c,
                                  const nk_jwt_policy *pol);

/* The scanner's limits for token headers and claims (nk_jsonscan.h). */
extern const nk_json_limits nk_jwt_json_limits;

#endif
