/*
 * ratelimit.c — SQL-callable rate limiting: rate_limit_peek, rate_limit_check.
 *
 * The arithmetic is core/nk_ratelimit.c; this file reads the policy, reads
 * and writes the key's row of namaskah.rate_limit_state through SPI with
 * plans prepared once per backend (SPI_keepplan), and turns library errors
 * into ereport in one place (rl_report_error).
 *
 * Locking rules:
 *   - peek reads the committed row with a plain SELECT: no lock, no wait.
 *   - check locks the key's row (SELECT ... FOR UPDATE) and keeps the lock
 *     until the caller's transaction ends, so concurrent checks on one key
 *     are serialized and exact. A key without a row is created with
 *     INSERT ... ON CONFLICT DO NOTHING; losing that race means another
 *     transaction created it first, so we go back and lock its row.
 *   - A check that creates a row also deletes a few expired rows (SKIP
 *     LOCKED, never waiting), so a flood of distinct keys pays for its own
 *     cleanup and the table cannot grow without bound.
 * All of this is exact in READ COMMITTED (each SPI statement takes a fresh
 * snapshot); under REPEATABLE READ a lost race is a serialization error.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "nk_ratelimit.h"

/* Keys are client addresses, user ids, "user:route" ...: short. */
#define RL_MAX_KEY_BYTES 256
/* Expired rows deleted by each check that creates a row (> 1 so the table
 * shrinks while a flood of new keys continues). */
#define RL_CLEANUP_ROWS 4
/* expires_at is rounded up to this (or to the window when shorter). */
#define RL_EXPIRY_GRANULE_US INT64CONST(60000000)
/* Attempts to create-or-lock a row before giving up (can't happen twice
 * in a row unless rows are deleted as fast as they are created). */
#define RL_MAX_ATTEMPTS 10

typedef struct RlPolicy {
    nk_rl_policy p;
    int32 cost;
} RlPolicy;

typedef struct RlStateRow {
    bool found;
    nk_rl_state s;
} RlStateRow;

static SPIPlanPtr rl_plan(SPIPlanPtr *slot, const char *sql, int nargs,
                          Oid *argtypes, int cursor_options);
static void rl_report_error(nk_rl_error err, const char *policy);
static void rl_load_policy(text *name, RlPolicy *out);
static void rl_load_state(text *policy, text *key, bool lock, RlStateRow *out);
static bool rl_insert_state(text *policy, text *key, const nk_rl_result *r,
                            TimestampTz expires);
static void rl_update_state(text *policy, text *key, const nk_rl_result *r,
                            TimestampTz expires);
static void rl_cleanup(TimestampTz now);
static TimestampTz rl_expiry(const nk_rl_policy *p, int64 expires_at_us);
static int32 rl_seconds(int64 us);
static Datum rl_decide(FunctionCallInfo fcinfo, bool consume);

static SPIPlanPtr plan_policy;
static SPIPlanPtr plan_peek;
static SPIPlanPtr plan_lock;
static SPIPlanPtr plan_insert;
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
    if (*slot == NULL) {
        SPIPlanPtr plan =
            SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

        if (plan == NULL)
            elog(ERROR, "SPI_prepare failed for rate-limit statement: %s",
                 SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0)
            elog(ERROR, "SPI_keepplan failed");
        *slot = plan;
    }
    return *slot;
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
    case NK_RL_EPOLICY:
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("rate-limit policy \"%s\" has out-of-range values", policy),
             errdetail("The limit and burst must be between 0 and 2147483647 "
                       "and the window positive.")));
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

static void
rl_load_policy(text *name, RlPolicy *out)
{
    Oid argtypes[1] = {TEXTOID};
    Datum values[1];
    SPIPlanPtr plan;
    HeapTuple tup;
    TupleDesc desc;
    bool isnull;
    char *algorithm;
    int rc;

    plan = rl_plan(&plan_policy,
                   "SELECT algorithm, \"limit\", window_seconds,"
                   " coalesce(burst, \"limit\"), cost"
                   " FROM namaskah.rate_limit_policies WHERE name = $1",
                   1, argtypes, 0);
    values[0] = PointerGetDatum(name);
    rc = SPI_execute_plan(plan, values, NULL, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "rate-limit policy lookup failed: %s",
             SPI_result_code_string(rc));
    if (SPI_processed == 0)
        ereport(
            ERROR,
            (errcode(ERRCODE_UNDEFINED_OBJECT),
             errmsg("rate-limit policy \"%s\" does not exist",
                    text_to_cstring(name)),
             errhint("Policies are rows of namaskah.rate_limit_policies.")));
    tup = SPI_tuptable->vals[0];
    desc = SPI_tuptable->tupdesc;
    algorithm = SPI_getvalue(tup, desc, 1);
    if (algorithm == NULL ||
        !nk_rl_algorithm_parse(algorithm, &out->p.algorithm))
        rl_report_error(NK_RL_EALGORITHM, text_to_cstring(name));
    out->p.limit = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
    out->p.window_us =
        (int64)DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull)) *
        USECS_PER_SEC;
    out->p.burst = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
    out->cost = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
}

