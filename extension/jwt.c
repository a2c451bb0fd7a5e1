/*
 * jwt.c — JWT in SQL: the pgjwt-compatible functions (url_encode, url_decode,
 * algorithm_sign, sign, verify), the signing-key cache, token issuing and the
 * strict verifier the request pipeline calls on every authenticated request.
 *
 * The pure work (base64url, HMAC, JSON scanning, claim checks) is in
 * core/nk_base64url.c and core/nk_jwt.c; this file adds PostgreSQL types,
 * tables and errors.
 *
 * Caching: signing keys (with their precomputed HMAC states) and the jwt.*
 * settings are loaded once per backend and kept until the keys table or the
 * settings table changes. Plain DML sends no relcache invalidation, so a
 * statement trigger on both tables (namaskah.jwt_cache_invalidate) asks for
 * one; every backend's relcache callback then drops its copy and reloads on
 * the next call.
 *
 * Claims: jwt_verify_strict hands the verified payload on as json (its
 * exact bytes, which the strict scanner has already proved to be one JSON
 * object without duplicate keys) plus the two claims the pipeline acts on,
 * sub and role, as text. Nothing is built per token: a jsonb of the claims
 * cost more than the rest of a new token's verification together.
 *
 * Payload memory: a token comes with every request for hours, so each
 * backend remembers, per payload segment (exact base64url bytes), the parsed
 * claims, the decoded payload and the revocation generation they were last
 * found "not revoked" at, in a buffer per entry that is reused. A token seen
 * again still has its size, header, key and signature checked (stage 1 of
 * core/nk_jwt.c) and its times checked against the clock; only the payload
 * decode and JSON scan and, while no revocation changed, the revocation
 * lookups are skipped.
 *
 * Revocation sets: each backend holds revoked_tokens (jti -> expires_at)
 * and user_token_cutoff (user -> not_before) in memory, loaded wholesale
 * (one heap scan each) and looked up by hash, so a new token costs no SPI,
 * no index probe and no lock. Both tables carry the invalidation trigger;
 * each change bumps the table's generation and the set is reloaded at its
 * next use. A table over jwt.revocation_cache_rows rows (default 100000;
 * purge_revocations keeps them bounded) is not held: its lookups fall back
 * to a primary-key index probe on a fresh snapshot, until it changes again.
 * Pending invalidations are read at every transaction start and again at
 * every jwt_verify_strict call, and a set is loaded on a snapshot taken
 * after reading them, so a revocation committed before a request's
 * transaction (indeed before the call) begins is always seen.
 *
 * Result rows: verify (pgjwt's TABLE signature) answers exactly one row, by
 * the value-per-call protocol returning once; jwt_verify_strict returns one
 * namaskah.jwt_verdict. Both row types are blessed once per backend (no
 * tuplestore or tuple descriptor made per call by us).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include <openssl/crypto.h>

#include "nk_base64url.h"
#include "nk_jwt.h"
#include "nk_secret.h"
#include "settings.h"

#define NK_SCHEMA "namaskah"
#define MAX_KEYS 64

typedef struct cached_key {
    char kid[NK_JWT_ID_MAX + 1];
    nk_jwt_alg alg;
    bool retired;
    TimestampTz retired_at;
    nk_hmac_key *hk;
} cached_key;

typedef struct jwt_config {
    int expire_minutes;
    int grace_minutes;
    double leeway;
    int revocation_rows; /* revocation tables larger than this: probed */
    char issuer[256];
    char audience[256];
} jwt_config;

typedef struct vcache_entry vcache_entry;
typedef struct vcache_way vcache_way;
typedef union id_buf id_buf;

/* verify(): where the payload's nbf [0] and exp [1] were found. */
typedef struct pgjwt_times {
    bool fast; /* the strict scanner read the payload */
    bool has[2];
    nk_json_kind kind[2];
    const char *val[2];
    size_t len[2];
} pgjwt_times;

/* verify(): one dot-separated part of the token, inside the argument. */
typedef struct token_part {
    const char *p;
    size_t len;
} token_part;

typedef struct lookup_ctx {
    TimestampTz now;
} lookup_ctx;

/*
 * A revocation table held in memory: key (jti or user id) -> timestamp
 * (expires_at or not_before). Slot len 0 is empty; keys live in arena.
 */
typedef struct revset_slot {
    uint64 hash;
    TimestampTz at;
    uint32 off;
    uint16 len;
} revset_slot;

typedef struct revset {
    Oid *relid;       /* the table */
    uint64 *gen;      /* bumped by each invalidation of the table */
    uint64 valid_gen; /* 0: never loaded; else the gen it was loaded at */
    bool overflow;    /* over jwt.revocation_cache_rows: probe the index */
    uint32 count;
    uint32 nslots;
    revset_slot *slots;
    char *arena;
    MemoryContext cxt;
} revset;

static void register_callback(void);
static void relcache_cb(Datum arg, Oid relid);
static Oid our_relid(const char *name);
static void ensure_oids(void);
static void drop_keys(void);
static void load_keys(void);
static void load_config(void);
static void ensure_caches(void);
static void ensure_caches_as_owner(FunctionCallInfo fcinfo);
static nk_hmac_key *lookup_key(void *arg, const char *kid, size_t kid_len);
static const cached_key *signing_key(void);
static double to_unix(TimestampTz ts);
static bool find_row(Oid relid, const char *key, Snapshot snap,
                     TimestampTz *value);
static uint64 revset_hash(const char *key, size_t len);
static revset_slot *revset_probe(const revset *s, const char *key, size_t len,
                                 uint64 h);
static void revset_load(revset *s);
static bool revset_lookup(revset *s, const char *key, size_t len,
                          TimestampTz *at);
static bool is_revoked(const nk_jwt_claims *c, uint64 *checked_gen);
static bool vcache_match(const vcache_way *w, uint32 h, const char *seg,
                         size_t len);
static vcache_way *vcache_slot(uint32 h);
static vcache_entry *vcache_find(uint32 h, const char *seg, size_t len);
static bool all_ascii(const char *s, size_t len);
static bool is_server_text(const char *utf8, size_t len);
static text *server_text(const char *utf8, size_t len);
static text *id_text(id_buf *buf, const char *utf8, size_t len);
static bool seen_before(uint32 h);
static nk_jwt_reason vcache_fill(vcache_entry *e, bool keep, const char *seg,
                                 size_t len, const nk_jwt_policy *pol);
static nk_jwt_reason strict_claims(uint32 h, const char *seg, size_t len,
                                   const nk_jwt_policy *pol,
                                   vcache_entry *local, vcache_entry **out);
static Datum reason_text(nk_jwt_reason r);
static Datum kid_text(const char *kid);
static TupleDesc row_desc(TupleDesc *cache, int natts, const Oid *types);
static void single_row_call(FunctionCallInfo fcinfo);
static nk_jwt_alg pgjwt_alg(text *algorithm);
static void pgjwt_bad_alg(void) pg_attribute_noreturn();
static nk_hmac_key *pgjwt_key(nk_jwt_alg alg, text *secret);
static text *pgjwt_mac_text(nk_jwt_alg alg, text *secret, const char *data,
                            size_t len);
