/*
 * jwt_pgjwt.c — pgjwt's SQL functions (url_encode, url_decode,
 * algorithm_sign, sign, verify) with pgjwt 0.2.0's signatures, results and
 * error texts, so SQL written for pgjwt keeps working, at C speed
 * (docs/jwt.md, "Switching from pgjwt").
 *
 * These trust their caller: the secret and algorithm come as arguments, and
 * verify checks only what pgjwt checks. They share nothing with the strict
 * verifier (jwt.c) and its key cache; API authentication never uses them.
 *
 * What is kept per backend, each because the same value comes again call
 * after call: the last secret with its precomputed HMAC state, and the json
 * of the last header segment verify decoded (every token of one signer has
 * the same). verify (pgjwt's TABLE signature) answers exactly one row, by
 * the value-per-call protocol returning once, with a row type blessed once
 * per backend (no tuplestore or tuple descriptor made per call by us).
 *
 * The pure work (base64url, HMAC, JSON scanning) is in core/nk_base64url.c
 * and core/nk_jwt.c.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <openssl/crypto.h>

#include "nk_base64url.h"
#include "nk_jwt.h"

/* verify(): where the payload's nbf [0] and exp [1] were found. */
typedef struct pgjwt_times {
    bool fast; /* the strict scanner read the payload */
    bool has[2];
    nk_json_kind kind[2];
    const char *val[2];
    size_t len[2];
} pgjwt_times;

/* verify(): one dot-separated part of the token, inside the argument. */
typedef struct token_part {
    const char *p;
    size_t len;
} token_part;

static nk_jwt_alg pgjwt_alg(text *algorithm);
static void pgjwt_bad_alg(void) pg_attribute_noreturn();
static nk_hmac_key *pgjwt_key(nk_jwt_alg alg, text *secret);
static text *pgjwt_mac_text(nk_jwt_alg alg, text *secret, const char *data,
                            size_t len);
static text *url_encode_bytes(const unsigned char *data, size_t len);
static bytea *url_decode_span(const char *s, size_t len);
static bytea *url_decode_text(text *in);
static int split_token(text *token, token_part *parts);
static int pgjwt_member(void *arg, const nk_json_member *m);
static Datum decode_json_part(bytea *raw, pgjwt_times *times);
static bool small_integer(const char *s, size_t len, float8 *out);
static bool try_float8(text *t, float8 *out);
static bool pgjwt_bound(Datum payload, const pgjwt_times *t, int which,
                        TimestampTz *out);
static int pgjwt_range_contains(Datum payload, bool payload_null,
                                const pgjwt_times *t);
static Datum pgjwt_header(const token_part *part, bytea *raw);
static bool pgjwt_header_known(const token_part *part);
static TupleDesc row_desc(TupleDesc *cache, int natts, const Oid *types);
static void single_row_call(FunctionCallInfo fcinfo);

/* The last secret used, with its precomputed HMAC state. */
static nk_hmac_key *pgjwt_last_key = NULL;
static char *pgjwt_last_secret = NULL;
static size_t pgjwt_last_len = 0;
static nk_jwt_alg pgjwt_last_alg = NK_JWT_ALG_INVALID;

/* verify(): the last header segment decoded, and its json result. */
static char pgjwt_hdr_seg[256];
static size_t pgjwt_hdr_len = 0; /* 0: empty */
static text *pgjwt_hdr_json = NULL;

/* ---- encoding and signing ------------------------------------------------ */

/* pgjwt maps anything but HS256/384/512 (NULL included) to an error. */
static nk_jwt_alg
pgjwt_alg(text *algorithm)
{
    if (algorithm == NULL)
        return NK_JWT_ALG_INVALID;
    return nk_jwt_alg_from_name(VARDATA_ANY(algorithm),
                                VARSIZE_ANY_EXHDR(algorithm));
}

/*
 * pgjwt hands pgcrypto's hmac() an empty algorithm name, and this is the
 * error that results; kept verbatim (capital letter included) for scripts
 * that match on it.
 */
static void
pgjwt_bad_alg(void)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("Cannot use \"\": No such hash algorithm")));
}

