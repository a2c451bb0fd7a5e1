/*
 * pipeline.c — C helpers of the request pipeline (namaskah.handle_request is
 * PL/pgSQL in sql/60_pipeline.sql; what needs byte-level care is here).
 *
 * parse_query turns a raw query string into a jsonb object of decoded
 * parameters, rejecting what an endpoint must never see: bad percent escapes,
 * invalid UTF-8, NUL or other control characters, and repeated parameters
 * (HTTP parameter pollution). Errors are 22023 for a malformed query and
 * 22021 / 22P05 for invalid UTF-8 / control characters (the pipeline answers
 * 400 invalid_query or invalid_encoding).
 *
 * parse_body turns a request body into jsonb after the strict, bounded scan
 * of core/nk_jsonscan.c, so that no body costs more than a linear read: a
 * duplicate member name is 22030 (the pipeline answers 400
 * duplicate_member), a body past a limit 54000 with the limit in the detail
 * (400 body_limit_exceeded), anything else that is not JSON 22P02 (400
 * invalid_json).
 *
 * call_endpoint calls a route's function by its OID through fmgr: no SQL
 * text, no parse or plan per request (EXECUTE would plan every call), with
 * the EXECUTE privilege checked as a direct call would.
 *
 * http_reason is the status -> reason phrase table of core/nk_http.c, the
 * one namaskahd writes its status lines and its own problems from, so a
 * problem's "title" is the same whichever side answers.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "nk_http.h"
#include "nk_jsonscan.h"

#define MAX_QUERY_PARAMS 64

/* What a request body may hold (docs/api.md, "Request bodies"): the API's
 * bodies are flat objects of a few short members; these leave room and
 * bound the work. */
static const nk_json_limits body_limits = {
    .max_depth = 16,
    .max_members = 64,
    .max_string = 16384,
    .max_values = 4096,
};

static char *decode_component(const char *start, size_t len, const char *what);
static FmgrInfo *endpoint_info(FunctionCallInfo fcinfo, Oid fn);
static void append_pair(StringInfo json, const char *name, const char *value,
                        int index);

/* Decodes one name or value; errors name the part, never echo the bytes. */
static char *
decode_component(const char *start, size_t len, const char *what)
{
    char *out = palloc(len + 1);
    long n = nk_percent_decode(out, start, len, NK_PCT_PLUS_SPACE);
    long i;

    if (n < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid percent-encoding in query %s", what)));
    out[n] = '\0';
    if (!pg_verifymbstr(out, (int)n, true))
        ereport(ERROR, (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
                        errmsg("query %s is not valid UTF-8", what)));
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            ereport(ERROR,
                    (errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
                     errmsg("query %s contains a control character", what)));
    return out;
}

static void
append_pair(StringInfo json, const char *name, const char *value, int index)
{
    if (index > 0)
        appendStringInfoChar(json, ',');
    escape_json(json, name);
    appendStringInfoChar(json, ':');
    escape_json(json, value);
}

PG_FUNCTION_INFO_V1(nk_sql_parse_query);
Datum
nk_sql_parse_query(PG_FUNCTION_ARGS)
{
    text *query = PG_GETARG_TEXT_PP(0);
    const char *p = VARDATA_ANY(query);
    const char *end = p + VARSIZE_ANY_EXHDR(query);
    char *names[MAX_QUERY_PARAMS];
    int count = 0;
    StringInfoData json;

    initStringInfo(&json);
    appendStringInfoChar(&json, '{');
    while (p < end) {
        const char *amp = memchr(p, '&', end - p);
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', stop - p);
        char *name, *value;
        int i;

        if (stop > p) {
            name = decode_component(p, (eq ? eq : stop) - p, "parameter name");
            value =
                eq ? decode_component(eq + 1, stop - eq - 1, "parameter value")
                   : pstrdup("");
            if (name[0] == '\0')
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("query parameter without a name")));
            for (i = 0; i < count; i++)
                if (strcmp(names[i], name) == 0)
                    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                    errmsg("query parameter is repeated")));
            if (count == MAX_QUERY_PARAMS)
                ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                                errmsg("too many query parameters"),
                                errdetail("At most %d are accepted.",
                                          MAX_QUERY_PARAMS)));
            append_pair(&json, name, value, count);
            names[count++] = name;
        }
        p = stop + (amp ? 1 : 0);
    }
    appendStringInfoChar(&json, '}');
    PG_FREE_IF_COPY(query, 0);
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
}

