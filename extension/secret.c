/*
 * secret.c — pseudonyms at C speed: pseudonymize(value) and
 * client_pseudonym(addr), with the key derived from the application secret
 * kept per backend.
 *
 * A pseudonym is 'ps_' || the first 8 bytes, in hex, of
 * HMAC-SHA256(derive_key('pseudonym'), value), where derive_key(p) is
 * HMAC-SHA256(secret, 'namaskah:' || p) (sql/26_secret.sql). Every anonymous
 * request needs one for its rate-limit key and its audit actor; in SQL that
 * was a table read and two function calls with their configuration saved and
 * restored, some 50 us each time. Here the derived key is read once per
 * backend and dropped when namaskah.app_secret changes: its statement
 * trigger (cache_invalidate, sql/30_jwt.sql) sends a relcache
 * invalidation, which every backend applies at its next transaction start.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include <openssl/crypto.h>

#include "nk_mask.h"
#include "namaskah.h"

#define PSEUDONYM_BYTES 8

static bool callback_registered;
static bool key_valid;    /* key_present and key say what the table holds */
static uint64 secret_gen; /* bumped by every invalidation of app_secret */
static bool key_present;  /* a secret is installed */
static unsigned char pseudonym_key[NK_MASK_HMAC_LEN];
static Oid secret_relid = InvalidOid;

static void secret_relcache_cb(Datum arg, Oid relid);
static bool pseudonym_key_load(void);
static text *pseudonym_of(const char *value, size_t len);

static void
secret_relcache_cb(Datum arg, Oid relid)
{
    if (relid == InvalidOid || relid == secret_relid) {
        key_valid = false;
        secret_gen++;
    }
}

/* Whether a secret is installed; derives the pseudonym key when needed. */
static bool
pseudonym_key_load(void)
{
    static const char purpose[] = "namaskah:pseudonym";
    uint64 gen;

    if (!callback_registered) {
        CacheRegisterRelcacheCallback(secret_relcache_cb, (Datum)0);
        callback_registered = true;
    }
    if (key_valid)
        return key_present;
    gen = secret_gen;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    secret_relid =
        get_relname_relid("app_secret", get_namespace_oid(NK_SCHEMA, false));
    /* read_only false: a snapshot of this statement's own */
    if (SPI_execute("SELECT secret FROM " NK_SCHEMA ".app_secret WHERE id",
                    false, 1) != SPI_OK_SELECT)
        elog(ERROR, "reading namaskah.app_secret failed");
    key_present = false;
    if (SPI_processed == 1) {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
                                &isnull);

        if (!isnull) {
            bytea *secret = DatumGetByteaPP(d);

            if (nk_mask_hmac_sha256(
                    (const unsigned char *)VARDATA_ANY(secret),
                    VARSIZE_ANY_EXHDR(secret), (const unsigned char *)purpose,
                    sizeof(purpose) - 1, pseudonym_key) != NK_MASK_OK)
                elog(ERROR, "deriving the pseudonym key failed");
            key_present = true;
        }
    }
    SPI_finish();
    /* an invalidation that arrived while reading leaves the key to be read
     * again next time */
    key_valid = gen == secret_gen;
    return key_present;
}

/* The pseudonym of value (server encoding), hashed as UTF-8 as the SQL
 * definition did (convert_to(value, 'UTF8')). */
static text *
pseudonym_of(const char *value, size_t len)
{
    unsigned char mac[NK_MASK_HMAC_LEN];
    char out[3 + 2 * PSEUDONYM_BYTES + 1];
    char *utf8 = pg_server_to_any(value, (int)len, PG_UTF8);
    int i;

    if (utf8 != value)
        len = strlen(utf8);
    if (nk_mask_hmac_sha256(pseudonym_key, sizeof(pseudonym_key),
                            (const unsigned char *)utf8, len,
                            mac) != NK_MASK_OK)
        elog(ERROR, "computing a pseudonym failed");
    memcpy(out, "ps_", 3);
    for (i = 0; i < PSEUDONYM_BYTES; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", mac[i]);
    OPENSSL_cleanse(mac, sizeof(mac));
    return cstring_to_text(out);
}

/* pseudonymize(value): the pseudonym; 55000 when no secret is installed. */
PG_FUNCTION_INFO_V1(nk_sql_pseudonymize);
Datum
nk_sql_pseudonymize(PG_FUNCTION_ARGS)
{
    text *value = PG_GETARG_TEXT_PP(0);

    if (!pseudonym_key_load())
        ereport(
            ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("application secret is not installed"),
             errdetail("Keys and pseudonyms are derived from SECRET_KEY.")));
    PG_RETURN_TEXT_P(
        pseudonym_of(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value)));
}

/*
 * client_pseudonym(addr): 'client:' || the pseudonym of host(addr), or
 * 'net:' || mask_ip(addr) before a secret is installed, 'client:unknown'
 * for NULL.
 */
PG_FUNCTION_INFO_V1(nk_sql_client_pseudonym);
Datum
nk_sql_client_pseudonym(PG_FUNCTION_ARGS)
{
    /* A request asks twice (its rate-limit key, its audit actor), and a
     * client's requests tend to follow each other on one connection: the
     * last answer is kept, for the address bytes and the key it came from. */
    static unsigned char last_addr[32];
    static Size last_addr_len;
    static uint64 last_gen = PG_UINT64_MAX;
    static char last_answer[7 + 3 + 2 * PSEUDONYM_BYTES + 1];
    inet *addr;
    char *host;
    text *ps;
    StringInfoData buf;

    if (PG_ARGISNULL(0))
        PG_RETURN_TEXT_P(cstring_to_text("client:unknown"));
    if (!pseudonym_key_load()) {
        Oid mask_ip = LookupFuncName(
            list_make2(makeString("namaskah"), makeString("mask_ip")), 1,
            (Oid[]){INETOID}, false);

        initStringInfo(&buf);
        appendStringInfoString(&buf, "net:");
        appendStringInfoString(&buf, TextDatumGetCString(OidFunctionCall1(
                                         mask_ip, PG_GETARG_DATUM(0))));
        PG_RETURN_TEXT_P(cstring_to_text(buf.data));
    }
    addr = PG_GETARG_INET_PP(0);
    if (last_gen == secret_gen && VARSIZE_ANY(addr) == last_addr_len &&
        memcmp(addr, last_addr, last_addr_len) == 0)
        PG_RETURN_TEXT_P(cstring_to_text(last_answer));
    host = TextDatumGetCString(
        DirectFunctionCall1(network_host, PG_GETARG_DATUM(0)));
    ps = pseudonym_of(host, strlen(host));
    initStringInfo(&buf);
    appendStringInfoString(&buf, "client:");
    appendBinaryStringInfo(&buf, VARDATA_ANY(ps), VARSIZE_ANY_EXHDR(ps));
    if (VARSIZE_ANY(addr) <= sizeof(last_addr) &&
        (Size)buf.len < sizeof(last_answer)) {
        last_addr_len = VARSIZE_ANY(addr);
        memcpy(last_addr, addr, last_addr_len);
        memcpy(last_answer, buf.data, buf.len + 1);
        last_gen = secret_gen;
    }
    PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