/* Reuses the precomputed key when the same secret comes again (typical). */
static nk_hmac_key *
pgjwt_key(nk_jwt_alg alg, text *secret)
{
    const char *s = VARDATA_ANY(secret);
    size_t len = VARSIZE_ANY_EXHDR(secret);

    if (pgjwt_last_key != NULL && pgjwt_last_alg == alg &&
        pgjwt_last_len == len && CRYPTO_memcmp(pgjwt_last_secret, s, len) == 0)
        return pgjwt_last_key;
    nk_hmac_key_free(pgjwt_last_key);
    pgjwt_last_key = NULL;
    if (pgjwt_last_secret != NULL) {
        OPENSSL_cleanse(pgjwt_last_secret, pgjwt_last_len);
        pfree(pgjwt_last_secret);
        pgjwt_last_secret = NULL;
    }
    pgjwt_last_key = nk_hmac_key_new(alg, (const unsigned char *)s, len);
    if (pgjwt_last_key == NULL)
        elog(ERROR, "could not set up HMAC key");
    pgjwt_last_secret = MemoryContextAlloc(TopMemoryContext, len + 1);
    memcpy(pgjwt_last_secret, s, len);
    pgjwt_last_len = len;
    pgjwt_last_alg = alg;
    return pgjwt_last_key;
}

static text *
pgjwt_mac_text(nk_jwt_alg alg, text *secret, const char *data, size_t len)
{
    unsigned char mac[NK_JWT_MAX_MAC];
    size_t n = nk_hmac_key_mac(pgjwt_key(alg, secret),
                               (const unsigned char *)data, len, mac);
    text *t;

    if (n == 0)
        elog(ERROR, "could not compute HMAC");
    t = url_encode_bytes(mac, n);
    OPENSSL_cleanse(mac, sizeof(mac));
    return t;
}

static text *
url_encode_bytes(const unsigned char *data, size_t len)
{
    size_t n = nk_b64url_encoded_len(len);
    text *t;

    if (n > MaxAllocSize - VARHDRSZ - 1)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("value too large to encode")));
    t = palloc(VARHDRSZ + n + 1);
    nk_b64url_encode(VARDATA(t), n + 1, data, len);
    SET_VARSIZE(t, VARHDRSZ + n);
    return t;
}

/*
 * url_decode of s[0..len). Canonical base64url (what every token carries)
 * decodes the same strictly and leniently, so the strict decoder is tried
 * first; anything else takes pgjwt's lenient rules, and the library status
 * becomes PostgreSQL's own base64 errors, as in pgjwt.
 */
static bytea *
url_decode_span(const char *s, size_t len)
{
    size_t max = nk_b64url_decoded_max(len + 3), out_len = 0, bad = 0, chars;
    bytea *out = palloc(VARHDRSZ + max);
    nk_b64_status st;

    if (nk_b64url_decode_strict((unsigned char *)VARDATA(out), max, &out_len, s,
                                len) == NK_B64_OK) {
        SET_VARSIZE(out, VARHDRSZ + out_len);
        return out;
    }
    chars = (size_t)pg_mbstrlen_with_len(s, (int)len);
    st = nk_b64url_decode_lenient((unsigned char *)VARDATA(out), max, &out_len,
                                  s, len, chars, &bad);
    switch (st) {
    case NK_B64_OK:
        break;
    case NK_B64_BAD_SYMBOL:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid symbol \"%.*s\" found while "
                               "decoding base64 sequence",
                               pg_mblen(s + bad), s + bad)));
        break;
    case NK_B64_UNEXPECTED_EQ:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("unexpected \"=\" while decoding base64 sequence")));
        break;
    default:
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("invalid base64 end sequence"),
                 errhint("Input data is missing padding, is truncated, or "
                         "is otherwise corrupted.")));
    }
    SET_VARSIZE(out, VARHDRSZ + out_len);
    return out;
}

static bytea *
url_decode_text(text *in)
{
    return url_decode_span(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in));
}

PG_FUNCTION_INFO_V1(nk_sql_url_encode);
Datum
nk_sql_url_encode(PG_FUNCTION_ARGS)
{
    bytea *data = PG_GETARG_BYTEA_PP(0);

    PG_RETURN_TEXT_P(url_encode_bytes((const unsigned char *)VARDATA_ANY(data),
                                      VARSIZE_ANY_EXHDR(data)));
}

PG_FUNCTION_INFO_V1(nk_sql_url_decode);
Datum
nk_sql_url_decode(PG_FUNCTION_ARGS)
{
    PG_RETURN_BYTEA_P(url_decode_text(PG_GETARG_TEXT_PP(0)));
}

