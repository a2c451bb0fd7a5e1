/*
 * ratelimit_journal.c — rate limits that survive a crash and a failover
 * without a WAL record per check.
 *
 * namaskah.rate_limit_state is UNLOGGED: a crash (crash recovery resets
 * unlogged tables) or a promoted replica (which never had the rows) starts
 * every key with a fresh quota. What was consumed is kept durably anyway, in
 * the audit record each request writes in the same transaction: every
 * allowed consuming check of the transaction is noted here (policy, key,
 * cost, time; the keys are built from pseudonyms, never raw addresses or
 * emails) and namaskah.rate_limit_consumed() hands the list to
 * handle_request for the record's details ("rate_limits").
 *
 * The UNLOGGED table namaskah.rate_limit_epoch holds one row while the
 * state is whole: CREATE EXTENSION writes it, and a crash empties it along
 * with the state. The first decision of a backend looks for the row; when
 * it is missing, it takes an advisory lock (so one backend rebuilds and the
 * others wait for its commit) and runs namaskah.rate_limit_rebuild(), which
 * replays the recorded consumption of the policies' look-back key by key in
 * memory (rate_limit_replay, ratelimit.c) at the recorded times, then
 * writes the row again.
 *
 * Subtransactions: what a rolled-back subtransaction consumed was rolled
 * back with it, so its notes are dropped (a stack of list lengths per
 * subtransaction, kept in TopTransactionContext); a transaction's end clears
 * the list. The callbacks are registered when the library loads (_PG_init).
 */
#include "ratelimit_journal.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "namaskah.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* What name_pseudonym (sql/26_secret.sql) puts in a digest made without the
 * secret's key. */
#define NK_UNKEYED_MARK "unkeyed:"
/* Any constant both sides agree on: the rebuild's advisory lock. */
#define RL_REBUILD_LOCK_KEY INT64CONST(0x6e6b726c72656275)

typedef struct rl_note {
    char *policy;
    char *key;
    int64 cost;
    TimestampTz at;
} rl_note;

typedef struct rl_sub_level {
    SubTransactionId subid;
    int length; /* notes when it started */
} rl_sub_level;

static List *notes;                /* of rl_note *, in TopTransactionContext */
static List *levels;               /* of rl_sub_level *, innermost first */
static bool state_verified;        /* this backend saw the epoch row */
static bool verified_in_this_xact; /* ... in a transaction not yet over */
static bool rebuilding;            /* inside rate_limit_rebuild() */

static void rl_xact_callback(XactEvent event, void *arg);
static void rl_subxact_callback(SubXactEvent event, SubTransactionId my,
                                SubTransactionId parent, void *arg);
static bool rl_epoch_present(void);

void
rl_journal_register_callbacks(void)
{
    RegisterXactCallback(rl_xact_callback, NULL);
    RegisterSubXactCallback(rl_subxact_callback, NULL);
}

static void
rl_xact_callback(XactEvent event, void *arg)
{
    switch (event) {
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
        /* a rebuild rolled back: the next decision looks again */
        if (verified_in_this_xact)
            state_verified = false;
        /* FALLTHROUGH */
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PREPARE:
        notes = NIL; /* the memory goes with TopTransactionContext */
        levels = NIL;
        verified_in_this_xact = false;
        rebuilding = false;
        break;
    default:
        break;
    }
}

static void
rl_subxact_callback(SubXactEvent event, SubTransactionId my,
                    SubTransactionId parent, void *arg)
{
    rl_sub_level *level;

    switch (event) {
    case SUBXACT_EVENT_START_SUB: {
        /* the list itself too: a subtransaction's own context may go first */
        MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

        level = palloc(sizeof(rl_sub_level));
        level->subid = my;
        level->length = list_length(notes);
        levels = lcons(level, levels);
        MemoryContextSwitchTo(old);
        break;
    }
    case SUBXACT_EVENT_COMMIT_SUB:
    case SUBXACT_EVENT_ABORT_SUB:
        /* a rebuild may have been inside it: look again next time */
        if (event == SUBXACT_EVENT_ABORT_SUB && verified_in_this_xact)
            state_verified = false;
        if (levels == NIL)
            break;
        level = linitial(levels);
        if (level->subid != my)
            break;
        if (event == SUBXACT_EVENT_ABORT_SUB &&
            list_length(notes) > level->length)
            notes = list_truncate(notes, level->length);
        levels = list_delete_first(levels);
        break;
    default:
        break;
    }
}

