/*
 * ratelimit.c — SQL-callable rate limiting: rate_limit_peek, rate_limit_check,
 * rate_limit_slots.
 *
 * The arithmetic is core/nk_ratelimit.c; this file reads the policy, reads
 * and writes the key's rows of namaskah.rate_limit_state through SPI with
 * plans prepared once per backend (SPI_keepplan), and turns library errors
 * into ereport in one place (rl_report_error). What a check consumes is
 * noted for the audit record, and the state is rebuilt from those records
 * after a crash (ratelimit_journal.c).
 *
 * The state of a key is split over S slots (one row each; S from
 * nk_rl_slot_count, 1 for small quotas), each with its share of the quota,
 * so that concurrent allowed requests on one hot key lock different rows.
 *
 * Locking rules:
 *   - peek reads the committed rows (an index scan in C, rl_read_slots,
 *     with the fresh snapshot a SELECT would take): no lock, no wait.
 *   - check with one slot locks the key's row (directly, as SELECT ... FOR
 *     UPDATE would: rl_lock_slot) and keeps the lock until the caller's
 * transaction ends, so concurrent checks on one key are serialized and exact.
 *   - check with S > 1 slots reads the committed rows, then tries the slots
 *     whose committed state allows the cost, starting at a random one, each
 *     with SELECT ... FOR UPDATE SKIP LOCKED; it consumes from the first
 *     slot it locks that still allows the cost. Slots locked by others are
 *     then waited on one after the other (plain FOR UPDATE). Every lock is
 *     taken in an internal subtransaction that is rolled back when the slot
 *     turns out to be exhausted, so a check ends holding at most ONE row of
 *     the key (the slot it consumed from) and never waits while holding one:
 *     checks on one key cannot deadlock. A check is denied only after every
 *     slot that could allow it was examined under its lock (or denied by its
 *     committed state, which concurrent checks can only lower): exact.
 *   - A key without a row is created with INSERT ... ON CONFLICT DO NOTHING;
 *     losing that race means another transaction created it first, so we go
 *     back and lock its row.
 *   - A check that creates rows also deletes expired ones (SKIP LOCKED,
 *     never waiting), three more than it created, so a flood of distinct
 *     keys pays for its own cleanup and the table cannot grow without bound.
 * All of this is exact in READ COMMITTED (each SPI statement takes a fresh
 * snapshot); under REPEATABLE READ a lost race is a serialization error.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/itemptr.h"
#include "storage/proc.h"
#include "optimizer/cost.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "direct.h"
#include "nk_ratelimit.h"
#include "ratelimit_journal.h"
#include "namaskah.h"

/* Keys are client addresses, user ids, "user:route" ...: short. */
#define RL_MAX_KEY_BYTES 256
/* Expired rows deleted in one round of cleanup; a check that created rows
 * runs rounds until it has deleted three more than it created (so the table
 * shrinks while a flood of new keys continues) or none are left. */
#define RL_CLEANUP_ROWS 4
/* expires_at is rounded up to this (or to the window when shorter). */
#define RL_EXPIRY_GRANULE_US INT64CONST(60000000)
/* Attempts to create-or-lock a row before giving up (can't happen twice
 * in a row unless rows are deleted as fast as they are created). */
#define RL_MAX_ATTEMPTS 10

typedef struct rl_policy {
    nk_rl_policy p;
    int32 cost;
    int nslots; /* S, from nk_rl_slot_count */
} rl_policy;

typedef struct rl_state_row {
    bool found;
    nk_rl_state s;
    bool locked;         /* rl_lock_slot locked this version of the row */
    ItemPointerData tid; /* where it is (when locked) */
} rl_state_row;

/* One decision in progress: the arguments and what we know of each slot. */
typedef struct rl_call {
    text *policy;
    text *key;
    TimestampTz now;
    int64 cost;
    rl_policy pol;
    rl_state_row rows[NK_RL_MAX_SLOTS];     /* committed state, as first read */
    nk_rl_result per_slot[NK_RL_MAX_SLOTS]; /* latest decision of each slot */
    int created;                            /* rows we inserted */
} rl_call;

/* What trying one slot under its lock came to. */
typedef enum rl_outcome {
    RL_TOOK,   /* the slot allowed the cost and recorded it */
    RL_DENIED, /* the slot, locked, does not allow the cost */
    RL_BUSY    /* another transaction holds the slot (SKIP LOCKED) */
} rl_outcome;

static SPIPlanPtr rl_plan(SPIPlanPtr *slot, const char *sql, int nargs,
                          Oid *argtypes, int cursor_options);
static void rl_report_error(nk_rl_error err, const char *policy);
static void rl_load_policy(text *name, rl_policy *out);
static void rl_read_slots(rl_call *c);
static bool rl_lock_slot(rl_call *c, int slot, bool skip_locked,
                         rl_state_row *out);
static void rl_state_values(const rl_call *c, int slot, const nk_rl_result *r,
                            Datum values[7]);
static bool rl_insert_state(rl_call *c, int slot, const nk_rl_result *r);
static void rl_update_state(rl_call *c, int slot, const nk_rl_result *r,
                            rl_state_row *row);
static int rl_cleanup(TimestampTz now);
static TimestampTz rl_expiry(const nk_rl_policy *p, int64 expires_at_us);
static int32 rl_seconds(int64 us);
static void rl_apply_slot(rl_call *c, int slot, const rl_state_row *row,
                          int64 cost, nk_rl_result *out);
static void rl_peek(rl_call *c, nk_rl_result *out);
static void rl_check_one(rl_call *c, nk_rl_result *out);
static rl_outcome rl_take_slot(rl_call *c, int slot, bool skip_locked,
                               nk_rl_result *r);
static rl_outcome rl_gather(rl_call *c, int unused_slot, bool unused_flag,
                            nk_rl_result *out);
static rl_outcome
rl_in_subxact(rl_outcome (*step)(rl_call *, int, bool, nk_rl_result *),
              rl_call *c, int slot, bool flag, nk_rl_result *r);
static void rl_check_sharded(rl_call *c, nk_rl_result *out);
static Datum rl_decide(FunctionCallInfo fcinfo, bool consume);
static bool rl_replay_event(rl_call *c, int64 cost);

static SPIPlanPtr plan_insert;
static SPIPlanPtr plan_insert_key;
static SPIPlanPtr plan_update;
static SPIPlanPtr plan_expired;
static SPIPlanPtr plan_delete;