/* NULL data or secret gives NULL before the algorithm is looked at. */
PG_FUNCTION_INFO_V1(nk_sql_algorithm_sign);
Datum
nk_sql_algorithm_sign(PG_FUNCTION_ARGS)
{
    text *data, *secret;
    nk_jwt_alg alg;

    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        PG_RETURN_NULL();
    data = PG_GETARG_TEXT_PP(0);
    secret = PG_GETARG_TEXT_PP(1);
    alg = pgjwt_alg(PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
    if (alg == NK_JWT_ALG_INVALID)
        pgjwt_bad_alg();
    PG_RETURN_TEXT_P(pgjwt_mac_text(alg, secret, VARDATA_ANY(data),
                                    VARSIZE_ANY_EXHDR(data)));
}

/* STRICT in SQL: pgjwt's sign() is NULL whenever an argument is. */
PG_FUNCTION_INFO_V1(nk_sql_sign);
Datum
nk_sql_sign(PG_FUNCTION_ARGS)
{
    text *payload = PG_GETARG_TEXT_PP(0); /* json is text on disk */
    text *secret = PG_GETARG_TEXT_PP(1);
    nk_jwt_alg alg = pgjwt_alg(PG_GETARG_TEXT_PP(2));
    char header[40];
    char *ptxt;
    size_t plen, size, n;
    char *out;

    if (alg == NK_JWT_ALG_INVALID)
        pgjwt_bad_alg();
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}",
             nk_jwt_alg_name(alg));
    plen = VARSIZE_ANY_EXHDR(payload);
    ptxt = pg_server_to_any(VARDATA_ANY(payload), (int)plen, PG_UTF8);
    if (ptxt != VARDATA_ANY(payload))
        plen = strlen(ptxt);
    size = nk_jwt_signed_size(alg, strlen(header), plen);
    if (size > MaxAllocSize - VARHDRSZ)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("payload too large to sign")));
    out = palloc(VARHDRSZ + size);
    n = nk_jwt_sign(pgjwt_key(alg, secret), header, strlen(header), ptxt, plen,
                    VARDATA(out), size);
    if (n == 0)
        elog(ERROR, "could not sign token");
    SET_VARSIZE(out, VARHDRSZ + n);
    PG_RETURN_TEXT_P(out);
}

/* ---- verify -------------------------------------------------------------- */

/* Splits like regexp_split_to_array(token, '\.'): every dot, no limit. */
static int
split_token(text *token, token_part *parts)
{
    const char *s = VARDATA_ANY(token);
    const char *end = s + VARSIZE_ANY_EXHDR(token);
    int n = 0;

    for (;;) {
        const char *dot = memchr(s, '.', end - s);
        const char *stop = dot ? dot : end;

        if (n < 3) {
            parts[n].p = s;
            parts[n].len = (size_t)(stop - s);
        }
        n++;
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    return n;
}

/* nbf / exp as found by the strict scanner (the fast path of verify). */
static int
pgjwt_member(void *arg, const nk_json_member *m)
{
    pgjwt_times *t = arg;
    char key[4];
    int i;

    if (nk_json_unescape(m->key, m->key_len, key, sizeof(key)) != 3)
        return 0;
    i = strcmp(key, "nbf") == 0 ? 0 : strcmp(key, "exp") == 0 ? 1 : -1;
    if (i >= 0) {
        t->has[i] = true;
        t->kind[i] = m->kind;
        t->val[i] = m->val;
        t->len[i] = m->val_len;
    }
    return 0;
}

/*
 * convert_from(raw, 'utf8')::json, raw being url_decode(part). A text the
 * strict scanner accepts is valid JSON for json_in too, so json_in (and,
 * in pgjwt_range_contains, two more parses by ->>) is only needed for what
 * the scanner refuses; times->fast says which path was taken.
 */
static Datum
decode_json_part(bytea *raw, pgjwt_times *times)
{
    size_t len = VARSIZE(raw) - VARHDRSZ;
    char *txt = pg_any_to_server(VARDATA(raw), (int)len, PG_UTF8);

    if (txt != VARDATA(raw))
        len = strlen(txt);
    if (times != NULL) {
        memset(times, 0, sizeof(*times));
        times->fast = nk_json_scan_object(txt, len, &nk_jwt_json_limits,
                                          pgjwt_member, times) == NK_JSON_OK;
        /* json is text on disk: the decoded bytea serves as it is. */
        if (times->fast && txt == VARDATA(raw))
            return PointerGetDatum(raw);
        if (times->fast)
            return PointerGetDatum(cstring_to_text_with_len(txt, (int)len));
    }
    return DirectFunctionCall1(json_in, CStringGetDatum(pnstrdup(txt, len)));
}

/*
 * A JSON number that is an integer of at most 15 digits: every such value
 * is exactly a double, so this equals strtod's result without the text.
 */
static bool
small_integer(const char *s, size_t len, float8 *out)
{
    size_t i = (len > 0 && s[0] == '-') ? 1 : 0;
    int64 n = 0;
    bool neg = i == 1;

    if (len == i || len - i > 15)
        return false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (s[i] - '0');
    }
    *out = neg ? -(float8)n : (float8)n;
    return true;
}

