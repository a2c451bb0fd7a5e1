/*
 * audit.c — the audit log's C parts: the record hash, the identity of this
 * backend's hash chain, and audit_append, which writes one record per
 * request.
 *
 * Each backend appends to a chain of its own (audit_chain_id), so writing an
 * audit record never waits for another request. Nobody else writes to that
 * chain, so its head (seq, hash) is kept in memory after each append; an
 * abort that takes an append back (of the transaction, or of a
 * subtransaction the append was made in) forgets it, and the next append
 * reads the head from the table again (within its own transaction, so an
 * aborted append can never leave the chain out of step with what was
 * committed). Other subtransactions come and go on every busy request (a
 * rate-limit step, an endpoint's error) and leave the head alone. audit_verify
 * (SQL, sql/65_audit.sql) recomputes every hash from the stored fields
 * independently of this code.
 *
 * The log is partitioned by day; before an append finds no partition for
 * its time, it has the coming days' partitions created
 * (audit_partitions_maintain): in a backend's first append and when the time
 * covered comes within a day of running out, so nobody has to remember to.
 * The record goes straight into its day's partition (direct.c: no INSERT
 * statement to start up, no routing through the partitioned table); a day
 * whose partition is not the plain one audit_partitions_maintain makes is
 * written with an INSERT into audit_log, as before.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "audit.h"
#include "direct.h"
#include "nk_audit.h"
#include "namaskah.h"

#define MAX_AUDIT_FIELDS 32

/* The record's columns, in table order (audit_log). */
enum audit_column {
    COL_ID,
    COL_CHAIN_ID,
    COL_SEQ,
    COL_LOGGED_AT,
    COL_REQUEST_ID,
    COL_ACTOR,
    COL_METHOD,
    COL_ROUTE,
    COL_STATUS,
    COL_OUTCOME,
    COL_DURATION_MS,
    COL_DETAILS,
    COL_PREV_HASH,
    COL_HASH,
    AUDIT_COLUMNS
};
/* The hashed fields are the first twelve columns (audit_fields in SQL). */
#define AUDIT_HASHED_FIELDS COL_PREV_HASH

static pg_uuid_t chain_id;
static bool chain_id_set = false;
/* When this backend's chain began: its records are all later (head_load). */
static TimestampTz chain_started;

/* The audit log's partitions cover the time before this (0: not known). */
static TimestampTz covered_until = 0;
/* audit_partitions_maintain ran in this transaction (it may have created
 * partitions that an abort takes back). */
static bool maintained_in_xact = false;
static SPIPlanPtr plan_maintain;

/* This chain's head, while known (see the banner). */
static bool head_valid = false;
/* The (sub)transaction of this transaction's latest append: only an abort
 * of it or of one that contains it takes an append back (a subtransaction
 * contains every one begun after it while it was open: their ids are
 * greater). */
static SubTransactionId last_append_subxact = InvalidSubTransactionId;
static int64 head_seq;
static unsigned char head_hash[NK_AUDIT_HASH_LEN];
static SPIPlanPtr plan_head;
static SPIPlanPtr plan_insert;

/* The partition of one UTC day that records are written into directly
 * (InvalidOid: not known; forgotten when it changes). */
static int64 direct_day = -1;
static Oid direct_partition = InvalidOid;
static AttrNumber direct_attnums[AUDIT_COLUMNS];
static const char *const column_names[AUDIT_COLUMNS] = {
    "id",          "chain_id", "seq",       "logged_at", "request_id",
    "actor",       "method",   "route",     "status",    "outcome",
    "duration_ms", "details",  "prev_hash", "hash"};

static const pg_uuid_t *chain_id_get(void);
static void audit_xact_cb(XactEvent event, void *arg);
static void audit_subxact_cb(SubXactEvent event, SubTransactionId my,
                             SubTransactionId parent, void *arg);
static void head_load(void);
static void partitions_cover(TimestampTz now);
static text *left_chars(text *t, int n);
static void record_hash(const Datum *values, const bool *nulls,
                        unsigned char out[NK_AUDIT_HASH_LEN]);