/*
 * Prepares a statement once per backend; the plan cache revalidates it.
 * cursor_options 0 lets the plan cache settle on a generic plan;
 * CURSOR_OPT_CUSTOM_PLAN replans with the actual parameters each time.
 */
static SPIPlanPtr
rl_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes,
        int cursor_options)
{
    if (*slot == NULL)
        *slot = nk_prepare_kept(sql, nargs, argtypes, cursor_options,
                                "a rate-limit statement");
    return *slot;
}

/*
 * Runs a kept plan with sequential scans off: a plan (re)made while the
 * state table is empty (after a crash, in a fresh database) would otherwise
 * scan it whole, and a generic plan is kept for every later call as the
 * table grows. The planner's variable is set for the call and restored,
 * not the setting: a configuration save and restore on every call is what
 * a SET clause on the SQL functions cost.
 */
static int
rl_execute(SPIPlanPtr plan, Datum *values, const char *nulls, long count)
{
    bool saved = enable_seqscan;
    volatile int rc;

    enable_seqscan = false;
    PG_TRY();
    {
        rc = SPI_execute_plan(plan, values, nulls, false, count);
    }
    PG_FINALLY();
    {
        enable_seqscan = saved;
    }
    PG_END_TRY();
    return rc;
}

/* Every nk_rl_error becomes an SQL error here and nowhere else. */
static void
rl_report_error(nk_rl_error err, const char *policy)
{
    switch (err) {
    case NK_RL_OK:
        return;
    case NK_RL_ECOST:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit cost must not be negative")));
        break;
    case NK_RL_EALGORITHM:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("rate-limit policy \"%s\" names an unknown algorithm",
                        policy),
                 errhint("The algorithms are fixed_window, sliding_window, "
                         "token_bucket and gcra.")));
        break;
    case NK_RL_EPOLICY:
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("rate-limit policy \"%s\" has out-of-range values", policy),
             errdetail("The limit and burst must be between 0 and %d and the "
                       "window positive.",
                       PG_INT32_MAX)));
        break;
    case NK_RL_EOVERFLOW:
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("rate-limit values out of range for policy \"%s\"", policy),
             errdetail("The time must lie within 73000 years of 2000-01-01, "
                       "and a bucket's burst times its emission interval "
                       "within 36000 years.")));
        break;
    }
    elog(ERROR, "unknown rate-limit error %d", (int)err);
}

/*
 * The policies, read once per backend and kept until the table changes
 * (its statement trigger cache_invalidate sends a relcache invalidation;
 * rate_limit_policies_relcache_changed drops the copy). Every decision reads
 * its policy, and the pipeline reads the scope and window of a route's policy
 * (rate_limit_policy_info): a query each time was some 20 us a request.
 * Values are kept as the table holds them and checked at each use, so a
 * bad row still fails the calls that use it, with the same errors.
 */
typedef struct rl_policy_row {
    char *name;
    char *algorithm;
    char *scope;
    int32 limit, window_seconds, burst, cost, slots;
} rl_policy_row;

static MemoryContext policies_cxt;
static rl_policy_row *policy_rows;
static int n_policy_rows;
static bool policies_valid;
static uint64 policies_gen;
static Oid policies_relid = InvalidOid;

/* From the module's relcache callback (namaskah.c). */
void
rate_limit_policies_relcache_changed(Oid relid)
{
    if (relid == InvalidOid || relid == policies_relid) {
        policies_valid = false;
        policies_gen++;
    }
}

/* Inside SPI. */
static void
rl_read_policies(void)
{
    MemoryContext old;
    uint64 i;
    bool isnull;

    if (policies_cxt == NULL)
        policies_cxt = AllocSetContextCreate(TopMemoryContext,
                                             "namaskah rate-limit policies",
                                             ALLOCSET_SMALL_SIZES);
    MemoryContextReset(policies_cxt);
    policy_rows = NULL;
    n_policy_rows = 0;
    policies_relid = get_relname_relid("rate_limit_policies",
                                       get_namespace_oid(NK_SCHEMA, false));
    /* read_only false: a snapshot of this statement's own, taken now */
    if (SPI_execute("SELECT name, algorithm, scope, \"limit\", window_seconds,"
                    " coalesce(burst, \"limit\"), cost, slots"
                    " FROM " NK_SCHEMA ".rate_limit_policies",
                    false, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read namaskah.rate_limit_policies");
    old = MemoryContextSwitchTo(policies_cxt);
    policy_rows = palloc0(sizeof(rl_policy_row) * Max(SPI_processed, 1));
    for (i = 0; i < SPI_processed; i++) {
        HeapTuple tup = SPI_tuptable->vals[i];
        TupleDesc td = SPI_tuptable->tupdesc;
        rl_policy_row *r = &policy_rows[i];

        r->name = SPI_getvalue(tup, td, 1);
        r->algorithm = SPI_getvalue(tup, td, 2);
        r->scope = SPI_getvalue(tup, td, 3);
        r->limit = DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull));
        r->window_seconds = DatumGetInt32(SPI_getbinval(tup, td, 5, &isnull));
        r->burst = DatumGetInt32(SPI_getbinval(tup, td, 6, &isnull));
        r->cost = DatumGetInt32(SPI_getbinval(tup, td, 7, &isnull));
        r->slots = DatumGetInt32(SPI_getbinval(tup, td, 8, &isnull));
    }
    n_policy_rows = (int)SPI_processed;
    MemoryContextSwitchTo(old);
}

/* The row of the named policy, or NULL. Inside SPI. */
static const rl_policy_row *
rl_find_policy(const char *name)
{
    int i;

    if (!policies_valid) {
        uint64 gen = policies_gen;

        /* (a read that fails leaves no policy: n_policy_rows is set last) */
        rl_read_policies();
        /* an invalidation that arrived while reading: read again next time */
        policies_valid = nk_cache_load_keeps(gen, policies_gen);
    }
    for (i = 0; i < n_policy_rows; i++)
        if (strcmp(policy_rows[i].name, name) == 0)
            return &policy_rows[i];
    return NULL;
}

static void
rl_load_policy(text *name, rl_policy *out)
{
    char *policy = text_to_cstring(name);
    const rl_policy_row *row = rl_find_policy(policy);
    nk_rl_error err;

    if (row == NULL)
        ereport(
            ERROR,
            (errcode(ERRCODE_UNDEFINED_OBJECT),
             errmsg("rate-limit policy \"%s\" does not exist", policy),
             errhint("Policies are rows of namaskah.rate_limit_policies.")));
    if (row->algorithm == NULL ||
        !nk_rl_algorithm_parse(row->algorithm, &out->p.algorithm))
        rl_report_error(NK_RL_EALGORITHM, policy);
    out->p.limit = row->limit;
    out->p.window_us = (int64)row->window_seconds * USECS_PER_SEC;
    out->p.burst = row->burst;
    out->cost = row->cost;
    /* Validate before splitting, so errors name the policy's own values. */
    err = nk_rl_policy_check(&out->p);
    if (err != NK_RL_OK)
        rl_report_error(err, policy);
    out->nslots = nk_rl_slot_count(&out->p, row->slots);
}

