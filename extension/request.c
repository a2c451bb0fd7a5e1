/*
 * request.c — namaskah.handle_request, the one function namaskahd calls:
 * the stages of a request, in C.
 *
 * run_pipeline below is the list of the stages; each is one function that
 * either hands on what it found (in the request) or ends the request with
 * its answer:
 *   1. route          stage_route: method + path against the routes held per
 *                     backend (routes.c) -> 404, 405, 501; OPTIONS 204
 *   2. input          stage_input: query string and JSON body -> 400, 415
 *   3. identity       stage_identity: the bearer token of a bearer route
 *                     -> 401 (429 once auth_failures is used up)
 *   4. admission      stage_admission: rate-limit peek; already over the
 *                     limit -> 429, no write
 *   5. authorization  stage_authorization: the route's role -> 403
 *   6. endpoint       stage_endpoint: the route's function, in the request's
 *                     one subtransaction (errors mapped by map_error)
 *   7. accounting     stage_accounting, inside that subtransaction: the
 *                     consuming rate-limit check, last before commit; denied
 *                     -> the endpoint's effects are rolled back, 429
 *   (endpoint_answer turns 6 and 7 into the answer)
 *   8. audit          audit_request: the request's audit record
 * Everything happens in the caller's single transaction: an acknowledged
 * request's effect, its accounting and its audit record commit together.
 *
 * Why C: as PL/pgSQL, the stages cost more than the work they ordered
 * (executor start-up of every statement, a function call per stage, rows
 * built and taken apart between them): some 150 us of a request's 380 us
 * of database CPU, measured before this file (docs/architecture.md, "Where
 * the time of a request goes", has the figures since). The work itself stays
 * where it was: the C functions of the security core and the endpoint functions
 * are called through fmgr, with their own privileges (rate_limit_check and
 * audit_append run as their owners), looked up once per backend; what is rare
 * and written in SQL (map_error, cors_headers, transport_problem) is called
 * from here as it is.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "nk_http.h"
#include "namaskah.h"
#include "pipeline.h"
#include "routes.h"
#include "settings.h"

/* ---- the SQL functions the stages call ---------------------------------- */

/* One SQL function, looked up by signature once per backend. */
typedef struct sql_fn {
    const char *signature; /* regprocedure text */
    FmgrInfo *info;        /* NULL: look it up (again) */
} sql_fn;

static sql_fn fn_jwt_verify = {NK_SCHEMA
                               ".jwt_verify_strict(text, timestamptz)"};
static sql_fn fn_peek = {NK_SCHEMA
                         ".rate_limit_peek(text, text, integer, timestamptz)"};
static sql_fn fn_check = {
    NK_SCHEMA ".rate_limit_check(text, text, integer, timestamptz)"};
static sql_fn fn_policy_info = {NK_SCHEMA ".rate_limit_policy_info(text)"};
static sql_fn fn_consumed = {NK_SCHEMA ".rate_limit_consumed()"};
static sql_fn fn_pseudonym = {NK_SCHEMA ".client_pseudonym(inet)"};
static sql_fn fn_audit_append = {
    NK_SCHEMA ".audit_append(text, text, text, text, integer, text, "
              "integer, jsonb)"};
static sql_fn fn_map_error = {NK_SCHEMA ".map_error(text, text, text)"};
static sql_fn fn_cors = {NK_SCHEMA ".cors_headers(jsonb, text, jsonb)"};
static sql_fn fn_transport = {NK_SCHEMA ".transport_problem(text, text)"};

static sql_fn *const sql_fns[] = {
    &fn_jwt_verify, &fn_peek,      &fn_check,        &fn_policy_info,
    &fn_consumed,   &fn_pseudonym, &fn_audit_append, &fn_map_error,
    &fn_cors,       &fn_transport};

/* The endpoint functions called so far, by OID (their FmgrInfo). */
#define MAX_ENDPOINTS 128
static FmgrInfo *endpoints[MAX_ENDPOINTS];
static int n_endpoints;

static bool proc_callback_registered;
/* Every FmgrInfo above, and what their functions keep in it. */
static MemoryContext lookups_cxt;
/* pg_proc changed since the lookups were made */
static bool lookups_stale;
/* handle_request calls under way in this backend (an endpoint may call it) */
static int requests_running;

/*
 * Any change to pg_proc (an extension update makes every function anew;
 * ALTER FUNCTION may give one another owner, settings or body under the
 * same OID) makes every lookup stale. Nothing is freed here: a function
 * looked up may be running.
 */
static void
proc_changed(Datum arg, int cacheid, uint32 hashvalue)
{
    lookups_stale = true;
}

/* At the start of a request with none under way: stale lookups are
 * forgotten, and what they held freed. */
static void
refresh_lookups(void)
{
    size_t i;

    if (!proc_callback_registered) {
        CacheRegisterSyscacheCallback(PROCOID, proc_changed, (Datum)0);
        proc_callback_registered = true;
    }
    if (lookups_cxt == NULL)
        lookups_cxt = AllocSetContextCreate(TopMemoryContext,
                                            "namaskah pipeline functions",
                                            ALLOCSET_SMALL_SIZES);
    if (!lookups_stale || requests_running > 0)
        return;
    MemoryContextReset(lookups_cxt);
    for (i = 0; i < lengthof(sql_fns); i++)
        sql_fns[i]->info = NULL;
    n_endpoints = 0;
    lookups_stale = false;
}

static FmgrInfo *
sql_fn_info(sql_fn *f)
{
    if (f->info == NULL) {
        Oid oid = DatumGetObjectId(
            DirectFunctionCall1(regprocedurein, CStringGetDatum(f->signature)));
        FmgrInfo *info = MemoryContextAllocZero(lookups_cxt, sizeof(FmgrInfo));

        fmgr_info_cxt(oid, info, lookups_cxt);
        f->info = info;
    }
    return f->info;
}

/* Calls f with nargs arguments (nulls may be NULL: none is NULL). */
static Datum
call_sql_fn(sql_fn *f, int nargs, const Datum *args, const bool *nulls,
            bool *isnull)
{
    FmgrInfo *info = sql_fn_info(f);
    LOCAL_FCINFO(fc, 8);
    Datum result;
    int i;

    InitFunctionCallInfoData(*fc, info, nargs, DEFAULT_COLLATION_OID, NULL,
                             NULL);
    for (i = 0; i < nargs; i++) {
        fc->args[i].value = args[i];
        fc->args[i].isnull = nulls != NULL && nulls[i];
        if (fc->args[i].isnull && info->fn_strict) {
            *isnull = true;
            return (Datum)0;
        }
    }
    result = FunctionCallInvoke(fc);
    *isnull = fc->isnull;
    return result;
}

