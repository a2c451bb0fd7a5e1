/*
 * namaskah.c — the module's one-per-library declarations.
 *
 * Every SQL-callable function lives in the file of its concern (jwt.c,
 * jwt_keys.c, jwt_pgjwt.c, ratelimit.c, mask.c, sanitize.c, audit.c,
 * pipeline.c, routes.c, secret.c, settings.c); their pure-C halves are in
 * core/. This file marks the library as a PostgreSQL module and, when a
 * backend loads it, registers the transaction callbacks of the audit chain,
 * the rate-limit journal and the rate-limit decisions: registered any later
 * (say inside a subtransaction), they would miss the start of a
 * subtransaction whose abort they must see. It
 * also registers the module's one relcache callback, which tells every
 * per-backend cache that a table changed, and holds the trigger that sends
 * those invalidations (cache_invalidate) and the few helpers every wrapper file
 * may use (namaskah.h).
 */
#include "postgres.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "audit.h"
#include "namaskah.h"
#include "ratelimit_journal.h"

PG_MODULE_MAGIC;

void _PG_init(void);

/* Every per-backend cache learns here that a table changed (namaskah.h). */
static void
relcache_changed(Datum arg, Oid relid)
{
    jwt_keys_relcache_changed(relid);
    secret_relcache_changed(relid);
    settings_relcache_changed(relid);
    routes_relcache_changed(relid);
    rate_limit_policies_relcache_changed(relid);
    rate_limit_state_relcache_changed(relid);
    audit_relcache_changed(relid);
}

void
_PG_init(void)
{
    audit_register_callbacks();
    rl_journal_register_callbacks();
    rate_limit_register_callbacks();
    CacheRegisterRelcacheCallback(relcache_changed, (Datum)0);
}

void
nk_call_as_user(Oid user, void (*fn)(void))
{
    Oid save_user;
    int save_sec;

    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(user, save_sec | SECURITY_LOCAL_USERID_CHANGE |
                                     SECURITY_RESTRICTED_OPERATION);
    PG_TRY();
    {
        fn();
    }
    PG_FINALLY();
    {
        SetUserIdAndSecContext(save_user, save_sec);
    }
    PG_END_TRY();
}

/*
 * cache_invalidate(): the statement trigger on every table a backend
 * caches (sql/00_base.sql). DML sends no relcache invalidation by itself;
 * this one is sent to every backend at commit and applied locally at the
 * next command, where each cache's relcache callback drops its copy.
 */
PG_FUNCTION_INFO_V1(nk_sql_cache_invalidate);
Datum
nk_sql_cache_invalidate(PG_FUNCTION_ARGS)
{
    TriggerData *td = (TriggerData *)fcinfo->context;

    if (!CALLED_AS_TRIGGER(fcinfo))
        elog(ERROR, "cache_invalidate must be called as a trigger");
    CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
    PG_RETURN_POINTER(NULL);
}

SPIPlanPtr
nk_prepare_kept(const char *sql, int nargs, Oid *argtypes, int cursor_options,
                const char *what)
{
    int nest = nk_pin_search_path();
    SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

    nk_unpin_search_path(nest);
    if (plan == NULL)
        elog(ERROR, "preparing %s failed: %s", what,
             SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "keeping the plan of %s failed", what);
    return plan;
}

int
nk_pin_search_path(void)
{
    int nest;

    if (namespace_search_path != NULL &&
        strcmp(namespace_search_path, NK_SEARCH_PATH) == 0)
        return -1;
    nest = NewGUCNestLevel();
    (void)set_config_option("search_path", NK_SEARCH_PATH, PGC_USERSET,
                            PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    return nest;
}

void
nk_unpin_search_path(int nest_level)
{
    if (nest_level >= 0)
        AtEOXact_GUC(true, nest_level);
}

ErrorData *
nk_subxact_rollback(MemoryContext cxt, ResourceOwner owner)
{
    ErrorData *edata;

    MemoryContextSwitchTo(cxt);
    edata = CopyErrorData();
    FlushErrorState();
    RollbackAndReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(cxt);
    CurrentResourceOwner = owner;
    return edata;
}