/*
 * The state table, its primary key (policy, key, slot) and the columns
 * rl_read_slots reads, found once per backend and forgotten when the
 * table changes (a reinstall makes them anew).
 */
static Oid state_relid = InvalidOid;
static Oid state_pkey;
/* The columns in the order of rl_state_values, and whether they are all
 * of the table's (then a locked row is updated directly) */
static const char *const state_columns[7] = {
    "policy", "key", "slot", "t_us", "n", "n_prev", "expires_at"};
static AttrNumber state_att[7];
static bool state_direct_update;

/* From the module's relcache callback (namaskah.c). */
void
rate_limit_state_relcache_changed(Oid relid)
{
    if (relid == InvalidOid || relid == state_relid)
        state_relid = InvalidOid;
}

static void
rl_find_state_table(void)
{
    Oid ns;
    Oid relid;
    Relation rel;
    size_t i;

    if (OidIsValid(state_relid))
        return;
    ns = get_namespace_oid(NK_SCHEMA, false);
    relid = get_relname_relid("rate_limit_state", ns);
    state_pkey = get_relname_relid("rate_limit_state_pkey", ns);
    if (!OidIsValid(relid) || !OidIsValid(state_pkey))
        elog(ERROR, "namaskah.rate_limit_state or its primary key is missing");
    for (i = 0; i < lengthof(state_columns); i++) {
        state_att[i] = get_attnum(relid, state_columns[i]);
        if (state_att[i] == InvalidAttrNumber)
            elog(ERROR, "namaskah.rate_limit_state has no column %s",
                 state_columns[i]);
    }
    /* a row is written whole: only when these are all its columns */
    rel = table_open(relid, AccessShareLock);
    state_direct_update =
        RelationGetNumberOfAttributes(rel) == lengthof(state_columns);
    table_close(rel, NoLock);
    state_relid = relid;
}

/* t_us, n and n_prev of a row. */
static void
rl_slot_state(TupleTableSlot *slot, nk_rl_state *s)
{
    bool isnull;

    s->t = DatumGetInt64(slot_getattr(slot, state_att[3], &isnull));
    s->n = DatumGetInt64(slot_getattr(slot, state_att[4], &isnull));
    s->p = DatumGetInt64(slot_getattr(slot, state_att[5], &isnull));
}

/* Opens the state table and its primary key, and sets keys to find
 * (policy, key) or, with slot >= 0, (policy, key, slot). */
static void
rl_state_scan_keys(rl_call *c, int slot, LOCKMODE lock, Relation *rel,
                   Relation *index, ScanKeyData keys[3], int *nkeys)
{
    rl_find_state_table();
    *rel = table_open(state_relid, lock);
    *index = index_open(state_pkey, AccessShareLock);
    ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(c->policy));
    keys[0].sk_collation = (*index)->rd_indcollation[0];
    ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(c->key));
    keys[1].sk_collation = (*index)->rd_indcollation[1];
    *nkeys = 2;
    if (slot >= 0) {
        ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT2EQ,
                    Int16GetDatum((int16)slot));
        *nkeys = 3;
    }
    /* as an SQL statement would: this transaction's own changes count */
    CommandCounterIncrement();
}

/*
 * The committed rows of the key; rows of slots >= S (left over from an
 * earlier split, normally deleted by the policy trigger) are ignored.
 *
 * Read on every decision (a peek is nothing else), so read directly: an
 * index scan of the primary key under the snapshot the statement
 * "SELECT ... WHERE policy = $1 AND key = $2" would take through SPI
 * (the command counter advanced, so this transaction's own earlier
 * decisions count; a fresh snapshot in READ COMMITTED, the transaction's
 * under REPEATABLE READ), without that statement's executor start-up.
 * The function runs as the table's owner (SECURITY DEFINER).
 */
static void
rl_read_slots(rl_call *c)
{
    Relation rel, index;
    IndexScanDesc scan;
    TupleTableSlot *slot;
    ScanKeyData keys[3];
    int nkeys;
    Snapshot snapshot;

    memset(c->rows, 0, sizeof(c->rows));
    rl_state_scan_keys(c, -1, AccessShareLock, &rel, &index, keys, &nkeys);
    snapshot = RegisterSnapshot(GetTransactionSnapshot());
    scan = index_beginscan(rel, index, snapshot, nkeys, 0);
    index_rescan(scan, keys, nkeys, NULL, 0);
    slot = table_slot_create(rel, NULL);
    while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
        bool isnull;
        int n = DatumGetInt16(slot_getattr(slot, state_att[2], &isnull));
        rl_state_row *row;

        if (n < 0 || n >= c->pol.nslots)
            continue;
        row = &c->rows[n];
        row->found = true;
        rl_slot_state(slot, &row->s);
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
    UnregisterSnapshot(snapshot);
    index_close(index, NoLock);
    table_close(rel, NoLock);
}

/*
 * Locks one slot's row (waiting, or not with skip_locked) and reads its
 * latest committed state. Returns false when no row was locked: none exists
 * or (skip_locked) another transaction holds it.
 *
 * Directly, as "SELECT ... WHERE policy = $1 AND key = $2 AND slot = $3
 * FOR UPDATE [SKIP LOCKED]" would: the row visible to a fresh statement
 * snapshot, locked in its latest version (in READ COMMITTED an update
 * since the snapshot is followed: updates never change policy, key or
 * slot, so the latest version still matches; under REPEATABLE READ it is a
 * serialization failure), a deleted row being no row.
 */