/* pgjwt's try_cast_double(): NULL when the text is not a float8. */
static bool
try_float8(text *t, float8 *out)
{
    char *s = text_to_cstring(t);
    bool err = false;
    float8 v =
        float8in_internal_opt_error(s, NULL, "double precision", s, &err);

    if (err)
        return false;
    *out = v;
    return true;
}

/*
 * to_timestamp(try_cast_double(payload->>name)): false when NULL. The
 * json ->> operator is called directly for its exact semantics (non-object
 * payloads, duplicate keys).
 */
static bool
pgjwt_bound(Datum payload, const pgjwt_times *t, int which, TimestampTz *out)
{
    text *value;
    float8 v;

    if (t->fast) {
        /* ->> gives a string's value, any other value's JSON text. */
        char *buf;

        if (!t->has[which] || t->kind[which] == NK_JSON_NULL)
            return false;
        if (t->kind[which] == NK_JSON_NUMBER &&
            small_integer(t->val[which], t->len[which], &v)) {
            /* What float8in would make of the same digits, exactly. */
            *out = DatumGetTimestampTz(
                DirectFunctionCall1(float8_timestamptz, Float8GetDatum(v)));
            return true;
        }
        buf = palloc(t->len[which] * 4 + 1);
        if (t->kind[which] == NK_JSON_STRING)
            nk_json_unescape(t->val[which], t->len[which], buf,
                             t->len[which] * 4 + 1);
        else
            strlcpy(buf, t->val[which], t->len[which] + 1);
        value = cstring_to_text(buf);
    } else {
        LOCAL_FCINFO(fc, 2);
        Datum f;

        InitFunctionCallInfoData(*fc, NULL, 2, InvalidOid, NULL, NULL);
        fc->args[0].value = payload;
        fc->args[0].isnull = false;
        fc->args[1].value = CStringGetTextDatum(which == 0 ? "nbf" : "exp");
        fc->args[1].isnull = false;
        f = json_object_field_text(fc);
        if (fc->isnull)
            return false;
        value = DatumGetTextPP(f);
    }
    if (!try_float8(value, &v))
        return false;
    *out = DatumGetTimestampTz(
        DirectFunctionCall1(float8_timestamptz, Float8GetDatum(v)));
    return true;
}

/*
 * tstzrange(to_timestamp(nbf), to_timestamp(exp)) @> CURRENT_TIMESTAMP,
 * with pgjwt's edge behaviour: a missing or non-numeric bound is unbounded;
 * to_timestamp() errors (NaN, out of range) and a lower bound above the
 * upper one raise as they do there; equal bounds make an empty range.
 */
static int
pgjwt_range_contains(Datum payload, bool payload_null, const pgjwt_times *t)
{
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    TimestampTz lo = 0, hi = 0;
    bool has_lo = false, has_hi = false;

    if (!payload_null) {
        has_lo = pgjwt_bound(payload, t, 0, &lo);
        has_hi = pgjwt_bound(payload, t, 1, &hi);
    }
    if (has_lo && has_hi && lo > hi)
        ereport(ERROR,
                (errcode(ERRCODE_DATA_EXCEPTION),
                 errmsg("range lower bound must be less than or equal to "
                        "range upper bound")));
    if (has_lo && has_hi && lo == hi)
        return 0;
    return (!has_lo || lo <= now) && (!has_hi || now < hi);
}

/*
 * The header json of verify(): a token's header segment is the same for
 * every token of one signer, and the same bytes always decode and parse
 * the same (or fail the same way), so the last one that succeeded is kept.
 * raw is its decoding, or NULL when pgjwt_header_known said it is known.
 */
static Datum
pgjwt_header(const token_part *part, bytea *raw)
{
    pgjwt_times unused;
    Datum d;
    MemoryContext old;

    if (raw == NULL)
        return PointerGetDatum(pgjwt_hdr_json);
    d = decode_json_part(raw, &unused);
    if (part->len <= sizeof(pgjwt_hdr_seg)) {
        old = MemoryContextSwitchTo(TopMemoryContext);
        if (pgjwt_hdr_json != NULL)
            pfree(pgjwt_hdr_json);
        pgjwt_hdr_len = 0;
        pgjwt_hdr_json = DatumGetTextPCopy(d);
        memcpy(pgjwt_hdr_seg, part->p, part->len);
        pgjwt_hdr_len = part->len;
        MemoryContextSwitchTo(old);
    }
    return d;
}