static text *url_encode_bytes(const unsigned char *data, size_t len);
static bytea *url_decode_span(const char *s, size_t len);
static bytea *url_decode_text(text *in);
static int pgjwt_member(void *arg, const nk_json_member *m);
static Datum decode_json_part(bytea *raw, pgjwt_times *times);
static int split_token(text *token, token_part *parts);
static Datum pgjwt_header(const token_part *part, bytea *raw);
static bool pgjwt_header_known(const token_part *part);
static bool small_integer(const char *s, size_t len, float8 *out);
static bool try_float8(text *t, float8 *out);
static bool pgjwt_bound(Datum payload, const pgjwt_times *t, int which,
                        TimestampTz *out);
static int pgjwt_range_contains(Datum payload, bool payload_null,
                                const pgjwt_times *t);
static void secret_error(nk_secret_status st, nk_jwt_alg alg)
    pg_attribute_noreturn();

static bool callback_registered = false;
static bool oids_valid = false;
static Oid keys_relid = InvalidOid;
static Oid settings_relid = InvalidOid;
static Oid revoked_relid = InvalidOid;
static Oid cutoff_relid = InvalidOid;

static bool keys_valid = false;
static cached_key keys[MAX_KEYS];
static int nkeys = 0;

static bool config_valid = false;
static jwt_config config;

/* pgjwt: the last secret used, with its precomputed HMAC state. */
static nk_hmac_key *pgjwt_last_key = NULL;
static char *pgjwt_last_secret = NULL;
static size_t pgjwt_last_len = 0;
static nk_jwt_alg pgjwt_last_alg = NK_JWT_ALG_INVALID;

/* verify(): the last header segment decoded, and its json result. */
static char pgjwt_hdr_seg[256];
static size_t pgjwt_hdr_len = 0; /* 0: empty */
static text *pgjwt_hdr_json = NULL;

static unsigned char verify_scratch[NK_JWT_SCRATCH];
static nk_jwt_header_memo header_memo;

/*
 * Payload memory, see the banner: 2-way set-associative by a hash of the
 * payload segment, entries allocated on first use (at most VCACHE_SIZE, a
 * few MB at worst per backend).
 */
#define VCACHE_SIZE 4096 /* a power of two */
#define VCACHE_MAX_SEGMENT 2048
struct vcache_entry {
    uint64 config_gen;     /* 0: unused; else the config it was parsed at */
    uint64 revocation_gen; /* 0: revocation not checked yet */
    char *segment;         /* in buf, after payload */
    size_t segment_len;
    nk_jwt_claims claims;
    text *payload; /* the decoded payload, a json value; in buf */
    char *buf;     /* kept across fills, grown when a payload needs more */
    size_t buf_size;
};

/*
 * A way of the memory: the entry's filter and age beside its pointer, so a
 * lookup that misses (every new token) reads one line of this array and
 * no entry.
 */
struct vcache_way {
    uint32 head; /* MAC head of the token the entry was filled from */
    uint32 used; /* vcache_clock at the last use; compared modulo 2^32 */
    vcache_entry *e;
};

static MemoryContext vcache_cxt = NULL;
static vcache_way vcache[VCACHE_SIZE];
static uint32 vcache_clock = 0;
static uint64 config_gen = 1;
static uint64 revocation_gen = 1;
static uint64 revoked_gen = 1;
static uint64 cutoff_gen = 1;
static revset revoked_set = {&revoked_relid, &revoked_gen};
static revset cutoff_set = {&cutoff_relid, &cutoff_gen};

/* ---- caches -------------------------------------------------------------- */

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
    if (relid == InvalidOid || relid == keys_relid)
        keys_valid = false;
    if (relid == InvalidOid || relid == settings_relid)
        config_valid = false;
    if (relid == InvalidOid || relid == revoked_relid) {
        revoked_gen++;
        revocation_gen++;
    }
    if (relid == InvalidOid || relid == cutoff_relid) {
        cutoff_gen++;
        revocation_gen++;
    }
    if (relid == InvalidOid || relid == keys_relid || relid == settings_relid ||
        relid == revoked_relid || relid == cutoff_relid)
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

static void
ensure_oids(void)
{
    register_callback();
    if (oids_valid)
        return;
    keys_relid = our_relid("signing_keys");
    settings_relid = our_relid("settings");
    revoked_relid = our_relid("revoked_tokens");
    cutoff_relid = our_relid("user_token_cutoff");
    oids_valid = true;
    /* Relation ids may have changed (extension re-created): reload all. */
    keys_valid = false;
    config_valid = false;
}

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

/* Newest first, so keys[] order is also the signing preference. */
static void
load_keys(void)
{
    uint64 i;

    drop_keys();
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (SPI_execute("SELECT kid, algorithm, secret, retired_at"
                    " FROM " NK_SCHEMA ".signing_keys"
                    " ORDER BY created_at DESC, kid DESC",
                    true, MAX_KEYS) != SPI_OK_SELECT)
        elog(ERROR, "could not read signing keys");
    for (i = 0; i < SPI_processed; i++) {
        HeapTuple tup = SPI_tuptable->vals[i];
        TupleDesc td = SPI_tuptable->tupdesc;
        cached_key *k = &keys[nkeys];
        char *kid = SPI_getvalue(tup, td, 1);
        char *alg = SPI_getvalue(tup, td, 2);
        bool isnull;
        Datum sec = SPI_getbinval(tup, td, 3, &isnull);
        Datum ret;
        bytea *secret;

        if (kid == NULL || alg == NULL || isnull || strlen(kid) > NK_JWT_ID_MAX)
            continue;
        secret = DatumGetByteaPP(sec);
        strlcpy(k->kid, kid, sizeof(k->kid));
        k->alg = nk_jwt_alg_from_name(alg, strlen(alg));
        ret = SPI_getbinval(tup, td, 4, &isnull);
        k->retired = !isnull;
        k->retired_at = isnull ? 0 : DatumGetTimestampTz(ret);
        k->hk =
            nk_hmac_key_new(k->alg, (const unsigned char *)VARDATA_ANY(secret),
                            VARSIZE_ANY_EXHDR(secret));
        if (k->hk == NULL)
            continue;
        nkeys++;
    }
    SPI_finish();
    keys_valid = true;
}

/* Values and defaults are declared and bounded in setting_definitions. */
static void
load_config(void)
{
    char *issuer = nk_setting_text("jwt.issuer");
    char *audience = nk_setting_text("jwt.audience");
    char *grace = nk_setting_text("jwt.key_grace_minutes");

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
    config_valid = true;
    /* The revocation sets are reloaded under the (maybe new) size cap. */
    revoked_gen++;
    cutoff_gen++;
    revocation_gen++;
    /* Remembered iss/aud verdicts were made under the old settings. */
    config_gen++;
}

static void
ensure_caches(void)
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
static void
ensure_caches_as_owner(FunctionCallInfo fcinfo)
{
    Oid save_user, owner;
    int save_sec;
    HeapTuple tup;

    if (oids_valid && config_valid && keys_valid)
        return;
    tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cache lookup failed for function %u",
             fcinfo->flinfo->fn_oid);
    owner = ((Form_pg_proc)GETSTRUCT(tup))->proowner;
    ReleaseSysCache(tup);
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                      SECURITY_RESTRICTED_OPERATION);
    PG_TRY();
    {
        ensure_caches();
    }
    PG_FINALLY();
    {
        SetUserIdAndSecContext(save_user, save_sec);
    }
    PG_END_TRY();
}