static bool
rl_lock_slot(rl_call *c, int slot, bool skip_locked, rl_state_row *out)
{
    Relation rel, index;
    IndexScanDesc scan;
    TupleTableSlot *row;
    ScanKeyData keys[3];
    int nkeys;
    Snapshot snapshot;
    TM_FailureData failure;
    TM_Result result = TM_Invisible;
    ItemPointerData tid;
    bool visible;
    uint8 flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;

    out->found = out->locked = false;
    rl_state_scan_keys(c, slot, RowShareLock, &rel, &index, keys, &nkeys);
    snapshot = RegisterSnapshot(GetTransactionSnapshot());
    scan = index_beginscan(rel, index, snapshot, nkeys, 0);
    index_rescan(scan, keys, nkeys, NULL, 0);
    row = table_slot_create(rel, NULL);
    visible = index_getnext_slot(scan, ForwardScanDirection, row);
    if (visible)
        tid = row->tts_tid;
    index_endscan(scan);
    if (visible) {
        if (!IsolationUsesXactSnapshot())
            flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
        result = table_tuple_lock(rel, &tid, snapshot, row,
                                  GetCurrentCommandId(true), LockTupleExclusive,
                                  skip_locked ? LockWaitSkip : LockWaitBlock,
                                  flags, &failure);
    }
    if (visible)
        switch (result) {
        case TM_Ok:
            rl_slot_state(row, &out->s);
            out->found = out->locked = true;
            out->tid = tid;
            break;
        case TM_WouldBlock: /* held by another transaction: skipped */
            break;
        case TM_Updated:
        case TM_Deleted:
            if (IsolationUsesXactSnapshot())
                ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                                errmsg("could not serialize access due to "
                                       "concurrent update")));
            break; /* deleted since the snapshot: no row */
        default:
            elog(ERROR, "could not lock a rate-limit state row (%d)",
                 (int)result);
        }
    ExecDropSingleTupleTableSlot(row);
    UnregisterSnapshot(snapshot);
    index_close(index, NoLock);
    table_close(rel, NoLock);
    return out->found;
}

/*
 * The seven parameters both state writes take, in this order: policy, key,
 * slot, t_us, n, n_prev, expires_at (the slot's share of the policy decides
 * how long the row is worth keeping).
 */
static Oid rl_state_types[7] = {TEXTOID, TEXTOID, INT2OID,       INT8OID,
                                INT8OID, INT8OID, TIMESTAMPTZOID};

static void
rl_state_values(const rl_call *c, int slot, const nk_rl_result *r,
                Datum values[7])
{
    nk_rl_policy sp;

    (void)nk_rl_slot_policy(&c->pol.p, c->pol.nslots, slot, &sp);
    values[0] = PointerGetDatum(c->policy);
    values[1] = PointerGetDatum(c->key);
    values[2] = Int16GetDatum((int16)slot);
    values[3] = Int64GetDatum(r->state.t);
    values[4] = Int64GetDatum(r->state.n);
    values[5] = Int64GetDatum(r->state.p);
    values[6] = TimestampTzGetDatum(rl_expiry(&sp, r->expires_at_us));
}

/* Returns false when another transaction created the row first. */
static bool
rl_insert_state(rl_call *c, int slot, const nk_rl_result *r)
{
    Datum values[7];
    SPIPlanPtr plan;
    int rc;

    plan = rl_plan(&plan_insert,
                   "INSERT INTO " NK_SCHEMA ".rate_limit_state"
                   " (policy, key, slot, t_us, n, n_prev, expires_at)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                   " ON CONFLICT (policy, key, slot) DO NOTHING",
                   7, rl_state_types, 0);
    rl_state_values(c, slot, r, values);
    rc = rl_execute(plan, values, NULL, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "rate-limit state insert failed: %s",
             SPI_result_code_string(rc));
    return SPI_processed == 1;
}

/* Whether the committed read found any row of the key. */
static bool
rl_key_has_rows(const rl_call *c)
{
    int i;

    for (i = 0; i < c->pol.nslots; i++)
        if (c->rows[i].found)
            return true;
    return false;
}

/*
 * A key's first row comes with all its slots' rows, in one statement: slot
 * `slot` with the decision r, the others fresh (what no row means), all
 * kept as long as r's. Made together, they sit together in the table, so
 * that reading a key's slots (every peek) visits one page or two instead of
 * one per slot. Until this transaction ends, others that want a slot of the
 * new key wait for it (their INSERT of the same row does), as they would
 * for its one row; afterwards the slots are shared as ever. Returns false
 * when another transaction created slot `slot` first.
 */
