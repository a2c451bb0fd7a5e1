/*
 * nk_audit.h — the hash of an audit record (pure C, OpenSSL SHA-256).
 *
 * hash = SHA-256("namaskah-audit-v1" || prev_hash || encode(field 1) || ...)
 * where each field is encoded as one tag byte (0 = NULL, 1 = text) and, for
 * text, a 4-byte big-endian length and the bytes. The length prefixes make the
 * encoding injective: no two different records share an encoding, whatever
 * bytes their fields hold.
 */
#ifndef NK_AUDIT_H
#define NK_AUDIT_H

#include <stddef.h>

#define NK_AUDIT_HASH_LEN 32

typedef struct nk_audit_field {
    const char *data; /* NULL for an SQL NULL */
    size_t len;
} nk_audit_field;

typedef enum nk_audit_status {
    NK_AUDIT_OK = 0,
    NK_AUDIT_FIELD_TOO_LONG, /* a field over 2^32-1 bytes */
    NK_AUDIT_CRYPTO_ERROR    /* OpenSSL failed */
} nk_audit_status;

/* Computes the record hash into out (NK_AUDIT_HASH_LEN bytes). */
nk_audit_status nk_audit_hash(const unsigned char prev[NK_AUDIT_HASH_LEN],
                              const nk_audit_field *fields, size_t nfields,
                              unsigned char out[NK_AUDIT_HASH_LEN]);

#endif