/* Field attnum of a composite result (NULL when the result is). */
static Datum
field(Datum row, bool row_isnull, int attnum, bool *isnull)
{
    if (row_isnull) {
        *isnull = true;
        return (Datum)0;
    }
    return GetAttributeByNum(DatumGetHeapTupleHeader(row), attnum, isnull);
}

static text *
field_text(Datum row, bool row_isnull, int attnum)
{
    bool isnull;
    Datum d = field(row, row_isnull, attnum, &isnull);

    return isnull ? NULL : DatumGetTextPP(d);
}

static int32
field_int(Datum row, bool row_isnull, int attnum, bool *isnull)
{
    Datum d = field(row, row_isnull, attnum, isnull);

    return *isnull ? 0 : DatumGetInt32(d);
}

/* ---- what a request is answered ------------------------------------------ */

/* A stage's answer; status 0 while the request goes on. */
typedef struct answer {
    int status;
    Jsonb *headers;
    text *body;         /* NULL: none */
    const char *code;   /* a problem's code (the audit record's outcome) */
    const char *policy; /* the policy a 429 of the pipeline names */
    const char *route;  /* x-namaskah-route: the route template */
} answer;

/* A rate-limit decision (namaskah.rate_limit_result). */
typedef struct limit_result {
    bool known; /* a decision was made */
    bool allowed;
    int32 limit, remaining, reset_after, retry_after;
} limit_result;

static void
jb_key(JsonbParseState **st, const char *key)
{
    JsonbValue k;

    k.type = jbvString;
    k.val.string.val = (char *)key;
    k.val.string.len = strlen(key);
    pushJsonbValue(st, WJB_KEY, &k);
}

/* key: a string of len bytes, or null (value NULL). */
static void
jb_put_string(JsonbParseState **st, const char *key, const char *value, int len)
{
    JsonbValue v;

    jb_key(st, key);
    if (value == NULL)
        v.type = jbvNull;
    else {
        v.type = jbvString;
        v.val.string.val = (char *)value;
        v.val.string.len = len;
    }
    pushJsonbValue(st, WJB_VALUE, &v);
}

static void
jb_put_cstring(JsonbParseState **st, const char *key, const char *value)
{
    jb_put_string(st, key, value, value ? strlen(value) : 0);
}

static void
jb_put_text(JsonbParseState **st, const char *key, text *value)
{
    jb_put_string(st, key, value ? VARDATA_ANY(value) : NULL,
                  value ? VARSIZE_ANY_EXHDR(value) : 0);
}

static void
jb_put_int(JsonbParseState **st, const char *key, int32 value)
{
    JsonbValue v;

    jb_key(st, key);
    v.type = jbvNumeric;
    v.val.numeric = int64_to_numeric(value);
    pushJsonbValue(st, WJB_VALUE, &v);
}

/* key: a jsonb document as it is, or null. */
static void
jb_put_jsonb(JsonbParseState **st, const char *key, Jsonb *value)
{
    JsonbIterator *it;
    JsonbIteratorToken tok;
    JsonbValue v;

    if (value == NULL || JB_ROOT_IS_SCALAR(value)) {
        jb_key(st, key);
        if (value == NULL)
            v.type = jbvNull;
        else
            JsonbExtractScalar(&value->root, &v);
        pushJsonbValue(st, WJB_VALUE, &v);
        return;
    }
    jb_key(st, key);
    it = JsonbIteratorInit(&value->root);
    while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
        pushJsonbValue(st, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
}

static Jsonb *
jb_end(JsonbParseState **st)
{
    return JsonbValueToJsonb(pushJsonbValue(st, WJB_END_OBJECT, NULL));
}

/* a || b, b's members winning (b NULL: a). */
static Jsonb *
jb_concat(Jsonb *a, Jsonb *b)
{
    if (b == NULL)
        return a;
    return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a),
                                              JsonbPGetDatum(b)));
}

/* {key: value} */
static Jsonb *
jb_pair(const char *key, const char *value)
{
    JsonbParseState *st = NULL;

    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_cstring(&st, key, value);
    return jb_end(&st);
}

/* Member key of an object, or NULL (none, or doc is not an object). */
static JsonbValue *
jb_member(Jsonb *doc, const char *key)
{
    JsonbValue k;

    if (doc == NULL || !JB_ROOT_IS_OBJECT(doc))
        return NULL;
    k.type = jbvString;
    k.val.string.val = (char *)key;
    k.val.string.len = strlen(key);
    return findJsonbValueFromContainer(&doc->root, JB_FOBJECT, &k);
}