static bool
pgjwt_header_known(const token_part *part)
{
    return pgjwt_hdr_len != 0 && part->len == pgjwt_hdr_len &&
           memcmp(part->p, pgjwt_hdr_seg, part->len) == 0;
}

/*
 * The row type of a TABLE function's result, built and blessed once per
 * backend: only the column types matter to the executor, and these are
 * built-in types, so there is nothing to invalidate.
 */
static TupleDesc
row_desc(TupleDesc *cache, int natts, const Oid *types)
{
    MemoryContext old;
    TupleDesc d;
    int i;

    if (*cache != NULL)
        return *cache;
    old = MemoryContextSwitchTo(TopMemoryContext);
    d = CreateTemplateTupleDesc(natts);
    for (i = 0; i < natts; i++)
        TupleDescInitEntry(d, (AttrNumber)(i + 1), NULL, types[i], -1, 0);
    *cache = BlessTupleDesc(d);
    MemoryContextSwitchTo(old);
    return *cache;
}

/*
 * verify is a TABLE function (pgjwt's signature) that always answers one
 * row. The cheapest way to do that is the value-per-call protocol answering
 * once (isDone stays ExprSingleResult): no tuplestore or tuple descriptor of
 * our own per call, and none at all when called in a target list.
 */
static void
single_row_call(FunctionCallInfo fcinfo)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;

    if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
        (rsinfo->allowedModes & SFRM_ValuePerCall) == 0)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("set-valued function called in context that cannot "
                        "accept a set")));
    rsinfo->returnMode = SFRM_ValuePerCall;
    rsinfo->isDone = ExprSingleResult;
}

PG_FUNCTION_INFO_V1(nk_sql_verify);
Datum
nk_sql_verify(PG_FUNCTION_ARGS)
{
    static TupleDesc desc = NULL;
    static const Oid types[3] = {JSONOID, JSONOID, BOOLOID};
    Datum values[3] = {0, 0, 0};
    bool nulls[3] = {true, true, true};
    token_part parts[3];
    int nparts = 0;
    int sig_ok = -1; /* -1: NULL, as SQL's three-valued logic has it */
    nk_jwt_alg alg = NK_JWT_ALG_INVALID;
    bytea *raw[2] = {NULL, NULL};
    pgjwt_times times;

    memset(&times, 0, sizeof(times));
    single_row_call(fcinfo);
    if (!PG_ARGISNULL(0))
        nparts = split_token(PG_GETARG_TEXT_PP(0), parts);
    /*
     * pgjwt's error precedence: base64 of header then payload, then the
     * algorithm, then UTF-8 and JSON of header then payload.
     */
    if (nparts >= 1 && !pgjwt_header_known(&parts[0]))
        raw[0] = url_decode_span(parts[0].p, parts[0].len);
    if (nparts >= 2)
        raw[1] = url_decode_span(parts[1].p, parts[1].len);
    if (nparts >= 2 && !PG_ARGISNULL(1)) {
        alg = pgjwt_alg(PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
        if (alg == NK_JWT_ALG_INVALID)
            pgjwt_bad_alg();
    }
    if (nparts >= 1) {
        values[0] = pgjwt_header(&parts[0], raw[0]);
        nulls[0] = false;
    }
    if (nparts >= 2) {
        values[1] = decode_json_part(raw[1], &times);
        nulls[1] = false;
    }
    if (nparts >= 2 && !PG_ARGISNULL(1)) {
        /* r[1] || '.' || r[2] is the token up to its second dot. */
        text *token = PG_GETARG_TEXT_PP(0);
        size_t slen = parts[0].len + 1 + parts[1].len;
        text *mac =
            pgjwt_mac_text(alg, PG_GETARG_TEXT_PP(1), VARDATA_ANY(token), slen);

        if (nparts >= 3)
            sig_ok = parts[2].len == VARSIZE_ANY_EXHDR(mac) &&
                     CRYPTO_memcmp(parts[2].p, VARDATA_ANY(mac),
                                   VARSIZE_ANY_EXHDR(mac)) == 0;
    }
    if (sig_ok != 0) {
        int in_range = pgjwt_range_contains(values[1], nulls[1], &times);

        if (!in_range) {
            values[2] = BoolGetDatum(false);
            nulls[2] = false;
        } else if (sig_ok == 1) {
            values[2] = BoolGetDatum(true);
            nulls[2] = false;
        }
    } else {
        values[2] = BoolGetDatum(false);
        nulls[2] = false;
    }
    return HeapTupleGetDatum(
        heap_form_tuple(row_desc(&desc, 3, types), values, nulls));
}