static const pg_uuid_t *
chain_id_get(void)
{
    if (!chain_id_set) {
        if (!pg_strong_random(chain_id.data, UUID_LEN))
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not generate an audit chain id")));
        chain_id.data[6] = (chain_id.data[6] & 0x0f) | 0x40; /* version 4 */
        chain_id.data[8] = (chain_id.data[8] & 0x3f) | 0x80; /* variant */
        chain_started = GetCurrentTimestamp();
        chain_id_set = true;
    }
    return &chain_id;
}

PG_FUNCTION_INFO_V1(nk_sql_audit_chain_id);
Datum
nk_sql_audit_chain_id(PG_FUNCTION_ARGS)
{
    pg_uuid_t *result = palloc(sizeof(pg_uuid_t));

    memcpy(result, chain_id_get(), sizeof(pg_uuid_t));
    PG_RETURN_UUID_P(result);
}

void
audit_register_callbacks(void)
{
    RegisterXactCallback(audit_xact_cb, NULL);
    RegisterSubXactCallback(audit_subxact_cb, NULL);
}

/* Any abort may have taken an appended record with it; so may the
 * ROLLBACK PREPARED of a prepared transaction, decided elsewhere. */
static void
audit_xact_cb(XactEvent event, void *arg)
{
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE) {
        head_valid = false;
        if (maintained_in_xact)
            covered_until = 0;
    }
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE || event == XACT_EVENT_COMMIT ||
        event == XACT_EVENT_PARALLEL_COMMIT) {
        maintained_in_xact = false;
        last_append_subxact = InvalidSubTransactionId;
    }
}

static void
audit_subxact_cb(SubXactEvent event, SubTransactionId my,
                 SubTransactionId parent, void *arg)
{
    if (event != SUBXACT_EVENT_ABORT_SUB)
        return;
    /* (a rate-limit step or an endpoint's error rolls back subtransactions
     * on every busy request: the head stays unless an append went too) */
    if (last_append_subxact != InvalidSubTransactionId &&
        last_append_subxact >= my)
        head_valid = false;
    if (maintained_in_xact)
        covered_until = 0;
}

/*
 * Reads this chain's head from the table (none yet: the genesis hash). Only
 * the partitions since the chain began are searched (a day of slack for the
 * clock being set back), not the whole log.
 */
static void
head_load(void)
{
    Oid types[2] = {UUIDOID, TIMESTAMPTZOID};
    Datum values[2];

    if (plan_head == NULL)
        plan_head = nk_prepare_kept(
            "SELECT a.seq, a.hash FROM " NK_SCHEMA ".audit_log a "
            "WHERE a.chain_id = $1 AND a.logged_at >= $2 "
            "ORDER BY a.seq DESC LIMIT 1",
            2, types, 0, "the audit head query");
    values[0] = UUIDPGetDatum(chain_id_get());
    values[1] = TimestampTzGetDatum(chain_started - USECS_PER_DAY);
    if (SPI_execute_plan(plan_head, values, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "reading the audit chain head failed");
    if (SPI_processed == 1) {
        bool isnull;
        bytea *h;

        head_seq = DatumGetInt64(SPI_getbinval(
            SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0],
                                          SPI_tuptable->tupdesc, 2, &isnull));
        if (VARSIZE_ANY_EXHDR(h) != NK_AUDIT_HASH_LEN)
            elog(ERROR, "audit chain head has a malformed hash");
        memcpy(head_hash, VARDATA_ANY(h), NK_AUDIT_HASH_LEN);
    } else {
        /* audit_genesis: sha256('namaskah-audit-genesis:' || chain id) */
        char *id = DatumGetCString(
            DirectFunctionCall1(uuid_out, UUIDPGetDatum(chain_id_get())));
        char *seed = psprintf("namaskah-audit-genesis:%s", id);
        bytea *digest = DatumGetByteaPP(DirectFunctionCall1(
            sha256_bytea, PointerGetDatum(cstring_to_text(seed))));

        head_seq = 0;
        memcpy(head_hash, VARDATA_ANY(digest), NK_AUDIT_HASH_LEN);
    }
    head_valid = true;
}

