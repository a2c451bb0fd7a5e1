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

#include "executor/spi.h"

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
 * The search_path every statement of the C code is parsed under. Its kept
 * plans carry the path they were made under (PostgreSQL re-analyzes a plan
 * called under another path), and the SQL functions that run them carry no
 * SET clause: a SET clause is a configuration save and restore on every
 * call, some 10 us, and the pipeline that calls them has pinned this path
 * already.
 */
#define NK_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * Prepares sql (SPI_prepare_cursor) under NK_SEARCH_PATH and keeps the plan
 * (SPI_keepplan); errors on failure, naming what (a short description).
 */
SPIPlanPtr nk_prepare_kept(const char *sql, int nargs, Oid *argtypes,
                           int cursor_options, const char *what);

#endif