static double
to_unix(TimestampTz ts)
{
    /* timestamptz counts microseconds from 2000-01-01, Unix from 1970. */
    return (double)(ts + ((int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
                          USECS_PER_DAY)) /
           (double)USECS_PER_SEC;
}

/*
 * A key verifies while active, and for grace_minutes after its retirement
 * (measured on the verifier's clock), so tokens issued just before a
 * rotation live out their lifetime.
 */
static nk_hmac_key *
lookup_key(void *arg, const char *kid, size_t kid_len)
{
    lookup_ctx *ctx = arg;
    int i;

    for (i = 0; i < nkeys; i++) {
        cached_key *k = &keys[i];

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

static const cached_key *
signing_key(void)
{
    int i;

    for (i = 0; i < nkeys; i++)
        if (!keys[i].retired)
            return &keys[i];
    return NULL;
}

PG_FUNCTION_INFO_V1(namaskah_jwt_cache_invalidate);
Datum
namaskah_jwt_cache_invalidate(PG_FUNCTION_ARGS)
{
    TriggerData *td = (TriggerData *)fcinfo->context;

    if (!CALLED_AS_TRIGGER(fcinfo))
        elog(ERROR, "jwt_cache_invalidate must be called as a trigger");
    /* Sent to every backend at commit, applied locally at the next CCI. */
    CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
    PG_RETURN_POINTER(NULL);
}

/* ---- revocation ---------------------------------------------------------- */

/*
 * Primary-key probe of a (text key, timestamptz value) table without SPI:
 * the fallback when a revocation table is too large to hold in memory
 * (jwt.revocation_cache_rows), and the lookup of keys too long for the sets.
 */
static bool
find_row(Oid relid, const char *key, Snapshot snap, TimestampTz *value)
{
    Relation rel = table_open(relid, AccessShareLock);
    Oid index = RelationGetPrimaryKeyIndex(rel);
    ScanKeyData sk;
    SysScanDesc scan;
    HeapTuple tup;
    text *kt = cstring_to_text(key);
    bool found = false;

    if (!OidIsValid(index))
        elog(ERROR, "relation %u has no primary key", relid);
    ScanKeyEntryInitialize(&sk, 0, 1, BTEqualStrategyNumber, InvalidOid,
                           DEFAULT_COLLATION_OID, F_TEXTEQ,
                           PointerGetDatum(kt));
    scan = systable_beginscan(rel, index, true, snap, 1, &sk);
    tup = systable_getnext(scan);
    if (HeapTupleIsValid(tup)) {
        bool isnull;
        Datum d = heap_getattr(tup, 2, RelationGetDescr(rel), &isnull);

        found = !isnull;
        if (found)
            *value = DatumGetTimestampTz(d);
    }
    systable_endscan(scan);
    /* Keep the lock to the end of the transaction, as the executor does. */
    table_close(rel, NoLock);
    pfree(kt);
    return found;
}

static uint64
revset_hash(const char *key, size_t len)
{
    return hash_bytes_extended((const unsigned char *)key, (int)len, 0x6e6b);
}

/* Open addressing, linear probing; slots[] is a power of two, half full. */
static revset_slot *
revset_probe(const revset *s, const char *key, size_t len, uint64 h)
{
    uint32 mask = s->nslots - 1, i = (uint32)h & mask;

    for (;; i = (i + 1) & mask) {
        revset_slot *e = &s->slots[i];

        if (e->len == 0)
            return e;
        if (e->hash == h && e->len == len &&
            memcmp(s->arena + e->off, key, len) == 0)
            return e;
    }
}

/*
 * Reads the whole table into the set, on a snapshot taken after the
 * pending invalidations were read: every revocation whose invalidation this
 * backend has seen is in the snapshot (a committing backend becomes visible
 * before it sends its invalidations), and any later one bumps the set's
 * generation again, so the next check reloads. More than
 * jwt.revocation_cache_rows rows: the set is marked overflowed and checks
 * probe the index instead, until the table changes again.
 */
static void
revset_load(revset *s)
{
    Relation rel;
    TableScanDesc scan;
    HeapTuple tup;
    Snapshot snap;
    uint64 gen;
    uint32 n = 0, cap = 1024, nslots;
    size_t arena_len = 0, arena_cap = 16384;
    char *arena;
    revset_slot *rows, *slots;
    MemoryContext old;

    if (s->cxt == NULL)
        s->cxt = AllocSetContextCreate(TopMemoryContext, "namaskah revocations",
                                       ALLOCSET_DEFAULT_SIZES);
    MemoryContextReset(s->cxt);
    s->slots = NULL;
    s->arena = NULL;
    s->nslots = 0;
    s->valid_gen = 0;
    s->overflow = false;

    rel = table_open(*s->relid, AccessShareLock);
    AcceptInvalidationMessages();
    gen = *s->gen;
    snap = RegisterSnapshot(GetLatestSnapshot());
    old = MemoryContextSwitchTo(s->cxt);
    rows = palloc(cap * sizeof(revset_slot));
    arena = palloc(arena_cap);
    scan = table_beginscan(rel, snap, 0, NULL);
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL) {
        bool knull, vnull;
        Datum k = heap_getattr(tup, 1, RelationGetDescr(rel), &knull);
        Datum v = heap_getattr(tup, 2, RelationGetDescr(rel), &vnull);
        text *kt;
        size_t len;

        CHECK_FOR_INTERRUPTS();
        if (knull || vnull)
            continue;
        if (n >= (uint32)config.revocation_rows) {
            s->overflow = true;
            break;
        }
        kt = DatumGetTextPP(k);
        len = VARSIZE_ANY_EXHDR(kt);
        /* A token's jti/sub is 1..NK_JWT_ID_MAX bytes: others never match. */
        if (len == 0 || len > NK_JWT_ID_MAX)
            continue;
        if (n == cap) {
            cap *= 2;
            rows = repalloc(rows, cap * sizeof(revset_slot));
        }
        if (arena_len + len > arena_cap) {
            while (arena_len + len > arena_cap)
                arena_cap *= 2;
            arena = repalloc(arena, arena_cap);
        }
        memcpy(arena + arena_len, VARDATA_ANY(kt), len);
        rows[n].hash = revset_hash(VARDATA_ANY(kt), len);
        rows[n].at = DatumGetTimestampTz(v);
        rows[n].off = (uint32)arena_len;
        rows[n].len = (uint16)len;
        arena_len += len;
        n++;
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, NoLock);
    if (!s->overflow) {
        for (nslots = 64; nslots < 2 * n; nslots *= 2)
            ;
        slots = palloc0(nslots * sizeof(revset_slot));
        s->slots = slots;
        s->arena = arena;
        s->nslots = nslots;
        for (uint32 i = 0; i < n; i++) {
            revset_slot *e =
                revset_probe(s, arena + rows[i].off, rows[i].len, rows[i].hash);

            *e = rows[i];
        }
        pfree(rows);
    } else {
        MemoryContextReset(s->cxt);
        s->arena = NULL;
    }
    MemoryContextSwitchTo(old);
    s->count = n;
    s->valid_gen = gen;
}

/*
 * The row of key in the revocation table behind s: from memory, or (when
 * the table overflowed the set, or the key is too long for it) an index
 * probe on a fresh snapshot.
 */
static bool
revset_lookup(revset *s, const char *key, size_t len, TimestampTz *at)
{
    revset_slot *e;

    if (s->valid_gen != *s->gen)
        revset_load(s);
    if (s->overflow || len > NK_JWT_ID_MAX) {
        Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
        bool found = find_row(*s->relid, key, snap, at);

        UnregisterSnapshot(snap);
        return found;
    }
    e = revset_probe(s, key, len, revset_hash(key, len));
    if (e->len == 0)
        return false;
    *at = e->at;
    return true;
}

/*
 * A listed jti, or a token of a user issued before that user's cutoff.
 * *checked_gen receives the generation the answer is valid for: the one
 * read after the pending invalidations at the start of this verification
 * (a reload of a set may read newer ones: the answer then covers more than
 * checked_gen says, and the next call checks again).
 */
static bool
is_revoked(const nk_jwt_claims *c, uint64 *checked_gen)
{
    TimestampTz at;

    *checked_gen = revocation_gen;
    if (c->jti_len > 0 && revset_lookup(&revoked_set, c->jti, c->jti_len, &at))
        return true;
    if (c->sub_len > 0 && revset_lookup(&cutoff_set, c->sub, c->sub_len, &at))
        return !c->has_iat || c->iat < to_unix(at);
    return false;
}

static bool
vcache_match(const vcache_way *w, uint32 h, const char *seg, size_t len)
{
    /* The hash first: a new token then costs no read of another's bytes. */
    return w->head == h && w->e != NULL && w->e->config_gen == config_gen &&
           w->e->segment_len == len && memcmp(w->e->segment, seg, len) == 0;
}

/*
 * The way to fill for hash h, with its entry: the older of its two
 * candidates. h is the head of the token's verified MAC: uniform, and free
 * to compute. Its filter is cleared until the fill succeeds.
 */
static vcache_way *
vcache_slot(uint32 h)
{
    uint32 i = h & (VCACHE_SIZE - 1), k = (i + 1) & (VCACHE_SIZE - 1);

    if (vcache_cxt == NULL)
        vcache_cxt = AllocSetContextCreate(TopMemoryContext, "namaskah jwt",
                                           ALLOCSET_DEFAULT_SIZES);
    if (vcache[i].e != NULL &&
        (vcache[k].e == NULL || (int32)(vcache[k].used - vcache[i].used) < 0))
        i = k;
    if (vcache[i].e == NULL)
        vcache[i].e = MemoryContextAllocZero(vcache_cxt, sizeof(vcache_entry));
    vcache[i].head = 0;
    vcache[i].e->config_gen = 0;
    return &vcache[i];
}

/* The remembered entry of exactly this payload segment, or NULL. */
static vcache_entry *
vcache_find(uint32 h, const char *seg, size_t len)
{
    uint32 i = h & (VCACHE_SIZE - 1), k = (i + 1) & (VCACHE_SIZE - 1);
    vcache_way *w = vcache_match(&vcache[i], h, seg, len)   ? &vcache[i]
                    : vcache_match(&vcache[k], h, seg, len) ? &vcache[k]
                                                            : NULL;

    if (w == NULL)
        return NULL;
    w->used = ++vcache_clock;
    return w->e;
}

static bool
all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/*
 * UTF-8 bytes as a text value in the server encoding, or NULL when they
 * have no form in it (a database in another encoding than UTF-8; ASCII,
 * all our own claims, never needs converting).
 */
/* UTF-8 bytes that are already text of the database as they are. */
static bool
is_server_text(const char *utf8, size_t len)
{
    int enc = GetDatabaseEncoding();

    return enc == PG_UTF8 || enc == PG_SQL_ASCII || all_ascii(utf8, len);
}

static text *
server_text(const char *utf8, size_t len)
{
    int enc = GetDatabaseEncoding();
    size_t room = len * MAX_CONVERSION_GROWTH + 1;
    Oid proc;
    text *out;

    if (is_server_text(utf8, len))
        return cstring_to_text_with_len(utf8, (int)len);
    proc = FindDefaultConversionProc(PG_UTF8, enc);
    if (!OidIsValid(proc))
        return NULL;
    /* noError: stops at the first character without a form, never throws */
    out = palloc(VARHDRSZ + room);
    if (pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, (unsigned char *)utf8,
                                      (int)len, (unsigned char *)VARDATA(out),
                                      (int)room, true) != (int)len) {
        pfree(out);
        return NULL;
    }
    SET_VARSIZE(out, VARHDRSZ + strlen(VARDATA(out)));
    return out;
}

/* Room for a jti, sub or role as a text value. */
union id_buf {
    int32 align; /* a varlena header is 4-byte aligned */
    char data[VARHDRSZ + NK_JWT_ID_MAX];
};

/*
 * A claim as a text value in *buf (reused call to call: the result row
 * copies it), or in palloc'd memory when it needs converting to the
 * database encoding; NULL as for server_text.
 */
static text *
id_text(id_buf *buf, const char *utf8, size_t len)
{
    if (len > NK_JWT_ID_MAX || !is_server_text(utf8, len))
        return server_text(utf8, len);
    SET_VARSIZE(buf->data, VARHDRSZ + len);
    memcpy(VARDATA(buf->data), utf8, len);
    return (text *)buf->data;
}

/*
 * The doorkeeper of the payload memory: a payload is kept only from its
 * second sighting on (one bit per MAC head; cleared when half the bits are
 * set). A token used once, or a flood of different ones, never evicts the
 * tokens a backend sees again and again, and costs no write to the cache.
 */
#define DOORKEEPER_BITS (1 << 19) /* 64 KiB */
static uint64 doorkeeper[DOORKEEPER_BITS / 64];
static uint32 doorkeeper_set = 0;

static bool
seen_before(uint32 h)
{
    /* the cache indexes by the low bits of h: take the high ones */
    uint32 bit = h >> (32 - 19);
    uint64 mask = UINT64CONST(1) << (bit & 63);

    if (doorkeeper[bit >> 6] & mask)
        return true;
    doorkeeper[bit >> 6] |= mask;
    if (++doorkeeper_set > DOORKEEPER_BITS / 2) {
        memset(doorkeeper, 0, sizeof(doorkeeper));
        doorkeeper_set = 0;
    }
    return false;
}

/*
 * Decodes and parses a payload segment into *e: claims, and the decoded
 * payload as a json value. A kept entry (the cache slot) decodes straight
 * into its own buffer, reused from fill to fill; a payload too large to
 * keep goes to memory of the call.
 */
static nk_jwt_reason
vcache_fill(vcache_entry *e, bool keep, const char *seg, size_t len,
            const nk_jwt_policy *pol)
{
    size_t room = len / 4 * 3 + 3, at = MAXALIGN(VARHDRSZ + room), pdec;
    text *payload;

    if (!keep)
        payload = palloc(VARHDRSZ + room);
    else {
        if (e->buf_size < at + len) {
            size_t size = Max(at + len, (size_t)512);

            if (e->buf != NULL)
                pfree(e->buf);
            e->buf = MemoryContextAlloc(vcache_cxt, size);
            e->buf_size = size;
        }
        payload = (text *)e->buf;
    }
    e->payload = NULL;
    if (nk_b64url_decode_strict((unsigned char *)VARDATA(payload), room, &pdec,
                                seg, len) != NK_B64_OK ||
        nk_jwt_parse_claims(VARDATA(payload), pdec, pol, &e->claims) !=
            NK_JWT_OK)
        return NK_JWT_MALFORMED;
    SET_VARSIZE(payload, VARHDRSZ + pdec);
    if (GetDatabaseEncoding() != PG_UTF8 &&
        !all_ascii(VARDATA(payload), pdec)) {
        /* converted per call, never kept (keep is only an optimization) */
        payload = server_text(VARDATA(payload), pdec);
        if (payload == NULL)
            return NK_JWT_MALFORMED;
        keep = false;
        e->config_gen = 0;
    }
    e->payload = payload;
    e->revocation_gen = 0;
    if (!keep)
        return NK_JWT_OK;
    e->segment = e->buf + at;
    memcpy(e->segment, seg, len);
    e->segment_len = len;
    e->config_gen = config_gen;
    return NK_JWT_OK;
}

/*
 * Stages 2 and 3 plus revocation, for a payload whose signature holds:
 * the claims from memory when this payload was seen under the current
 * settings, the revocation probes only when revocations changed since.
 * On NK_JWT_OK, *out is the entry with the claims and payload (valid until
 * the next call: the caller copies what it returns).
 */
static nk_jwt_reason
strict_claims(uint32 h, const char *seg, size_t len, const nk_jwt_policy *pol,
              vcache_entry *local, vcache_entry **out)
{
    vcache_entry *e = vcache_find(h, seg, len);
    nk_jwt_reason r;
    uint64 gen;

    if (e == NULL) {
        bool keep = len <= VCACHE_MAX_SEGMENT && seen_before(h);
        vcache_way *w = NULL;

        if (keep) {
            w = vcache_slot(h);
            e = w->e;
        } else {
            e = local;
            e->config_gen = e->revocation_gen = 0;
            e->buf = NULL;
            e->buf_size = 0;
        }
        /* a failed fill leaves a kept entry invalid (vcache_slot) */
        r = vcache_fill(e, keep, seg, len, pol);
        if (r != NK_JWT_OK)
            return r;
        /* config_gen 0: filled, but converted for this call only */
        if (w != NULL && e->config_gen != 0) {
            w->head = h;
            w->used = ++vcache_clock;
        }
    }
    r = nk_jwt_check_claims(&e->claims, pol);
    if (r != NK_JWT_OK)
        return r;
    if (e->revocation_gen != revocation_gen) {
        if (is_revoked(&e->claims, &gen))
            return NK_JWT_REVOKED;
        /* a converted (unkept) entry keeps nothing for next time */
        if (e->config_gen != 0)
            e->revocation_gen = gen;
    }
    *out = e;
    return NK_JWT_OK;
}

/* ---- strict verification and issuing ------------------------------------- */

/* A kid as text; the last one is kept (every token of a key names it). */
static Datum
kid_text(const char *kid)
{
    static char last[NK_JWT_ID_MAX + 1];
    static text *last_text = NULL;

    if (last_text == NULL || strcmp(last, kid) != 0) {
        if (last_text != NULL)
            pfree(last_text);
        last_text =
            MemoryContextAlloc(TopMemoryContext, VARHDRSZ + strlen(kid));
        SET_VARSIZE(last_text, VARHDRSZ + strlen(kid));
        memcpy(VARDATA(last_text), kid, strlen(kid));
        strlcpy(last, kid, sizeof(last));
    }
    return PointerGetDatum(last_text);
}

/* The reason codes as text, made once (one less palloc per verification). */
static Datum
reason_text(nk_jwt_reason r)
{
    static text *names[NK_JWT_REASON_COUNT];

    if ((int)r < 0 || r >= NK_JWT_REASON_COUNT)
        r = NK_JWT_MALFORMED;
    if (names[r] == NULL) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

        names[r] = cstring_to_text(nk_jwt_reason_name(r));
        MemoryContextSwitchTo(old);
    }
    return PointerGetDatum(names[r]);
}

