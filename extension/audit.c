/*
 * audit.c — SQL wrappers of the audit log's C parts: the record hash and the
 * identity of this backend's hash chain.
 *
 * Each backend appends to a chain of its own (audit_chain_id), so writing an
 * audit record never waits for another request; the chain's head is read
 * from the table by the appending transaction itself, so an aborted
 * transaction can never leave the chain out of step with what was committed.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "nk_audit.h"

#define MAX_AUDIT_FIELDS 32

static pg_uuid_t chain_id;
static bool chain_id_set = false;

PG_FUNCTION_INFO_V1(namaskah_audit_chain_id);
Datum
namaskah_audit_chain_id(PG_FUNCTION_ARGS)
{
    pg_uuid_t *result = palloc(sizeof(pg_uuid_t));

    if (!chain_id_set) {
        if (!pg_strong_random(chain_id.data, UUID_LEN))
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not generate an audit chain id")));
        chain_id.data[6] = (chain_id.data[6] & 0x0f) | 0x40; /* version 4 */
        chain_id.data[8] = (chain_id.data[8] & 0x3f) | 0x80; /* variant */
        chain_id_set = true;
    }
    memcpy(result, &chain_id, sizeof(pg_uuid_t));
    PG_RETURN_UUID_P(result);
}

PG_FUNCTION_INFO_V1(namaskah_audit_hash);
Datum
namaskah_audit_hash(PG_FUNCTION_ARGS)
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
