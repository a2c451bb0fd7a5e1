/*
 * mask.c — SQL wrappers of the masking core and the pseudonym primitives:
 * namaskah.mask_email, mask_phone, mask_card, mask_token, mask_partial,
 * mask_text, mask_jsonb_keys (the C half of mask_jsonb), and the internal
 * mask_hmac_sha256 and check_secret_strength used by 26_secret.sql.
 *
 * The logic is in core/nk_mask.c, nk_validate.c and nk_secret.c; this file
 * moves values in and out of PostgreSQL, walks jsonb documents, and turns
 * the core's status codes into errors in one place (report_status).
 * Nothing here ever puts a secret or a masked value's original into a
 * message.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include <openssl/crypto.h>

#include "nk_mask.h"
#include "nk_secret.h"
#include "nk_validate.h"

typedef size_t (*mask_fn)(char *out, size_t out_size, const char *in,
                          size_t in_len);

/* The sensitive keys of one mask_jsonb_keys call. */
typedef struct key_list {
    const char **keys;
    size_t *lens;
    size_t n;
} key_list;

/* Why a call failed; turned into an ereport by report_status only. */
typedef enum mask_failure {
    MASK_TOO_LONG,
    MASK_CRYPTO,
    MASK_BAD_KEEP,
    MASK_SECRET
} mask_failure;

static void report_status(mask_failure what, int detail);
static char *run_mask(mask_fn fn, const char *in, size_t len, size_t *out_len);
static text *mask_text_arg(mask_fn fn, text *in);
static void load_keys(ArrayType *arr, key_list *kl);
static void set_string(JsonbValue *v, char *s, size_t len);
static void mask_scalar(JsonbValue *v, bool sensitive);
static Jsonb *mask_document(Jsonb *jb, const key_list *kl);

/* The one place where failures become errors. */
static void
report_status(mask_failure what, int detail)
{
    switch (what) {
    case MASK_TOO_LONG:
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("masked value would be too long"),
                        errdetail("The result would exceed the maximum size "
                                  "of a value.")));
        break;
    case MASK_CRYPTO:
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not compute HMAC-SHA256"),
                        errdetail("The OpenSSL library reported an error.")));
        break;
    case MASK_BAD_KEEP:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("keep_start and keep_end must not be negative"),
                        errdetail("The smaller value given was %d; both count "
                                  "characters left unmasked.",
                                  detail)));
        break;
    case MASK_SECRET:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("application secret %s",
                               nk_secret_status_text((nk_secret_status)detail)),
                        errdetail("%s", nk_secret_rule_text),
                        errhint("Generate one with: openssl rand -base64 48")));
        break;
    }
}

/* Measures, allocates (palloc) and masks; *out_len gets the length. */
static char *
run_mask(mask_fn fn, const char *in, size_t len, size_t *out_len)
{
    size_t need = fn(NULL, 0, in, len);
    char *buf;

    if (need > MaxAllocSize - VARHDRSZ - 1)
        report_status(MASK_TOO_LONG, 0);
    buf = palloc(need + 1);
    fn(buf, need + 1, in, len);
    *out_len = need;
    return buf;
}

static text *
mask_text_arg(mask_fn fn, text *in)
{
    size_t n;
    char *s = run_mask(fn, VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), &n);

    return cstring_to_text_with_len(s, (int)n);
}