PG_FUNCTION_INFO_V1(nk_sql_http_reason);
Datum
nk_sql_http_reason(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(cstring_to_text(nk_http_reason(PG_GETARG_INT32(0))));
}

/* The value of body_limits that st names. */
static long
body_limit_value(nk_json_status st)
{
    switch (st) {
    case NK_JSON_TOO_DEEP:
        return body_limits.max_depth;
    case NK_JSON_TOO_MANY_MEMBERS:
        return body_limits.max_members;
    case NK_JSON_STRING_TOO_LONG:
        return (long)body_limits.max_string;
    default:
        return (long)body_limits.max_values;
    }
}

PG_FUNCTION_INFO_V1(nk_sql_parse_body);
Datum
nk_sql_parse_body(PG_FUNCTION_ARGS)
{
    text *body = PG_GETARG_TEXT_PP(0);
    nk_json_status st =
        nk_json_scan(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), &body_limits);

    switch (st) {
    case NK_JSON_OK:
        break;
    case NK_JSON_SYNTAX:
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("request body is not valid JSON")));
        break;
    case NK_JSON_DUPLICATE_MEMBER:
        ereport(ERROR, (errcode(ERRCODE_DUPLICATE_JSON_OBJECT_KEY_VALUE),
                        errmsg("request body has a duplicate member name")));
        break;
    default:
        /* the detail is the problem's extension members */
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("request body exceeds the %s limit of %ld",
                        nk_json_status_name(st), body_limit_value(st)),
                 errdetail("{\"limit\": \"%s\", \"max\": %ld}",
                           nk_json_status_name(st), body_limit_value(st))));
    }
    PG_RETURN_DATUM(
        DirectFunctionCall1(jsonb_in, CStringGetDatum(text_to_cstring(body))));
}

/*
 * The FmgrInfo of an endpoint, kept in fn_extra for the calling expression
 * (a plan cached by the pipeline), looked up again when the route's function
 * changes. Refuses anything but f(jsonb) RETURNS jsonb.
 */
static FmgrInfo *
endpoint_info(FunctionCallInfo fcinfo, Oid fn)
{
    FmgrInfo *info = fcinfo->flinfo->fn_extra;
    Oid *argtypes;
    int nargs;
    Oid rettype;

    if (info != NULL && info->fn_oid == fn)
        return info;
    rettype = get_func_signature(fn, &argtypes, &nargs);
    if (rettype != JSONBOID || nargs != 1 || argtypes[0] != JSONBOID)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
                 errmsg("endpoint function %u must take jsonb and return "
                        "jsonb",
                        fn)));
    if (info == NULL)
        info =
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
    fmgr_info_cxt(fn, info, fcinfo->flinfo->fn_mcxt);
    fcinfo->flinfo->fn_extra = info;
    return info;
}

PG_FUNCTION_INFO_V1(nk_sql_call_endpoint);
Datum
nk_sql_call_endpoint(PG_FUNCTION_ARGS)
{
    Oid fn = PG_GETARG_OID(0);
    AclResult acl = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
    FmgrInfo *info;
    LOCAL_FCINFO(call, 1);
    Datum result;

    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(fn));
    info = endpoint_info(fcinfo, fn);
    InitFunctionCallInfoData(*call, info, 1, InvalidOid, NULL, NULL);
    call->args[0].value = PG_ARGISNULL(1) ? (Datum)0 : PG_GETARG_DATUM(1);
    call->args[0].isnull = PG_ARGISNULL(1);
    if (call->args[0].isnull && info->fn_strict)
        PG_RETURN_NULL();
    result = FunctionCallInvoke(call);
    if (call->isnull)
        PG_RETURN_NULL();
    PG_RETURN_DATUM(result);
}
