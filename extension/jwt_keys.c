/*
 * jwt_keys.c — the signing keys and jwt.* settings each backend holds, the
 * invalidation that keeps them current, and the fingerprint by which
 * install_signing_key refuses a weak secret and recognises a key it has.
 *
 * Caching: signing keys (with their precomputed HMAC states) and the jwt.*
 * settings are loaded once per backend and kept until the keys table or the
 * settings table changes. Plain DML sends no relcache invalidation, so a
 * statement trigger on both tables, and on the two revocation tables
 * (namaskah.cache_invalidate), asks for one; every backend's relcache
 * callback, registered here for all four, then drops its copy and reloads
 * on the next call (a revocation table: jwt_revocation.c's set). Any of them
 * changing also makes the table oids be looked up again (a dropped and
 * re-created extension has new ones); only what got a new oid is reloaded
 * for that, so a revocation reloads its set and nothing else.
 *
 * The settings' generation (jwt_settings_generation) is how the payload
 * memory of jwt.c learns that what it remembered was judged under other
 * settings; a settings reload also makes the revocation sets reload, under
 * the size cap it may have changed.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include <openssl/crypto.h>

#include "jwt_internal.h"
#include "namaskah.h"
#include "nk_jwt.h"
#include "nk_secret.h"
#include "settings.h"

#define MAX_KEYS 64

static void register_callback(void);
static void relcache_cb(Datum arg, Oid relid);
static Oid our_relid(const char *name);
static void ensure_oids(void);
static void drop_keys(void);
static bool load_key(jwt_cached_key *k, HeapTuple tup, TupleDesc td);
static void load_keys(void);
static void load_config(void);
static void secret_error(nk_secret_status st, nk_jwt_alg alg)
    pg_attribute_noreturn();

static bool callback_registered = false;
static bool oids_valid = false;
static Oid keys_relid = InvalidOid;
static Oid settings_relid = InvalidOid;
static Oid definitions_relid = InvalidOid;
static Oid revoked_relid = InvalidOid;
static Oid cutoff_relid = InvalidOid;

/*
 * Bumped by every invalidation of the keys / the settings. A load keeps its
 * result valid only if no invalidation arrived while it read (it may have
 * read the rows from before the change that sent it).
 */
static uint64 keys_inval_gen = 0;
static uint64 config_inval_gen = 0;

static bool keys_valid = false;
static jwt_cached_key keys[MAX_KEYS];
static int nkeys = 0;

static bool config_valid = false;
static jwt_config config;
static uint64 config_gen = 1;

/* ---- invalidation -------------------------------------------------------- */

static void
register_callback(void)
{
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(relcache_cb, (Datum)0);
        callback_registered = true;
    }
}

/* InvalidOid means "everything"; a dropped table also lands here. */
static void
relcache_cb(Datum arg, Oid relid)
{
    if (relid == InvalidOid || relid == keys_relid) {
        keys_valid = false;
        keys_inval_gen++;
    }
    if (relid == InvalidOid || relid == settings_relid ||
        relid == definitions_relid) {
        config_valid = false;
        config_inval_gen++;
    }
    if (relid == InvalidOid || relid == revoked_relid)
        jwt_revocation_changed(JWT_REVOKED_TOKENS);
    if (relid == InvalidOid || relid == cutoff_relid)
        jwt_revocation_changed(JWT_USER_TOKEN_CUTOFF);
    if (relid == InvalidOid || relid == keys_relid || relid == settings_relid ||
        relid == definitions_relid || relid == revoked_relid ||
        relid == cutoff_relid)
        oids_valid = false;
}

static Oid
our_relid(const char *name)
{
    Oid nsp = get_namespace_oid(NK_SCHEMA, false);
    Oid relid = get_relname_relid(name, nsp);

    if (!OidIsValid(relid))
        elog(ERROR, "relation %s.%s is missing", NK_SCHEMA, name);
    return relid;
}

/*
 * After an invalidation of one of our tables the relation ids are looked up
 * again (a dropped and re-created extension has new ones), but only what
 * changed is reloaded: an ordinary revocation invalidates its own table and
 * must not also reload the keys and settings and, through config_gen, empty
 * every backend's verified-payload memory.
 */
