/*
 * nk_jwt.c — compact JWS signing and strict verification, HMAC keys with
 * precomputed pads, the strict JSON object scanner and the secret-quality
 * check (pure C + libcrypto; contract in nk_jwt.h).
 */
#include "nk_jwt.h"
#include "nk_base64url.h"

#include <ctype.h>
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

typedef struct jscan {
    const char *s;
    size_t len;
    size_t pos;
} jscan;

typedef struct key_span {
    size_t start;
    size_t len;
    int escaped;
} key_span;

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
static inline void skip_ws(jscan *j);
static int scan_string(jscan *j, size_t *start, size_t *len, int *escaped);
static int scan_number(jscan *j);
static int scan_literal(jscan *j, const char *lit);
static int scan_value(jscan *j, int depth, nk_json_kind *kind);
static int scan_object(jscan *j, int depth, nk_json_member_cb cb, void *arg);
static int scan_array(jscan *j, int depth);
static int hex4(const char *p, uint32_t *out);
static uint32_t next_cp(const char *s, size_t *i);
static int json_str_equal(const char *a, size_t alen, const char *b,
                          size_t blen);
static inline int key_is(const nk_json_member *m, const char *name, size_t n);
static int header_member(void *arg, const nk_json_member *m);
static int claims_member(void *arg, const nk_json_member *m);
static int number_value(const nk_json_member *m, double *out);
static int copy_id(const nk_json_member *m, char *out, size_t *len);
static int aud_contains(const char *raw, size_t len, nk_json_kind kind,
                        const char *want);
static nk_jwt_reason finish(nk_jwt_result *res, nk_jwt_reason r);
static nk_jwt_reason parse_header(const char *b64, size_t len,
                                  unsigned char *buf, nk_jwt_alg *alg,
                                  char *kid, size_t *kid_len);
static int contains_nocase(const unsigned char *s, size_t len,
                           const char *needle);

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

/* ---- strict JSON scanner ------------------------------------------------ */