static bool
rl_insert_key(rl_call *c, int slot, const nk_rl_result *r)
{
    static const Oid types[6] = {TEXTOID,      TEXTOID,      INT2ARRAYOID,
                                 INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
    const int S = c->pol.nslots;
    Datum values[7], slots[NK_RL_MAX_SLOTS], t[NK_RL_MAX_SLOTS],
        n[NK_RL_MAX_SLOTS], p[NK_RL_MAX_SLOTS], expiry[7];
    Oid argtypes[7];
    SPIPlanPtr plan;
    rl_state_row none = {0};
    bool inserted = false;
    uint64 i;
    int k, rc;

    for (k = 0; k < S; k++) {
        nk_rl_result fresh;
        const nk_rl_result *state = &fresh;

        if (k == slot)
            state = r;
        else
            rl_apply_slot(c, k, &none, 0, &fresh);
        slots[k] = Int16GetDatum((int16)k);
        t[k] = Int64GetDatum(state->state.t);
        n[k] = Int64GetDatum(state->state.n);
        p[k] = Int64GetDatum(state->state.p);
    }
    rl_state_values(c, slot, r, expiry);
    memcpy(argtypes, types, sizeof(types));
    argtypes[6] = TIMESTAMPTZOID;
    plan =
        rl_plan(&plan_insert_key,
                "INSERT INTO " NK_SCHEMA ".rate_limit_state"
                " (policy, key, slot, t_us, n, n_prev, expires_at)"
                " SELECT $1, $2, u.slot, u.t, u.n, u.p, $7"
                " FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4),"
                " pg_catalog.unnest($5), pg_catalog.unnest($6))"
                " AS u(slot, t, n, p) ORDER BY u.slot"
                " ON CONFLICT (policy, key, slot) DO NOTHING"
                " RETURNING slot",
                7, argtypes, 0);
    values[0] = PointerGetDatum(c->policy);
    values[1] = PointerGetDatum(c->key);
    values[2] = PointerGetDatum(
        construct_array(slots, S, INT2OID, 2, true, TYPALIGN_SHORT));
    values[3] = PointerGetDatum(
        construct_array(t, S, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    values[4] = PointerGetDatum(
        construct_array(n, S, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    values[5] = PointerGetDatum(
        construct_array(p, S, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    values[6] = expiry[6];
    rc = rl_execute(plan, values, NULL, 0);
    if (rc != SPI_OK_INSERT_RETURNING)
        elog(ERROR, "rate-limit state insert failed: %s",
             SPI_result_code_string(rc));
    c->created += (int)SPI_processed;
    for (i = 0; i < SPI_processed; i++) {
        bool isnull;

        if (DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
                                        SPI_tuptable->tupdesc, 1, &isnull)) ==
            slot)
            inserted = true;
    }
    return inserted;
}

/* The state of a row: directly when rl_lock_slot locked it (no UPDATE
 * statement to start up), else by an UPDATE. */
static void
rl_update_state(rl_call *c, int slot, const nk_rl_result *r, rl_state_row *row)
{
    Datum values[7];
    SPIPlanPtr plan;
    nk_direct d;
    size_t i;
    int rc;

    rl_state_values(c, slot, r, values);
    if (row != NULL && row->locked && state_direct_update &&
        nk_direct_begin(&d, state_relid, CMD_UPDATE)) {
        for (i = 0; i < lengthof(state_att); i++) {
            d.row->tts_values[state_att[i] - 1] = values[i];
            d.row->tts_isnull[state_att[i] - 1] = false;
        }
        nk_direct_update(&d, &row->tid);
        nk_direct_end(&d);
        row->locked = false; /* (the version at tid is not the latest) */
        return;
    }
    plan = rl_plan(&plan_update,
                   "UPDATE " NK_SCHEMA ".rate_limit_state"
                   " SET t_us = $4, n = $5, n_prev = $6, expires_at = $7"
                   " WHERE policy = $1 AND key = $2 AND slot = $3",
                   7, rl_state_types, 0);
    rc = rl_execute(plan, values, NULL, 0);
    if (rc != SPI_OK_UPDATE || SPI_processed != 1)
        elog(ERROR, "rate-limit state update failed: %s",
             SPI_result_code_string(rc));
}

/*
 * Deletes up to RL_CLEANUP_ROWS expired rows, oldest first, skipping any
 * row in use; returns how many. Two
 * statements on purpose: "LIMIT <constant> ORDER BY expires_at" always plans
 * as an index scan and "ctid = $1" as a TID scan, whatever the table's size
 * was when the plan cache settled on a generic plan (a one-statement
 * "ctid = ANY (ARRAY(...))" planned on an empty table became a sequential
 * scan per call).
 */
static int
rl_cleanup(TimestampTz now)
{
    Oid argtypes[1] = {TIMESTAMPTZOID};
    Oid tidtype[1] = {TIDOID};
    ItemPointerData tids[RL_CLEANUP_ROWS];
    Datum values[1];
    SPIPlanPtr plan;
    uint64 found, i;
    int rc;

    plan = rl_plan(
        &plan_expired,
        "SELECT s.ctid FROM " NK_SCHEMA ".rate_limit_state s"
        " WHERE s.expires_at < $1 ORDER BY s.expires_at"
        " LIMIT " CppAsString2(RL_CLEANUP_ROWS) " FOR UPDATE SKIP LOCKED",
        1, argtypes, 0);
    values[0] = TimestampTzGetDatum(now);
    rc = rl_execute(plan, values, NULL, RL_CLEANUP_ROWS);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "rate-limit state cleanup failed: %s",
             SPI_result_code_string(rc));
    found = Min(SPI_processed, (uint64)RL_CLEANUP_ROWS);
    for (i = 0; i < found; i++) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
                                &isnull);

        ItemPointerCopy((ItemPointer)DatumGetPointer(d), &tids[i]);
    }
    plan = rl_plan(&plan_delete,
                   "DELETE FROM " NK_SCHEMA ".rate_limit_state WHERE ctid = $1",
                   1, tidtype, 0);
    for (i = 0; i < found; i++) {
        values[0] = PointerGetDatum(&tids[i]);
        rc = rl_execute(plan, values, NULL, 0);
        if (rc != SPI_OK_DELETE)
            elog(ERROR, "rate-limit state cleanup failed: %s",
                 SPI_result_code_string(rc));
    }
    return (int)found;
}

/*
 * expires_at rounded up to a minute (or the window when shorter): most
 * updates then leave the indexed column alone and stay HOT. Keeping a row a
 * little longer than needed is harmless; deleting it early would not be.
 */
static TimestampTz
rl_expiry(const nk_rl_policy *p, int64 expires_at_us)
{
    int64 g = Min(p->window_us, RL_EXPIRY_GRANULE_US);
    int64 q = expires_at_us / g;

    if (expires_at_us % g > 0)
        q++;
    return (TimestampTz)(q * g);
}

/* Microseconds to whole seconds rounded up, capped to int4. */
static int32
rl_seconds(int64 us)
{
    int64 s;

    if (us <= 0)
        return 0;
    s = (us - 1) / USECS_PER_SEC + 1;
    return (int32)Min(s, (int64)PG_INT32_MAX);
}

/* Decides a cost on one slot whose state is `row` (not found = fresh). */
static void
rl_apply_slot(rl_call *c, int slot, const rl_state_row *row, int64 cost,
              nk_rl_result *out)
{
    nk_rl_policy sp;
    nk_rl_error err;

    err = nk_rl_slot_policy(&c->pol.p, c->pol.nslots, slot, &sp);
    if (err == NK_RL_OK)
        err = nk_rl_apply(&sp, row->found ? &row->s : NULL, c->now, cost, out);
    if (err != NK_RL_OK)
        rl_report_error(err, text_to_cstring(c->policy));
}

/*
 * The rows the last peek read, for the check that follows it in the same
 * transaction (the pipeline peeks at admission and checks at accounting,
 * on the same key). A sharded check reads the committed rows only to choose
 * the slots worth locking and to deny what they deny, and rows read a
 * moment earlier serve both as well: other checks since can only have
 * consumed (a denial by the older rows stands), and every consumption is
 * still decided on its row under lock.
 */
static struct {
    LocalTransactionId lxid;  /* InvalidLocalTransactionId: none */
    SubTransactionId subxact; /* read in this (sub)transaction */
    uint64 policies_gen;
    int nslots;
    char policy[NAMEDATALEN];
    char key[RL_MAX_KEY_BYTES];
    size_t policy_len, key_len;
    rl_state_row rows[NK_RL_MAX_SLOTS];
} last_peek;

static void
rl_remember_peek(const rl_call *c)
{
    size_t plen = VARSIZE_ANY_EXHDR(c->policy);
    size_t klen = VARSIZE_ANY_EXHDR(c->key);

    last_peek.lxid = InvalidLocalTransactionId;
    if (plen > sizeof(last_peek.policy) || klen > sizeof(last_peek.key))
        return;
    memcpy(last_peek.policy, VARDATA_ANY(c->policy), plen);
    memcpy(last_peek.key, VARDATA_ANY(c->key), klen);
    last_peek.policy_len = plen;
    last_peek.key_len = klen;
    last_peek.policies_gen = policies_gen;
    last_peek.nslots = c->pol.nslots;
    memcpy(last_peek.rows, c->rows, sizeof(c->rows));
    last_peek.subxact = GetCurrentSubTransactionId();
    last_peek.lxid = MyProc->lxid;
}

/*
 * Rows read inside a subtransaction that rolls back may count this
 * transaction's own consumption that the rollback gave back: older rows
 * than the state, but lower ones, which could deny wrongly. They go with
 * it (a subtransaction contains every one begun after it: greater ids).
 */
static void
rl_subxact_callback(SubXactEvent event, SubTransactionId my,
                    SubTransactionId parent, void *arg)
{
    if (event == SUBXACT_EVENT_ABORT_SUB &&
        last_peek.lxid != InvalidLocalTransactionId && last_peek.subxact >= my)
        last_peek.lxid = InvalidLocalTransactionId;
}

void
rate_limit_register_callbacks(void)
{
    RegisterSubXactCallback(rl_subxact_callback, NULL);
}

/* The last peek's rows into c when they are of this key, policy and
 * transaction; else false. */
static bool
rl_reuse_peek(rl_call *c)
{
    if (last_peek.lxid != MyProc->lxid ||
        last_peek.policies_gen != policies_gen ||
        last_peek.nslots != c->pol.nslots ||
        last_peek.policy_len != VARSIZE_ANY_EXHDR(c->policy) ||
        last_peek.key_len != VARSIZE_ANY_EXHDR(c->key) ||
        memcmp(last_peek.policy, VARDATA_ANY(c->policy),
               last_peek.policy_len) != 0 ||
        memcmp(last_peek.key, VARDATA_ANY(c->key), last_peek.key_len) != 0)
        return false;
    memcpy(c->rows, last_peek.rows, sizeof(c->rows));
    return true;
}

/* The committed state's answer: allowed when some slot allows. */
static void
rl_peek(rl_call *c, nk_rl_result *out)
{
    int i;

    rl_read_slots(c);
    rl_remember_peek(c);
    for (i = 0; i < c->pol.nslots; i++)
        rl_apply_slot(c, i, &c->rows[i], c->cost, &c->per_slot[i]);
    nk_rl_merge(c->per_slot, c->pol.nslots, c->cost, -1, c->now, out);
}

/* One slot: lock the row, decide, record (the unsplit behaviour). */
static void
rl_check_one(rl_call *c, nk_rl_result *out)
{
    rl_state_row row;
    int attempt;

    for (attempt = 0;; attempt++) {
        if (attempt >= RL_MAX_ATTEMPTS)
            elog(ERROR, "rate-limit state row for a key kept vanishing");
        (void)rl_lock_slot(c, 0, false, &row);
        rl_apply_slot(c, 0, &row, c->cost, out);
        /* Denied, or nothing to record: write nothing. */
        if (!out->allowed || c->cost == 0)
            return;
        if (row.found) {
            rl_update_state(c, 0, out, &row);
            return;
        }
        if (rl_insert_state(c, 0, out)) {
            c->created++;
            return;
        }
        /* Another transaction created the row: lock it and decide again. */
    }
}

/*
 * Locks slot `slot`, decides and records; runs inside rl_in_subxact's
 * subtransaction. skip_locked: give up (RL_BUSY) rather than wait when
 * another transaction holds the row or is creating it.
 */
static rl_outcome
rl_take_slot(rl_call *c, int slot, bool skip_locked, nk_rl_result *r)
{
    rl_state_row row;
    int attempt;

    for (attempt = 0; attempt < RL_MAX_ATTEMPTS; attempt++) {
        if (rl_lock_slot(c, slot, skip_locked, &row)) {
            rl_apply_slot(c, slot, &row, c->cost, r);
            if (!r->allowed)
                return RL_DENIED;
            rl_update_state(c, slot, r, &row);
            return RL_TOOK;
        }
        /* With SKIP LOCKED, "no row" for a row we saw means it is held. */
        if (skip_locked && c->rows[slot].found)
            return RL_BUSY;
        rl_apply_slot(c, slot, &row, c->cost, r);
        if (!r->allowed)
            return RL_DENIED;
        if (rl_key_has_rows(c)) {
            if (rl_insert_state(c, slot, r)) {
                c->created++;
                return RL_TOOK;
            }
        } else if (rl_insert_key(c, slot, r)) /* (counts what it made) */
            return RL_TOOK;
        if (skip_locked)
            return RL_BUSY;
        /* Another transaction created the row: lock it and decide again. */
    }
    elog(ERROR, "rate-limit state row for a key kept vanishing");
    return RL_BUSY; /* not reached */
}

/*
 * Runs one step (rl_take_slot or rl_gather) inside an internal
 * subtransaction that is kept only when the step consumed (RL_TOOK): rows
 * locked or created by a step that came to nothing are unlocked again at
 * once, so a check holds rows of the key only when it consumed from them
 * (others never wait on a row that cannot serve them, and checks cannot
 * deadlock on one key).
 */
static rl_outcome
rl_in_subxact(rl_outcome (*step)(rl_call *, int, bool, nk_rl_result *),
              rl_call *c, int slot, bool flag, nk_rl_result *r)
{
    MemoryContext cxt = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    volatile rl_outcome outcome = RL_BUSY;
    volatile int created = c->created;

    BeginInternalSubTransaction(NULL);
    MemoryContextSwitchTo(cxt);
    PG_TRY();
    {
        outcome = step(c, slot, flag, r);
    }
    PG_CATCH();
    {
        ReThrowError(nk_subxact_rollback(cxt, owner));
    }
    PG_END_TRY();
    if (outcome == RL_TOOK)
        ReleaseCurrentSubTransaction();
    else {
        RollbackAndReleaseCurrentSubTransaction();
        c->created = created; /* a row inserted in it is gone again */
    }
    MemoryContextSwitchTo(cxt);
    CurrentResourceOwner = owner;
    return outcome;
}

/*
 * The slow path for a cost that no single slot can take but the slots
 * together can (a cost above a slot's share, or a key whose units are left
 * in small pieces): locks EVERY slot in ascending order, waiting (creating
 * missing rows, fresh), and takes the cost from them in order when their
 * whole units add up to it. Ascending order keeps two such checks from
 * deadlocking; single-slot checks never wait while holding a row. Runs in
 * rl_in_subxact: a denial releases every lock.
 */
static rl_outcome
rl_gather(rl_call *c, int unused_slot, bool unused_flag, nk_rl_result *out)
{
    const int S = c->pol.nslots;
    nk_rl_result now_left[NK_RL_MAX_SLOTS];
    int64 total = 0, quota = 0, need = c->cost, reset = 0;
    int i, attempt;

    for (i = 0; i < S; i++) {
        rl_state_row *row = &c->rows[i];

        for (attempt = 0;; attempt++) {
            if (attempt >= RL_MAX_ATTEMPTS)
                elog(ERROR, "rate-limit state row for a key kept vanishing");
            if (rl_lock_slot(c, i, false, row))
                break;
            /* No row: create it fresh, which holds it as well. */
            rl_apply_slot(c, i, row, 0, &now_left[i]);
            if (rl_insert_state(c, i, &now_left[i])) {
                row->found = true;
                row->locked = false; /* (created, not locked: no tid) */
                row->s = now_left[i].state;
                c->created++;
                break;
            }
        }
        /* A cost of 0 reports the whole units the slot has now. */
        rl_apply_slot(c, i, row, 0, &now_left[i]);
        total += now_left[i].remaining;
        quota += now_left[i].quota;
    }
    if (total < c->cost) {
        for (i = 0; i < S; i++)
            rl_apply_slot(c, i, &c->rows[i], c->cost, &c->per_slot[i]);
        return RL_DENIED;
    }
    for (i = 0; i < S; i++) {
        int64 take = Min(need, now_left[i].remaining);
        nk_rl_result r;

        if (take > 0) {
            rl_apply_slot(c, i, &c->rows[i], take, &r);
            if (!r.allowed)
                elog(ERROR, "rate-limit slot refused the units it reported");
            rl_update_state(c, i, &r, &c->rows[i]);
            need -= take;
            reset = Max(reset, r.reset_after_us);
        } else
            reset = Max(reset, now_left[i].reset_after_us);
    }
    memset(out, 0, sizeof(*out));
    out->allowed = true;
    out->quota = quota;
    out->remaining = total - c->cost;
    out->reset_after_us = reset;
    return RL_TOOK;
}

/*
 * S > 1 slots. Candidates are the slots whose committed state allows the
 * cost: concurrent checks only consume, so a slot that denies now in its
 * committed state denies under its lock too. Pass 1 tries them from a
 * random start without waiting; pass 2 waits on those that were held; the
 * slow path (rl_gather) takes a cost no single slot can take from several.
 */
static void
rl_check_sharded(rl_call *c, nk_rl_result *out)
{
    const int S = c->pol.nslots;
    int busy[NK_RL_MAX_SLOTS];
    int nbusy = 0, start, k;
    int64 left;

    if (!rl_reuse_peek(c))
        rl_read_slots(c);
    last_peek.lxid = InvalidLocalTransactionId; /* (used once) */
    for (k = 0; k < S; k++)
        rl_apply_slot(c, k, &c->rows[k], c->cost, &c->per_slot[k]);
    if (c->cost == 0) { /* only asks: nothing to record, nothing to lock */
        nk_rl_merge(c->per_slot, S, c->cost, -1, c->now, out);
        return;
    }
    start = (int)pg_prng_uint64_range(&pg_global_prng_state, 0, S - 1);
    for (k = 0; k < S; k++) {
        int i = (start + k) % S;

        if (!c->per_slot[i].allowed)
            continue;
        switch (rl_in_subxact(rl_take_slot, c, i, true, &c->per_slot[i])) {
        case RL_TOOK:
            nk_rl_merge(c->per_slot, S, c->cost, i, c->now, out);
            return;
        case RL_BUSY:
            busy[nbusy++] = i;
            break;
        case RL_DENIED:
            break;
        }
    }
    for (k = 0; k < nbusy; k++) {
        int i = busy[k];

        if (rl_in_subxact(rl_take_slot, c, i, false, &c->per_slot[i]) ==
            RL_TOOK) {
            nk_rl_merge(c->per_slot, S, c->cost, i, c->now, out);
            return;
        }
    }
    /* No slot takes the cost alone; if their units add up, take it from
     * several (locking all of them: the slow path). */
    for (k = 0, left = 0; k < S; k++)
        left += nk_rl_units_left(&c->per_slot[k], c->cost);
    if (left >= c->cost &&
        rl_in_subxact(rl_gather, c, 0, false, out) == RL_TOOK)
        return;
    /* Denied: per_slot holds each slot's latest answer. */
    nk_rl_merge(c->per_slot, S, c->cost, -1, c->now, out);
    out->allowed = false;
    if (out->retry_after_us <= 0)
        out->retry_after_us = 1;
}

static Datum
rl_decide(FunctionCallInfo fcinfo, bool consume)
{
    rl_call *c;
    TupleDesc tupdesc;
    nk_rl_result r;
    Datum values[5];
    bool nulls[5] = {false, false, false, false, false};
    int path_nest;

    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit policy must not be null")));
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit key must not be null")));
    if (PG_ARGISNULL(3))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit time must not be null")));
    c = palloc0(sizeof(rl_call));
    c->policy = PG_GETARG_TEXT_PP(0);
    c->key = PG_GETARG_TEXT_PP(1);
    c->now = PG_GETARG_TIMESTAMPTZ(3);
    if (VARSIZE_ANY_EXHDR(c->key) > RL_MAX_KEY_BYTES)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("rate-limit key is too long"),
                 errdetail("A key has at most %d bytes; this one has %zu.",
                           RL_MAX_KEY_BYTES, VARSIZE_ANY_EXHDR(c->key))));
    if (TIMESTAMP_NOT_FINITE(c->now))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit time must be finite")));
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "rate-limit function must return a composite type");
    tupdesc = BlessTupleDesc(tupdesc);

    path_nest = nk_pin_search_path(); /* SECURITY DEFINER without SET */
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rl_journal_ensure_state();
    rl_load_policy(c->policy, &c->pol);
    c->cost = PG_ARGISNULL(2) ? c->pol.cost : PG_GETARG_INT32(2);
    if (c->cost < 0)
        rl_report_error(NK_RL_ECOST, text_to_cstring(c->policy));

    if (!consume)
        rl_peek(c, &r);
    else if (c->pol.nslots == 1)
        rl_check_one(c, &r);
    else
        rl_check_sharded(c, &r);
    if (c->created > 0) {
        int deleted = 0, found;

        do {
            found = rl_cleanup(c->now);
            deleted += found;
        } while (found == RL_CLEANUP_ROWS &&
                 deleted < c->created + RL_CLEANUP_ROWS - 1);
    }
    SPI_finish();
    nk_unpin_search_path(path_nest);
    if (consume && r.allowed && c->cost > 0)
        rl_journal_note(c->policy, c->key, c->cost, c->now);

    values[0] = BoolGetDatum(r.allowed);
    values[1] = Int32GetDatum((int32)Min(r.quota, (int64)PG_INT32_MAX));
    values[2] = Int32GetDatum((int32)Min(r.remaining, (int64)PG_INT32_MAX));
    values[3] = Int32GetDatum(rl_seconds(r.reset_after_us));
    values[4] = Int32GetDatum(rl_seconds(r.retry_after_us));
    pfree(c);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * One recorded consumption replayed on the key's slots in memory
 * (rate_limit_replay): the first slot that allows the cost takes it, else
 * the slots together when their whole units add up (as rl_gather does
 * under locks). False when the state cannot take it any more (a limit
 * lowered since): it is left out.
 */