/*
 * The row type of a TABLE function's result, built and blessed once per
 * backend: only the column types matter to the executor, and these are
 * built-in types, so there is nothing to invalidate.
 */
static TupleDesc
row_desc(TupleDesc *cache, int natts, const Oid *types)
{
    MemoryContext old;
    TupleDesc d;
    int i;

    if (*cache != NULL)
        return *cache;
    old = MemoryContextSwitchTo(TopMemoryContext);
    d = CreateTemplateTupleDesc(natts);
    for (i = 0; i < natts; i++)
        TupleDescInitEntry(d, (AttrNumber)(i + 1), NULL, types[i], -1, 0);
    *cache = BlessTupleDesc(d);
    MemoryContextSwitchTo(old);
    return *cache;
}

/*
 * verify is a TABLE function (pgjwt's signature) that always answers one
 * row. The cheapest way to do that is the value-per-call protocol answering
 * once (isDone stays ExprSingleResult): no tuplestore or tuple descriptor of
 * our own per call, and none at all when called in a target list.
 */
static void
single_row_call(FunctionCallInfo fcinfo)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;

    if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
        (rsinfo->allowedModes & SFRM_ValuePerCall) == 0)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("set-valued function called in context that cannot "
                        "accept a set")));
    rsinfo->returnMode = SFRM_ValuePerCall;
    rsinfo->isDone = ExprSingleResult;
}