static void
ensure_oids(void)
{
    Oid keys, settings, definitions, revoked, cutoff;

    register_callback();
    if (oids_valid)
        return;
    keys = our_relid("signing_keys");
    settings = our_relid("settings");
    definitions = our_relid("setting_definitions");
    revoked = our_relid("revoked_tokens");
    cutoff = our_relid("user_token_cutoff");
    if (keys != keys_relid) {
        keys_valid = false;
        keys_inval_gen++;
    }
    if (settings != settings_relid || definitions != definitions_relid) {
        config_valid = false;
        config_inval_gen++;
    }
    if (revoked != revoked_relid)
        jwt_revocation_changed(JWT_REVOKED_TOKENS);
    if (cutoff != cutoff_relid)
        jwt_revocation_changed(JWT_USER_TOKEN_CUTOFF);
    keys_relid = keys;
    settings_relid = settings;
    definitions_relid = definitions;
    revoked_relid = revoked;
    cutoff_relid = cutoff;
    oids_valid = true;
}

Oid
jwt_revocation_relid(jwt_revocation_table t)
{
    return t == JWT_REVOKED_TOKENS ? revoked_relid : cutoff_relid;
}

/* ---- loading ------------------------------------------------------------- */

static void
drop_keys(void)
{
    int i;

    for (i = 0; i < nkeys; i++)
        nk_hmac_key_free(keys[i].hk);
    OPENSSL_cleanse(keys, sizeof(keys));
    nkeys = 0;
    keys_valid = false;
}

/* One row of the keys query into *k; false when it cannot be used. */
static bool
load_key(jwt_cached_key *k, HeapTuple tup, TupleDesc td)
{
    char *kid = SPI_getvalue(tup, td, 1);
    char *alg = SPI_getvalue(tup, td, 2);
    bool isnull;
    Datum sec = SPI_getbinval(tup, td, 3, &isnull);
    Datum ret;
    bytea *secret;

    if (kid == NULL || alg == NULL || isnull || strlen(kid) > NK_JWT_ID_MAX)
        return false;
    secret = DatumGetByteaPP(sec);
    strlcpy(k->kid, kid, sizeof(k->kid));
    k->alg = nk_jwt_alg_from_name(alg, strlen(alg));
    ret = SPI_getbinval(tup, td, 4, &isnull);
    k->retired = !isnull;
    k->retired_at = isnull ? 0 : DatumGetTimestampTz(ret);
    k->hk = nk_hmac_key_new(k->alg, (const unsigned char *)VARDATA_ANY(secret),
                            VARSIZE_ANY_EXHDR(secret));
    return k->hk != NULL;
}

/* Newest first, so keys[] order is also the signing preference. */
static void
load_keys(void)
{
    uint64 i, gen = keys_inval_gen;

    drop_keys();
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    /* read_only false: a snapshot of this statement's own, taken now */
    if (SPI_execute("SELECT kid, algorithm, secret, retired_at"
                    " FROM " NK_SCHEMA ".signing_keys"
                    " ORDER BY created_at DESC, kid DESC",
                    false, MAX_KEYS) != SPI_OK_SELECT)
        elog(ERROR, "could not read signing keys");
    for (i = 0; i < SPI_processed; i++)
        if (load_key(&keys[nkeys], SPI_tuptable->vals[i],
                     SPI_tuptable->tupdesc))
            nkeys++;
    SPI_finish();
    keys_valid = gen == keys_inval_gen;
}

/* Values and defaults are declared and bounded in setting_definitions. */
static void
load_config(void)
{
    char *issuer = nk_setting_text("jwt.issuer");
    char *audience = nk_setting_text("jwt.audience");
    char *grace = nk_setting_text("jwt.key_grace_minutes");
    uint64 gen = config_inval_gen;

    memset(&config, 0, sizeof(config));
    config.expire_minutes = (int)nk_setting_int("jwt.expire_minutes");
    config.grace_minutes = grace != NULL
                               ? (int)nk_setting_int("jwt.key_grace_minutes")
                               : config.expire_minutes + 5;
    config.leeway = (int)nk_setting_int("jwt.leeway_seconds");
    config.revocation_rows = (int)nk_setting_int("jwt.revocation_cache_rows");
    if (issuer != NULL)
        strlcpy(config.issuer, issuer, sizeof(config.issuer));
    if (audience != NULL)
        strlcpy(config.audience, audience, sizeof(config.audience));
    config_valid = gen == config_inval_gen;
    /* The revocation sets are reloaded under the (maybe new) size cap. */
    jwt_revocation_reload_all();
    /* Remembered iss/aud verdicts were made under the old settings. */
    config_gen++;
}

void
jwt_ensure_caches(void)
{
    ensure_oids();
    if (!config_valid)
        load_config();
    if (!keys_valid)
        load_keys();
}

