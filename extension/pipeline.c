/*
 * pipeline.c — the input of a request: its query string and body (the
 * stages themselves are request.c).
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
 * Both are also C functions (nk_parse_query, nk_parse_body, pipeline.h)
 * that report what is wrong instead of raising it, so that the input stage
 * rejects a bad request without a subtransaction.
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
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "nk_http.h"
#include "nk_jsonscan.h"
#include "pipeline.h"

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

static bool decode_component(const char *start, size_t len, const char *what,
                             char **out, nk_input_error *err);
static void append_pair(StringInfo json, const char *name, const char *value,
                        int index);
static void raise_input_error(const nk_input_error *err);

static bool
input_error(nk_input_error *err, int sqlstate, char *message)
{
    memset(err, 0, sizeof(*err));
    err->sqlstate = sqlstate;
    err->message = message;
    return false;
}

/* Decodes one name or value; errors name the part, never echo the bytes. */
static bool
decode_component(const char *start, size_t len, const char *what, char **out,
                 nk_input_error *err)
{
    char *buf = palloc(len + 1);
    long n = nk_percent_decode(buf, start, len, NK_PCT_PLUS_SPACE);
    long i;

    if (n < 0)
        return input_error(
            err, ERRCODE_INVALID_PARAMETER_VALUE,
            psprintf("invalid percent-encoding in query %s", what));
    buf[n] = '\0';
    if (!pg_verifymbstr(buf, (int)n, true))
        return input_error(err, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                           psprintf("query %s is not valid UTF-8", what));
    for (i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return input_error(
                err, ERRCODE_UNTRANSLATABLE_CHARACTER,
                psprintf("query %s contains a control character", what));
    *out = buf;
    return true;
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

bool
nk_parse_query(text *query, Jsonb **out, nk_input_error *err)
{
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
        char *name, *value = "";
        int i;

        if (stop > p) {
            if (!decode_component(p, (eq ? eq : stop) - p, "parameter name",
                                  &name, err))
                return false;
            if (eq && !decode_component(eq + 1, stop - eq - 1,
                                        "parameter value", &value, err))
                return false;
            if (name[0] == '\0')
                return input_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
                                   "query parameter without a name");
            for (i = 0; i < count; i++)
                if (strcmp(names[i], name) == 0)
                    return input_error(err, ERRCODE_INVALID_PARAMETER_VALUE,
                                       "query parameter is repeated");
            if (count == MAX_QUERY_PARAMS) {
                input_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                            "too many query parameters");
                err->detail =
                    psprintf("At most %d are accepted.", MAX_QUERY_PARAMS);
                return false;
            }
            append_pair(&json, name, value, count);
            names[count++] = name;
        }
        p = stop + (amp ? 1 : 0);
    }
    appendStringInfoChar(&json, '}');
    /* (names and values are valid UTF-8 without control characters,
     * escaped: jsonb_in cannot fail on them) */
    *out = DatumGetJsonbP(
        DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
    return true;
}

/* An SQL error of a failed parse. */
static void
raise_input_error(const nk_input_error *err)
{
    ereport(ERROR, (errcode(err->sqlstate), errmsg("%s", err->message),
                    err->detail ? errdetail("%s", err->detail) : 0));
}

PG_FUNCTION_INFO_V1(nk_sql_parse_query);
Datum
nk_sql_parse_query(PG_FUNCTION_ARGS)
{
    Jsonb *out;
    nk_input_error err;

    if (!nk_parse_query(PG_GETARG_TEXT_PP(0), &out, &err))
        raise_input_error(&err);
    PG_RETURN_JSONB_P(out);
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

/*
 * The strict scan first (it bounds the work and names what is wrong), then
 * jsonb_in, which can still refuse what the scan lets through (a number
 * beyond numeric's range, \u0000). jsonb_in works on memory alone (no
 * lock, buffer or other resource to release on error), so its data
 * exceptions are caught here without a subtransaction: the pipeline's
 * input stage needs none.
 */
bool
nk_parse_body(text *body, Jsonb **out, nk_input_error *err)
{
    nk_json_status st =
        nk_json_scan(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), &body_limits);
    MemoryContext cxt = CurrentMemoryContext;
    volatile bool ok = true;

    switch (st) {
    case NK_JSON_OK:
        break;
    case NK_JSON_SYNTAX:
        return input_error(err, ERRCODE_INVALID_TEXT_REPRESENTATION,
                           "request body is not valid JSON");
    case NK_JSON_DUPLICATE_MEMBER:
        return input_error(err, ERRCODE_DUPLICATE_JSON_OBJECT_KEY_VALUE,
                           "request body has a duplicate member name");
    default:
        input_error(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                    psprintf("request body exceeds the %s limit of %ld",
                             nk_json_status_name(st), body_limit_value(st)));
        /* the detail is the problem's extension members */
        err->limit_name = nk_json_status_name(st);
        err->limit_max = body_limit_value(st);
        err->detail = psprintf("{\"limit\": \"%s\", \"max\": %ld}",
                               err->limit_name, err->limit_max);
        return false;
    }
    PG_TRY();
    {
        *out = DatumGetJsonbP(DirectFunctionCall1(
            jsonb_in, CStringGetDatum(text_to_cstring(body))));
    }
    PG_CATCH();
    {
        ErrorData *edata;

        MemoryContextSwitchTo(cxt);
        edata = CopyErrorData();
        if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
            PG_RE_THROW();
        FlushErrorState();
        input_error(err, edata->sqlerrcode, edata->message);
        ok = false;
    }
    PG_END_TRY();
    return ok;
}

PG_FUNCTION_INFO_V1(nk_sql_parse_body);
Datum
nk_sql_parse_body(PG_FUNCTION_ARGS)
{
    Jsonb *out;
    nk_input_error err;

    if (!nk_parse_body(PG_GETARG_TEXT_PP(0), &out, &err))
        raise_input_error(&err);
    PG_RETURN_JSONB_P(out);
}
