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
 * call_endpoint calls a route's function by its OID through fmgr: no SQL
 * text, no parse or plan per request (EXECUTE would plan every call), with
 * the EXECUTE privilege checked as a direct call would.
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

#define MAX_QUERY_PARAMS 64

static char *decode_component(const char *start, size_t len, const char *what);
static FmgrInfo *endpoint_info(FunctionCallInfo fcinfo, Oid fn);
static void append_pair(StringInfo json, const char *name, const char *value,
                        int index);

/* Decodes one name or value; errors name the part, never echo the bytes. */
static char *
decode_component(const char *start, size_t len, const char *what)
{
    char *out = palloc(len + 1);
    long n = nk_percent_decode(out, start, len);
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

PG_FUNCTION_INFO_V1(namaskah_parse_query);
Datum
namaskah_parse_query(PG_FUNCTION_ARGS)
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

PG_FUNCTION_INFO_V1(namaskah_call_endpoint);
Datum
namaskah_call_endpoint(PG_FUNCTION_ARGS)
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
