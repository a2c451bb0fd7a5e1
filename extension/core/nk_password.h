/*
 * nk_password.h — scrypt password hashes in a PHC-like string (pure C).
 *
 * Format: $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>, salt and hash in
 * standard base64 without padding (the PHC "B64" alphabet). The parameters
 * travel with each hash, so raising them later only needs a rehash at the
 * user's next login (nk_password_needs_rehash).
 *
 * Verification is constant-time in the comparison, and a malformed or
 * missing stored hash still costs one full scrypt run with the current
 * parameters, so "no such user" and "wrong password" take the same time.
 * Buffers are the caller's; nothing is allocated that outlives a call.
 */
#ifndef NK_PASSWORD_H
#define NK_PASSWORD_H

#include <stddef.h>

#define NK_PW_SALT_LEN 16
#define NK_PW_HASH_LEN 32
/* Room for any string nk_password_hash writes, NUL included. */
#define NK_PW_ENCODED_MAX 128
/* Bounds: ln 1..20 (N up to 2^20), r 1..32, p 1..16. */
#define NK_PW_MAX_LN 20

typedef struct nk_scrypt_params {
    int ln;
    int r;
    int p;
} nk_scrypt_params;

typedef enum nk_pw_status {
    NK_PW_OK = 0,
    NK_PW_MISMATCH,   /* verify: well-formed hash, other password */
    NK_PW_MALFORMED,  /* the stored string is not one of ours */
    NK_PW_BAD_PARAMS, /* parameters outside the bounds above */
    NK_PW_KDF_FAILED, /* OpenSSL refused (e.g. out of memory) */
    NK_PW_NO_SPACE
} nk_pw_status;

/* 1 when the parameters are within bounds. */
int nk_scrypt_params_ok(const nk_scrypt_params *p);

/* Raw scrypt (RFC 7914) with N = 2^ln; for tests and for the hash below. */
nk_pw_status nk_scrypt(const char *pw, size_t pw_len, const unsigned char *salt,
                       size_t salt_len, const nk_scrypt_params *p,
                       unsigned char *out, size_t out_len);

/* Hashes pw with the given salt into out (>= NK_PW_ENCODED_MAX bytes). */
nk_pw_status nk_password_hash(const char *pw, size_t pw_len,
                              const unsigned char salt[NK_PW_SALT_LEN],
                              const nk_scrypt_params *p, char *out,
                              size_t out_size);

/*
 * Checks pw against encoded (may be NULL). Returns NK_PW_OK on a match,
 * NK_PW_MISMATCH, or NK_PW_MALFORMED (after a dummy run with dummy_params).
 */
nk_pw_status nk_password_verify(const char *pw, size_t pw_len,
                                const char *encoded, size_t enc_len,
                                const nk_scrypt_params *dummy_params);

/* Parses the parameters of encoded; NK_PW_MALFORMED when it is not ours. */
nk_pw_status nk_password_params(const char *encoded, size_t enc_len,
                                nk_scrypt_params *p);

/* 1 when encoded is malformed or was made with parameters other than want. */
int nk_password_needs_rehash(const char *encoded, size_t enc_len,
                             const nk_scrypt_params *want);

#endif