/*
 * The row type namaskah.jwt_verdict, blessed once per backend (and again
 * should the type be made anew, e.g. by a reinstall in this session).
 */
static TupleDesc
verdict_desc(FunctionCallInfo fcinfo)
{
    static TupleDesc desc = NULL;
    static Oid desc_type = InvalidOid;
    Oid type = get_fn_expr_rettype(fcinfo->flinfo);
    TupleDesc d;
    MemoryContext old;

    if (desc != NULL && type == desc_type)
        return desc;
    if (get_call_result_type(fcinfo, NULL, &d) != TYPEFUNC_COMPOSITE ||
        d->natts != 6)
        elog(ERROR, "jwt_verify_strict must return namaskah.jwt_verdict");
    old = MemoryContextSwitchTo(TopMemoryContext);
    desc = BlessTupleDesc(CreateTupleDescCopy(d));
    MemoryContextSwitchTo(old);
    desc_type = type;
    return desc;
}

PG_FUNCTION_INFO_V1(namaskah_jwt_verify_strict);
Datum
namaskah_jwt_verify_strict(PG_FUNCTION_ARGS)
{
    nk_jwt_policy pol;
    nk_jwt_result res;
    lookup_ctx ctx;
    vcache_entry local, *e = NULL;
    Datum values[6] = {0, 0, 0, 0, 0, 0};
    bool nulls[6] = {false, false, true, true, true, true};
    nk_jwt_reason r;
    text *token = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

    /*
     * Invalidations are read at every transaction start; reading them here
     * as well (cheap when there are none) makes a key, setting or
     * revocation change committed before this call count, even inside a
     * long transaction.
     */
    AcceptInvalidationMessages();
    ensure_caches_as_owner(fcinfo);
    /* A NULL clock means now(), never "no time checks". */
    ctx.now = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp()
                              : PG_GETARG_TIMESTAMPTZ(1);
    pol.now = to_unix(ctx.now);
    pol.leeway = config.leeway;
    pol.issuer = config.issuer[0] ? config.issuer : NULL;
    pol.audience = config.audience[0] ? config.audience : NULL;
    /* no token outlives the lifetime this service issues (jwt_issue) */
    pol.max_lifetime = (double)config.expire_minutes * 60;

    if (token == NULL) {
        memset(&res, 0, sizeof(res));
        r = NK_JWT_MALFORMED;
    } else {
        const char *seg;
        size_t seg_len;

        r = nk_jwt_verify_signature(
            VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), lookup_key, &ctx,
            &header_memo, verify_scratch, &seg, &seg_len, &res);
        if (r == NK_JWT_OK)
            r = strict_claims(res.sig_head, seg, seg_len, &pol, &local, &e);
    }
    if (r == NK_JWT_OK) {
        text *t;

        static id_buf sub_buf, role_buf;

        values[2] = PointerGetDatum(e->payload);
        nulls[2] = false;
        if (e->claims.sub_len > 0 &&
            (t = id_text(&sub_buf, e->claims.sub, e->claims.sub_len)) != NULL) {
            values[4] = PointerGetDatum(t);
            nulls[4] = false;
        }
        if (e->claims.role_len > 0 &&
            (t = id_text(&role_buf, e->claims.role, e->claims.role_len)) !=
                NULL) {
            values[5] = PointerGetDatum(t);
            nulls[5] = false;
        }
    }
    values[0] = BoolGetDatum(r == NK_JWT_OK);
    values[1] = reason_text(r);
    if (res.kid[0] != '\0') {
        values[3] = kid_text(res.kid);
        nulls[3] = false;
    }
    /* the row holds copies: the entry may be refilled by the next call */
    return HeapTupleGetDatum(
        heap_form_tuple(verdict_desc(fcinfo), values, nulls));
}

