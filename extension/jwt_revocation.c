/*
 * jwt_revocation.c — "is this token revoked?" without a query: the two
 * revocation tables held in each backend's memory.
 *
 * Revocation sets: each backend holds revoked_tokens (jti -> expires_at)
 * and user_token_cutoff (user -> not_before) in memory, loaded wholesale
 * (one heap scan each) and looked up by hash, so a new token costs no SPI,
 * no index probe and no lock. Both tables carry the invalidation trigger
 * (jwt_keys.c); each change bumps the table's generation and the set is
 * reloaded at its next use. A table over jwt.revocation_cache_rows rows
 * (default 100000; purge_revocations keeps them bounded) is not held: its
 * lookups fall back to a primary-key index probe on a fresh snapshot, until
 * it changes again. Pending invalidations are read at every transaction
 * start and again at every jwt_verify_strict call, and a set is loaded on a
 * snapshot taken after reading them, so a revocation committed before a
 * request's transaction (indeed before the call) begins is always seen.
 *
 * The sets are hand-rolled rather than simplehash or dynahash: a key is
 * 1..255 bytes kept in one arena per set, and a slot is 24 bytes (the bound
 * docs/jwt.md gives). simplehash wants the key inside its element (a
 * pointer and a length make the slot 32 bytes) and may double its table on
 * a long probe run, so the memory would no longer follow from the row count
 * alone; dynahash wants a fixed-size key (256 bytes a row) and allocates
 * per element. Built once per change and never deleted from, the set needs
 * no more than linear probing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "jwt_internal.h"
#include "nk_jwt.h"

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
    jwt_revocation_table table;
    uint64 gen;       /* bumped by each invalidation of the table */
    uint64 valid_gen; /* 0: never loaded; else the gen it was loaded at */
    bool overflow;    /* over jwt.revocation_cache_rows: probe the index */
    uint32 count;
    uint32 nslots;
    revset_slot *slots;
    char *arena;
    MemoryContext cxt;
} revset;

/* A table's rows as read, before they are hashed into the set. */
typedef struct revset_rows {
    revset_slot *rows;
    uint32 n, cap;
    char *arena;
    size_t arena_len, arena_cap;
} revset_rows;

static bool find_row(Oid relid, const char *key, Snapshot snap,
                     TimestampTz *value);
static uint64 revset_hash(const char *key, size_t len);
static revset_slot *revset_probe(const revset *s, const char *key, size_t len,
                                 uint64 h);
static void revset_clear(revset *s);
static void revset_add(revset_rows *r, text *kt, TimestampTz at);
static bool revset_scan(Relation rel, Snapshot snap, revset_rows *r);
static void revset_index(revset *s, revset_rows *r);
static void revset_load(revset *s);
static bool revset_lookup(revset *s, const char *key, size_t len,
                          TimestampTz *at);

static uint64 revocation_gen = 1;
static revset sets[JWT_REVOCATION_TABLES] = {
    {JWT_REVOKED_TOKENS, 1},
    {JWT_USER_TOKEN_CUTOFF, 1},
};

/* ---- generations --------------------------------------------------------- */

void
jwt_revocation_changed(jwt_revocation_table t)
{
    sets[t].gen++;
    revocation_gen++;
}

void
jwt_revocation_reload_all(void)
{
    sets[JWT_REVOKED_TOKENS].gen++;
    sets[JWT_USER_TOKEN_CUTOFF].gen++;
    revocation_gen++;
}

uint64
jwt_revocation_generation(void)
{
    return revocation_gen;
}

/* ---- the index probe ----------------------------------------------------- */

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

/* ---- the sets ------------------------------------------------------------ */

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

/* Empties the set (never loaded) and the memory it had. */
static void
revset_clear(revset *s)
{
    if (s->cxt == NULL)
        s->cxt = AllocSetContextCreate(TopMemoryContext, "namaskah revocations",
                                       ALLOCSET_DEFAULT_SIZES);
    MemoryContextReset(s->cxt);
    s->slots = NULL;
    s->arena = NULL;
    s->nslots = 0;
    s->valid_gen = 0;
    s->overflow = false;
}