void
rl_journal_note(const text *policy, const text *key, int64 cost, TimestampTz at)
{
    MemoryContext old;
    rl_note *n;

    if (rebuilding)
        return; /* a replay, not new consumption */
    old = MemoryContextSwitchTo(TopTransactionContext);
    n = palloc(sizeof(rl_note));
    n->key = text_to_cstring(key);
    /* a name's digest made without the secret could be reversed: such keys
     * (name_pseudonym before SECRET_KEY is installed) are not kept, and so
     * not rebuilt */
    if (strstr(n->key, NK_UNKEYED_MARK) != NULL) {
        pfree(n->key);
        pfree(n);
        MemoryContextSwitchTo(old);
        return;
    }
    n->policy = text_to_cstring(policy);
    n->cost = cost;
    n->at = at;
    notes = lappend(notes, n);
    MemoryContextSwitchTo(old);
}

/* read_only false: the statement takes a snapshot of its own (READ
 * COMMITTED), so a rebuild that committed while we waited is seen. */
static bool
rl_epoch_present(void)
{
    if (SPI_execute("SELECT FROM " NK_SCHEMA ".rate_limit_epoch LIMIT 1", false,
                    1) != SPI_OK_SELECT)
        elog(ERROR, "reading namaskah.rate_limit_epoch failed");
    return SPI_processed > 0;
}

void
rl_journal_ensure_state(void)
{
    if (state_verified || rebuilding)
        return;
    if (!rl_epoch_present()) {
        Datum lock_key = Int64GetDatum(RL_REBUILD_LOCK_KEY);

        DirectFunctionCall1(pg_advisory_xact_lock_int8, lock_key);
        if (!rl_epoch_present()) {
            rebuilding = true;
            PG_TRY();
            {
                if (SPI_execute("SELECT " NK_SCHEMA ".rate_limit_rebuild()",
                                false, 0) != SPI_OK_SELECT)
                    elog(ERROR, "namaskah.rate_limit_rebuild() failed");
            }
            PG_FINALLY();
            {
                rebuilding = false;
            }
            PG_END_TRY();
        }
    }
    state_verified = true;
    verified_in_this_xact = true;
}

/*
 * rate_limit_consumed(): the consumption noted since the transaction began
 * or since the last call, as a jsonb array of [policy, key, cost, time in
 * microseconds since 2000-01-01 UTC], or NULL when there was none; starts a
 * new list (each handle_request of a transaction records its own).
 */
PG_FUNCTION_INFO_V1(nk_sql_rate_limit_consumed);
Datum
nk_sql_rate_limit_consumed(PG_FUNCTION_ARGS)
{
    StringInfoData buf;
    ListCell *lc;

    if (notes == NIL)
        PG_RETURN_NULL();
    initStringInfo(&buf);
    appendStringInfoChar(&buf, '[');
    foreach (lc, notes) {
        rl_note *n = lfirst(lc);

        if (foreach_current_index(lc) > 0)
            appendStringInfoChar(&buf, ',');
        appendStringInfoChar(&buf, '[');
        escape_json(&buf, n->policy);
        appendStringInfoChar(&buf, ',');
        escape_json(&buf, n->key);
        appendStringInfo(&buf, ",%lld,%lld]", (long long)n->cost,
                         (long long)n->at);
    }
    appendStringInfoChar(&buf, ']');
    notes = NIL;
    /* what follows happened inside every open subtransaction */
    foreach (lc, levels)
        ((rl_sub_level *)lfirst(lc))->length = 0;
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
