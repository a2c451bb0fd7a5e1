/*
 * direct.h — changing a table's rows without an SQL statement (direct.c),
 * for the two writes every request makes: its rate-limit slot and its
 * audit record.
 */
#ifndef NAMASKAH_DIRECT_H
#define NAMASKAH_DIRECT_H

#include "postgres.h"

#include "executor/executor.h"
#include "storage/itemptr.h"
#include "utils/rel.h"

/* One table opened for row changes. */
typedef struct nk_direct {
    Relation rel;
    EState *estate;
    ResultRelInfo *result;
    TupleTableSlot *row; /* the new row: fill tts_values / tts_isnull */
} nk_direct;

/*
 * Opens relid for one change (CMD_INSERT or CMD_UPDATE; RowExclusiveLock,
 * held to the transaction's end). Refuses (false, nothing open) a table
 * with a trigger that change would fire: triggers are the executor's
 * business, so such a table is written in SQL. The caller then fills d->row
 * (every column) and makes the change.
 */
bool nk_direct_begin(nk_direct *d, Oid relid, CmdType change);

/* Inserts d->row: constraints, the partition's bounds, every index. */
void nk_direct_insert(nk_direct *d);

/* Replaces the row version at tid (which the caller has locked) by d->row. */
void nk_direct_update(nk_direct *d, ItemPointer tid);

void nk_direct_end(nk_direct *d);

#endif
