/*
 * nk_jwt.c — compact JWS signing and strict verification, and HMAC keys
 * with precomputed pads (pure C + libcrypto; contract in nk_jwt.h). JSON is
 * read by nk_jsonscan.c; a key's quality is judged by nk_secret.c.
 */
#include "nk_jwt.h"
#include "nk_base64url.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The MAC of every request runs on OpenSSL's SHA-2 functions (SHA256_Init
 * and kin), whose state is a plain struct: a keyed prefix state is copied
 * by assignment. Through EVP, each copy of a digest state allocates and
 * frees a provider context (OpenSSL 3.0's EVP_MD_CTX_copy_ex): about an
 * eighth of a token's MAC time. OpenSSL 3 deprecates these functions; where
 * they are gone (a build without deprecated APIs, or NK_HMAC_EVP defined:
 * the unit tests build both) the EVP path below is used instead.
 */
#if !defined(NK_HMAC_EVP)
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h>

#if !defined(NK_HMAC_EVP) && !defined(OPENSSL_NO_DEPRECATED_3_0) &&            \
    OPENSSL_VERSION_MAJOR < 4
#define NK_HMAC_SHA_STRUCT 1
#endif

#ifdef NK_HMAC_SHA_STRUCT
typedef union sha_state {
    SHA256_CTX s256;
    SHA512_CTX s512; /* SHA-384 too */
} sha_state;
#endif

struct nk_hmac_key {
    nk_jwt_alg alg;
    size_t mac_len;
#ifdef NK_HMAC_SHA_STRUCT
    sha_state inner; /* state after absorbing key ^ ipad */
    sha_state outer; /* state after absorbing key ^ opad */
    /*
     * The inner state after the first block of the last message as well:
     * the tokens of one signer begin with the same header bytes, so their
     * MACs share that block (one compression of four or five).
     */
    sha_state inner_first;
    unsigned char first[128];
    size_t first_len; /* 0: none yet; else the hash's block size */
#else
    EVP_MD_CTX *inner; /* state after absorbing key ^ ipad */
    EVP_MD_CTX *outer; /* state after absorbing key ^ opad */
    EVP_MD_CTX *work;  /* scratch for one MAC */
#endif
};

typedef struct header_info {
    int bad;
    int has_alg;
    nk_jwt_alg alg;
    int crit;
    const char *kid;
    size_t kid_len;
} header_info;

typedef struct claims_info {
    int bad;
    nk_json_kind iss_kind, aud_kind;
    const char *iss, *aud;
    size_t iss_len, aud_len;
    int has_iss, has_aud;
    nk_jwt_claims *c;
} claims_info;

static const EVP_MD *alg_md(nk_jwt_alg alg);
static int hmac_state_new(nk_hmac_key *k);
static int hmac_prefix(nk_hmac_key *k, const EVP_MD *md,
                       const unsigned char *ipad, const unsigned char *opad,
                       size_t block);
static inline int key_is(const nk_json_member *m, const char *name, size_t n);
static int header_member(void *arg, const nk_json_member *m);
static int claims_member(void *arg, const nk_json_member *m);
static int number_value(const nk_json_member *m, double *out);
static int copy_id(const nk_json_member *m, char *out, size_t *len);
static int aud_element(void *arg, const nk_json_member *m);
static int aud_contains(const char *raw, size_t len, nk_json_kind kind,
                        const char *want);
static nk_jwt_reason finish(nk_jwt_result *res, nk_jwt_reason r);
static nk_jwt_reason parse_header(const char *b64, size_t len,
                                  unsigned char *buf, nk_jwt_alg *alg,
                                  char *kid, size_t *kid_len);

const nk_json_limits nk_jwt_json_limits = {
    .max_depth = NK_JWT_JSON_MAX_DEPTH,
    .max_members = NK_JWT_JSON_MAX_KEYS,
    .max_string = (size_t)-1,
    .max_values = (size_t)-1,
};

static const char *const reason_names[NK_JWT_REASON_COUNT] = {
    "ok",
    "malformed",
    "token_too_large",
    "alg_not_allowed",
    "bad_signature",
    "unknown_kid",
    "token_expired",
    "token_not_yet_valid",
    "token_issued_in_future",
    "missing_exp",
    "bad_issuer",
    "bad_audience",
    "unsupported_crit",
    "revoked",
    "exp_too_far",
    "bad_numeric_date",
};

const char *
nk_jwt_reason_name(nk_jwt_reason r)
{
    if ((int)r < 0 || r >= NK_JWT_REASON_COUNT)
        return "malformed";
    return reason_names[r];
}

/* ---- algorithms and keys ----------------------------------------------- */

nk_jwt_alg
nk_jwt_alg_from_name(const char *name, size_t len)
{
    if (len != 5 || memcmp(name, "HS", 2) != 0)
        return NK_JWT_ALG_INVALID;
    if (memcmp(name + 2, "256", 3) == 0)
        return NK_JWT_HS256;
    if (memcmp(name + 2, "384", 3) == 0)
        return NK_JWT_HS384;
    if (memcmp(name + 2, "512", 3) == 0)
        return NK_JWT_HS512;
    return NK_JWT_ALG_INVALID;
}

const char *
nk_jwt_alg_name(nk_jwt_alg alg)
{
    switch (alg) {
    case NK_JWT_HS256:
        return "HS256";
    case NK_JWT_HS384:
        return "HS384";
    case NK_JWT_HS512:
        return "HS512";
    default:
        return NULL;
    }
}

size_t
nk_jwt_alg_mac_len(nk_jwt_alg alg)
{
    switch (alg) {
    case NK_JWT_HS256:
        return 32;
    case NK_JWT_HS384:
        return 48;
    case NK_JWT_HS512:
        return 64;
    default:
        return 0;
    }
}

static const EVP_MD *
alg_md(nk_jwt_alg alg)
{
    switch (alg) {
    case NK_JWT_HS256:
        return EVP_sha256();
    case NK_JWT_HS384:
        return EVP_sha384();
    case NK_JWT_HS512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

/*
 * HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)). The two prefix states
 * depend on the key only, so they are hashed once here and copied per MAC:
 * that halves the work for short tokens and skips OpenSSL's per-call
 * algorithm fetch.
 */
nk_hmac_key *
nk_hmac_key_new(nk_jwt_alg alg, const unsigned char *key, size_t key_len)
{
    const EVP_MD *md = alg_md(alg);
    unsigned char k0[128], ipad[128], opad[128];
    size_t block, i;
    unsigned int dlen = 0;
    nk_hmac_key *k;
    int ok = 0;

    if (md == NULL || (key == NULL && key_len > 0))
        return NULL;
    block = (size_t)EVP_MD_get_block_size(md);
    if (block > sizeof(k0))
        return NULL;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->alg = alg;
    k->mac_len = nk_jwt_alg_mac_len(alg);
    memset(k0, 0, sizeof(k0));
    if (hmac_state_new(k)) {
        if (key_len > block)
            ok = EVP_Digest(key, key_len, k0, &dlen, md, NULL);
        else {
            if (key_len > 0)
                memcpy(k0, key, key_len);
            ok = 1;
        }
    }
    if (ok) {
        for (i = 0; i < block; i++) {
            ipad[i] = k0[i] ^ 0x36;
            opad[i] = k0[i] ^ 0x5c;
        }
        ok = hmac_prefix(k, md, ipad, opad, block);
    }
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    if (!ok) {
        nk_hmac_key_free(k);
        return NULL;
    }
    return k;
}

void
nk_hmac_key_free(nk_hmac_key *k)
{
    if (k == NULL)
        return;
#ifndef NK_HMAC_SHA_STRUCT
    /* EVP_MD_CTX_free cleanses the digest state (the keyed pads). */
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
#endif
    /* the keyed prefix states, when held in k */
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

nk_jwt_alg
nk_hmac_key_alg(const nk_hmac_key *k)
{
    return k ? k->alg : NK_JWT_ALG_INVALID;
}

#ifdef NK_HMAC_SHA_STRUCT
static int
hmac_state_new(nk_hmac_key *k)
{
    (void)k; /* the states live in k */
    return 1;
}

static int
sha_update(nk_jwt_alg alg, sha_state *st, const unsigned char *data, size_t len)
{
    switch (alg) {
    case NK_JWT_HS256:
        return SHA256_Update(&st->s256, data, len);
    case NK_JWT_HS384:
        return SHA384_Update(&st->s512, data, len);
    case NK_JWT_HS512:
        return SHA512_Update(&st->s512, data, len);
    default:
        return 0;
    }
}

/* A fresh state of alg's hash that has absorbed block[0..len). */
static int
sha_absorb(nk_jwt_alg alg, sha_state *st, const unsigned char *block,
           size_t len)
{
    int ok = alg == NK_JWT_HS256   ? SHA256_Init(&st->s256)
             : alg == NK_JWT_HS384 ? SHA384_Init(&st->s512)
             : alg == NK_JWT_HS512 ? SHA512_Init(&st->s512)
                                   : 0;

    return ok && sha_update(alg, st, block, len);
}

static int
hmac_prefix(nk_hmac_key *k, const EVP_MD *md, const unsigned char *ipad,
            const unsigned char *opad, size_t block)
{
    (void)md;
    return sha_absorb(k->alg, &k->inner, ipad, block) &&
           sha_absorb(k->alg, &k->outer, opad, block);
}

/* H(state || data) into out: the hash's full output. */
static int
sha_finish(nk_jwt_alg alg, sha_state *st, const unsigned char *data, size_t len,
           unsigned char *out)
{
    if (!sha_update(alg, st, data, len))
        return 0;
    switch (alg) {
    case NK_JWT_HS256:
        return SHA256_Final(out, &st->s256);
    case NK_JWT_HS384:
        return SHA384_Final(out, &st->s512);
    case NK_JWT_HS512:
        return SHA512_Final(out, &st->s512);
    default:
        return 0;
    }
}

/*
 * *work := the inner state after data's first block, from k's memory when
 * that block is the one seen last; returns the bytes consumed (0: data is
 * shorter than a block, *work is the bare inner state), or -1.
 */
static long
inner_after_first_block(nk_hmac_key *k, const unsigned char *data, size_t len,
                        sha_state *work)
{
    size_t block = k->alg == NK_JWT_HS256 ? 64 : 128;

    *work = k->inner;
    if (len < block)
        return 0;
    /* the message is no secret: an ordinary compare will do */
    if (k->first_len == block && memcmp(k->first, data, block) == 0) {
        *work = k->inner_first;
        return (long)block;
    }
    k->first_len = 0;
    if (!sha_update(k->alg, work, data, block))
        return -1;
    k->inner_first = *work;
    memcpy(k->first, data, block);
    k->first_len = block;
    return (long)block;
}

size_t
nk_hmac_key_mac(nk_hmac_key *k, const unsigned char *data, size_t len,
                unsigned char *out)
{
    unsigned char ih[NK_JWT_MAX_MAC];
    sha_state work;
    long done;
    int ok;

    if (k == NULL)
        return 0;
    done = inner_after_first_block(k, data, len, &work);
    ok = done >= 0 &&
         sha_finish(k->alg, &work, data + done, len - (size_t)done, ih);
    work = k->outer;
    ok = ok && sha_finish(k->alg, &work, ih, k->mac_len, out);
    OPENSSL_cleanse(ih, sizeof(ih));
    OPENSSL_cleanse(&work, sizeof(work));
    return ok ? k->mac_len : 0;
}
#else
static int
hmac_state_new(nk_hmac_key *k)
{
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    k->work = EVP_MD_CTX_new();
    return k->inner && k->outer && k->work;
}

static int
hmac_prefix(nk_hmac_key *k, const EVP_MD *md, const unsigned char *ipad,
            const unsigned char *opad, size_t block)
{
    return EVP_DigestInit_ex(k->inner, md, NULL) &&
           EVP_DigestUpdate(k->inner, ipad, block) &&
           EVP_DigestInit_ex(k->outer, md, NULL) &&
           EVP_DigestUpdate(k->outer, opad, block);
}

size_t
nk_hmac_key_mac(nk_hmac_key *k, const unsigned char *data, size_t len,
                unsigned char *out)
{
    unsigned char ih[NK_JWT_MAX_MAC];
    unsigned int n = 0, n2 = 0;
    int ok;

    if (k == NULL)
        return 0;
    ok = EVP_MD_CTX_copy_ex(k->work, k->inner) &&
         EVP_DigestUpdate(k->work, data, len) &&
         EVP_DigestFinal_ex(k->work, ih, &n) &&
         EVP_MD_CTX_copy_ex(k->work, k->outer) &&
         EVP_DigestUpdate(k->work, ih, n) &&
         EVP_DigestFinal_ex(k->work, out, &n2);
    OPENSSL_cleanse(ih, sizeof(ih));
    return ok ? (size_t)n2 : 0;
}
#endif

size_t
nk_jwt_hmac(nk_jwt_alg alg, const unsigned char *key, size_t key_len,
            const unsigned char *data, size_t len, unsigned char *out)
{
    nk_hmac_key *k = nk_hmac_key_new(alg, key, key_len);
    size_t n = nk_hmac_key_mac(k, data, len, out);

    nk_hmac_key_free(k);
    return n;
}

/* ---- signing ------------------------------------------------------------ */

size_t
nk_jwt_signed_size(nk_jwt_alg alg, size_t header_len, size_t payload_len)
{
    return nk_b64url_encoded_len(header_len) + 1 +
           nk_b64url_encoded_len(payload_len) + 1 +
           nk_b64url_encoded_len(nk_jwt_alg_mac_len(alg)) + 1;
}

size_t
nk_jwt_sign(nk_hmac_key *k, const char *header, size_t header_len,
            const char *payload, size_t payload_len, char *out, size_t out_size)
{
    unsigned char mac[NK_JWT_MAX_MAC];
    size_t o, n, maclen;

    if (k == NULL ||
        out_size < nk_jwt_signed_size(k->alg, header_len, payload_len))
        return 0;
    o = nk_b64url_encode(out, out_size, (const unsigned char *)header,
                         header_len);
    out[o++] = '.';
    o += nk_b64url_encode(out + o, out_size - o, (const unsigned char *)payload,
                          payload_len);
    maclen = nk_hmac_key_mac(k, (const unsigned char *)out, o, mac);
    if (maclen == 0)
        return 0;
    out[o++] = '.';
    n = nk_b64url_encode(out + o, out_size - o, mac, maclen);
    OPENSSL_cleanse(mac, sizeof(mac));
    o += n;
    out[o] = '\0';
    return o;
}

/* ---- strict verification ------------------------------------------------ */

/* Literal names only (the length is taken with sizeof). */
#define KEY_IS(m, lit) key_is((m), (lit), sizeof(lit) - 1)

/* Inline: with n a constant, the compiler compares the few bytes itself. */
static inline int
key_is(const nk_json_member *m, const char *name, size_t n)
{
    if (!m->key_escaped)
        return m->key_len == n && memcmp(m->key, name, n) == 0;
    return nk_json_str_equal(m->key, m->key_len, name, n);
}

static int
header_member(void *arg, const nk_json_member *m)
{
    header_info *h = arg;

    if (KEY_IS(m, "alg")) {
        char name[8];

        h->has_alg = 1;
        if (m->kind != NK_JSON_STRING)
            h->bad = 1;
        else if (nk_json_unescape(m->val, m->val_len, name, sizeof(name)) !=
                 (size_t)-1)
            h->alg = nk_jwt_alg_from_name(name, strlen(name));
    } else if (KEY_IS(m, "kid")) {
        if (m->kind != NK_JSON_STRING)
            h->bad = 1;
        h->kid = m->val;
        h->kid_len = m->val_len;
    } else if (KEY_IS(m, "crit"))
        h->crit = 1;
    /* jku, x5u, jwk, x5c: ignored, never fetched nor trusted. */
    return 0;
}

/* A NumericDate: a JSON number (fractions allowed). */
static int
number_value(const nk_json_member *m, double *out)
{
    char buf[64];
    uint64_t v = 0;
    size_t i;

    if (m->kind != NK_JSON_NUMBER || m->val_len >= sizeof(buf))
        return -1;
    /* Plain non-negative integers (every NumericDate we issue) directly,
     * in integer arithmetic (exact below 10^15, and no chain of dependent
     * floating-point multiplies). */
    for (i = 0; i < m->val_len && i < 15; i++) {
        if (m->val[i] < '0' || m->val[i] > '9')
            break;
        v = v * 10 + (uint64_t)(m->val[i] - '0');
    }
    if (i == m->val_len) {
        *out = (double)v;
        return 0;
    }
    memcpy(buf, m->val, m->val_len);
    buf[m->val_len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

static int
copy_id(const nk_json_member *m, char *out, size_t *len)
{
    if (m->kind != NK_JSON_STRING)
        return -1;
    *len = nk_json_unescape(m->val, m->val_len, out, NK_JWT_ID_MAX + 1);
    if (*len == (size_t)-1) {
        *len = 0;
        return -1;
    }
    return 0;
}

static int
claims_member(void *arg, const nk_json_member *m)
{
    claims_info *c = arg;

    if (KEY_IS(m, "exp")) {
        c->c->has_exp = 1;
        c->bad |= number_value(m, &c->c->exp) != 0;
    } else if (KEY_IS(m, "nbf")) {
        c->c->has_nbf = 1;
        c->bad |= number_value(m, &c->c->nbf) != 0;
    } else if (KEY_IS(m, "iat")) {
        c->c->has_iat = 1;
        c->bad |= number_value(m, &c->c->iat) != 0;
    } else if (KEY_IS(m, "iss")) {
        c->has_iss = 1;
        c->iss_kind = m->kind;
        c->iss = m->val;
        c->iss_len = m->val_len;
    } else if (KEY_IS(m, "aud")) {
        c->has_aud = 1;
        c->aud_kind = m->kind;
        c->aud = m->val;
        c->aud_len = m->val_len;
    } else if (KEY_IS(m, "jti"))
        c->bad |= copy_id(m, c->c->jti, &c->c->jti_len) != 0;
    else if (KEY_IS(m, "sub"))
        c->bad |= copy_id(m, c->c->sub, &c->c->sub_len) != 0;
    else if (KEY_IS(m, "role") && m->kind == NK_JSON_STRING) {
        c->c->role_len = nk_json_unescape(m->val, m->val_len, c->c->role,
                                          NK_JWT_ROLE_MAX + 1);
        if (c->c->role_len == (size_t)-1) {
            /* too long: no role, never a cut one */
            c->c->role[0] = '\0';
            c->c->role_len = 0;
        }
    }
    return 0;
}

typedef struct aud_want {
    const char *want;
    size_t len;
    int found;
} aud_want;

static int
aud_element(void *arg, const nk_json_member *m)
{
    aud_want *w = arg;

    if (m->kind == NK_JSON_STRING &&
        nk_json_str_equal(m->val, m->val_len, w->want, w->len))
        w->found = 1;
    return 0;
}

/* "aud" is one string or an array of strings (RFC 7519 section 4.1.3). */
static int
aud_contains(const char *raw, size_t len, nk_json_kind kind, const char *want)
{
    aud_want w = {want, strlen(want), 0};

    if (kind == NK_JSON_STRING)
        return nk_json_str_equal(raw, len, w.want, w.len);
    if (kind != NK_JSON_ARRAY)
        return 0;
    /* already scanned as part of the claims: this walk cannot fail */
    nk_json_scan_array(raw, len, &nk_jwt_json_limits, aud_element, &w);
    return w.found;
}

static nk_jwt_reason
finish(nk_jwt_result *res, nk_jwt_reason r)
{
    res->reason = r;
    if (r != NK_JWT_OK && r != NK_JWT_REVOKED) {
        /* Nothing of a rejected token's claims is handed back. */
        res->jti[0] = res->sub[0] = '\0';
    }
    return r;
}

/*
 * A NumericDate this service could have issued: a finite number of seconds
 * since the epoch, not before it. Fractions are allowed (RFC 7519 § 2).
 */
static int
plausible_date(double t)
{
    return isfinite(t) && t >= 0;
}

nk_jwt_reason
nk_jwt_check_claims(const nk_jwt_claims *c, const nk_jwt_policy *pol)
{
    if (!c->has_exp)
        return NK_JWT_MISSING_EXP;
    if (!plausible_date(c->exp) || (c->has_nbf && !plausible_date(c->nbf)) ||
        (c->has_iat && !plausible_date(c->iat)))
        return NK_JWT_BAD_NUMERIC_DATE;
    if (!(pol->now < c->exp + pol->leeway))
        return NK_JWT_TOKEN_EXPIRED;
    if (c->has_nbf && pol->now + pol->leeway < c->nbf)
        return NK_JWT_TOKEN_NOT_YET_VALID;
    if (c->has_iat && c->iat > pol->now + pol->leeway)
        return NK_JWT_TOKEN_ISSUED_IN_FUTURE;
    /* a token valid now that outlives every token issued was not issued
     * here (checked after nbf: one not valid yet says so first) */
    if (pol->max_lifetime > 0 &&
        c->exp > pol->now + pol->max_lifetime + pol->leeway)
        return NK_JWT_EXP_TOO_FAR;
    if (!c->iss_ok)
        return NK_JWT_BAD_ISSUER;
    if (!c->aud_ok)
        return NK_JWT_BAD_AUDIENCE;
    return NK_JWT_OK;
}

/*
 * Empties c: every scalar zero, every string "" (their tails are never
 * read). Cheaper than a memset of its 550 bytes, on every new token.
 */
static void
claims_clear(nk_jwt_claims *c)
{
    c->has_exp = c->has_nbf = c->has_iat = 0;
    c->exp = c->nbf = c->iat = 0.0;
    c->iss_ok = c->aud_ok = 0;
    c->jti[0] = c->sub[0] = c->role[0] = '\0';
    c->jti_len = c->sub_len = c->role_len = 0;
}

nk_jwt_reason
nk_jwt_parse_claims(const char *json, size_t len, const nk_jwt_policy *pol,
                    nk_jwt_claims *c)
{
    claims_info ci;

    claims_clear(c);
    memset(&ci, 0, sizeof(ci));
    ci.c = c;
    if (nk_json_scan_object(json, len, &nk_jwt_json_limits, claims_member,
                            &ci) != NK_JSON_OK ||
        ci.bad) {
        claims_clear(c);
        return NK_JWT_MALFORMED;
    }
    c->iss_ok = pol->issuer == NULL ||
                (ci.has_iss && ci.iss_kind == NK_JSON_STRING &&
                 nk_json_str_equal(ci.iss, ci.iss_len, pol->issuer,
                                   strlen(pol->issuer)));
    c->aud_ok = pol->audience == NULL ||
                (ci.has_aud &&
                 aud_contains(ci.aud, ci.aud_len, ci.aud_kind, pol->audience));
    return NK_JWT_OK;
}

/* Decodes and judges a header segment; kid gets the decoded kid. */
static nk_jwt_reason
parse_header(const char *b64, size_t len, unsigned char *buf, nk_jwt_alg *alg,
             char *kid, size_t *kid_len)
{
    header_info h;
    size_t hdec;

    if (nk_b64url_decode_strict(buf, NK_JWT_SCRATCH, &hdec, b64, len) !=
        NK_B64_OK)
        return NK_JWT_MALFORMED;
    memset(&h, 0, sizeof(h));
    if (nk_json_scan_object((const char *)buf, hdec, &nk_jwt_json_limits,
                            header_member, &h) != 0 ||
        h.bad || !h.has_alg)
        return NK_JWT_MALFORMED;
    if (h.crit)
        return NK_JWT_UNSUPPORTED_CRIT;
    if (h.alg == NK_JWT_ALG_INVALID)
        return NK_JWT_ALG_NOT_ALLOWED;
    if (h.kid == NULL)
        return NK_JWT_UNKNOWN_KID;
    *kid_len = nk_json_unescape(h.kid, h.kid_len, kid, NK_JWT_ID_MAX + 1);
    if (*kid_len == (size_t)-1)
        return NK_JWT_UNKNOWN_KID;
    *alg = h.alg;
    return NK_JWT_OK;
}

/*
 * Empties res: every scalar zero, every string "". Cheaper than a memset
 * of its three 256-byte strings, on the path every request takes.
 */
static void
result_clear(nk_jwt_result *res)
{
    res->reason = NK_JWT_OK;
    res->kid[0] = res->jti[0] = res->sub[0] = '\0';
    res->has_iat = 0;
    res->iat = res->exp = 0.0;
    res->sig_head = 0;
    res->payload = NULL;
    res->payload_len = 0;
}

nk_jwt_reason
nk_jwt_verify_signature(const char *token, size_t len, nk_jwt_key_lookup lookup,
                        void *lookup_arg, nk_jwt_header_memo *memo,
                        unsigned char *scratch, const char **payload_b64,
                        size_t *payload_b64_len, nk_jwt_result *res)
{
    const char *dot1, *dot2;
    size_t hlen, plen, slen, sdec, maclen, kl = 0;
    unsigned char *hbuf = scratch, *sbuf;
    unsigned char mac[NK_JWT_MAX_MAC];
    char kid[NK_JWT_ID_MAX + 1];
    nk_jwt_alg alg;
    nk_hmac_key *key;
    int sig_ok;

    result_clear(res);
    if (len > NK_JWT_MAX_TOKEN)
        return finish(res, NK_JWT_TOKEN_TOO_LARGE);
    dot1 = token ? memchr(token, '.', len) : NULL;
    if (dot1 == NULL)
        return finish(res, NK_JWT_MALFORMED);
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        return finish(res, NK_JWT_MALFORMED);
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);
    slen = len - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || plen == 0)
        return finish(res, NK_JWT_MALFORMED);

    /* Header: JSON object, known alg, no crit, a kid we hold. */
    if (memo != NULL && memo->len == hlen &&
        memcmp(memo->b64, token, hlen) == 0) {
        /* The same bytes parse the same: reuse the last good verdict. */
        alg = memo->alg;
        kl = memo->kid_len;
        memcpy(kid, memo->kid, kl + 1);
    } else {
        nk_jwt_reason r = parse_header(token, hlen, hbuf, &alg, kid, &kl);

        if (r != NK_JWT_OK)
            return finish(res, r);
        if (memo != NULL && hlen <= sizeof(memo->b64)) {
            memcpy(memo->b64, token, hlen);
            memo->len = hlen;
            memo->alg = alg;
            memcpy(memo->kid, kid, kl + 1);
            memo->kid_len = kl;
        }
    }
    key = lookup(lookup_arg, kid, kl);
    if (key == NULL)
        return finish(res, NK_JWT_UNKNOWN_KID);
    memcpy(res->kid, kid, kl + 1);
    /* The key decides the algorithm; a header that disagrees is refused. */
    if (nk_hmac_key_alg(key) != alg)
        return finish(res, NK_JWT_ALG_NOT_ALLOWED);

    /* Signature over the exact bytes received, compared in constant time. */
    sbuf = scratch;
    if (nk_b64url_decode_strict(sbuf, NK_JWT_SCRATCH, &sdec, dot2 + 1, slen) !=
        NK_B64_OK)
        return finish(res, NK_JWT_MALFORMED);
    maclen = nk_hmac_key_mac(key, (const unsigned char *)token,
                             (size_t)(dot2 - token), mac);
    sig_ok =
        maclen != 0 && sdec == maclen && CRYPTO_memcmp(mac, sbuf, maclen) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    if (!sig_ok)
        return finish(res, NK_JWT_BAD_SIGNATURE);
    /* A MAC is uniformly distributed: callers may hash tokens by it. */
    res->sig_head = ((unsigned int)sbuf[0] << 24) |
                    ((unsigned int)sbuf[1] << 16) |
                    ((unsigned int)sbuf[2] << 8) | sbuf[3];
    *payload_b64 = dot1 + 1;
    *payload_b64_len = plen;
    return NK_JWT_OK;
}

nk_jwt_reason
nk_jwt_verify(const char *token, size_t len, const nk_jwt_policy *pol,
              nk_jwt_key_lookup lookup, void *lookup_arg,
              unsigned char *scratch, nk_jwt_result *res)
{
    const char *p64;
    size_t p64_len, pdec;
    unsigned char *pbuf;
    nk_jwt_claims c;
    nk_jwt_reason r;

    r = nk_jwt_verify_signature(token, len, lookup, lookup_arg, NULL, scratch,
                                &p64, &p64_len, res);
    if (r != NK_JWT_OK)
        return r;
    /* Payload: parsed only once the signature holds. The header's decoded
     * bytes at the start of scratch are no longer needed. */
    pbuf = scratch;
    if (nk_b64url_decode_strict(pbuf, NK_JWT_SCRATCH, &pdec, p64, p64_len) !=
            NK_B64_OK ||
        nk_jwt_parse_claims((const char *)pbuf, pdec, pol, &c) != NK_JWT_OK)
        return finish(res, NK_JWT_MALFORMED);
    memcpy(res->jti, c.jti, sizeof(res->jti));
    memcpy(res->sub, c.sub, sizeof(res->sub));
    res->has_iat = c.has_iat;
    res->iat = c.iat;
    res->exp = c.exp;
    res->payload = (const char *)pbuf;
    res->payload_len = pdec;
    return finish(res, nk_jwt_check_claims(&c, pol));
}