/*
 * jwt_lifetime_seconds(): how long a token jwt_issue makes now is valid
 * (jwt.expire_minutes as jwt_issue reads it: bounded, 480 when unset or
 * out of range), so an answer's expires_in is the token's own exp - iat.
 */
PG_FUNCTION_INFO_V1(namaskah_jwt_lifetime_seconds);
Datum
namaskah_jwt_lifetime_seconds(PG_FUNCTION_ARGS)
{
    ensure_caches_as_owner(fcinfo);
    PG_RETURN_INT32(config.expire_minutes * 60);
}

PG_FUNCTION_INFO_V1(namaskah_jwt_issue);
Datum
namaskah_jwt_issue(PG_FUNCTION_ARGS)
{
    TimestampTz now = PG_ARGISNULL(1) ? GetCurrentTransactionStartTimestamp()
                                      : PG_GETARG_TIMESTAMPTZ(1);
    const cached_key *k;
    Jsonb *claims;
    StringInfoData reg, header;
    unsigned char rnd[16];
    char jti[32];
    int64 iat;
    char *payload;
    size_t size, n;
    char *out;
    Datum merged;

    ensure_caches();
    k = signing_key();
    if (k == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("no active signing key"),
                 errhint("Install one with namaskah.install_signing_key().")));
    if (PG_ARGISNULL(0))
        claims = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
    else
        claims = PG_GETARG_JSONB_P(0);
    if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("token claims must be a JSON object")));
    if (!pg_strong_random(rnd, sizeof(rnd)))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not generate random token id")));
    nk_b64url_encode(jti, sizeof(jti), rnd, sizeof(rnd));

    /* Registered claims are ours: they replace any the caller passed. */
    iat = (int64)floor(to_unix(now));
    initStringInfo(&reg);
    appendStringInfo(&reg,
                     "{\"iat\":" INT64_FORMAT ",\"nbf\":" INT64_FORMAT
                     ",\"exp\":" INT64_FORMAT ",\"jti\":\"%s\"",
                     iat, iat, iat + (int64)config.expire_minutes * 60, jti);
    if (config.issuer[0]) {
        appendStringInfoString(&reg, ",\"iss\":");
        escape_json(&reg, config.issuer);
    }
    if (config.audience[0]) {
        appendStringInfoString(&reg, ",\"aud\":");
        escape_json(&reg, config.audience);
    }
    appendStringInfoChar(&reg, '}');
    merged = DirectFunctionCall2(
        jsonb_concat, JsonbPGetDatum(claims),
        DirectFunctionCall1(jsonb_in, CStringGetDatum(reg.data)));
    payload = JsonbToCString(NULL, &DatumGetJsonbP(merged)->root,
                             VARSIZE(DatumGetJsonbP(merged)));
    payload = pg_server_to_any(payload, strlen(payload), PG_UTF8);

    initStringInfo(&header);
    appendStringInfo(&header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":",
                     nk_jwt_alg_name(k->alg));
    escape_json(&header, k->kid);
    appendStringInfoChar(&header, '}');

    size = nk_jwt_signed_size(k->alg, header.len, strlen(payload));
    if (size > NK_JWT_MAX_TOKEN + 1)
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("token would exceed %d bytes", NK_JWT_MAX_TOKEN),
                 errdetail("The verifier refuses tokens larger than that.")));
    out = palloc(size);
    n = nk_jwt_sign(k->hk, header.data, header.len, payload, strlen(payload),
                    out, size);
    if (n == 0)
        elog(ERROR, "could not sign token");
    PG_RETURN_TEXT_P(cstring_to_text_with_len(out, (int)n));
}

/* ---- signing keys ------------------------------------------------------- */

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
PG_FUNCTION_INFO_V1(namaskah_jwt_key_fingerprint);
Datum
namaskah_jwt_key_fingerprint(PG_FUNCTION_ARGS)
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

/* ---- pgjwt compatibility ------------------------------------------------- */

/* pgjwt maps anything but HS256/384/512 (NULL included) to an error. */
static nk_jwt_alg
pgjwt_alg(text *algorithm)
{
    if (algorithm == NULL)
        return NK_JWT_ALG_INVALID;
    return nk_jwt_alg_from_name(VARDATA_ANY(algorithm),
                                VARSIZE_ANY_EXHDR(algorithm));
}

/*
 * pgjwt hands pgcrypto's hmac() an empty algorithm name, and this is the
 * error that results; kept verbatim (capital letter included) for scripts
 * that match on it.
 */
static void
pgjwt_bad_alg(void)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("Cannot use \"\": No such hash algorithm")));
}

/* Reuses the precomputed key when the same secret comes again (typical). */
static nk_hmac_key *
pgjwt_key(nk_jwt_alg alg, text *secret)
{
    const char *s = VARDATA_ANY(secret);
    size_t len = VARSIZE_ANY_EXHDR(secret);

    if (pgjwt_last_key != NULL && pgjwt_last_alg == alg &&
        pgjwt_last_len == len && CRYPTO_memcmp(pgjwt_last_secret, s, len) == 0)
        return pgjwt_last_key;
    nk_hmac_key_free(pgjwt_last_key);
    pgjwt_last_key = NULL;
    if (pgjwt_last_secret != NULL) {
        OPENSSL_cleanse(pgjwt_last_secret, pgjwt_last_len);
        pfree(pgjwt_last_secret);
        pgjwt_last_secret = NULL;
    }
    pgjwt_last_key = nk_hmac_key_new(alg, (const unsigned char *)s, len);
    if (pgjwt_last_key == NULL)
        elog(ERROR, "could not set up HMAC key");
    pgjwt_last_secret = MemoryContextAlloc(TopMemoryContext, len + 1);
    memcpy(pgjwt_last_secret, s, len);
    pgjwt_last_len = len;
    pgjwt_last_alg = alg;
    return pgjwt_last_key;
}

static text *
pgjwt_mac_text(nk_jwt_alg alg, text *secret, const char *data, size_t len)
{
    unsigned char mac[NK_JWT_MAX_MAC];
    size_t n = nk_hmac_key_mac(pgjwt_key(alg, secret),
                               (const unsigned char *)data, len, mac);
    text *t;

    if (n == 0)
        elog(ERROR, "could not compute HMAC");
    t = url_encode_bytes(mac, n);
    OPENSSL_cleanse(mac, sizeof(mac));
    return t;
}

static text *
url_encode_bytes(const unsigned char *data, size_t len)
{
    size_t n = nk_b64url_encoded_len(len);
    text *t;

    if (n > MaxAllocSize - VARHDRSZ - 1)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("value too large to encode")));
    t = palloc(VARHDRSZ + n + 1);
    nk_b64url_encode(VARDATA(t), n + 1, data, len);
    SET_VARSIZE(t, VARHDRSZ + n);
    return t;
}