/* The string value of member key, or NULL (request headers are strings). */
static text *
jb_get_string(Jsonb *doc, const char *key)
{
    JsonbValue *v = jb_member(doc, key);

    if (v == NULL || v->type != jbvString)
        return NULL;
    return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/* Member key as text, as ->> gives it: NULL when missing or null. */
static char *
jb_member_text(Jsonb *doc, const char *key)
{
    JsonbValue *v = jb_member(doc, key);

    if (v == NULL || v->type == jbvNull)
        return NULL;
    if (v->type == jbvString)
        return pnstrdup(v->val.string.val, v->val.string.len);
    if (v->type == jbvNumeric)
        return DatumGetCString(
            DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
    if (v->type == jbvBool)
        return pstrdup(v->val.boolean ? "true" : "false");
    return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
}

/* '{}', made once. */
static Jsonb *
empty_object(void)
{
    static Jsonb *empty;

    if (empty == NULL) {
        Jsonb *made = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

        empty = MemoryContextAlloc(TopMemoryContext, VARSIZE(made));
        memcpy(empty, made, VARSIZE(made));
    }
    return empty;
}

static text *
json_text(Jsonb *doc)
{
    return DatumGetTextPP(
        DirectFunctionCall1(nk_sql_json_text, JsonbPGetDatum(doc)));
}

/* The RFC 9457 body of every error (namaskah.problem_body; namaskahd
 * writes the same bytes for its own, nk_problem_json). A status of NULL
 * (SQL's problem_body only) gives null title and status. */
static text *
problem_body(const int *status, const char *code, const char *detail,
             text *instance, text *request_id, Jsonb *extra)
{
    JsonbParseState *st = NULL;

    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_cstring(&st, "type",
                   code ? psprintf("urn:namaskah:problem:%s", code) : NULL);
    jb_put_cstring(&st, "title", status ? nk_http_reason(*status) : NULL);
    if (status == NULL)
        jb_put_cstring(&st, "status", NULL);
    else
        jb_put_int(&st, "status", *status);
    jb_put_cstring(&st, "detail", detail);
    jb_put_text(&st, "instance", instance);
    jb_put_cstring(&st, "code", code);
    jb_put_text(&st, "request_id", request_id);
    return json_text(jb_concat(jb_end(&st), extra));
}

/* Content-Type and x-namaskah-route, then extra. */
static Jsonb *
answer_headers(const char *content_type, const char *route, Jsonb *extra)
{
    JsonbParseState *st = NULL;

    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_cstring(&st, "Content-Type", content_type);
    jb_put_cstring(&st, "x-namaskah-route", route);
    return jb_concat(jb_end(&st), extra);
}

/* A finished answer with a JSON body (none for 204). */
static void
respond(answer *a, int status, Jsonb *body, const char *route,
        Jsonb *extra_headers)
{
    a->status = status;
    a->headers =
        answer_headers("application/json; charset=utf-8", route, extra_headers);
    a->body = status == 204 || body == NULL ? NULL : json_text(body);
    a->route = route;
}

/* A problem answer. */
static void
respond_problem(answer *a, int status, const char *code, const char *detail,
                text *path, text *request_id, const char *route,
                Jsonb *extra_headers, Jsonb *extra)
{
    a->status = status;
    a->headers = answer_headers("application/problem+json; charset=utf-8",
                                route, extra_headers);
    a->body = problem_body(&status, code, detail, path, request_id, extra);
    /* (extra members are merged last: a "code" among them is the code) */
    a->code = jb_member(extra, "code") != NULL ? NULL : code;
    a->route = route;
}

/* ---- rate limits -----------------------------------------------------------
 */

static limit_result
limit_decision(sql_fn *f, const char *policy, text *key)
{
    Datum args[4];
    bool nulls[4] = {false, false, true, false};
    limit_result r = {0};
    bool isnull, fnull;
    Datum row;

    args[0] = CStringGetTextDatum(policy);
    args[1] = PointerGetDatum(key);
    args[2] = (Datum)0;
    args[3] = TimestampTzGetDatum(GetCurrentTimestamp());
    row = call_sql_fn(f, 4, args, nulls, &isnull);
    if (isnull)
        return r;
    r.known = true;
    r.allowed = DatumGetBool(field(row, false, 1, &fnull)) && !fnull;
    r.limit = field_int(row, false, 2, &fnull);
    r.remaining = field_int(row, false, 3, &fnull);
    r.reset_after = field_int(row, false, 4, &fnull);
    r.retry_after = field_int(row, false, 5, &fnull);
    return r;
}

/* A policy's scope and window; false for 'none' or an unknown name. */
static bool
policy_info(const char *policy, char **scope, int32 *window_seconds)
{
    Datum arg = CStringGetTextDatum(policy);
    bool isnull, fnull;
    Datum row = call_sql_fn(&fn_policy_info, 1, &arg, NULL, &isnull);
    text *s = field_text(row, isnull, 1);

    if (s == NULL)
        return false;
    *scope = text_to_cstring(s);
    *window_seconds = field_int(row, isnull, 2, &fnull);
    return true;
}

static text *
client_pseudonym(Datum client_addr, bool no_addr)
{
    bool isnull;
    Datum d = call_sql_fn(&fn_pseudonym, 1, &client_addr, &no_addr, &isnull);

    return isnull ? NULL : DatumGetTextPP(d);
}

/* The key of a request under a policy's scope; anonymous requests fall
 * back to the client address for user scopes. Addresses appear as their
 * pseudonyms: the keys of what a request consumed are kept in its audit
 * record. */
static text *
rate_limit_key(const char *scope, const char *route, text *user_id,
               Datum client_addr, bool no_addr)
{
    char *who;

    if (strcmp(scope, "route") == 0)
        return cstring_to_text(route);
    if (strcmp(scope, "client") != 0 && strcmp(scope, "user") != 0 &&
        strcmp(scope, "user_route") != 0)
        return cstring_to_text("*");
    if (strcmp(scope, "client") != 0 && user_id != NULL)
        who = psprintf("user:%s", text_to_cstring(user_id));
    else
        who = text_to_cstring(client_pseudonym(client_addr, no_addr));
    if (strcmp(scope, "user_route") == 0)
        who = psprintf("%s %s", who, route);
    return cstring_to_text(who);
}

/* IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) and, when
 * denied, Retry-After. */
static Jsonb *
rate_limit_headers(const char *policy, int32 window_seconds,
                   const limit_result *r)
{
    JsonbParseState *st = NULL;

    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_cstring(
        &st, "RateLimit-Policy",
        psprintf("\"%s\";q=%d;w=%d", policy, r->limit, window_seconds));
    jb_put_cstring(
        &st, "RateLimit",
        psprintf("\"%s\";r=%d;t=%d", policy, r->remaining, r->reset_after));
    if (!r->allowed)
        jb_put_cstring(&st, "Retry-After",
                       psprintf("%d", Max(r->retry_after, 1)));
    return jb_end(&st);
}

/* The one 429 of the pipeline: a policy's denial as a problem with its
 * RateLimit fields, Retry-After and the policy named in the body. */
static void
respond_rate_limited(answer *a, const char *policy, int32 window_seconds,
                     const limit_result *r, const char *detail, text *path,
                     text *request_id, const char *route)
{
    respond_problem(
        a, 429, "rate_limited",
        detail ? detail
               : "Too many requests; retry after the time in Retry-After.",
        path, request_id, route, rate_limit_headers(policy, window_seconds, r),
        jb_pair("policy", policy));
    a->policy = policy;
}

/* ---- the request and its stages --------------------------------------------
 */

typedef struct request {
    /* the arguments of handle_request */
    text *method;
    char *method_name; /* NULL when method is */
    text *path;
    text *query;
    Jsonb *headers; /* {} when NULL */
    text *body;
    Datum client_addr;
    bool no_client_addr;
    text *request_id;
    /* 1. route */
    const char *route_label; /* the template, or 'unmatched' */
    nk_route_def route;
    Jsonb *params;
    /* 2. input */
    Jsonb *query_params;
    Jsonb *json_body;
    /* 3. identity */
    text *subject;
    text *role;
    /* 4. admission; policy NULL: not rate limited */
    const char *policy;
    int32 window_seconds;
    text *limit_key;
    Jsonb *limit_headers;
} request;

static const char *const known_methods[] = {"GET",     "HEAD",  "POST",
                                            "PUT",     "PATCH", "DELETE",
                                            "OPTIONS", "TRACE", "CONNECT"};

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The Allow header of the methods a path has (HEAD with GET, OPTIONS). */
static const char *
allow_header(const nk_route_found *m)
{
    const char **names = palloc(sizeof(char *) * (m->n_allowed + 2));
    int n = 0, i;
    bool get = false;
    StringInfoData buf;

    for (i = 0; i < m->n_allowed; i++) {
        names[n++] = m->allowed[i];
        get |= strcmp(m->allowed[i], "GET") == 0;
    }
    if (get)
        names[n++] = "HEAD";
    names[n++] = "OPTIONS";
    qsort(names, n, sizeof(char *), compare_names);
    initStringInfo(&buf);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", names[i]);
    }
    return buf.data;
}

/* A path parameter names a resource only in this shape
 * (^[A-Za-z0-9._~-]{1,128}$). */
static bool
param_ok(const nk_route_param *p)
{
    size_t i;

    if (p->len < 1 || p->len > 128)
        return false;
    for (i = 0; i < p->len; i++) {
        char c = p->value[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') ||
              (c != '\0' && strchr("._~-", c) != NULL)))
            return false;
    }
    return true;
}

