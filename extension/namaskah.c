/*
 * namaskah.c — the module's one-per-library declarations.
 *
 * Every SQL-callable function lives in the file of its concern (jwt.c,
 * jwt_keys.c, jwt_pgjwt.c, ratelimit.c, mask.c, sanitize.c, audit.c,
 * pipeline.c, secret.c); their pure-C halves are in core/. This file marks
 * the library as a PostgreSQL module and, when a backend loads it, registers
 * the transaction callbacks of the audit chain and the rate-limit journal:
 * registered any later (say inside a subtransaction), they would miss the
 * start of a subtransaction whose abort they must see. It also holds the
 * few helpers every wrapper file may use (namaskah.h).
 */
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "audit.h"
#include "namaskah.h"
#include "ratelimit_journal.h"

PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void)
{
    audit_register_callbacks();
    rl_journal_register_callbacks();
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