static bool
rl_replay_event(rl_call *c, int64 cost)
{
    const int S = c->pol.nslots;
    nk_rl_result r, left[NK_RL_MAX_SLOTS];
    int64 total = 0, need = cost;
    int i;

    for (i = 0; i < S; i++) {
        rl_apply_slot(c, i, &c->rows[i], cost, &r);
        if (r.allowed) {
            c->rows[i].found = true;
            c->rows[i].s = r.state;
            c->per_slot[i] = r;
            return true;
        }
    }
    for (i = 0; i < S; i++) {
        rl_apply_slot(c, i, &c->rows[i], 0, &left[i]);
        total += left[i].remaining;
    }
    if (total < cost)
        return false;
    for (i = 0; i < S && need > 0; i++) {
        int64 take = Min(need, left[i].remaining);

        if (take <= 0)
            continue;
        rl_apply_slot(c, i, &c->rows[i], take, &r);
        if (!r.allowed)
            elog(ERROR, "rate-limit slot refused the units it reported");
        c->rows[i].found = true;
        c->rows[i].s = r.state;
        c->per_slot[i] = r;
        need -= take;
    }
    return true;
}

/*
 * rate_limit_replay(policy, key, costs int[], times bigint[]): rebuilds one
 * key's state from its recorded consumption (costs[i] at times[i],
 * microseconds since 2000-01-01 UTC, in order), replayed in memory and
 * written once per slot: the key must have no rows (rate_limit_rebuild
 * empties the table first). Returns how many events were replayed.
 */
