/*
 * namaskah.h — what every wrapper file of the module may share (namaskah.c).
 *
 * Conventions of the wrapper files: a SQL-callable C function is named
 * nk_sql_ and its SQL name (nk_sql_jwt_issue for namaskah.jwt_issue); pure
 * core functions are nk_ and their module (nk_jwt_verify); types are
 * snake_case; SQL text names the schema through NK_SCHEMA.
 */
#ifndef NAMASKAH_H
#define NAMASKAH_H

#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/resowner.h"

/*
 * The extension's schema (namaskah.control: schema = namaskah, not
 * relocatable), for the SQL and catalog lookups of the C code; the install
 * script writes it @extschema@.
 */
#define NK_SCHEMA "namaskah"

/*
 * Runs fn with user as the current user, in a restricted security context,
 * and restores the caller's identity even when fn raises: how a cache that
 * any role's call may fill reads the tables only their owner may read.
 */
void nk_call_as_user(Oid user, void (*fn)(void));

/*
 * The per-backend caches' halves of the module's one relcache callback
 * (namaskah.c registers it at load: PostgreSQL 15 has room for only ten in
 * a backend, core's included). Each drops what it holds of relid's table;
 * InvalidOid means every table.
 */
void jwt_keys_relcache_changed(Oid relid);
void secret_relcache_changed(Oid relid);
void settings_relcache_changed(Oid relid);
void routes_relcache_changed(Oid relid);
void rate_limit_policies_relcache_changed(Oid relid);
void rate_limit_state_relcache_changed(Oid relid);

/* The rate-limit decisions' subtransaction callback (registered at load). */
void rate_limit_register_callbacks(void);

/*
 * Whether a cache load may be kept: no invalidation of its table arrived
 * while it read (the generation it started at is still the current one),
 * and it read a snapshot of its own. Under REPEATABLE READ or SERIALIZABLE
 * SPI reads the transaction's snapshot, which may predate a change whose
 * invalidation this backend has already taken in; such a load serves the
 * call that made it and is read again by the next.
 */
static inline bool
nk_cache_load_keeps(uint64 gen_at_start, uint64 gen_now)
{
    return gen_at_start == gen_now && !IsolationUsesXactSnapshot();
}

/*
 * The search_path every statement of the C code is parsed under, and the
 * one the SECURITY DEFINER functions pin. Three C functions on every
 * request's path (rate_limit_peek, rate_limit_check, audit_append) pin it
 * themselves instead of by a SET clause, which is a configuration save and
 * restore on every call (some 10 us): nk_pin_search_path at entry compares
 * the current path with this one (the pipeline's, so its calls pay only
 * the compare) and sets it for the call only when they differ, and
 * nk_unpin_search_path(its result) restores the caller's before return
 * (an error on the way out restores it with the aborted transaction).
 * So whatever they parse or analyze again (a kept plan called under
 * another path is analyzed again; SPI_execute parses under the current
 * path), they do under this path, and never find a caller's operator or
 * function to run with the owner's rights (sql/pipeline.sql calls them
 * under such a path).
 */
#define NK_SEARCH_PATH "pg_catalog, pg_temp"

int nk_pin_search_path(void);
void nk_unpin_search_path(int nest_level);

/*
 * Prepares sql (SPI_prepare_cursor) under NK_SEARCH_PATH and keeps the plan
 * (SPI_keepplan); errors on failure, naming what (a short description).
 */
SPIPlanPtr nk_prepare_kept(const char *sql, int nargs, Oid *argtypes,
                           int cursor_options, const char *what);

/*
 * For the PG_CATCH of an internal subtransaction begun while cxt and owner
 * were current: takes the error, rolls the subtransaction back, makes cxt
 * and owner current again and returns the error (in cxt), to be handled or
 * rethrown (ReThrowError).
 */
ErrorData *nk_subxact_rollback(MemoryContext cxt, ResourceOwner owner);

/*
 * SQL-callable functions of the pure kind (no flinfo, no NULL argument)
 * that the request pipeline (request.c) calls directly.
 */
extern PGDLLEXPORT Datum nk_sql_json_text(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum nk_sql_sanitize_log(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum nk_sql_mask_text(PG_FUNCTION_ARGS);

#endif
