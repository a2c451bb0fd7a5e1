/*
 * password.c — SQL wrappers of the scrypt password hashing in
 * core/nk_password.c: password_hash, password_verify, password_needs_rehash.
 *
 * The cost parameters come from namaskah.settings ('password.scrypt_ln',
 * 'password.scrypt_r', 'password.scrypt_p'; defaults 14, 8, 1), read on each
 * call: the KDF costs tens of milliseconds, the lookup microseconds.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "port.h"
#include "utils/builtins.h"

#include <openssl/crypto.h>

#include "nk_password.h"

static int read_setting(const char *name, int fallback, int lo, int hi);
static nk_scrypt_params current_params(void);
static void pw_error(nk_pw_status st) pg_attribute_noreturn();

static int
read_setting(const char *name, int fallback, int lo, int hi)
{
    Oid argtypes[1] = {TEXTOID};
    Datum args[1];
    int value = fallback;

    args[0] = CStringGetTextDatum(name);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    if (SPI_execute_with_args("SELECT value FROM namaskah.settings"
                              " WHERE name = $1",
                              1, argtypes, args, NULL, true,
                              1) == SPI_OK_SELECT &&
        SPI_processed == 1) {
        char *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
        char *end;
        long n;

        errno = 0;
        n = v ? strtol(v, &end, 10) : 0;
        if (v && errno == 0 && end != v && *end == '\0' && n >= lo && n <= hi)
            value = (int)n;
        else
            ereport(
                WARNING,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("setting \"%s\" is invalid, using %d", name, fallback),
                 errdetail("Allowed values are %d to %d.", lo, hi)));
    }
    SPI_finish();
    return value;
}

static nk_scrypt_params
current_params(void)
{
    nk_scrypt_params p;

    p.ln = read_setting("password.scrypt_ln", 14, 1, NK_PW_MAX_LN);
    p.r = read_setting("password.scrypt_r", 8, 1, 32);
    p.p = read_setting("password.scrypt_p", 1, 1, 16);
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

PG_FUNCTION_INFO_V1(namaskah_password_hash);
Datum
namaskah_password_hash(PG_FUNCTION_ARGS)
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
PG_FUNCTION_INFO_V1(namaskah_password_verify);
Datum
namaskah_password_verify(PG_FUNCTION_ARGS)
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

PG_FUNCTION_INFO_V1(namaskah_password_needs_rehash);
Datum
namaskah_password_needs_rehash(PG_FUNCTION_ARGS)
{
    text *hash = PG_GETARG_TEXT_PP(0);
    nk_scrypt_params p = current_params();

    PG_RETURN_BOOL(nk_password_needs_rehash(VARDATA_ANY(hash),
                                            VARSIZE_ANY_EXHDR(hash), &p));
}