/*
 * url_decode of s[0..len). Canonical base64url (what every token carries)
 * decodes the same strictly and leniently, so the strict decoder is tried
 * first; anything else takes pgjwt's lenient rules, and the library status
 * becomes PostgreSQL's own base64 errors, as in pgjwt.
 */
static bytea *
url_decode_span(const char *s, size_t len)
{
    size_t max = nk_b64url_decoded_max(len + 3), out_len = 0, bad = 0, chars;
    bytea *out = palloc(VARHDRSZ + max);
    nk_b64_status st;

    if (nk_b64url_decode_strict((unsigned char *)VARDATA(out), max, &out_len, s,
                                len) == NK_B64_OK) {
        SET_VARSIZE(out, VARHDRSZ + out_len);
        return out;
    }
    chars = (size_t)pg_mbstrlen_with_len(s, (int)len);
    st = nk_b64url_decode_lenient((unsigned char *)VARDATA(out), max, &out_len,
                                  s, len, chars, &bad);
    switch (st) {
    case NK_B64_OK:
        break;
    case NK_B64_BAD_SYMBOL:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid symbol \"%.*s\" found while "
                               "decoding base64 sequence",
                               pg_mblen(s + bad), s + bad)));
        break;
    case NK_B64_UNEXPECTED_EQ:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("unexpected \"=\" while decoding base64 sequence")));
        break;
    default:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("invalid base64 end sequence"),
                 errhint("Input data is missing padding, is truncated, or "
                         "is otherwise corrupted.")));
    }
    SET_VARSIZE(out, VARHDRSZ + out_len);
    return out;
}

static bytea *
url_decode_text(text *in)
{
    return url_decode_span(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in));
}

PG_FUNCTION_INFO_V1(namaskah_url_encode);
Datum
namaskah_url_encode(PG_FUNCTION_ARGS)
{
    bytea *data = PG_GETARG_BYTEA_PP(0);

    PG_RETURN_TEXT_P(url_encode_bytes((const unsigned char *)VARDATA_ANY(data),
                                      VARSIZE_ANY_EXHDR(data)));
}

PG_FUNCTION_INFO_V1(namaskah_url_decode);
Datum
namaskah_url_decode(PG_FUNCTION_ARGS)
{
    PG_RETURN_BYTEA_P(url_decode_text(PG_GETARG_TEXT_PP(0)));
}

/* NULL data or secret gives NULL before the algorithm is looked at. */
PG_FUNCTION_INFO_V1(namaskah_algorithm_sign);
Datum
namaskah_algorithm_sign(PG_FUNCTION_ARGS)
{
    text *data, *secret;
    nk_jwt_alg alg;

    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        PG_RETURN_NULL();
    data = PG_GETARG_TEXT_PP(0);
    secret = PG_GETARG_TEXT_PP(1);
    alg = pgjwt_alg(PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
    if (alg == NK_JWT_ALG_INVALID)
        pgjwt_bad_alg();
    PG_RETURN_TEXT_P(pgjwt_mac_text(alg, secret, VARDATA_ANY(data),
                                    VARSIZE_ANY_EXHDR(data)));
}

/* STRICT in SQL: pgjwt's sign() is NULL whenever an argument is. */
PG_FUNCTION_INFO_V1(namaskah_sign);
Datum
namaskah_sign(PG_FUNCTION_ARGS)
{
    text *payload = PG_GETARG_TEXT_PP(0); /* json is text on disk */
    text *secret = PG_GETARG_TEXT_PP(1);
    nk_jwt_alg alg = pgjwt_alg(PG_GETARG_TEXT_PP(2));
    char header[40];
    char *ptxt;
    size_t plen, size, n;
    char *out;

    if (alg == NK_JWT_ALG_INVALID)
        pgjwt_bad_alg();
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
             nk_jwt_alg_name(alg));
    plen = VARSIZE_ANY_EXHDR(payload);
    ptxt = pg_server_to_any(VARDATA_ANY(payload), (int)plen, PG_UTF8);
    if (ptxt != VARDATA_ANY(payload))
        plen = strlen(ptxt);
    size = nk_jwt_signed_size(alg, strlen(header), plen);
    if (size > MaxAllocSize - VARHDRSZ)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("payload too large to sign")));
    out = palloc(VARHDRSZ + size);
    n = nk_jwt_sign(pgjwt_key(alg, secret), header, strlen(header), ptxt, plen,
                    VARDATA(out), size);
    if (n == 0)
        elog(ERROR, "could not sign token");
    SET_VARSIZE(out, VARHDRSZ + n);
    PG_RETURN_TEXT_P(out);
}

/* Splits like regexp_split_to_array(token, '\.'): every dot, no limit. */
static int
split_token(text *token, token_part *parts)
{
    const char *s = VARDATA_ANY(token);
    const char *end = s + VARSIZE_ANY_EXHDR(token);
    int n = 0;

    for (;;) {
        const char *dot = memchr(s, '.', end - s);
        const char *stop = dot ? dot : end;

        if (n < 3) {
            parts[n].p = s;
            parts[n].len = (size_t)(stop - s);
        }
        n++;
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    return n;
}

/* nbf / exp as found by the strict scanner (the fast path of verify). */
static int
pgjwt_member(void *arg, const nk_json_member *m)
{
    pgjwt_times *t = arg;
    char key[4];
    int i;

    if (nk_json_unescape(m->key, m->key_len, key, sizeof(key)) != 3)
        return 0;
    i = strcmp(key, "nbf") == 0 ? 0 : strcmp(key, "exp") == 0 ? 1 : -1;
    if (i >= 0) {
        t->has[i] = true;
        t->kind[i] = m->kind;
        t->val[i] = m->val;
        t->len[i] = m->val_len;
    }
    return 0;
}

/*
 * convert_from(raw, 'utf8')::json, raw being url_decode(part). A text the
 * strict scanner accepts is valid JSON for json_in too, so json_in (and,
 * in pgjwt_range_contains, two more parses by ->>) is only needed for what
 * the scanner refuses; times->fast says which path was taken.
 */
static Datum
decode_json_part(bytea *raw, pgjwt_times *times)
{
    size_t len = VARSIZE(raw) - VARHDRSZ;
    char *txt = pg_any_to_server(VARDATA(raw), (int)len, PG_UTF8);

    if (txt != VARDATA(raw))
        len = strlen(txt);
    if (times != NULL) {
        memset(times, 0, sizeof(*times));
        times->fast = nk_json_scan_object(txt, len, &nk_jwt_json_limits,
                                          pgjwt_member, times) == NK_JSON_OK;
        /* json is text on disk: the decoded bytea serves as it is. */
        if (times->fast && txt == VARDATA(raw))
            return PointerGetDatum(raw);
        if (times->fast)
            return PointerGetDatum(cstring_to_text_with_len(txt, (int)len));
    }
    return DirectFunctionCall1(json_in, CStringGetDatum(pnstrdup(txt, len)));
}

/*
 * A JSON number that is an integer of at most 15 digits: every such value
 * is exactly a double, so this equals strtod's result without the text.
 */
static bool
small_integer(const char *s, size_t len, float8 *out)
{
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    int64 n = 0;
    bool neg = i == 1;

    if (len == i || len - i > 15)
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (s[i] - '0');
    }
    *out = neg ? -(float8)n : (float8)n;
    return true;
}