/* 1. route: which endpoint. 501 for an unknown method, 404 for an unknown
 * path or a malformed identifier (it cannot name a resource), 405 for a
 * method the path does not have (OPTIONS: 204 with Allow). */
static bool
stage_route(request *rq, answer *a)
{
    nk_route_found m = {0};
    bool known = rq->method_name == NULL;
    size_t i;
    int p;

    rq->route_label = "unmatched";
    for (i = 0; !known && i < lengthof(known_methods); i++)
        known = strcmp(rq->method_name, known_methods[i]) == 0;
    if (!known) {
        respond_problem(a, 501, "method_not_implemented",
                        "This HTTP method is not supported.", rq->path,
                        rq->request_id, rq->route_label, NULL, NULL);
        return true;
    }
    if (rq->method_name == NULL || rq->path == NULL)
        m.n_allowed = 0; /* matches nothing */
    else
        nk_route_lookup(rq->method_name, VARDATA_ANY(rq->path),
                        VARSIZE_ANY_EXHDR(rq->path), &m);
    if (m.n_allowed == 0) {
        respond_problem(a, 404, "not_found", "No resource exists at this path.",
                        rq->path, rq->request_id, rq->route_label, NULL, NULL);
        return true;
    }
    rq->route_label = pstrdup(m.path_template);
    if (m.route == NULL) {
        Jsonb *allow = jb_pair("Allow", allow_header(&m));

        if (strcmp(rq->method_name, "OPTIONS") == 0)
            respond(a, 204, NULL, rq->route_label, allow);
        else
            respond_problem(a, 405, "method_not_allowed",
                            "This method is not allowed on this resource.",
                            rq->path, rq->request_id, rq->route_label, allow,
                            NULL);
        return true;
    }
    /* (copies: the routes held may be read anew by a later lookup) */
    rq->route.target = m.route->target;
    rq->route.method = pstrdup(m.route->method);
    rq->route.path_template = rq->route_label;
    rq->route.auth = pstrdup(m.route->auth);
    rq->route.required_role =
        m.route->required_role ? pstrdup(m.route->required_role) : NULL;
    rq->route.rate_limit_policy =
        m.route->rate_limit_policy ? pstrdup(m.route->rate_limit_policy) : NULL;
    rq->params = m.params;
    for (p = 0; p < m.nparams; p++)
        if (!param_ok(&m.param_values[p])) {
            respond_problem(a, 404, "not_found", "The resource does not exist.",
                            rq->path, rq->request_id, rq->route_label, NULL,
                            NULL);
            return true;
        }
    return false;
}

/* Whether a Content-Type is JSON (^application/json[ \t]*(;|$), any case). */
static bool
is_json_content_type(text *ct)
{
    static const char want[] = "application/json";
    const char *s;
    size_t len, i;

    if (ct == NULL)
        return false;
    s = VARDATA_ANY(ct);
    len = VARSIZE_ANY_EXHDR(ct);
    if (len < sizeof(want) - 1 || pg_strncasecmp(s, want, sizeof(want) - 1))
        return false;
    for (i = sizeof(want) - 1; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
        ;
    return i == len || s[i] == ';';
}

/* 2. input: the query string and the JSON body, parsed strictly (400, 415). */
static bool
stage_input(request *rq, answer *a)
{
    nk_input_error err;
    const char *code;
    char *detail;

    rq->query_params = NULL;
    if (rq->query != NULL && VARSIZE_ANY_EXHDR(rq->query) > 0 &&
        !nk_parse_query(rq->query, &rq->query_params, &err)) {
        code = err.sqlstate == ERRCODE_CHARACTER_NOT_IN_REPERTOIRE ||
                       err.sqlstate == ERRCODE_UNTRANSLATABLE_CHARACTER
                   ? "invalid_encoding"
                   : "invalid_query";
        respond_problem(
            a, 400, code,
            psprintf("The query string is invalid: %s.", err.message), rq->path,
            rq->request_id, rq->route_label, NULL, NULL);
        return true;
    }
    if (rq->query_params == NULL)
        rq->query_params = empty_object();
    if (rq->body == NULL || VARSIZE_ANY_EXHDR(rq->body) == 0 ||
        (rq->method_name != NULL && strcmp(rq->method_name, "HEAD") == 0))
        return false;
    if (!is_json_content_type(jb_get_string(rq->headers, "content-type"))) {
        respond_problem(a, 415, "unsupported_media_type",
                        "Request bodies must be application/json.", rq->path,
                        rq->request_id, rq->route_label, NULL, NULL);
        return true;
    }
    if (nk_parse_body(rq->body, &rq->json_body, &err))
        return false;
    if (err.sqlstate == ERRCODE_DUPLICATE_JSON_OBJECT_KEY_VALUE) {
        code = "duplicate_member";
        detail =
            "A member name appears twice in one object of the request body.";
    } else if (err.limit_name != NULL) {
        char *limit = pstrdup(err.limit_name), *c;

        for (c = limit; *c; c++)
            if (*c == '_')
                *c = ' ';
        code = "body_limit_exceeded";
        detail = psprintf("The request body exceeds the limit on %s (%ld).",
                          limit, err.limit_max);
    } else {
        code = "invalid_json";
        detail = "The request body is not valid JSON.";
    }
    respond_problem(
        a, 400, code, detail, rq->path, rq->request_id, rq->route_label, NULL,
        err.limit_name == NULL ? NULL
                               : DatumGetJsonbP(DirectFunctionCall1(
                                     jsonb_in, CStringGetDatum(err.detail))));
    return true;
}

/* The token of "Authorization: Bearer <token>" (the scheme in any case,
 * RFC 9110 section 11.1), or NULL. */
static text *
bearer_token(Jsonb *headers)
{
    text *h = jb_get_string(headers, "authorization");
    const char *s;
    size_t len, i, start;

    if (h == NULL)
        return NULL;
    s = VARDATA_ANY(h);
    len = VARSIZE_ANY_EXHDR(h);
    if (len < 7 || pg_strncasecmp(s, "bearer", 6) != 0 || s[6] != ' ')
        return NULL;
    for (i = 6; i < len && s[i] == ' '; i++)
        ;
    start = i;
    while (i < len &&
           ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
            (s[i] >= '0' && s[i] <= '9') ||
            (s[i] != '\0' && strchr("._~+/=-", s[i]) != NULL)))
        i++;
    if (i == start)
        return NULL;
    len = i;
    for (; i < VARSIZE_ANY_EXHDR(h); i++)
        if (s[i] != ' ')
            return NULL;
    return cstring_to_text_with_len(s + start, len - start);
}