static void
revset_add(revset_rows *r, text *kt, TimestampTz at)
{
    size_t len = VARSIZE_ANY_EXHDR(kt);

    /* A token's jti/sub is 1..NK_JWT_ID_MAX bytes: others never match. */
    if (len == 0 || len > NK_JWT_ID_MAX)
        return;
    if (r->n == r->cap) {
        r->cap *= 2;
        r->rows = repalloc(r->rows, r->cap * sizeof(revset_slot));
    }
    if (r->arena_len + len > r->arena_cap) {
        while (r->arena_len + len > r->arena_cap)
            r->arena_cap *= 2;
        r->arena = repalloc(r->arena, r->arena_cap);
    }
    memcpy(r->arena + r->arena_len, VARDATA_ANY(kt), len);
    r->rows[r->n].hash = revset_hash(VARDATA_ANY(kt), len);
    r->rows[r->n].at = at;
    r->rows[r->n].off = (uint32)r->arena_len;
    r->rows[r->n].len = (uint16)len;
    r->arena_len += len;
    r->n++;
}

/*
 * The table's rows into *r, in the current memory context; false as soon
 * as there are more than jwt.revocation_cache_rows of them.
 */
static bool
revset_scan(Relation rel, Snapshot snap, revset_rows *r)
{
    TableScanDesc scan;
    HeapTuple tup;
    bool fits = true;

    r->n = 0;
    r->cap = 1024;
    r->arena_len = 0;
    r->arena_cap = 16384;
    r->rows = palloc(r->cap * sizeof(revset_slot));
    r->arena = palloc(r->arena_cap);
    scan = table_beginscan(rel, snap, 0, NULL);
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL) {
        bool knull, vnull;
        Datum k = heap_getattr(tup, 1, RelationGetDescr(rel), &knull);
        Datum v = heap_getattr(tup, 2, RelationGetDescr(rel), &vnull);

        CHECK_FOR_INTERRUPTS();
        if (knull || vnull)
            continue;
        if (r->n >= (uint32)jwt_settings()->revocation_rows) {
            fits = false;
            break;
        }
        revset_add(r, DatumGetTextPP(k), DatumGetTimestampTz(v));
    }
    table_endscan(scan);
    return fits;
}

/* The rows hashed into the set's slots, at most half full. */
static void
revset_index(revset *s, revset_rows *r)
{
    uint32 nslots;

    for (nslots = 64; nslots < 2 * r->n; nslots *= 2)
        ;
    s->slots = palloc0(nslots * sizeof(revset_slot));
    s->arena = r->arena;
    s->nslots = nslots;
    for (uint32 i = 0; i < r->n; i++) {
        revset_slot *e = revset_probe(s, r->arena + r->rows[i].off,
                                      r->rows[i].len, r->rows[i].hash);

        *e = r->rows[i];
    }
    pfree(r->rows);
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
    Snapshot snap;
    uint64 gen;
    revset_rows r;
    MemoryContext old;

    revset_clear(s);
    rel = table_open(jwt_revocation_relid(s->table), AccessShareLock);
    AcceptInvalidationMessages();
    gen = s->gen;
    snap = RegisterSnapshot(GetLatestSnapshot());
    old = MemoryContextSwitchTo(s->cxt);
    s->overflow = !revset_scan(rel, snap, &r);
    UnregisterSnapshot(snap);
    table_close(rel, NoLock);
    if (!s->overflow)
        revset_index(s, &r);
    else {
        MemoryContextReset(s->cxt);
        s->arena = NULL;
    }
    MemoryContextSwitchTo(old);
    s->count = r.n;
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

    if (s->valid_gen != s->gen)
        revset_load(s);
    if (s->overflow || len > NK_JWT_ID_MAX) {
        Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
        bool found = find_row(jwt_revocation_relid(s->table), key, snap, at);

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
bool
jwt_is_revoked(const nk_jwt_claims *c, uint64 *checked_gen)
{
    TimestampTz at;

    *checked_gen = revocation_gen;
    if (c->jti_len > 0 &&
        revset_lookup(&sets[JWT_REVOKED_TOKENS], c->jti, c->jti_len, &at))
        return true;
    if (c->sub_len > 0 &&
        revset_lookup(&sets[JWT_USER_TOKEN_CUTOFF], c->sub, c->sub_len, &at))
        return !c->has_iat || c->iat < jwt_to_unix(at);
    return false;
}
