/*
 * sanitize.c — SQL wrappers of the text-safety core: log sanitizing, JSON
 * and HTML escaping, and the input validators (namaskah.sanitize_log,
 * json_escape, json_text, html_escape, is_valid_email, is_valid_e164,
 * is_valid_uuid, is_printable_text).
 *
 * The logic is in core/nk_sanitize.c, core/nk_json.c and core/nk_validate.c;
 * this file only moves text in and out of PostgreSQL and turns bad
 * arguments into errors.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "nk_json.h"
#include "nk_sanitize.h"
#include "nk_validate.h"

/* Bounds of sanitize_log's max_bytes (the marker must fit; 64 MB is plenty). */
#define SANITIZE_MIN_BYTES ((int)sizeof(NK_SANITIZE_TRUNCATED))
#define SANITIZE_MAX_BYTES (64 * 1024 * 1024)

typedef size_t (*escape_fn)(char *out, size_t out_size, const char *in,
                            size_t in_len);

static text *escape_text(escape_fn fn, text *in);

/* Measures, allocates and escapes: the snprintf-like core does both. */
static text *
escape_text(escape_fn fn, text *in)
{
    const char *src = VARDATA_ANY(in);
    size_t len = VARSIZE_ANY_EXHDR(in);
    size_t need = fn(NULL, 0, src, len);
    text *result;

    if (need > MaxAllocSize - VARHDRSZ - 1)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("escaped text would be too long"),
                        errdetail("The escaped form needs %zu bytes.", need)));
    result = (text *)palloc(VARHDRSZ + need + 1);
    fn(VARDATA(result), need + 1, src, len);
    SET_VARSIZE(result, VARHDRSZ + need);
    return result;
}

PG_FUNCTION_INFO_V1(nk_sql_sanitize_log);
Datum
nk_sql_sanitize_log(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);
    int32 max_bytes = PG_GETARG_INT32(1);
    size_t len = VARSIZE_ANY_EXHDR(in);
    size_t out_size, n;
    char *buf;
    text *result;

    if (max_bytes < SANITIZE_MIN_BYTES || max_bytes > SANITIZE_MAX_BYTES)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("max_bytes must be between %d and %d",
                               SANITIZE_MIN_BYTES, SANITIZE_MAX_BYTES),
                        errdetail("The value given was %d.", max_bytes)));
    /* Every input byte becomes at most 4 output bytes ("\xNN"). */
    out_size = (size_t)max_bytes + 1;
    if (len < out_size / 4)
        out_size = 4 * len + 1;
    buf = palloc(out_size);
    n = nk_sanitize_log(buf, out_size, VARDATA_ANY(in), len);
    result = cstring_to_text_with_len(buf, (int)n);
    pfree(buf);
    PG_FREE_IF_COPY(in, 0);
    PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(nk_sql_json_escape);
Datum
nk_sql_json_escape(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(escape_text(nk_json_escape, PG_GETARG_TEXT_PP(0)));
}

/*
 * json_text(doc jsonb): the document's text made inert in HTML
 * (nk_json_inert) in one pass; every answer body goes through it.
 */
PG_FUNCTION_INFO_V1(nk_sql_json_text);
Datum
nk_sql_json_text(PG_FUNCTION_ARGS)
{
    char *doc =
        DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(0)));
    size_t len = strlen(doc);
    size_t need = nk_json_inert(NULL, 0, doc, len);
    text *result = (text *)palloc(VARHDRSZ + need + 1);

    nk_json_inert(VARDATA(result), need + 1, doc, len);
    SET_VARSIZE(result, VARHDRSZ + need);
    PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(nk_sql_html_escape);
Datum
nk_sql_html_escape(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(escape_text(nk_html_escape, PG_GETARG_TEXT_PP(0)));
}

PG_FUNCTION_INFO_V1(nk_sql_is_valid_email);
Datum
nk_sql_is_valid_email(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);

    PG_RETURN_BOOL(nk_validate_email(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in)));
}

PG_FUNCTION_INFO_V1(nk_sql_is_valid_e164);
Datum
nk_sql_is_valid_e164(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);

    PG_RETURN_BOOL(nk_validate_e164(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in)));
}

PG_FUNCTION_INFO_V1(nk_sql_is_valid_uuid);
Datum
nk_sql_is_valid_uuid(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);

    PG_RETURN_BOOL(nk_validate_uuid(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in)));
}

PG_FUNCTION_INFO_V1(nk_sql_is_printable_text);
Datum
nk_sql_is_printable_text(PG_FUNCTION_ARGS)
{
    text *in = PG_GETARG_TEXT_PP(0);
    int32 max_chars = PG_GETARG_INT32(1);

    if (max_chars < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("max_chars must not be negative"),
                        errdetail("The value given was %d.", max_chars)));
    PG_RETURN_BOOL(nk_validate_text(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in),
                                    (size_t)max_chars) == NK_TEXT_OK);
}
