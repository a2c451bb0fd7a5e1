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

#endif