/* pgjwt's try_cast_double(): NULL when the text is not a float8. */
static bool
try_float8(text *t, float8 *out)
{
    char *s = text_to_cstring(t);
    bool err = false;
    float8 v =
        float8in_internal_opt_error(s, NULL, "double precision", s, &err);

    if (err)
        return false;
    *out = v;
    return true;
}

/*
 * to_timestamp(try_cast_double(payload->>name)): false when NULL. The
 * json ->> operator is called directly for its exact semantics (non-object
 * payloads, duplicate keys).
 */
static bool
pgjwt_bound(Datum payload, const pgjwt_times *t, int which, TimestampTz *out)
{
    text *value;
    float8 v;

    if (t->fast) {
        /* ->> gives a string's value, any other value's JSON text. */
        char *buf;

        if (!t->has[which] || t->kind[which] == NK_JSON_NULL)
            return false;
        if (t->kind[which] == NK_JSON_NUMBER &&
            small_integer(t->val[which], t->len[which], &v)) {
            /* What float8in would make of the same digits, exactly. */
            *out = DatumGetTimestampTz(
                DirectFunctionCall1(float8_timestamptz, Float8GetDatum(v)));
            return true;
        }
        buf = palloc(t->len[which] * 4 + 1);
        if (t->kind[which] == NK_JSON_STRING)
            nk_json_unescape(t->val[which], t->len[which], buf,
                             t->len[which] * 4 + 1);
        else
            strlcpy(buf, t->val[which], t->len[which] + 1);
        value = cstring_to_text(buf);
    } else {
        LOCAL_FCINFO(fc, 2);
        Datum f;

        InitFunctionCallInfoData(*fc, NULL, 2, InvalidOid, NULL, NULL);
        fc->args[0].value = payload;
        fc->args[0].isnull = false;
        fc->args[1].value = CStringGetTextDatum(which == 0 ? "nbf" : "exp");
        fc->args[1].isnull = false;
        f = json_object_field_text(fc);
        if (fc->isnull)
            return false;
        value = DatumGetTextPP(f);
    }
    if (!try_float8(value, &v))
        return false;
    *out = DatumGetTimestampTz(
        DirectFunctionCall1(float8_timestamptz, Float8GetDatum(v)));
    return true;
}

/*
 * tstzrange(to_timestamp(nbf), to_timestamp(exp)) @> CURRENT_TIMESTAMP,
 * with pgjwt's edge behaviour: a missing or non-numeric bound is unbounded;
 * to_timestamp() errors (NaN, out of range) and a lower bound above the
 * upper one raise as they do there; equal bounds make an empty range.
 */
static int
pgjwt_range_contains(Datum payload, bool payload_null, const pgjwt_times *t)
{
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    TimestampTz lo = 0, hi = 0;
    bool has_lo = false, has_hi = false;

    if (!payload_null) {
        has_lo = pgjwt_bound(payload, t, 0, &lo);
        has_hi = pgjwt_bound(payload, t, 1, &hi);
    }
    if (has_lo && has_hi && lo > hi)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION),
                 errmsg("range lower bound must be less than or equal to "
                        "range upper bound")));
    if (has_lo && has_hi && lo == hi)
        return 0;
    return (!has_lo || lo <= now) && (!has_hi || now < hi);
}

/*
 * The header json of verify(): a token's header segment is the same for
 * every token of one signer, and the same bytes always decode and parse
 * the same (or fail the same way), so the last one that succeeded is kept.
 * raw is its decoding, or NULL when pgjwt_header_known said it is known.
 */
static Datum
pgjwt_header(const token_part *part, bytea *raw)
{
    pgjwt_times unused;
    Datum d;
    MemoryContext old;

    if (raw == NULL)
        return PointerGetDatum(pgjwt_hdr_json);
    d = decode_json_part(raw, &unused);
    if (part->len <= sizeof(pgjwt_hdr_seg)) {
        old = MemoryContextSwitchTo(TopMemoryContext);
        if (pgjwt_hdr_json != NULL)
            pfree(pgjwt_hdr_json);
        pgjwt_hdr_len = 0;
        pgjwt_hdr_json = DatumGetTextPCopy(d);
        memcpy(pgjwt_hdr_seg, part->p, part->len);
        pgjwt_hdr_len = part->len;
        MemoryContextSwitchTo(old);
    }
    return d;
}

static bool
pgjwt_header_known(const token_part *part)
{
    return pgjwt_hdr_len != 0 && part->len == pgjwt_hdr_len &&
           memcmp(part->p, pgjwt_hdr_seg, part->len) == 0;
}

PG_FUNCTION_INFO_V1(namaskah_verify);
Datum
namaskah_verify(PG_FUNCTION_ARGS)
{
    static TupleDesc desc = NULL;
    static const Oid types[3] = {JSONOID, JSONOID, BOOLOID};
    Datum values[3] = {0, 0, 0};
    bool nulls[3] = {true, true, true};
    token_part parts[3];
    int nparts = 0;
    int sig_ok = -1; /* -1: NULL, as SQL's three-valued logic has it */
    nk_jwt_alg alg = NK_JWT_ALG_INVALID;
    bytea *raw[2] = {NULL, NULL};
    pgjwt_times times;

    memset(&times, 0, sizeof(times));
    single_row_call(fcinfo);
    if (!PG_ARGISNULL(0))
        nparts = split_token(PG_GETARG_TEXT_PP(0), parts);
    /*
     * pgjwt's error precedence: base64 of header then payload, then the
     * algorithm, then UTF-8 and JSON of header then payload.
     */
    if (nparts >= 1 && !pgjwt_header_known(&parts[0]))
        raw[0] = url_decode_span(parts[0].p, parts[0].len);
    if (nparts >= 2)
        raw[1] = url_decode_span(parts[1].p, parts[1].len);
    if (nparts >= 2 && !PG_ARGISNULL(1)) {
        alg = pgjwt_alg(PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
        if (alg == NK_JWT_ALG_INVALID)
            pgjwt_bad_alg();
    }
    if (nparts >= 1) {
        values[0] = pgjwt_header(&parts[0], raw[0]);
        nulls[0] = false;
    }
    if (nparts >= 2) {
        values[1] = decode_json_part(raw[1], &times);
        nulls[1] = false;
    }
    if (nparts >= 2 && !PG_ARGISNULL(1)) {
        /* r[1] || '.' || r[2] is the token up to its second dot. */
        text *token = PG_GETARG_TEXT_PP(0);
        size_t slen = parts[0].len + 1 + parts[1].len;
        text *mac =
            pgjwt_mac_text(alg, PG_GETARG_TEXT_PP(1), VARDATA_ANY(token), slen);

        if (nparts >= 3)
            sig_ok = parts[2].len == VARSIZE_ANY_EXHDR(mac) &&
                     CRYPTO_memcmp(parts[2].p, VARDATA_ANY(mac),
                                   VARSIZE_ANY_EXHDR(mac)) == 0;
    }
    if (sig_ok != 0) {
        int in_range = pgjwt_range_contains(values[1], nulls[1], &times);

        if (!in_range) {
            values[2] = BoolGetDatum(false);
            nulls[2] = false;
        } else if (sig_ok == 1) {
            values[2] = BoolGetDatum(true);
            nulls[2] = false;
        }
    } else {
        values[2] = BoolGetDatum(false);
        nulls[2] = false;
    }
    return HeapTupleGetDatum(
        heap_form_tuple(row_desc(&desc, 3, types), values, nulls));
}