PG_FUNCTION_INFO_V1(nk_sql_mask_email);
Datum
nk_sql_mask_email(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(mask_text_arg(nk_mask_email, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_phone);
Datum
nk_sql_mask_phone(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(mask_text_arg(nk_mask_phone, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_card);
Datum
nk_sql_mask_card(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(mask_text_arg(nk_mask_card, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_token);
Datum
nk_sql_mask_token(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(mask_text_arg(nk_mask_token, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_text);
Datum
nk_sql_mask_text(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(mask_text_arg(nk_mask_text, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_partial);
Datum
nk_sql_mask_partial(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);
    int32 keep_start = PG_GETARG_INT32(1);
    int32 keep_end = PG_GETARG_INT32(2);
    text *fill = PG_GETARG_TEXT_PP(3);
    const char *src = VARDATA_ANY(in), *f = VARDATA_ANY(fill);
    size_t len = VARSIZE_ANY_EXHDR(in), flen = VARSIZE_ANY_EXHDR(fill);
    size_t need;
    char *buf;

    if (keep_start < 0 || keep_end < 0)
        report_status(MASK_BAD_KEEP, Min(keep_start, keep_end));
    need = nk_mask_partial(NULL, 0, src, len, (size_t)keep_start,
                           (size_t)keep_end, f, flen);
    if (need > MaxAllocSize - VARHDRSZ - 1)
        report_status(MASK_TOO_LONG, 0);
    buf = palloc(need + 1);
    nk_mask_partial(buf, need + 1, src, len, (size_t)keep_start,
                    (size_t)keep_end, f, flen);
    PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, (int)need));
}

/* Reads a text[] of keys (NULL elements skipped) into kl. */
static void
load_keys(ArrayType *arr, key_list *kl)
{
    Datum *elems;
    bool *nulls;
    int n, i;

    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                      &n);
    kl->keys = palloc(sizeof(char *) * (n + 1));
    kl->lens = palloc(sizeof(size_t) * (n + 1));
    kl->n = 0;
    for (i = 0; i < n; i++) {
        text *t;

        if (nulls[i])
            continue;
        t = DatumGetTextPP(elems[i]);
        kl->keys[kl->n] = VARDATA_ANY(t);
        kl->lens[kl->n] = VARSIZE_ANY_EXHDR(t);
        kl->n++;
    }
}

static void
set_string(JsonbValue *v, char *s, size_t len)
{
    if (len > JENTRY_OFFLENMASK)
        report_status(MASK_TOO_LONG, 0);
    v->type = jbvString;
    v->val.string.val = s;
    v->val.string.len = (int)len;
}

/*
 * Masks one scalar in place. Under a sensitive key every non-null scalar is
 * masked by shape (numbers too: a PIN or a phone stored as a number);
 * elsewhere strings are scanned as free text and numbers are masked only
 * when they are Luhn-valid card numbers.
 */
static void
mask_scalar(JsonbValue *v, bool sensitive)
{
    char *s;
    size_t n, len;

    switch (v->type) {
    case jbvString:
        s = run_mask(sensitive ? nk_mask_sensitive : nk_mask_text,
                     v->val.string.val, (size_t)v->val.string.len, &n);
        set_string(v, s, n);
        break;
    case jbvNumeric:
        s = DatumGetCString(
            DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
        len = strlen(s);
        if (sensitive) {
            s = run_mask(nk_mask_sensitive, s, len, &n);
            set_string(v, s, n);
        } else if (len >= 12 && len <= 19 && strspn(s, "0123456789") == len &&
                   nk_mask_luhn_ok(s, len)) {
            s = run_mask(nk_mask_card, s, len, &n);
            set_string(v, s, n);
        }
        break;
    case jbvBool:
        if (sensitive)
            set_string(v, pstrdup(NK_MASK_HIDDEN), strlen(NK_MASK_HIDDEN));
        break;
    default:
        break; /* null reveals nothing */
    }
}

/*
 * Rebuilds the document token by token. sens_depth is the nesting depth of
 * the outermost container opened under a sensitive key (0: none): all that
 * is inside it is sensitive too. Keys themselves are scanned as free text.
 */
static Jsonb *
mask_document(Jsonb *jb, const key_list *kl)
{
    JsonbIterator *it = JsonbIteratorInit(&jb->root);
    JsonbParseState *state = NULL;
    JsonbValue v, *res = NULL;
    JsonbIteratorToken tok;
    int depth = 0, sens_depth = 0;
    bool key_sensitive = false;
    char *s;
    size_t n;

    while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE) {
        switch (tok) {
        case WJB_BEGIN_ARRAY:
        case WJB_BEGIN_OBJECT:
            depth++;
            if (key_sensitive && sens_depth == 0)
                sens_depth = depth;
            key_sensitive = false;
            res = pushJsonbValue(
                &state, tok,
                tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar ? &v : NULL);
            break;
        case WJB_END_ARRAY:
        case WJB_END_OBJECT:
            if (sens_depth == depth)
                sens_depth = 0;
            depth--;
            res = pushJsonbValue(&state, tok, NULL);
            break;
        case WJB_KEY:
            key_sensitive =
                nk_mask_key_match(v.val.string.val, (size_t)v.val.string.len,
                                  kl->keys, kl->lens, kl->n);
            s = run_mask(nk_mask_text, v.val.string.val,
                         (size_t)v.val.string.len, &n);
            set_string(&v, s, n);
            res = pushJsonbValue(&state, tok, &v);
            break;
        case WJB_VALUE:
        case WJB_ELEM:
            mask_scalar(&v,
                        sens_depth > 0 || (tok == WJB_VALUE && key_sensitive));
            key_sensitive = false;
            res = pushJsonbValue(&state, tok, &v);
            break;
        case WJB_DONE:
            break;
        }
    }
    return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(nk_sql_mask_jsonb_keys);
Datum
nk_sql_mask_jsonb_keys(PG_FUNCTION_ARGS)
{
    Jsonb *jb = PG_GETARG_JSONB_P(0);
    ArrayType *arr = PG_GETARG_ARRAYTYPE_P(1);
    key_list kl;

    load_keys(arr, &kl);
    PG_RETURN_JSONB_P(mask_document(jb, &kl));
}

PG_FUNCTION_INFO_V1(nk_sql_mask_hmac_sha256);
Datum
nk_sql_mask_hmac_sha256(PG_FUNCTION_ARGS)
{
    bytea *key = PG_GETARG_BYTEA_PP(0);
    bytea *msg = PG_GETARG_BYTEA_PP(1);
    unsigned char mac[NK_MASK_HMAC_LEN];
    bytea *result;
    nk_mask_status st;

    st = nk_mask_hmac_sha256(
        (const unsigned char *)VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
        (const unsigned char *)VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg), mac);
    if (st != NK_MASK_OK)
        report_status(MASK_CRYPTO, 0);
    result = (bytea *)palloc(VARHDRSZ + NK_MASK_HMAC_LEN);
    SET_VARSIZE(result, VARHDRSZ + NK_MASK_HMAC_LEN);
    memcpy(VARDATA(result), mac, NK_MASK_HMAC_LEN);
    OPENSSL_cleanse(mac, sizeof(mac));
    PG_FREE_IF_COPY(key, 0);
    PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(nk_sql_check_secret_strength);
Datum
nk_sql_check_secret_strength(PG_FUNCTION_ARGS)
{
    text *secret = PG_GETARG_TEXT_PP(0);
    nk_secret_status st;

    st = nk_secret_judge(VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret), 0);
    if (st != NK_SECRET_OK)
        report_status(MASK_SECRET, (int)st);
    PG_RETURN_VOID();
}
