/*
 * nk_password.c — scrypt password hashing and verification with the
 * parameters stored in the hash string (pure C + libcrypto; see
 * nk_password.h).
 */
#include "nk_password.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

typedef struct parsed_hash {
    nk_scrypt_params p;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char hash[64];
    size_t hash_len;
} parsed_hash;

static size_t b64_encode(char *out, const unsigned char *in, size_t len);
static int b64_value(unsigned char c);
static int b64_decode(const char *in, size_t len, unsigned char *out,
                      size_t out_size, size_t *out_len);
static int parse_uint(const char **s, const char *end, int *out);
static int expect(const char **s, const char *end, const char *lit);
static nk_pw_status parse(const char *enc, size_t len, parsed_hash *h);

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Fixed salt of the dummy run; its result is never compared to anything. */
static const unsigned char dummy_salt[NK_PW_SALT_LEN] = {
    0x6e, 0x61, 0x6d, 0x61, 0x73, 0x6b, 0x61, 0x68,
    0x2d, 0x64, 0x75, 0x6d, 0x6d, 0x79, 0x00, 0x01};

static size_t
b64_encode(char *out, const unsigned char *in, size_t len)
{
    size_t i = 0, o = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v =
            ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i >= 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (len - i == 2)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        if (len - i == 2)
            out[o++] = b64_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int
b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

/* Canonical only: no padding, zero trailing bits. */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size,
           size_t *out_len)
{
    uint32_t buf = 0;
    int nbits = 0;
    size_t i, o = 0;

    if (len % 4 == 1)
        return -1;
    for (i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);

        if (v < 0)
            return -1;
        buf = (buf << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (o >= out_size)
                return -1;
            out[o++] = (unsigned char)(buf >> nbits);
            buf &= (1u << nbits) - 1;
        }
    }
    if (buf != 0)
        return -1;
    *out_len = o;
    return 0;
}

int
nk_scrypt_params_ok(const nk_scrypt_params *p)
{
    return p && p->ln >= 1 && p->ln <= NK_PW_MAX_LN && p->r >= 1 &&
           p->r <= 32 && p->p >= 1 && p->p <= 16;
}

nk_pw_status
nk_scrypt(const char *pw, size_t pw_len, const unsigned char *salt,
          size_t salt_len, const nk_scrypt_params *p, unsigned char *out,
          size_t out_len)
{
    uint64_t n;
    uint64_t maxmem;

    if (!nk_scrypt_params_ok(p))
        return NK_PW_BAD_PARAMS;
    n = (uint64_t)1 << p->ln;
    /* What scrypt needs (128 r N + 128 r p + 256 r) plus slack. */
    maxmem = 128 * (uint64_t)p->r * (n + (uint64_t)p->p + 2) + (1u << 20);
    if (EVP_PBE_scrypt(pw_len ? pw : "", pw_len, salt, salt_len, n,
                       (uint64_t)p->r, (uint64_t)p->p, maxmem, out,
                       out_len) != 1)
        return NK_PW_KDF_FAILED;
    return NK_PW_OK;
}

nk_pw_status
nk_password_hash(const char *pw, size_t pw_len,
                 const unsigned char salt[NK_PW_SALT_LEN],
                 const nk_scrypt_params *p, char *out, size_t out_size)
{
    unsigned char hash[NK_PW_HASH_LEN];
    char salt64[32], hash64[48];
    nk_pw_status st;
    int n;

    if (out_size < NK_PW_ENCODED_MAX)
        return NK_PW_NO_SPACE;
    st = nk_scrypt(pw, pw_len, salt, NK_PW_SALT_LEN, p, hash, sizeof(hash));
    if (st != NK_PW_OK)
        return st;
    b64_encode(salt64, salt, NK_PW_SALT_LEN);
    b64_encode(hash64, hash, sizeof(hash));
    OPENSSL_cleanse(hash, sizeof(hash));
    n = snprintf(out, out_size, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", p->ln, p->r,
                 p->p, salt64, hash64);
    return (n > 0 && (size_t)n < out_size) ? NK_PW_OK : NK_PW_NO_SPACE;
}

/* 1..3 digits, no leading zero. */
static int
parse_uint(const char **s, const char *end, int *out)
{
    const char *p = *s;
    int v = 0, digits = 0;

    while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || digits > 3 || (digits > 1 && **s == '0'))
        return -1;
    *s = p;
    *out = v;
    return 0;
}

static int
expect(const char **s, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(end - *s) < n || memcmp(*s, lit, n) != 0)
        return -1;
    *s += n;
    return 0;
}

static nk_pw_status
parse(const char *enc, size_t len, parsed_hash *h)
{
    const char *s = enc, *end, *dollar;

    if (enc == NULL)
        return NK_PW_MALFORMED; /* before any arithmetic on it: NULL + 0 is UB
                                 */
    end = enc + len;
    if (expect(&s, end, "$scrypt$ln=") != 0 ||
        parse_uint(&s, end, &h->p.ln) != 0 || expect(&s, end, ",r=") != 0 ||
        parse_uint(&s, end, &h->p.r) != 0 || expect(&s, end, ",p=") != 0 ||
        parse_uint(&s, end, &h->p.p) != 0 || expect(&s, end, "$") != 0)
        return NK_PW_MALFORMED;
    if (!nk_scrypt_params_ok(&h->p))
        return NK_PW_MALFORMED;
    dollar = memchr(s, '$', (size_t)(end - s));
    if (dollar == NULL ||
        b64_decode(s, (size_t)(dollar - s), h->salt, sizeof(h->salt),
                   &h->salt_len) != 0 ||
        b64_decode(dollar + 1, (size_t)(end - dollar - 1), h->hash,
                   sizeof(h->hash), &h->hash_len) != 0)
        return NK_PW_MALFORMED;
    if (h->salt_len < 8 || h->hash_len < 16)
        return NK_PW_MALFORMED;
    return NK_PW_OK;
}

nk_pw_status
nk_password_verify(const char *pw, size_t pw_len, const char *encoded,
                   size_t enc_len, const nk_scrypt_params *dummy_params)
{
    parsed_hash h;
    unsigned char got[64];
    nk_pw_status st;
    int same;

    if (parse(encoded, enc_len, &h) != NK_PW_OK) {
        /* Same work as a real check, so timing does not tell. */
        nk_scrypt(pw, pw_len, dummy_salt, sizeof(dummy_salt), dummy_params, got,
                  NK_PW_HASH_LEN);
        OPENSSL_cleanse(got, sizeof(got));
        return NK_PW_MALFORMED;
    }
    st = nk_scrypt(pw, pw_len, h.salt, h.salt_len, &h.p, got, h.hash_len);
    if (st != NK_PW_OK)
        return st;
    same = CRYPTO_memcmp(got, h.hash, h.hash_len) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(&h, sizeof(h));
    return same ? NK_PW_OK : NK_PW_MISMATCH;
}

nk_pw_status
nk_password_params(const char *encoded, size_t enc_len, nk_scrypt_params *p)
{
    parsed_hash h;
    nk_pw_status st = parse(encoded, enc_len, &h);

    if (st == NK_PW_OK)
        *p = h.p;
    return st;
}

int
nk_password_needs_rehash(const char *encoded, size_t enc_len,
                         const nk_scrypt_params *want)
{
    parsed_hash h;

    if (parse(encoded, enc_len, &h) != NK_PW_OK)
        return 1;
    return h.p.ln != want->ln || h.p.r != want->r || h.p.p != want->p ||
           h.salt_len != NK_PW_SALT_LEN || h.hash_len != NK_PW_HASH_LEN;
}