static void remember_subject(const char *claims, text *sub);

static void
set_local(const char *name, const char *value)
{
    (void)set_config_option(name, value, superuser() ? PGC_SUSET : PGC_USERSET,
                            PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/* 3. identity: the bearer token of a route that wants one (401). Failed
 * attempts count against the client address (policy auth_failures): a
 * failure consumes from it, and once it is used up the answer is 429
 * instead of 401, so guessing tokens from one address is throttled. A valid
 * token costs no rate-limit work here; its claims are published to the
 * endpoint as request.jwt.claims. */
static bool
stage_identity(request *rq, answer *a)
{
    text *token;
    text *reason = NULL;
    limit_result limited;
    char *scope;
    int32 window = 0;

    if (strcmp(rq->route.auth, "bearer") != 0)
        return false;
    token = bearer_token(rq->headers);
    if (token != NULL) {
        Datum args[2] = {
            PointerGetDatum(token),
            TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
        bool isnull, fnull;
        Datum verdict = call_sql_fn(&fn_jwt_verify, 2, args, NULL, &isnull);
        Datum valid = field(verdict, isnull, 1, &fnull);

        if (!fnull && DatumGetBool(valid)) {
            text *claims = field_text(verdict, false, 3);

            char *published = claims ? text_to_cstring(claims) : NULL;

            rq->subject = field_text(verdict, false, 5);
            rq->role = field_text(verdict, false, 6);
            set_local("request.jwt.claims", published);
            if (published != NULL)
                remember_subject(published, rq->subject);
            return false;
        }
        reason = field_text(verdict, isnull, 2);
    }
    limited =
        limit_decision(&fn_check, "auth_failures",
                       rate_limit_key("client", rq->route_label, NULL,
                                      rq->client_addr, rq->no_client_addr));
    if (limited.known && !limited.allowed) {
        (void)policy_info("auth_failures", &scope, &window);
        respond_rate_limited(a, "auth_failures", window, &limited,
                             "Too many failed authentication attempts; retry "
                             "after the time in Retry-After.",
                             rq->path, rq->request_id, rq->route_label);
    } else if (token == NULL)
        respond_problem(
            a, 401, "missing_token", "A bearer token is required.", rq->path,
            rq->request_id, rq->route_label,
            jb_pair("WWW-Authenticate", "Bearer realm=\"namaskah\""), NULL);
    else {
        char *why = reason ? text_to_cstring(reason) : NULL;

        respond_problem(
            a, 401, why, "The bearer token is not valid.", rq->path,
            rq->request_id, rq->route_label,
            jb_pair("WWW-Authenticate", psprintf("Bearer realm=\"namaskah\", "
                                                 "error=\"invalid_token\", "
                                                 "error_description=\"%s\"",
                                                 why ? why : "")),
            NULL);
    }
    return true;
}

/* 4. admission: the route's policy (NULL means 'default', 'none' none) and
 * the request's key under it; a request already over its limit costs one
 * read and no write (429). limit_headers are the RateLimit fields so far. */
static bool
stage_admission(request *rq, answer *a)
{
    const char *policy =
        rq->route.rate_limit_policy ? rq->route.rate_limit_policy : "default";
    char *scope;
    limit_result limited;

    rq->limit_headers = NULL;
    if (!policy_info(policy, &scope, &rq->window_seconds))
        return false;
    rq->policy = policy;
    rq->limit_key = rate_limit_key(scope, rq->route_label, rq->subject,
                                   rq->client_addr, rq->no_client_addr);
    limited = limit_decision(&fn_peek, policy, rq->limit_key);
    rq->limit_headers =
        rate_limit_headers(policy, rq->window_seconds, &limited);
    if (!limited.known || limited.allowed)
        return false;
    respond_rate_limited(a, policy, rq->window_seconds, &limited, NULL,
                         rq->path, rq->request_id, rq->route_label);
    return true;
}

/* 5. authorization: the route's required role (403). */
static bool
stage_authorization(request *rq, answer *a)
{
    if (rq->route.required_role == NULL ||
        (rq->role != NULL &&
         strcmp(text_to_cstring(rq->role), rq->route.required_role) == 0))
        return false;
    respond_problem(a, 403, "forbidden", "You are not allowed to do this.",
                    rq->path, rq->request_id, rq->route_label,
                    rq->limit_headers, NULL);
    return true;
}

/* What an endpoint function receives. */
static Jsonb *
endpoint_request(request *rq)
{
    JsonbParseState *st = NULL;
    Jsonb *headers = rq->headers;
    static const char *const credentials[] = {"authorization", "cookie",
                                              "proxy-authorization"};
    size_t i;

    /* for endpoints that authenticate the request themselves (signed
     * webhooks): the headers without credentials, and the exact body */
    for (i = 0; i < lengthof(credentials); i++)
        headers = DatumGetJsonbP(
            DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(headers),
                                CStringGetTextDatum(credentials[i])));
    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_text(&st, "method", rq->method);
    jb_put_text(&st, "path", rq->path);
    jb_put_cstring(&st, "route", rq->route_label);
    jb_put_jsonb(&st, "params", rq->params);
    jb_put_jsonb(&st, "query", rq->query_params);
    jb_put_jsonb(&st, "body", rq->json_body);
    jb_put_text(&st, "client_addr",
                rq->no_client_addr ? NULL
                                   : DatumGetTextPP(DirectFunctionCall1(
                                         network_host, rq->client_addr)));
    jb_put_text(&st, "request_id", rq->request_id);
    jb_put_text(&st, "user_id", rq->subject);
    jb_put_text(&st, "role", rq->role);
    jb_put_jsonb(&st, "headers", headers);
    jb_put_text(&st, "raw_body",
                strcmp(rq->route.auth, "webhook") == 0 ? rq->body : NULL);
    return jb_end(&st);
}

/* The FmgrInfo of an endpoint: f(jsonb) RETURNS jsonb, nothing else. */
static FmgrInfo *
endpoint_info(Oid fn)
{
    Oid *argtypes;
    int nargs, i;
    Oid rettype;
    FmgrInfo *info;

    for (i = 0; i < n_endpoints; i++)
        if (endpoints[i]->fn_oid == fn)
            return endpoints[i];
    rettype = get_func_signature(fn, &argtypes, &nargs);
    if (rettype != JSONBOID || nargs != 1 || argtypes[0] != JSONBOID)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
                 errmsg("endpoint function %u must take jsonb and return "
                        "jsonb",
                        fn)));
    info = MemoryContextAllocZero(lookups_cxt, sizeof(FmgrInfo));
    fmgr_info_cxt(fn, info, lookups_cxt);
    if (n_endpoints == MAX_ENDPOINTS) /* (more than the API has) */
        n_endpoints = 0;
    endpoints[n_endpoints++] = info;
    return info;
}

