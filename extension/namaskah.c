/*
 * namaskah.c — the module's one-per-library declarations.
 *
 * Every SQL-callable function lives in the file of its concern (jwt.c,
 * ratelimit.c, mask.c, sanitize.c, audit.c, pipeline.c); their pure-C halves
 * are in core/. This file only marks the library as a PostgreSQL module.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
