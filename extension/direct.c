/*
 * direct.c — changing a table's rows without an SQL statement.
 *
 * Each request writes two rows: its rate-limit slot (an update) and its
 * audit record (an insert). As SPI statements, each paid for executor
 * start-up and shutdown (and the insert for routing the row through the
 * partitioned audit_log), which cost more than the write. These are the
 * executor's own simple row changes, the ones logical replication applies
 * rows with (ExecSimpleRelationInsert / ExecSimpleRelationUpdate): the
 * table's constraints, a partition's bounds and every index are kept as an
 * INSERT or UPDATE would keep them. Statement triggers are not fired here,
 * so a table with a trigger the change would fire is refused and written in
 * SQL instead (the audit log's own triggers are on UPDATE, DELETE and
 * TRUNCATE); privileges are the caller's business (both callers run as the
 * table's owner).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "direct.h"

/* Whether a change of this kind would fire any of the table's triggers. */
static bool
fires_triggers(const TriggerDesc *t, CmdType change)
{
    if (t == NULL)
        return false;
    if (change == CMD_INSERT)
        return t->trig_insert_before_row || t->trig_insert_after_row ||
               t->trig_insert_instead_row || t->trig_insert_before_statement ||
               t->trig_insert_after_statement || t->trig_insert_new_table;
    return t->trig_update_before_row || t->trig_update_after_row ||
           t->trig_update_instead_row || t->trig_update_before_statement ||
           t->trig_update_after_statement || t->trig_update_old_table ||
           t->trig_update_new_table;
}

bool
nk_direct_begin(nk_direct *d, Oid relid, CmdType change)
{
    RangeTblEntry *rte;

    d->rel = table_open(relid, RowExclusiveLock);
    if (d->rel->rd_rel->relkind != RELKIND_RELATION ||
        fires_triggers(d->rel->trigdesc, change)) {
        table_close(d->rel, NoLock);
        d->rel = NULL;
        return false;
    }
    d->estate = CreateExecutorState();
    /* (a range table: constraint violations name the row from it) */
    rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = RELKIND_RELATION;
    rte->rellockmode = RowExclusiveLock;
    ExecInitRangeTable(d->estate, list_make1(rte));
    d->result = makeNode(ResultRelInfo);
    InitResultRelInfo(d->result, d->rel, 1, NULL, 0);
    d->estate->es_output_cid = GetCurrentCommandId(true);
    d->estate->es_snapshot = GetActiveSnapshot();
    ExecOpenIndices(d->result, false);
    d->row = ExecInitExtraTupleSlot(d->estate, RelationGetDescr(d->rel),
                                    &TTSOpsVirtual);
    ExecClearTuple(d->row);
    return true;
}

void
nk_direct_insert(nk_direct *d)
{
    ExecStoreVirtualTuple(d->row);
    ExecSimpleRelationInsert(d->result, d->estate, d->row);
}

void
nk_direct_update(nk_direct *d, ItemPointer tid)
{
    TupleTableSlot *old = ExecInitExtraTupleSlot(
        d->estate, RelationGetDescr(d->rel), &TTSOpsVirtual);

    old->tts_tid = *tid;
    ExecStoreVirtualTuple(d->row);
    ExecSimpleRelationUpdate(d->result, d->estate, NULL, old, d->row);
}

void
nk_direct_end(nk_direct *d)
{
    ExecCloseIndices(d->result);
    ExecResetTupleTable(d->estate->es_tupleTable, false);
    FreeExecutorState(d->estate);
    table_close(d->rel, NoLock);
    d->rel = NULL;
}