PG_FUNCTION_INFO_V1(nk_sql_rate_limit_replay);
Datum
nk_sql_rate_limit_replay(PG_FUNCTION_ARGS)
{
    ArrayType *costs = PG_GETARG_ARRAYTYPE_P(2);
    ArrayType *times = PG_GETARG_ARRAYTYPE_P(3);
    Datum *cost_d, *time_d;
    bool *cost_n, *time_n;
    int ncost, ntime, i, replayed = 0;
    rl_call *c = palloc0(sizeof(rl_call));

    c->policy = PG_GETARG_TEXT_PP(0);
    c->key = PG_GETARG_TEXT_PP(1);
    deconstruct_array(costs, INT4OID, 4, true, TYPALIGN_INT, &cost_d, &cost_n,
                      &ncost);
    deconstruct_array(times, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                      &time_d, &time_n, &ntime);
    if (ncost != ntime)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("costs and times must have the same length")));
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rl_load_policy(c->policy, &c->pol);
    for (i = 0; i < ncost; i++) {
        if (cost_n[i] || time_n[i] || DatumGetInt32(cost_d[i]) <= 0)
            continue;
        c->now = DatumGetInt64(time_d[i]);
        if (rl_replay_event(c, DatumGetInt32(cost_d[i])))
            replayed++;
    }
    for (i = 0; i < c->pol.nslots; i++)
        if (c->rows[i].found && !rl_insert_state(c, i, &c->per_slot[i]))
            elog(ERROR, "rate-limit state of a replayed key already exists");
    SPI_finish();
    PG_RETURN_INT32(replayed);
}