/* Makes sure a partition takes a record logged now, and that the next
 * day's is there too. */
static void
partitions_cover(TimestampTz now)
{
    bool isnull;
    Datum until;

    if (now + USECS_PER_DAY < covered_until)
        return;
    if (plan_maintain == NULL)
        plan_maintain =
            nk_prepare_kept("SELECT " NK_SCHEMA ".audit_partitions_maintain()",
                            0, NULL, 0, "the audit partition check");
    maintained_in_xact = true;
    if (SPI_execute_plan(plan_maintain, NULL, NULL, false, 1) !=
            SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "creating the audit log's partitions failed");
    until =
        SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    covered_until = isnull ? 0 : DatumGetTimestampTz(until);
}

/* From the module's relcache callback (namaskah.c). */
void
audit_relcache_changed(Oid relid)
{
    if (relid == InvalidOid || relid == direct_partition) {
        direct_partition = InvalidOid;
        direct_day = -1;
    }
}

/*
 * The partition a record logged at `at` goes into directly: the table
 * namaskah_audit.audit_log_YYYYMMDD of its UTC day, when it is a partition
 * of audit_log holding exactly its columns; else InvalidOid.
 */
static Oid
day_partition(TimestampTz at)
{
    int64 day = at / USECS_PER_DAY - (at % USECS_PER_DAY < 0 ? 1 : 0);
    int year, month, mday, i;
    Oid ns, relid, parent;
    Relation rel;
    TupleDesc desc;
    bool usable;

    if (day == direct_day)
        return direct_partition;
    direct_partition = InvalidOid;
    direct_day = day;
    j2date((int)(day + POSTGRES_EPOCH_JDATE), &year, &month, &mday);
    ns = get_namespace_oid("namaskah_audit", true);
    relid = OidIsValid(ns)
                ? get_relname_relid(
                      psprintf("audit_log_%04d%02d%02d", year, month, mday), ns)
                : InvalidOid;
    parent =
        get_relname_relid("audit_log", get_namespace_oid(NK_SCHEMA, false));
    if (!OidIsValid(relid) || !get_rel_relispartition(relid) ||
        get_partition_parent(relid, true) != parent)
        return InvalidOid;
    rel = table_open(relid, AccessShareLock);
    desc = RelationGetDescr(rel);
    usable = desc->natts == AUDIT_COLUMNS;
    for (i = 0; usable && i < AUDIT_COLUMNS; i++) {
        direct_attnums[i] = get_attnum(relid, column_names[i]);
        usable = direct_attnums[i] != InvalidAttrNumber;
    }
    table_close(rel, NoLock);
    if (usable)
        direct_partition = relid;
    return direct_partition;
}

/* Writes the record straight into its partition; false when it cannot be
 * (then it goes through an INSERT). */
static bool
insert_direct(const Datum *values, const bool *nulls)
{
    Oid partition = day_partition(DatumGetTimestampTz(values[COL_LOGGED_AT]));
    nk_direct d;
    int i;

    if (!OidIsValid(partition) || !nk_direct_begin(&d, partition, CMD_INSERT))
        return false;
    for (i = 0; i < AUDIT_COLUMNS; i++) {
        d.row->tts_values[direct_attnums[i] - 1] = values[i];
        d.row->tts_isnull[direct_attnums[i] - 1] = nulls[i];
    }
    nk_direct_insert(&d);
    nk_direct_end(&d);
    return true;
}

/* left(t, n): the first n characters. */
static text *
left_chars(text *t, int n)
{
    return DatumGetTextPP(
        DirectFunctionCall2(text_left, PointerGetDatum(t), Int32GetDatum(n)));
}