/* Calls a route's endpoint by OID: no SQL text, no plan per request; the
 * EXECUTE privilege checked as for a direct call. */
static Jsonb *
call_endpoint(Oid fn, Jsonb *req)
{
    AclResult acl = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
    FmgrInfo *info;
    LOCAL_FCINFO(call, 1);
    Datum result;

    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(fn));
    info = endpoint_info(fn);
    InitFunctionCallInfoData(*call, info, 1, InvalidOid, NULL, NULL);
    call->args[0].value = JsonbPGetDatum(req);
    call->args[0].isnull = false;
    result = FunctionCallInvoke(call);
    return call->isnull ? NULL : DatumGetJsonbP(result);
}

/* What the endpoint and accounting stages came to. */
typedef struct endpoint_outcome {
    Jsonb *result;     /* the endpoint's answer */
    int result_status; /* its success status (set_response_status) */
    int err_status;    /* a problem instead (0: none): status, code, detail */
    char *err_code;
    char *err_text;
    char *err_state;      /* the SQLSTATE it was raised with, if raised */
    char *err_detail;     /* and the error's DETAIL ('' for none) */
    limit_result limited; /* the accounting's decision */
    bool denied;          /* the accounting refused: 429, effects undone */
} endpoint_outcome;

/* 7. accounting: the consuming rate-limit check, last before commit. */
static limit_result
stage_accounting(request *rq)
{
    limit_result none = {0};

    if (rq->policy == NULL)
        return none;
    return limit_decision(&fn_check, rq->policy, rq->limit_key);
}

/* The endpoint's own choices, from the settings it may set. */
static void
endpoint_choices(endpoint_outcome *o)
{
    const char *status =
        GetConfigOption("namaskah.response_status", true, false);
    const char *problem =
        GetConfigOption("namaskah.response_problem", true, false);

    o->result_status =
        status != NULL && status[0] != '\0' ? pg_strtoint32(status) : 200;
    if (problem != NULL && problem[0] != '\0') {
        /* (problem_keeping_effects: {"status": n, "code": c, "detail": d}) */
        Jsonb *p = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum(problem)));
        char *status_text = jb_member_text(p, "status");

        if (status_text != NULL)
            o->err_status = pg_strtoint32(status_text);
        o->err_code = jb_member_text(p, "code");
        o->err_text = jb_member_text(p, "detail");
    }
}

/* An error an endpoint raised -> (status, code, detail), by map_error. */
static void
map_endpoint_error(request *rq, endpoint_outcome *o, ErrorData *edata)
{
    Datum args[3];
    bool nulls[3] = {false, false, false};
    bool isnull, fnull;
    Datum mapped;
    text *t;

    o->err_state = pstrdup(unpack_sql_state(edata->sqlerrcode));
    o->err_detail = pstrdup(edata->detail ? edata->detail : "");
    args[0] = CStringGetTextDatum(o->err_state);
    args[1] = CStringGetTextDatum(edata->message ? edata->message : "");
    args[2] = CStringGetTextDatum(edata->hint ? edata->hint : "");
    mapped = call_sql_fn(&fn_map_error, 3, args, nulls, &isnull);
    o->err_status = field_int(mapped, isnull, 1, &fnull);
    t = field_text(mapped, isnull, 2);
    o->err_code = t ? text_to_cstring(t) : NULL;
    t = field_text(mapped, isnull, 3);
    o->err_text = t ? text_to_cstring(t) : NULL;
    if (o->err_status >= 500) {
        char *message = edata->message ? edata->message : "";
        text *clean = DatumGetTextPP(DirectFunctionCall2(
            nk_sql_sanitize_log, CStringGetTextDatum(message),
            Int32GetDatum(512)));

        ereport(
            LOG,
            (errmsg("namaskah: request %s on %s failed with SQLSTATE %s: "
                    "%s",
                    rq->request_id ? text_to_cstring(rq->request_id) : "<NULL>",
                    rq->route_label, o->err_state, text_to_cstring(clean))));
    }
}

/*
 * 6. endpoint, with 7. accounting in the same subtransaction: an endpoint
 * error rolls back the endpoint's effects and the request is accounted
 * after it; a denied accounting step (since an endpoint may raise a 429 of
 * its own: denied) rolls back the endpoint's effects too. The one
 * subtransaction of a request, entered only when an endpoint runs. Like
 * PL/pgSQL's WHEN OTHERS, a cancel or an assertion failure is not caught.
 */
static void
stage_endpoint(request *rq, endpoint_outcome *o)
{
    MemoryContext cxt = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    Jsonb *req = endpoint_request(rq);

    memset(o, 0, sizeof(*o));
    BeginInternalSubTransaction(NULL);
    MemoryContextSwitchTo(cxt);
    PG_TRY();
    {
        set_local("namaskah.response_status", "");
        set_local("namaskah.response_problem", "");
        /* a fresh snapshot, as a statement calling it would take (an error
         * pops it with the subtransaction) */
        CommandCounterIncrement();
        PushActiveSnapshot(GetTransactionSnapshot());
        o->result = call_endpoint(rq->route.target, req);
        PopActiveSnapshot();
        endpoint_choices(o);
        o->limited = stage_accounting(rq);
        o->denied = o->limited.known && !o->limited.allowed;
        if (o->denied)
            RollbackAndReleaseCurrentSubTransaction();
        else
            ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(cxt);
        CurrentResourceOwner = owner;
    }
    PG_CATCH();
    {
        ErrorData *edata = nk_subxact_rollback(cxt, owner);

        if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
            edata->sqlerrcode == ERRCODE_ASSERT_FAILURE)
            ReThrowError(edata);
        o->result = NULL;
        o->result_status = 0;
        map_endpoint_error(rq, o, edata);
        o->limited = stage_accounting(rq);
        o->denied = o->limited.known && !o->limited.allowed;
    }
    PG_END_TRY();
}

/* The answer of a request that reached its endpoint: the accounting's 429,
 * the endpoint's problem, or its result; with the RateLimit fields after
 * accounting. */
