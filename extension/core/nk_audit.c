/*
 * nk_audit.c — the canonical encoding and hash of audit records (see
 * nk_audit.h). Kept free of PostgreSQL so it can be unit-tested and so an
 * external verifier can reuse it.
 */
#include "nk_audit.h"

#include <stdint.h>
#include <openssl/evp.h>

static const char DOMAIN_TAG[] = "namaskah-audit-v1";

static int
update_field(EVP_MD_CTX *ctx, const nk_audit_field *field)
{
    unsigned char header[5];

    if (field->data == NULL) {
        header[0] = 0;
        return EVP_DigestUpdate(ctx, header, 1);
    }
    header[0] = 1;
    header[1] = (unsigned char)(field->len >> 24);
    header[2] = (unsigned char)(field->len >> 16);
    header[3] = (unsigned char)(field->len >> 8);
    header[4] = (unsigned char)field->len;
    return EVP_DigestUpdate(ctx, header, sizeof header) &&
           EVP_DigestUpdate(ctx, field->data, field->len);
}

nk_audit_status
nk_audit_hash(const unsigned char prev[NK_AUDIT_HASH_LEN],
              const nk_audit_field *fields, size_t nfields,
              unsigned char out[NK_AUDIT_HASH_LEN])
{
    EVP_MD_CTX *ctx;
    unsigned int out_len = 0;
    size_t i;
    int ok;

    for (i = 0; i < nfields; i++)
        if (fields[i].data != NULL && fields[i].len > UINT32_MAX)
            return NK_AUDIT_FIELD_TOO_LONG;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return NK_AUDIT_CRYPTO_ERROR;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(ctx, DOMAIN_TAG, sizeof DOMAIN_TAG - 1) &&
         EVP_DigestUpdate(ctx, prev, NK_AUDIT_HASH_LEN);
    for (i = 0; ok && i < nfields; i++)
        ok = update_field(ctx, &fields[i]);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &out_len) &&
         out_len == NK_AUDIT_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? NK_AUDIT_OK : NK_AUDIT_CRYPTO_ERROR;
}