/* Inline, and a first byte above ' ' (the usual case) returns at once. */
static inline void
skip_ws(jscan *j)
{
    if (j->pos < j->len && (unsigned char)j->s[j->pos] > ' ')
        return;
    while (j->pos < j->len) {
        char c = j->s[j->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static int
hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return 0;
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* 1 for the bytes a string holds as they are: ASCII from ' ', but '"', '\\'. */
static const unsigned char plain_string_byte[256] = {
    [' '] = 1,
    ['!'] = 1,
    ['#' ... '['] = 1,
    [']' ... 0x7F] = 1,
};

/*
 * At '"': validates the string and leaves pos after the closing quote.
 * Rejects what PostgreSQL's jsonb input would reject (\u0000, unpaired
 * surrogates) so a scanned payload always converts to jsonb.
 */
static int
scan_string(jscan *j, size_t *start, size_t *len, int *escaped)
{
    size_t p = j->pos + 1;

    *escaped = 0;
    *start = p;
    while (p < j->len) {
        unsigned char c = (unsigned char)j->s[p];

        /* Most bytes of a claim are plain ASCII: one test each. */
        if (plain_string_byte[c]) {
            p++;
            continue;
        }
        if (c == '"') {
            *len = p - *start;
            j->pos = p + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            char e;

            *escaped = 1;
            if (p + 1 >= j->len)
                return -1;
            e = j->s[p + 1];
            if (e == 'u') {
                uint32_t cp, lo;

                if (p + 6 > j->len || hex4(j->s + p + 2, &cp) != 0)
                    return -1;
                if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                    return -1;
                p += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (p + 6 > j->len || j->s[p] != '\\' ||
                        j->s[p + 1] != 'u' || hex4(j->s + p + 2, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    p += 6;
                }
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0')
                return -1;
            p += 2;
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        {
            size_t n = utf8_seq((const unsigned char *)j->s + p, j->len - p);

            if (n == 0)
                return -1;
            p += n;
        }
    }
    return -1;
}

/* JSON's digits are ASCII whatever the locale, and no table is read. */
static inline int
ascii_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* RFC 8259 number; the exponent is kept within what numeric accepts. */
static int
scan_number(jscan *j)
{
    const char *s = j->s;
    size_t p = j->pos;
    long exp = 0;

    if (p < j->len && s[p] == '-')
        p++;
    if (p >= j->len)
        return -1;
    if (s[p] == '0')
        p++;
    else if (s[p] >= '1' && s[p] <= '9')
        while (p < j->len && ascii_digit(s[p]))
            p++;
    else
        return -1;
    if (p < j->len && s[p] == '.') {
        p++;
        if (p >= j->len || !ascii_digit(s[p]))
            return -1;
        while (p < j->len && ascii_digit(s[p]))
            p++;
    }
    if (p < j->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < j->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= j->len || !ascii_digit(s[p]))
            return -1;
        while (p < j->len && ascii_digit(s[p])) {
            if (exp <= 1000)
                exp = exp * 10 + (s[p] - '0');
            p++;
        }
        if (exp > 1000)
            return -1;
    }
    j->pos = p;
    return 0;
}

static int
scan_literal(jscan *j, const char *lit)
{
    size_t n = strlen(lit);

    if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0)
        return -1;
    j->pos += n;
    return 0;
}

/* At the first byte of a value (whitespace already skipped). */
static int
scan_value(jscan *j, int depth, nk_json_kind *kind)
{
    size_t st, ln;
    int esc;
    char c;

    if (j->pos >= j->len)
        return -1;
    c = j->s[j->pos];
    switch (c) {
    case '{':
        *kind = NK_JSON_OBJECT;
        return scan_object(j, depth + 1, NULL, NULL);
    case '[':
        *kind = NK_JSON_ARRAY;
        return scan_array(j, depth + 1);
    case '"':
        *kind = NK_JSON_STRING;
        return scan_string(j, &st, &ln, &esc);
    case 't':
        *kind = NK_JSON_TRUE;
        return scan_literal(j, "true");
    case 'f':
        *kind = NK_JSON_FALSE;
        return scan_literal(j, "false");
    case 'n':
        *kind = NK_JSON_NULL;
        return scan_literal(j, "null");
    default:
        *kind = NK_JSON_NUMBER;
        return scan_number(j);
    }
}

static int
scan_array(jscan *j, int depth)
{
    nk_json_kind kind;

    if (depth > NK_JWT_JSON_MAX_DEPTH)
        return -1;
    j->pos++; /* '[' */
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        skip_ws(j);
        if (scan_value(j, depth, &kind) != 0)
            return -1;
        skip_ws(j);
        if (j->pos >= j->len)
            return -1;
        if (j->s[j->pos] == ']') {
            j->pos++;
            return 0;
        }
        if (j->s[j->pos] != ',')
            return -1;
        j->pos++;
    }
}

/*
 * At '{'. Keys of this object are remembered (up to NK_JWT_JSON_MAX_KEYS)
 * to refuse duplicates: a verifier and a consumer that disagree on which
 * duplicate wins is a classic JWT confusion.
 */
static int
scan_object(jscan *j, int depth, nk_json_member_cb cb, void *arg)
{
    key_span keys[NK_JWT_JSON_MAX_KEYS];
    int nkeys = 0, i;

    if (depth > NK_JWT_JSON_MAX_DEPTH)
        return -1;
    j->pos++; /* '{' */
    skip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
        return 0;
    }
    for (;;) {
        nk_json_member m;
        key_span *k;
        size_t vstart;

        skip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != '"')
            return -1;
        if (nkeys >= NK_JWT_JSON_MAX_KEYS)
            return -1;
        /* Scanned straight into its slot: no copy of a just-stored span. */
        k = &keys[nkeys];
        if (scan_string(j, &k->start, &k->len, &k->escaped) != 0)
            return -1;
        for (i = 0; i < nkeys; i++) {
            const key_span *o = &keys[i];

            if (!o->escaped && !k->escaped) {
                /* First bytes first: most keys differ there. */
                if (o->len == k->len && j->s[o->start] == j->s[k->start] &&
                    memcmp(j->s + o->start, j->s + k->start, k->len) == 0)
                    return -1;
            } else if (json_str_equal(j->s + o->start, o->len, j->s + k->start,
                                      k->len))
                return -1;
        }
        nkeys++;
        skip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':')
            return -1;
        j->pos++;
        skip_ws(j);
        vstart = j->pos;
        if (scan_value(j, depth, &m.kind) != 0)
            return -1;
        if (cb) {
            m.key = j->s + k->start;
            m.key_len = k->len;
            m.key_escaped = k->escaped;
            m.val = j->s + vstart;
            m.val_len = j->pos - vstart;
            if (m.kind == NK_JSON_STRING) {
                m.val++;
                m.val_len -= 2;
            }
            if (cb(arg, &m) != 0)
                return -1;
        }
        skip_ws(j);
        if (j->pos >= j->len)
            return -1;
        if (j->s[j->pos] == '}') {
            j->pos++;
            return 0;
        }
        if (j->s[j->pos] != ',')
            return -1;
        j->pos++;
    }
}

