/*
 * settings.c — namaskah.setting(name) and the C accessor (settings.h):
 * every declared setting with its effective value (the operator's, else the
 * declared default), read once per backend and kept until
 * namaskah.settings or namaskah.setting_definitions changes.
 *
 * Settings are read on every request (audit.enabled, CORS) and by the JWT
 * and password code; a SQL-language accessor would cost a function start-up
 * and a query each time. Writes are checked against the declaration by a
 * trigger (sql/00_base.sql), so readers never parse or bound a value again.
 * Invalidation as for the signing keys: the statement trigger
 * cache_invalidate on both tables sends a relcache invalidation, which
 * every backend applies at its next transaction start.
 */
#include "postgres.h"

#include <errno.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "namaskah.h"
#include "settings.h"

#define MAX_SETTINGS 64

typedef struct setting_entry {
    char *name;
    char *value; /* NULL: neither set nor defaulted */
} setting_entry;

static setting_entry entries[MAX_SETTINGS];
static int n_entries;
static bool entries_valid;
/* Bumped by every invalidation: a load that saw one arrive stays invalid. */
static uint64 settings_gen;
static bool callback_registered;
static Oid settings_relid = InvalidOid;
static Oid definitions_relid = InvalidOid;

static void relcache_cb(Datum arg, Oid relid);
static void load_settings(void);
static void ensure_settings(void);
static const setting_entry *find_setting(const char *name);

/* InvalidOid means "everything"; a dropped table also lands here. */
static void
relcache_cb(Datum arg, Oid relid)
{
    if (relid == InvalidOid || relid == settings_relid ||
        relid == definitions_relid) {
        entries_valid = false;
        settings_gen++;
    }
}

static void
forget_settings(void)
{
    int i;

    for (i = 0; i < n_entries; i++) {
        pfree(entries[i].name);
        if (entries[i].value != NULL)
            pfree(entries[i].value);
    }
    n_entries = 0;
}

/* Runs as the owner of namaskah.settings: any role's call may need it. */
static void
load_settings(void)
{
    uint64 i;

    forget_settings();
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    /* read_only false: a snapshot of this statement's own, taken now */
    if (SPI_execute("SELECT d.name, coalesce(s.value, d.default_value)"
                    " FROM " NK_SCHEMA ".setting_definitions d"
                    " LEFT JOIN " NK_SCHEMA ".settings s"
                    " ON s.name OPERATOR(pg_catalog.=) d.name",
                    false, MAX_SETTINGS + 1) != SPI_OK_SELECT)
        elog(ERROR, "could not read namaskah.settings");
    if (SPI_processed > MAX_SETTINGS)
        elog(ERROR, "more than %d settings declared", MAX_SETTINGS);
    for (i = 0; i < SPI_processed; i++) {
        HeapTuple tup = SPI_tuptable->vals[i];
        TupleDesc td = SPI_tuptable->tupdesc;
        char *name = SPI_getvalue(tup, td, 1);
        char *value = SPI_getvalue(tup, td, 2);

        entries[n_entries].name = MemoryContextStrdup(TopMemoryContext, name);
        entries[n_entries].value =
            value ? MemoryContextStrdup(TopMemoryContext, value) : NULL;
        n_entries++;
    }
    SPI_finish();
}

static void
ensure_settings(void)
{
    Oid owner, nsp;
    HeapTuple tup;
    uint64 gen;

    if (!callback_registered) {
        CacheRegisterRelcacheCallback(relcache_cb, (Datum)0);
        callback_registered = true;
    }
    if (entries_valid)
        return;
    /* (looked up again at each load: a re-created extension has new ids) */
    nsp = get_namespace_oid(NK_SCHEMA, false);
    settings_relid = get_relname_relid("settings", nsp);
    definitions_relid = get_relname_relid("setting_definitions", nsp);
    tup = SearchSysCache1(RELOID, ObjectIdGetDatum(settings_relid));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "relation namaskah.settings is missing");
    owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    gen = settings_gen;
    nk_call_as_user(owner, load_settings);
    /* an invalidation that arrived while reading: read again next time */
    entries_valid = gen == settings_gen;
}

static const setting_entry *
find_setting(const char *name)
{
    int i;

    ensure_settings();
    for (i = 0; i < n_entries; i++)
        if (strcmp(entries[i].name, name) == 0)
            return &entries[i];
    return NULL;
}

char *
nk_setting_text(const char *name)
{
    const setting_entry *e = find_setting(name);

    if (e == NULL)
        elog(ERROR, "setting \"%s\" is not declared", name);
    return e->value ? pstrdup(e->value) : NULL;
}

int64
nk_setting_int(const char *name)
{
    const setting_entry *e = find_setting(name);
    char *end;
    long long v;

    if (e == NULL)
        elog(ERROR, "setting \"%s\" is not declared", name);
    if (e->value == NULL)
        elog(ERROR, "setting \"%s\" has no value and no default", name);
    errno = 0;
    v = strtoll(e->value, &end, 10);
    if (errno != 0 || end == e->value || *end != '\0')
        elog(ERROR, "setting \"%s\" is not a whole number", name);
    return (int64)v;
}

/*
 * setting(name) → text: the effective value; 42704 for a name that is not
 * declared (a typo must not read as "unset").
 */
PG_FUNCTION_INFO_V1(nk_sql_setting);
Datum
nk_sql_setting(PG_FUNCTION_ARGS)
{
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    const setting_entry *e = find_setting(name);

    if (e == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_OBJECT),
                 errmsg("unknown setting \"%s\"", name),
                 errhint("namaskah.setting_definitions lists the settings.")));
    if (e->value == NULL)
        PG_RETURN_NULL();
    PG_RETURN_TEXT_P(cstring_to_text(e->value));
}