/*
 * jwt_verify_strict is not SECURITY DEFINER (see 30_jwt.sql), so a reload
 * runs as the function's owner explicitly: the caller need not be able to
 * read the keys table, and the reload queries qualify every name and
 * operator, so the caller's search_path does not matter either.
 */
void
jwt_ensure_caches_as_owner(FunctionCallInfo fcinfo)
{
    Oid owner;
    HeapTuple tup;

    if (oids_valid && config_valid && keys_valid)
        return;
    tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for function %u",
             fcinfo->flinfo->fn_oid);
    owner = ((Form_pg_proc)GETSTRUCT(tup))->proowner;
    ReleaseSysCache(tup);
    nk_call_as_user(owner, jwt_ensure_caches);
}

/* ---- lookups ------------------------------------------------------------- */

const jwt_config *
jwt_settings(void)
{
    return &config;
}

uint64
jwt_settings_generation(void)
{
    return config_gen;
}

/*
 * A key verifies while active, and for grace_minutes after its retirement
 * (measured on the verifier's clock), so tokens issued just before a
 * rotation live out their lifetime.
 */
nk_hmac_key *
jwt_lookup_key(void *arg, const char *kid, size_t kid_len)
{
    jwt_lookup_ctx *ctx = arg;
    int i;

    for (i = 0; i < nkeys; i++) {
        jwt_cached_key *k = &keys[i];

        if (strlen(k->kid) != kid_len || memcmp(k->kid, kid, kid_len) != 0)
            continue;
        if (k->retired &&
            ctx->now >= k->retired_at + (TimestampTz)config.grace_minutes *
                                            USECS_PER_MINUTE)
            return NULL;
        return k->hk;
    }
    return NULL;
}

const jwt_cached_key *
jwt_signing_key(void)
{
    int i;

    for (i = 0; i < nkeys; i++)
        if (!keys[i].retired)
            return &keys[i];
    return NULL;
}

/* ---- installing a key ---------------------------------------------------- */

/*
 * Refusals never quote the secret, and hide the statement from the server
 * log (a refused secret typed as a literal would otherwise be logged by
 * log_min_error_statement's default).
 */
static void
secret_error(nk_secret_status st, nk_jwt_alg alg)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("signing secret refused: the secret %s",
                           nk_secret_status_text(st)),
                    errdetail("%s", nk_secret_rule_text),
                    errhint("Use at least %d random bytes, e.g. the output of "
                            "\"openssl rand -base64 %d\".",
                            (int)nk_jwt_alg_mac_len(alg),
                            (int)nk_jwt_alg_mac_len(alg) * 3 / 2),
                    errhidestmt(true), errhidecontext(true)));
}

/*
 * _jwt_key_fingerprint(secret, algorithm): checks the secret's quality and
 * returns HMAC-SHA256(secret, "namaskah.signing_key.v1:" || algorithm) in
 * hex: stable for idempotent installs, and no help for guessing the secret.
 */
PG_FUNCTION_INFO_V1(nk_sql_jwt_key_fingerprint);
Datum
nk_sql_jwt_key_fingerprint(PG_FUNCTION_ARGS)
{
    text *secret = PG_GETARG_TEXT_PP(0);
    text *algorithm = PG_GETARG_TEXT_PP(1);
    nk_jwt_alg alg = nk_jwt_alg_from_name(VARDATA_ANY(algorithm),
                                          VARSIZE_ANY_EXHDR(algorithm));
    const unsigned char *s = (const unsigned char *)VARDATA_ANY(secret);
    size_t len = VARSIZE_ANY_EXHDR(secret);
    nk_secret_status st;
    char label[64];
    unsigned char mac[NK_JWT_MAX_MAC];
    char hex[2 * 32 + 1];
    size_t n;
    int i;

    if (alg == NK_JWT_ALG_INVALID)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("unsupported signing algorithm"),
                 errdetail("Supported algorithms are HS256, HS384 and HS512."),
                 errhidestmt(true)));
    st = nk_secret_judge((const char *)s, len, nk_jwt_alg_mac_len(alg));
    if (st != NK_SECRET_OK)
        secret_error(st, alg);
    snprintf(label, sizeof(label), "namaskah.signing_key.v1:%s",
             nk_jwt_alg_name(alg));
    n = nk_jwt_hmac(NK_JWT_HS256, s, len, (const unsigned char *)label,
                    strlen(label), mac);
    if (n != 32)
        elog(ERROR, "could not fingerprint signing key");
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    OPENSSL_cleanse(mac, sizeof(mac));
    PG_RETURN_TEXT_P(cstring_to_text(hex));
}