int
nk_jwt_json_scan_object(const char *s, size_t len, nk_json_member_cb cb,
                        void *arg)
{
    jscan j = {s, len, 0};

    skip_ws(&j);
    if (j.pos >= j.len || s[j.pos] != '{')
        return -1;
    if (scan_object(&j, 1, cb, arg) != 0)
        return -1;
    skip_ws(&j);
    return j.pos == j.len ? 0 : -1;
}

/* Next code point of an already validated raw string body. */
static uint32_t
next_cp(const char *s, size_t *i)
{
    const unsigned char *u = (const unsigned char *)s + *i;
    uint32_t cp, lo;

    if (u[0] == '\\') {
        *i += 2;
        switch (u[1]) {
        case 'b':
            return 8;
        case 'f':
            return 12;
        case 'n':
            return 10;
        case 'r':
            return 13;
        case 't':
            return 9;
        case 'u':
            hex4(s + *i, &cp);
            *i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                hex4(s + *i + 2, &lo);
                *i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            return cp;
        default:
            return u[1];
        }
    }
    if (u[0] < 0x80) {
        *i += 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *i += 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0) {
        *i += 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) |
               ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *i += 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
           ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
}

static int
json_str_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0, k = 0;

    while (i < alen && k < blen)
        if (next_cp(a, &i) != next_cp(b, &k))
            return 0;
    return i >= alen && k >= blen;
}

size_t
nk_jwt_json_unescape(const char *raw, size_t raw_len, char *out,
                     size_t out_size)
{
    size_t i = 0, o = 0;

    if (memchr(raw, '\\', raw_len) == NULL) {
        /* No escapes (the usual case): the raw bytes are the text. */
        if (raw_len + 1 > out_size)
            return (size_t)-1;
        memcpy(out, raw, raw_len);
        out[raw_len] = '\0';
        return raw_len;
    }
    while (i < raw_len) {
        uint32_t cp = next_cp(raw, &i);
        unsigned char b[4];
        size_t n;

        if (cp < 0x80) {
            b[0] = (unsigned char)cp;
            n = 1;
        } else if (cp < 0x800) {
            b[0] = (unsigned char)(0xC0 | (cp >> 6));
            b[1] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xE0 | (cp >> 12));
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | (cp >> 18));
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (cp & 0x3F));
            n = 4;
        }
        if (o + n + 1 > out_size)
            return (size_t)-1;
        memcpy(out + o, b, n);
        o += n;
    }
    if (o + 1 > out_size)
        return (size_t)-1;
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
    return json_str_equal(m->key, m->key_len, name, n);
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
        else if (nk_jwt_json_unescape(m->val, m->val_len, name, sizeof(name)) !=
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
    *len = nk_jwt_json_unescape(m->val, m->val_len, out, NK_JWT_ID_MAX + 1);
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
        c->c->role_len = nk_jwt_json_unescape(m->val, m->val_len, c->c->role,
                                              NK_JWT_ROLE_MAX + 1);
        if (c->c->role_len == (size_t)-1) {
            /* too long: no role, never a cut one */
            c->c->role[0] = '\0';
            c->c->role_len = 0;
        }
    }
    return 0;
}