static void
rl_load_state(text *policy, text *key, bool lock, RlStateRow *out)
{
    Oid argtypes[2] = {TEXTOID, TEXTOID};
    Datum values[2];
    SPIPlanPtr plan;
    HeapTuple tup;
    TupleDesc desc;
    bool isnull;
    int rc;

    if (lock)
        plan = rl_plan(&plan_lock,
                       "SELECT t_us, n, n_prev FROM namaskah.rate_limit_state"
                       " WHERE policy = $1 AND key = $2 FOR UPDATE",
                       2, argtypes, 0);
    else
        plan = rl_plan(&plan_peek,
                       "SELECT t_us, n, n_prev FROM namaskah.rate_limit_state"
                       " WHERE policy = $1 AND key = $2",
                       2, argtypes, 0);
    values[0] = PointerGetDatum(policy);
    values[1] = PointerGetDatum(key);
    rc = SPI_execute_plan(plan, values, NULL, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "rate-limit state lookup failed: %s",
             SPI_result_code_string(rc));
    out->found = SPI_processed > 0;
    if (!out->found)
        return;
    tup = SPI_tuptable->vals[0];
    desc = SPI_tuptable->tupdesc;
    out->s.t = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
    out->s.n = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
    out->s.p = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
}

/* Returns false when another transaction created the row first. */
static bool
rl_insert_state(text *policy, text *key, const nk_rl_result *r,
                TimestampTz expires)
{
    Oid argtypes[6] = {TEXTOID, TEXTOID, INT8OID,
                       INT8OID, INT8OID, TIMESTAMPTZOID};
    Datum values[6];
    SPIPlanPtr plan;
    int rc;

    plan = rl_plan(&plan_insert,
                   "INSERT INTO namaskah.rate_limit_state"
                   " (policy, key, t_us, n, n_prev, expires_at)"
                   " VALUES ($1, $2, $3, $4, $5, $6)"
                   " ON CONFLICT (policy, key) DO NOTHING",
                   6, argtypes, 0);
    values[0] = PointerGetDatum(policy);
    values[1] = PointerGetDatum(key);
    values[2] = Int64GetDatum(r->state.t);
    values[3] = Int64GetDatum(r->state.n);
    values[4] = Int64GetDatum(r->state.p);
    values[5] = TimestampTzGetDatum(expires);
    rc = SPI_execute_plan(plan, values, NULL, false, 0);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "rate-limit state insert failed: %s",
             SPI_result_code_string(rc));
    return SPI_processed == 1;
}

static void
rl_update_state(text *policy, text *key, const nk_rl_result *r,
                TimestampTz expires)
{
    Oid argtypes[6] = {TEXTOID, TEXTOID, INT8OID,
                       INT8OID, INT8OID, TIMESTAMPTZOID};
    Datum values[6];
    SPIPlanPtr plan;
    int rc;

    plan = rl_plan(&plan_update,
                   "UPDATE namaskah.rate_limit_state"
                   " SET t_us = $3, n = $4, n_prev = $5, expires_at = $6"
                   " WHERE policy = $1 AND key = $2",
                   6, argtypes, 0);
    values[0] = PointerGetDatum(policy);
    values[1] = PointerGetDatum(key);
    values[2] = Int64GetDatum(r->state.t);
    values[3] = Int64GetDatum(r->state.n);
    values[4] = Int64GetDatum(r->state.p);
    values[5] = TimestampTzGetDatum(expires);
    rc = SPI_execute_plan(plan, values, NULL, false, 0);
    if (rc != SPI_OK_UPDATE || SPI_processed != 1)
        elog(ERROR, "rate-limit state update failed: %s",
             SPI_result_code_string(rc));
}

