/*
 * password.c — SQL wrappers of the scrypt password hashing in
 * core/nk_password.c: password_hash, password_verify, password_needs_rehash.
 *
 * The cost parameters are the settings password.scrypt_ln, password.scrypt_r
 * and password.scrypt_p (declared with their defaults and bounds in
 * namaskah.setting_definitions), read through settings.c's cache.
 */
#include "postgres.h"

#include "fmgr.h"
#include "port.h"
#include "utils/builtins.h"

#include <openssl/crypto.h>

#include "nk_password.h"
#include "settings.h"

static nk_scrypt_params current_params(void);
static void pw_error(nk_pw_status st) pg_attribute_noreturn();

static nk_scrypt_params
current_params(void)
{
    nk_scrypt_params p;

    /* Bounded when written (setting_definitions; ln at most NK_PW_MAX_LN). */
    p.ln = (int)nk_setting_int("password.scrypt_ln");
    p.r = (int)nk_setting_int("password.scrypt_r");
    p.p = (int)nk_setting_int("password.scrypt_p");
    return p;
}

/* Every library status becomes an error here. */
static void
pw_error(nk_pw_status st)
{
    switch (st) {
    case NK_PW_BAD_PARAMS:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid scrypt parameters")));
        break;
    case NK_PW_KDF_FAILED:
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("scrypt key derivation failed")));
        break;
    default:
        elog(ERROR, "password hashing failed (%d)", (int)st);
    }
}

PG_FUNCTION_INFO_V1(nk_sql_password_hash);
Datum
nk_sql_password_hash(PG_FUNCTION_ARGS)
{
    text *pw = PG_GETARG_TEXT_PP(0);
    nk_scrypt_params p = current_params();
    unsigned char salt[NK_PW_SALT_LEN];
    char out[NK_PW_ENCODED_MAX];
    nk_pw_status st;

    if (!pg_strong_random(salt, sizeof(salt)))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not generate random salt")));
    st = nk_password_hash(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), salt, &p, out,
                          sizeof(out));
    if (st != NK_PW_OK)
        pw_error(st);
    PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * Not STRICT: a NULL hash (unknown account) still runs the KDF once, so the
 * caller may pass the lookup result straight in. A NULL password is false.
 */
PG_FUNCTION_INFO_V1(nk_sql_password_verify);
Datum
nk_sql_password_verify(PG_FUNCTION_ARGS)
{
    nk_scrypt_params p = current_params();
    text *pw = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
    text *hash = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
    nk_pw_status st;

    st = nk_password_verify(pw ? VARDATA_ANY(pw) : "",
                            pw ? VARSIZE_ANY_EXHDR(pw) : 0,
                            hash ? VARDATA_ANY(hash) : NULL,
                            hash ? VARSIZE_ANY_EXHDR(hash) : 0, &p);
    if (st == NK_PW_KDF_FAILED)
        pw_error(st);
    PG_RETURN_BOOL(st == NK_PW_OK && pw != NULL);
}

PG_FUNCTION_INFO_V1(nk_sql_password_needs_rehash);
Datum
nk_sql_password_needs_rehash(PG_FUNCTION_ARGS)
{
    text *hash = PG_GETARG_TEXT_PP(0);
    nk_scrypt_params p = current_params();

    PG_RETURN_BOOL(nk_password_needs_rehash(VARDATA_ANY(hash),
                                            VARSIZE_ANY_EXHDR(hash), &p));
}