/* The text forms audit_fields (SQL) hashes, from the column values. */
static void
record_hash(const Datum *values, const bool *nulls,
            unsigned char out[NK_AUDIT_HASH_LEN])
{
    nk_audit_field fields[AUDIT_HASHED_FIELDS];
    int i;

    for (i = 0; i < AUDIT_HASHED_FIELDS; i++) {
        char *s = NULL;

        if (nulls[i]) {
            fields[i].data = NULL;
            fields[i].len = 0;
            continue;
        }
        switch (i) {
        case COL_ID:
        case COL_SEQ:
            s = psprintf(INT64_FORMAT, DatumGetInt64(values[i]));
            break;
        case COL_CHAIN_ID:
            s = DatumGetCString(DirectFunctionCall1(uuid_out, values[i]));
            break;
        case COL_LOGGED_AT:
            /* (extract(epoch FROM logged_at) * 1000000)::bigint */
            s = psprintf(INT64_FORMAT,
                         DatumGetTimestampTz(values[i]) +
                             (int64)(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
                                 SECS_PER_DAY * USECS_PER_SEC);
            break;
        case COL_STATUS:
        case COL_DURATION_MS:
            s = psprintf("%d", DatumGetInt32(values[i]));
            break;
        case COL_DETAILS:
            s = DatumGetCString(DirectFunctionCall1(jsonb_out, values[i]));
            break;
        default: {
            text *t = DatumGetTextPP(values[i]);

            fields[i].data = VARDATA_ANY(t);
            fields[i].len = VARSIZE_ANY_EXHDR(t);
            continue;
        }
        }
        fields[i].data = s;
        fields[i].len = strlen(s);
    }
    if (nk_audit_hash(head_hash, fields, AUDIT_HASHED_FIELDS, out) !=
        NK_AUDIT_OK)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not hash an audit record")));
}

/* Writes the record with an INSERT into audit_log. Inside SPI. */
static void
insert_statement(Datum *values, const bool *nulls)
{
    Oid types[AUDIT_COLUMNS] = {INT8OID,  UUIDOID, INT8OID, TIMESTAMPTZOID,
                                TEXTOID,  TEXTOID, TEXTOID, TEXTOID,
                                INT4OID,  TEXTOID, INT4OID, JSONBOID,
                                BYTEAOID, BYTEAOID};
    char spi_nulls[AUDIT_COLUMNS + 1];
    int i;

    if (plan_insert == NULL)
        plan_insert = nk_prepare_kept(
            "INSERT INTO " NK_SCHEMA
            ".audit_log (id, chain_id, seq, logged_at, "
            "request_id, actor, method, route, status, outcome, duration_ms, "
            "details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, $9, $10, $11, $12, $13, $14)",
            AUDIT_COLUMNS, types, 0, "the audit insert");
    for (i = 0; i < AUDIT_COLUMNS; i++)
        spi_nulls[i] = nulls[i] ? 'n' : ' ';
    spi_nulls[AUDIT_COLUMNS] = '\0';
    if (SPI_execute_plan(plan_insert, values, spi_nulls, false, 0) !=
        SPI_OK_INSERT)
        elog(ERROR, "writing the audit record failed");
}

/*
 * audit_append(request_id, actor, method, route, status, outcome,
 * duration_ms, details): one record at the end of this backend's chain;
 * returns its id. Text is cut to the columns' documented lengths (in
 * characters); details NULL is {}.
 */
PG_FUNCTION_INFO_V1(nk_sql_audit_append);
Datum
nk_sql_audit_append(PG_FUNCTION_ARGS)
{
    static const int text_args[][2] = {
        {0, 128}, {1, 128}, {2, 16}, {3, 256}, {5, 64}};
    static const int text_cols[] = {COL_REQUEST_ID, COL_ACTOR, COL_METHOD,
                                    COL_ROUTE, COL_OUTCOME};
    Datum values[AUDIT_COLUMNS];
    bool nulls[AUDIT_COLUMNS];
    unsigned char hash[NK_AUDIT_HASH_LEN];
    bytea *prev, *hashed;
    int64 id;
    size_t i;
    int path_nest;

    path_nest = nk_pin_search_path(); /* SECURITY DEFINER without SET */
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (!head_valid)
        head_load();
    memset(nulls, 0, sizeof(nulls));
    id =
        nextval_internal(get_relname_relid("audit_log_id_seq",
                                           get_namespace_oid(NK_SCHEMA, false)),
                         false);
    values[COL_ID] = Int64GetDatum(id);
    values[COL_CHAIN_ID] = UUIDPGetDatum(chain_id_get());
    values[COL_SEQ] = Int64GetDatum(head_seq + 1);
    values[COL_LOGGED_AT] = TimestampTzGetDatum(GetCurrentTimestamp());
    partitions_cover(DatumGetTimestampTz(values[COL_LOGGED_AT]));
    for (i = 0; i < lengthof(text_cols); i++) {
        int arg = text_args[i][0];

        nulls[text_cols[i]] = PG_ARGISNULL(arg);
        if (!nulls[text_cols[i]])
            values[text_cols[i]] = PointerGetDatum(
                left_chars(PG_GETARG_TEXT_PP(arg), text_args[i][1]));
    }
    nulls[COL_STATUS] = PG_ARGISNULL(4);
    values[COL_STATUS] = nulls[COL_STATUS] ? 0 : PG_GETARG_DATUM(4);
    nulls[COL_DURATION_MS] = PG_ARGISNULL(6);
    values[COL_DURATION_MS] = nulls[COL_DURATION_MS] ? 0 : PG_GETARG_DATUM(6);
    values[COL_DETAILS] =
        PG_ARGISNULL(7) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"))
                        : PG_GETARG_DATUM(7);
    record_hash(values, nulls, hash);
    prev = palloc(VARHDRSZ + NK_AUDIT_HASH_LEN);
    SET_VARSIZE(prev, VARHDRSZ + NK_AUDIT_HASH_LEN);
    memcpy(VARDATA(prev), head_hash, NK_AUDIT_HASH_LEN);
    hashed = palloc(VARHDRSZ + NK_AUDIT_HASH_LEN);
    SET_VARSIZE(hashed, VARHDRSZ + NK_AUDIT_HASH_LEN);
    memcpy(VARDATA(hashed), hash, NK_AUDIT_HASH_LEN);
    values[COL_PREV_HASH] = PointerGetDatum(prev);
    values[COL_HASH] = PointerGetDatum(hashed);

    if (!insert_direct(values, nulls))
        insert_statement(values, nulls);
    SPI_finish();
    nk_unpin_search_path(path_nest);
    head_seq++;
    memcpy(head_hash, hash, NK_AUDIT_HASH_LEN);
    last_append_subxact = GetCurrentSubTransactionId();
    PG_RETURN_INT64(id);
}

PG_FUNCTION_INFO_V1(nk_sql_audit_hash);
Datum
nk_sql_audit_hash(PG_FUNCTION_ARGS)
{
    bytea *prev = PG_GETARG_BYTEA_PP(0);
    ArrayType *array = PG_GETARG_ARRAYTYPE_P(1);
    Datum *elems;
    bool *nulls;
    int count, i;
    nk_audit_field fields[MAX_AUDIT_FIELDS];
    bytea *result;
    nk_audit_status status;

    if (VARSIZE_ANY_EXHDR(prev) != NK_AUDIT_HASH_LEN)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("previous audit hash must be %d bytes",
                               NK_AUDIT_HASH_LEN)));
    if (ARR_NDIM(array) > 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("audit fields must be a one-dimensional array")));
    deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                      &count);
    if (count > MAX_AUDIT_FIELDS)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("too many audit fields"),
                        errdetail("At most %d are hashed.", MAX_AUDIT_FIELDS)));
    for (i = 0; i < count; i++) {
        if (nulls[i]) {
            fields[i].data = NULL;
            fields[i].len = 0;
        } else {
            text *t = DatumGetTextPP(elems[i]);

            fields[i].data = VARDATA_ANY(t);
            fields[i].len = VARSIZE_ANY_EXHDR(t);
        }
    }
    result = palloc(VARHDRSZ + NK_AUDIT_HASH_LEN);
    SET_VARSIZE(result, VARHDRSZ + NK_AUDIT_HASH_LEN);
    status = nk_audit_hash((const unsigned char *)VARDATA_ANY(prev), fields,
                           (size_t)count, (unsigned char *)VARDATA(result));
    if (status != NK_AUDIT_OK)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not hash an audit record")));
    PG_RETURN_BYTEA_P(result);
}