/*
 * Deletes a few expired rows, oldest first, skipping any row in use. Two
 * statements on purpose: "LIMIT <constant> ORDER BY expires_at" always plans
 * as an index scan and "ctid = $1" as a TID scan, whatever the table's size
 * was when the plan cache settled on a generic plan (a one-statement
 * "ctid = ANY (ARRAY(...))" planned on an empty table became a sequential
 * scan per call).
 */
static void
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
        "SELECT s.ctid FROM namaskah.rate_limit_state s"
        " WHERE s.expires_at < $1 ORDER BY s.expires_at"
        " LIMIT " CppAsString2(RL_CLEANUP_ROWS) " FOR UPDATE SKIP LOCKED",
        1, argtypes, 0);
    values[0] = TimestampTzGetDatum(now);
    rc = SPI_execute_plan(plan, values, NULL, false, RL_CLEANUP_ROWS);
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
                   "DELETE FROM namaskah.rate_limit_state WHERE ctid = $1", 1,
                   tidtype, 0);
    for (i = 0; i < found; i++) {
        values[0] = PointerGetDatum(&tids[i]);
        rc = SPI_execute_plan(plan, values, NULL, false, 0);
        if (rc != SPI_OK_DELETE)
            elog(ERROR, "rate-limit state cleanup failed: %s",
                 SPI_result_code_string(rc));
    }
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

static Datum
rl_decide(FunctionCallInfo fcinfo, bool consume)
{
    text *policy;
    text *key;
    TimestampTz now;
    TupleDesc tupdesc;
    RlPolicy pol;
    RlStateRow row;
    nk_rl_result r;
    nk_rl_error err;
    int64 cost;
    int attempt;
    Datum values[5];
    bool nulls[5] = {false, false, false, false, false};

    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit policy must not be null")));
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit key must not be null")));
    if (PG_ARGISNULL(3))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit time must not be null")));
    policy = PG_GETARG_TEXT_PP(0);
    key = PG_GETARG_TEXT_PP(1);
    now = PG_GETARG_TIMESTAMPTZ(3);
    if (VARSIZE_ANY_EXHDR(key) > RL_MAX_KEY_BYTES)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("rate-limit key is too long"),
                 errdetail("A key has at most %d bytes; this one has %zu.",
                           RL_MAX_KEY_BYTES, VARSIZE_ANY_EXHDR(key))));
    if (TIMESTAMP_NOT_FINITE(now))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("rate-limit time must be finite")));
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "rate-limit function must return a composite type");
    tupdesc = BlessTupleDesc(tupdesc);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    rl_load_policy(policy, &pol);
    cost = PG_ARGISNULL(2) ? pol.cost : PG_GETARG_INT32(2);

    for (attempt = 0;; attempt++) {
        if (attempt >= RL_MAX_ATTEMPTS)
            elog(ERROR, "rate-limit state row for a key kept vanishing");
        rl_load_state(policy, key, consume, &row);
        err = nk_rl_apply(&pol.p, row.found ? &row.s : NULL, now, cost, &r);
        if (err != NK_RL_OK)
            rl_report_error(err, text_to_cstring(policy));
        /* Denied, or nothing to record: write nothing. */
        if (!consume || !r.allowed || cost == 0)
            break;
        if (row.found) {
            rl_update_state(policy, key, &r,
                            rl_expiry(&pol.p, r.expires_at_us));
            break;
        }
        if (rl_insert_state(policy, key, &r,
                            rl_expiry(&pol.p, r.expires_at_us))) {
            rl_cleanup(now);
            break;
        }
        /* Another transaction created the row: lock it and decide again. */
    }
    SPI_finish();

    values[0] = BoolGetDatum(r.allowed);
    values[1] = Int32GetDatum((int32)r.quota);
    values[2] = Int32GetDatum((int32)Min(r.remaining, (int64)PG_INT32_MAX));
    values[3] = Int32GetDatum(rl_seconds(r.reset_after_us));
    values[4] = Int32GetDatum(rl_seconds(r.retry_after_us));
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(nk_rate_limit_peek);
Datum
nk_rate_limit_peek(PG_FUNCTION_ARGS)
{
    return rl_decide(fcinfo, false);
}

PG_FUNCTION_INFO_V1(nk_rate_limit_check);
Datum
nk_rate_limit_check(PG_FUNCTION_ARGS)
{
    return rl_decide(fcinfo, true);
}