PG_FUNCTION_INFO_V1(nk_sql_rate_limit_peek);
Datum
nk_sql_rate_limit_peek(PG_FUNCTION_ARGS)
{
    return rl_decide(fcinfo, false);
}

PG_FUNCTION_INFO_V1(nk_sql_rate_limit_check);
Datum
nk_sql_rate_limit_check(PG_FUNCTION_ARGS)
{
    return rl_decide(fcinfo, true);
}

/*
 * rate_limit_slots(algorithm, limit, burst, slots): how many slots a policy
 * with these values splits a key's state into. burst NULL means the limit;
 * any other NULL gives NULL. Out-of-range values give 1 (the policy table's
 * constraints keep them out anyway).
 */
PG_FUNCTION_INFO_V1(nk_sql_rate_limit_slots);
Datum
nk_sql_rate_limit_slots(PG_FUNCTION_ARGS)
{
    nk_rl_policy p;
    char *algorithm;

    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3))
        PG_RETURN_NULL();
    algorithm = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (!nk_rl_algorithm_parse(algorithm, &p.algorithm))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("unknown rate-limit algorithm \"%s\"", algorithm)));
    p.limit = PG_GETARG_INT32(1);
    p.burst = PG_ARGISNULL(2) ? p.limit : PG_GETARG_INT32(2);
    p.window_us = USECS_PER_SEC;
    PG_RETURN_INT32(nk_rl_slot_count(&p, PG_GETARG_INT32(3)));
}

/*
 * rate_limit_policy_info(name) → (scope, window_seconds): what the pipeline
 * needs of a route's policy to key and label its decisions, from the same
 * per-backend copy as the decisions themselves; both NULL for an unknown
 * name (a row, so that PL/pgSQL can read its fields either way).
 */
PG_FUNCTION_INFO_V1(nk_sql_rate_limit_policy_info);
Datum
nk_sql_rate_limit_policy_info(PG_FUNCTION_ARGS)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const rl_policy_row *row;
    TupleDesc tupdesc;
    Datum values[2];
    bool nulls[2] = {false, false};

    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "rate_limit_policy_info must return a composite type");
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    row = rl_find_policy(name);
    if (row != NULL) {
        values[0] = CStringGetTextDatum(row->scope);
        values[1] = Int32GetDatum(row->window_seconds);
    } else
        nulls[0] = nulls[1] = true;
    SPI_finish();
    tupdesc = BlessTupleDesc(tupdesc);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
