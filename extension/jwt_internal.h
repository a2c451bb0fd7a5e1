/*
 * jwt_internal.h — what the strict-JWT files share, and nothing else of the
 * module sees: jwt_keys.c holds the signing keys and the jwt.* settings and
 * owns the relcache callback of the four JWT tables; jwt_revocation.c
 * answers "is this token revoked?"; jwt.c verifies and issues tokens with
 * both. The pgjwt-compatible functions (jwt_pgjwt.c) need none of it.
 *
 * All of it is per-backend memory, no shared memory and no locks of its own.
 * What the lookups answer is only as fresh as the last jwt_ensure_caches
 * (or jwt_ensure_caches_as_owner) of the call.
 */
#ifndef NAMASKAH_JWT_INTERNAL_H
#define NAMASKAH_JWT_INTERNAL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"

#include "nk_jwt.h"

/* ---- jwt_keys.c: signing keys and settings ------------------------------- */

/* A signing key as loaded, its HMAC states precomputed; owned by the cache. */
typedef struct jwt_cached_key {
    char kid[NK_JWT_ID_MAX + 1];
    nk_jwt_alg alg;
    bool retired;
    TimestampTz retired_at;
    nk_hmac_key *hk;
} jwt_cached_key;

/* The jwt.* settings as the verifier and the issuer use them. */
typedef struct jwt_config {
    int expire_minutes;
    int grace_minutes;
    double leeway;
    int revocation_rows; /* revocation tables larger than this: probed */
    char issuer[256];
    char audience[256];
} jwt_config;

/* jwt_lookup_key's argument: the verifier's clock, for the grace period. */
typedef struct jwt_lookup_ctx {
    TimestampTz now;
} jwt_lookup_ctx;

/* The two revocation tables, each held as one set (jwt_revocation.c). */
typedef enum jwt_revocation_table {
    JWT_REVOKED_TOKENS,    /* namaskah.revoked_tokens: jti -> expires_at */
    JWT_USER_TOKEN_CUTOFF, /* namaskah.user_token_cutoff: user -> not_before */
    JWT_REVOCATION_TABLES
} jwt_revocation_table;

/* Reloads whatever of the keys, settings and table oids is stale. */
void jwt_ensure_caches(void);

/* The same, run as the owner of the calling function (fcinfo's). */
void jwt_ensure_caches_as_owner(FunctionCallInfo fcinfo);

/* The settings loaded last; valid until the next jwt_ensure_caches*. */
const jwt_config *jwt_settings(void);

/*
 * Bumped at every (re)load of the settings: what was judged at an older
 * value was judged under other settings.
 */
uint64 jwt_settings_generation(void);

/* nk_jwt_verify_signature's key lookup; arg is a jwt_lookup_ctx. */
nk_hmac_key *jwt_lookup_key(void *arg, const char *kid, size_t kid_len);

/* The newest active key, or NULL; owned by the cache. */
const jwt_cached_key *jwt_signing_key(void);

/* The table behind a revocation set, as of the last jwt_ensure_caches. */
Oid jwt_revocation_relid(jwt_revocation_table t);

/* ---- jwt_revocation.c: the revocation sets ------------------------------- */

/* The table changed (the relcache callback): its set reloads at next use. */
void jwt_revocation_changed(jwt_revocation_table t);

/* The settings changed: both sets reload, under the (maybe new) size cap. */
void jwt_revocation_reload_all(void);

/*
 * Bumped whenever either table changes: a "not revoked" found at an older
 * value may be out of date.
 */
uint64 jwt_revocation_generation(void);

/*
 * A listed jti, or a token of a user issued before that user's cutoff;
 * *checked_gen receives the generation the answer is valid for.
 */
bool jwt_is_revoked(const nk_jwt_claims *c, uint64 *checked_gen);

/* ---- shared arithmetic --------------------------------------------------- */

static inline double
jwt_to_unix(TimestampTz ts)
{
    /* timestamptz counts microseconds from 2000-01-01, Unix from 1970. */
    return (double)(ts + ((int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
                          USECS_PER_DAY)) /
           (double)USECS_PER_SEC;
}

#endif