/* "aud" is one string or an array of strings (RFC 7519 section 4.1.3). */
static int
aud_contains(const char *raw, size_t len, nk_json_kind kind, const char *want)
{
    jscan j = {raw, len, 0};
    size_t wlen = strlen(want);

    if (kind == NK_JSON_STRING)
        return json_str_equal(raw, len, want, wlen);
    if (kind != NK_JSON_ARRAY)
        return 0;
    j.pos = 1;
    for (;;) {
        nk_json_kind k;
        size_t st, ln;
        int esc;

        skip_ws(&j);
        if (j.pos >= j.len || j.s[j.pos] == ']')
            return 0;
        if (j.s[j.pos] == '"') {
            if (scan_string(&j, &st, &ln, &esc) != 0)
                return 0;
            if (json_str_equal(raw + st, ln, want, wlen))
                return 1;
        } else if (scan_value(&j, 1, &k) != 0)
            return 0;
        skip_ws(&j);
        if (j.pos < j.len && j.s[j.pos] == ',')
            j.pos++;
    }
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
    if (nk_jwt_json_scan_object(json, len, claims_member, &ci) != 0 || ci.bad) {
        claims_clear(c);
        return NK_JWT_MALFORMED;
    }
    c->iss_ok =
        pol->issuer == NULL ||
        (ci.has_iss && ci.iss_kind == NK_JSON_STRING &&
         json_str_equal(ci.iss, ci.iss_len, pol->issuer, strlen(pol->issuer)));
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
    if (nk_jwt_json_scan_object((const char *)buf, hdec, header_member, &h) !=
            0 ||
        h.bad || !h.has_alg)
        return NK_JWT_MALFORMED;
    if (h.crit)
        return NK_JWT_UNSUPPORTED_CRIT;
    if (h.alg == NK_JWT_ALG_INVALID)
        return NK_JWT_ALG_NOT_ALLOWED;
    if (h.kid == NULL)
        return NK_JWT_UNKNOWN_KID;
    *kid_len = nk_jwt_json_unescape(h.kid, h.kid_len, kid, NK_JWT_ID_MAX + 1);
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

/* ---- secret quality ----------------------------------------------------- */

static int
contains_nocase(const unsigned char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle), i, k;

    for (i = 0; i + n <= len; i++) {
        for (k = 0; k < n; k++)
            if (tolower(s[i + k]) != needle[k])
                break;
        if (k == n)
            return 1;
    }
    return 0;
}

/*
 * Length first (RFC 7518 section 3.2: a key at least as long as the hash
 * output), then the values copied from examples and .env templates, then
 * secrets a human typed: few distinct symbols, low per-symbol entropy, or
 * one short pattern repeated.
 */
nk_secret_status
nk_jwt_secret_check(const unsigned char *s, size_t len, nk_jwt_alg alg)
{
    static const char *const placeholders[] = {
        "changeme",    "change-me", "change_me", "changethis", "change-this",
        "change_this", "changeit",  "your-",     "your_",      "placeholder",
        "example",     "secret",    "password",  "replace",    "default",
        "insecure",    "dummy",     "sample",    "12345678",   "qwerty",
        "xxxxxxxx"};
    size_t counts[256] = {0};
    size_t i, p, distinct = 0;
    double bits = 0.0;

    if (s == NULL || len < nk_jwt_alg_mac_len(alg) || alg == NK_JWT_ALG_INVALID)
        return NK_SECRET_TOO_SHORT;
    for (i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
        if (contains_nocase(s, len, placeholders[i]))
            return NK_SECRET_PLACEHOLDER;
    for (i = 0; i < len; i++)
        if (counts[s[i]]++ == 0)
            distinct++;
    for (i = 0; i < 256; i++) {
        if (counts[i]) {
            double q = (double)counts[i] / (double)len;
            double l2 = 0.0, x = q;

            /* log2 without libm: x = m * 2^e, then a short series. */
            while (x < 0.5) {
                x *= 2.0;
                l2 -= 1.0;
            }
            {
                double y = (x - 1.0) / (x + 1.0), y2 = y * y;

                l2 += 2.0 *
                      (y + y * y2 / 3.0 + y * y2 * y2 / 5.0 +
                       y * y2 * y2 * y2 / 7.0) /
                      0.6931471805599453;
            }
            bits -= q * l2;
        }
    }
    if (distinct < 10 || bits < 3.0)
        return NK_SECRET_LOW_ENTROPY;
    for (p = 1; p <= len / 3; p++) {
        for (i = p; i < len; i++)
            if (s[i] != s[i - p])
                break;
        if (i == len)
            return NK_SECRET_LOW_ENTROPY;
    }
    OPENSSL_cleanse(counts, sizeof(counts));
    return NK_SECRET_OK;
}