static void
endpoint_answer(request *rq, const endpoint_outcome *o, answer *a)
{
    Jsonb *headers = rq->limit_headers;
    const char *extra_header = NULL, *extra_value = NULL;
    Jsonb *extra = NULL;

    if (rq->policy != NULL)
        headers =
            rate_limit_headers(rq->policy, rq->window_seconds, &o->limited);
    if (o->denied) {
        respond_rate_limited(a, rq->policy, rq->window_seconds, &o->limited,
                             NULL, rq->path, rq->request_id, rq->route_label);
        return;
    }
    if (o->err_status == 0) {
        respond(a, o->result_status, o->result, rq->route_label, headers);
        return;
    }
    if (o->err_status == 503) {
        extra_header = "Retry-After";
        extra_value = "1";
    } else if (o->err_status == 401 && strcmp(rq->route.auth, "webhook") != 0) {
        extra_header = "WWW-Authenticate";
        extra_value = "Bearer realm=\"namaskah\"";
    } else if (o->err_status == 429 && o->err_detail != NULL &&
               o->err_detail[0] == '{') {
        /* an endpoint's own rate limit says when to retry */
        Jsonb *d = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum(o->err_detail)));

        extra_header = "Retry-After";
        extra_value = jb_member_text(d, "retry_after");
        if (extra_value == NULL)
            extra_value = "60";
    }
    if (extra_header != NULL)
        headers = jb_concat(headers ? headers : empty_object(),
                            jb_pair(extra_header, extra_value));
    if (o->err_state != NULL && strncmp(o->err_state, "NK", 2) == 0 &&
        o->err_detail[0] != '\0')
        extra = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum(o->err_detail)));
    respond_problem(a, o->err_status, o->err_code, o->err_text, rq->path,
                    rq->request_id, rq->route_label, headers, extra);
}

/* The stages of one request, in order; each may end it with its answer. */
static void
run_pipeline(request *rq, answer *a)
{
    endpoint_outcome outcome;

    if (stage_route(rq, a) || stage_input(rq, a) || stage_identity(rq, a) ||
        stage_admission(rq, a) || stage_authorization(rq, a))
        return;
    stage_endpoint(rq, &outcome);
    endpoint_answer(rq, &outcome, a);
}

/* ---- transport errors, CORS, the audit record ------------------------------
 */

/* Transport errors that namaskahd answered itself but still reports here
 * (transport_problem, sql/65_audit.sql), so that every request it answers
 * under /api/ has its audit record. */
static void
transport_answer(request *rq, text *error, answer *a)
{
    Datum args[2];
    bool nulls[2] = {false, false};
    bool isnull, fnull;
    Datum row;
    text *code, *detail;
    int status;
    text *path = rq->path;

    args[0] = PointerGetDatum(error);
    args[1] = PointerGetDatum(
        jb_get_string(rq->headers, "x-namaskah-transport-detail"));
    nulls[1] = DatumGetPointer(args[1]) == NULL;
    row = call_sql_fn(&fn_transport, 2, args, nulls, &isnull);
    status = field_int(row, isnull, 1, &fnull);
    code = field_text(row, isnull, 2);
    detail = field_text(row, isnull, 3);
    /* namaskahd passes the path already sanitized (it was not valid text) */
    if (path != NULL)
        path = DatumGetTextPP(DirectFunctionCall2(
            text_left, PointerGetDatum(path), Int32GetDatum(1024)));
    respond_problem(a, status, code ? text_to_cstring(code) : NULL,
                    detail ? text_to_cstring(detail) : NULL, path,
                    rq->request_id, "unmatched",
                    status == 503 ? jb_pair("Retry-After", "1") : NULL, NULL);
}

/* The CORS fields of the answer (cors_headers), when origins are set. */
static void
add_cors_headers(request *rq, Jsonb *request_headers, answer *a)
{
    char *allowed = nk_setting_text("cors.allowed_origins");
    Datum args[3];
    bool nulls[3] = {false, false, false};
    bool isnull;
    Datum cors;

    if (allowed == NULL || allowed[0] == '\0')
        return;
    args[0] = JsonbPGetDatum(request_headers);
    nulls[0] = request_headers == NULL;
    args[1] = PointerGetDatum(rq->method);
    nulls[1] = rq->method == NULL;
    args[2] = JsonbPGetDatum(a->headers);
    cors = call_sql_fn(&fn_cors, 3, args, nulls, &isnull);
    if (!isnull)
        a->headers = jb_concat(a->headers, DatumGetJsonbP(cors));
}

static text *
sanitized(text *value, int max_bytes)
{
    if (value == NULL)
        return NULL;
    return DatumGetTextPP(DirectFunctionCall2(
        nk_sql_sanitize_log, PointerGetDatum(value), Int32GetDatum(max_bytes)));
}

static text *
masked(text *value)
{
    if (value == NULL)
        return NULL;
    return DatumGetTextPP(
        DirectFunctionCall1(nk_sql_mask_text, PointerGetDatum(value)));
}

/* Who a request was: the verified user, else a keyed pseudonym of the
 * client address. The subject is a validly signed claim, but still request
 * text: sanitized like the rest. */
static text *
audit_actor(request *rq)
{
    if (rq->subject != NULL)
        return cstring_to_text(
            psprintf("user:%s", text_to_cstring(sanitized(rq->subject, 128))));
    return client_pseudonym(rq->client_addr, rq->no_client_addr);
}

/* Member name of an answer's body (->>), for answers the pipeline did not
 * write itself (an endpoint's own status or 429). */
static const char *
body_member(const answer *a, const char *name)
{
    Jsonb *doc;
    text *value;

    if (a->body == NULL)
        return NULL;
    doc = DatumGetJsonbP(DirectFunctionCall1(
        jsonb_in, CStringGetDatum(text_to_cstring(a->body))));
    value = jb_get_string(doc, name);
    return value ? text_to_cstring(value) : NULL;
}

/* The outcome of the audit record: ok, or the problem's code. */
static const char *
answer_code(const answer *a)
{
    const char *code;

    if (a->status < 400)
        return "ok";
    code = a->code ? a->code : body_member(a, "code");
    return code ? code : "error";
}

/* 8. audit: the request's record. Free text is masked in place (emails,
 * phones, tokens, cards); what the request consumed is kept for rebuilding
 * the rate-limit state after a crash (keys are pseudonyms). */
static void
audit_request(request *rq, const answer *a, TimestampTz started)
{
    JsonbParseState *st = NULL;
    Datum args[8];
    bool nulls[8] = {0};
    bool isnull;
    Datum consumed;
    text *method;
    int64 us = GetCurrentTimestamp() - started;

    consumed = call_sql_fn(&fn_consumed, 0, NULL, NULL, &isnull);
    pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
    jb_put_text(&st, "path", masked(sanitized(rq->path, 256)));
    jb_put_text(
        &st, "user_agent",
        masked(sanitized(jb_get_string(rq->headers, "user-agent"), 256)));
    if (a->status == 429)
        jb_put_cstring(&st, "policy",
                       a->policy ? a->policy : body_member(a, "policy"));
    if (!isnull)
        jb_put_jsonb(&st, "rate_limits", DatumGetJsonbP(consumed));
    method = sanitized(rq->method, 32);
    args[0] = PointerGetDatum(rq->request_id);
    nulls[0] = rq->request_id == NULL;
    args[1] = PointerGetDatum(audit_actor(rq));
    nulls[1] = DatumGetPointer(args[1]) == NULL;
    args[2] = method ? DirectFunctionCall2(text_left, PointerGetDatum(method),
                                           Int32GetDatum(16))
                     : (Datum)0;
    nulls[2] = method == NULL;
    args[3] = CStringGetTextDatum(a->route);
    args[4] = Int32GetDatum(a->status);
    args[5] = CStringGetTextDatum(answer_code(a));
    /* milliseconds, rounded half away from zero */
    args[6] = Int32GetDatum(
        (int32)(us >= 0 ? (us + 500) / 1000 : -((-us + 500) / 1000)));
    args[7] = JsonbPGetDatum(jb_end(&st));
    (void)call_sql_fn(&fn_audit_append, 8, args, nulls, &isnull);
}

/* The answer of one request and its audit record. */
static void
answer_request(request *rq, Jsonb *request_headers, TimestampTz started,
               answer *a)
{
    text *transport_error;
    char *audit_enabled;

    /* claims of an earlier request in the same transaction must not leak */
    set_local("request.jwt.claims", "");
    transport_error =
        jb_get_string(request_headers, "x-namaskah-transport-error");
    if (transport_error != NULL)
        transport_answer(rq, transport_error, a);
    else {
        run_pipeline(rq, a);
        add_cors_headers(rq, request_headers, a);
    }
    /* anything but an explicit 'off' audits (fail closed) */
    audit_enabled = nk_setting_text("audit.enabled");
    if (audit_enabled == NULL || strcmp(audit_enabled, "off") != 0)
        audit_request(rq, a, started);
}

/*
 * handle_request(method, path, query, request_headers, request_body,
 * client_addr, request_id) -> (status, headers, body). SECURITY DEFINER
 * (namaskah_owner) with its search_path pinned by its SET clause.
 */
PG_FUNCTION_INFO_V1(nk_sql_handle_request);
Datum
nk_sql_handle_request(PG_FUNCTION_ARGS)
{
    TimestampTz started = GetCurrentTimestamp();
    request rq = {0};
    answer a = {0};
    Jsonb *request_headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
    TupleDesc tupdesc;
    Datum values[3];
    bool nulls[3] = {false, false, false};

    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "handle_request must return a composite type");
    rq.method = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
    rq.method_name = rq.method ? text_to_cstring(rq.method) : NULL;
    rq.path = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
    rq.query = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
    rq.headers = request_headers ? request_headers : empty_object();
    rq.body = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);
    rq.no_client_addr = PG_ARGISNULL(5);
    rq.client_addr = rq.no_client_addr ? (Datum)0 : PG_GETARG_DATUM(5);
    rq.request_id = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);

    refresh_lookups();
    requests_running++;
    PG_TRY();
    {
        answer_request(&rq, request_headers, started, &a);
    }
    PG_FINALLY();
    {
        requests_running--;
    }
    PG_END_TRY();

    values[0] = Int32GetDatum(a.status);
    values[1] = JsonbPGetDatum(a.headers);
    values[2] = PointerGetDatum(a.body);
    nulls[2] = a.body == NULL;
    tupdesc = BlessTupleDesc(tupdesc);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* problem_body(status, code, detail, instance, request_id, extra): the
 * body of every error, as the pipeline writes it. */
PG_FUNCTION_INFO_V1(nk_sql_problem_body);
Datum
nk_sql_problem_body(PG_FUNCTION_ARGS)
{
    text *code = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
    text *detail = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
    int status = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT32(0);

    PG_RETURN_TEXT_P(problem_body(
        PG_ARGISNULL(0) ? NULL : &status, code ? text_to_cstring(code) : NULL,
        detail ? text_to_cstring(detail) : NULL,
        PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3),
        PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4),
        PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5)));
}

/* A sub claim in the form request_subject accepts: a UUID in lower case
 * (^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$). */
static bool
is_lower_uuid(const char *s, int len)
{
    int i;

    if (len != 36)
        return false;
    for (i = 0; i < len; i++) {
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;

        if (hyphen ? s[i] != '-'
                   : !((s[i] >= '0' && s[i] <= '9') ||
                       (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* request_subject's memory: the last claims it answered for, and the
 * answer (set by the identity stage too, which has the sub at hand). */
static char *subject_claims;
static bool subject_found;
static pg_uuid_t subject_uuid;

static void
remember_subject(const char *claims, text *sub)
{
    if (subject_claims != NULL)
        pfree(subject_claims);
    subject_claims = NULL;
    subject_found =
        sub != NULL && is_lower_uuid(VARDATA_ANY(sub), VARSIZE_ANY_EXHDR(sub));
    if (subject_found)
        memcpy(&subject_uuid,
               DatumGetUUIDP(DirectFunctionCall1(
                   uuid_in, CStringGetDatum(text_to_cstring(sub)))),
               sizeof(pg_uuid_t));
    subject_claims = MemoryContextStrdup(TopMemoryContext, claims);
}

/*
 * request_subject(): the verified user of the current request, the sub
 * claim of request.jwt.claims when it is a UUID in lower case, else NULL.
 * Every row-level security policy of the API calls it, most queries twice;
 * as SQL it parsed the claims and ran a regex each time. The claims of the
 * last call are remembered with their answer (the identity stage fills
 * that in when it publishes them), so a request parses them at most once.
 * Claims that are not JSON are an error (22P02), as ::jsonb was.
 */
PG_FUNCTION_INFO_V1(nk_sql_request_subject);
Datum
nk_sql_request_subject(PG_FUNCTION_ARGS)
{
    const char *claims = GetConfigOption("request.jwt.claims", true, false);
    pg_uuid_t *result;

    if (claims == NULL || claims[0] == '\0')
        PG_RETURN_NULL();
    if (subject_claims == NULL || strcmp(claims, subject_claims) != 0) {
        Jsonb *doc = DatumGetJsonbP(
            DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));

        remember_subject(claims, jb_get_string(doc, "sub"));
    }
    if (!subject_found)
        PG_RETURN_NULL();
    result = palloc(sizeof(pg_uuid_t));
    memcpy(result, &subject_uuid, sizeof(pg_uuid_t));
    PG_RETURN_UUID_P(result);
}
