/*
 * routes.c — match_route(method, path): the route stage's lookup, from a
 * per-backend copy of namaskah.routes.
 *
 * Every request starts here. As a PL/pgSQL loop over the table it cost a
 * query with executor start-up and a regex per candidate on each request;
 * the table changes only when routes are deployed. So the rows are read
 * once per backend, in the order the lookup wants (most literal segments
 * first, then id), and each request walks them in memory with the segment
 * matcher of core/nk_route.c (the same language as the path_regex that
 * routes_derive stores; test/fuzz/fuzz_route.c checks the two agree).
 *
 * Invalidation as for the signing keys and settings: the statement trigger
 * cache_invalidate on namaskah.routes sends a relcache invalidation, which
 * every backend applies at its next transaction start (and this backend at
 * its next command); a load that saw an invalidation arrive stays invalid.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "nk_route.h"
#include "namaskah.h"
#include "routes.h"

typedef struct route_entry {
    char method[8];
    char *template;
    int nparams;
    char *param_names[NK_ROUTE_MAX_PARAMS];
    Datum row; /* the namaskah.routes row, a composite datum */
    nk_route_def def;
} route_entry;

static MemoryContext routes_cxt;
static route_entry *routes;
static int n_routes;
static bool routes_valid;
static uint64 routes_gen; /* bumped by every invalidation */
static Oid routes_relid = InvalidOid;

static void load_routes(void);
static void ensure_routes(void);
static Jsonb *params_jsonb(const route_entry *r, const nk_route_param *values);

/* From the module's relcache callback (namaskah.c). */
void
routes_relcache_changed(Oid relid)
{
    if (relid == InvalidOid || relid == routes_relid) {
        routes_valid = false;
        routes_gen++;
    }
}

/* One row's entry; its param names are the template's, in order. */
static void
fill_entry(route_entry *e, HeapTuple tup, TupleDesc td)
{
    bool isnull;
    char *method = SPI_getvalue(tup, td, 2);
    Datum target;
    ArrayType *names;
    Datum *elems;
    int n, i;

    if (method == NULL || strlen(method) >= sizeof(e->method))
        elog(ERROR, "route with an invalid method");
    strlcpy(e->method, method, sizeof(e->method));
    e->template = pstrdup(SPI_getvalue(tup, td, 3));
    names = DatumGetArrayTypeP(SPI_getbinval(tup, td, 4, &isnull));
    deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL,
                      &n);
    if (n > NK_ROUTE_MAX_PARAMS)
        elog(ERROR, "route %s has more than %d parameters", e->template,
             NK_ROUTE_MAX_PARAMS);
    for (i = 0; i < n; i++)
        e->param_names[i] = TextDatumGetCString(elems[i]);
    e->nparams = n;
    e->row = datumCopy(SPI_getbinval(tup, td, 1, &isnull), false, -1);
    target = SPI_getbinval(tup, td, 5, &isnull);
    e->def.target = isnull ? InvalidOid : DatumGetObjectId(target);
    e->def.method = e->method;
    e->def.path_template = e->template;
    e->def.auth = SPI_getvalue(tup, td, 6);
    e->def.required_role = SPI_getvalue(tup, td, 7);
    e->def.rate_limit_policy = SPI_getvalue(tup, td, 8);
}

static void
load_routes(void)
{
    MemoryContext old;
    uint64 i;

    if (routes_cxt == NULL)
        routes_cxt = AllocSetContextCreate(TopMemoryContext, "namaskah routes",
                                           ALLOCSET_SMALL_SIZES);
    MemoryContextReset(routes_cxt);
    routes = NULL;
    n_routes = 0;
    routes_relid =
        get_relname_relid("routes", get_namespace_oid(NK_SCHEMA, false));
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    /* read_only false: a snapshot of this statement's own, taken now */
    if (SPI_execute("SELECT r, r.method, r.path_template, r.param_names,"
                    " r.target::oid, r.auth, r.required_role,"
                    " r.rate_limit_policy FROM " NK_SCHEMA ".routes r"
                    " ORDER BY r.literal_segments DESC, r.id",
                    false, 0) != SPI_OK_SELECT)
        elog(ERROR, "could not read namaskah.routes");
    old = MemoryContextSwitchTo(routes_cxt);
    routes = palloc0(sizeof(route_entry) * Max(SPI_processed, 1));
    for (i = 0; i < SPI_processed; i++)
        fill_entry(&routes[i], SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
    n_routes = (int)SPI_processed;
    MemoryContextSwitchTo(old);
    SPI_finish();
}

static void
ensure_routes(void)
{
    uint64 gen;

    if (routes_valid)
        return;
    gen = routes_gen;
    /* (a load that fails leaves no route: n_routes is set last) */
    load_routes();
    routes_valid = nk_cache_load_keeps(gen, routes_gen);
}

/* {"name": "value", ...} of a matched route's parameters. */
static Jsonb *
params_jsonb(const route_entry *r, const nk_route_param *values)
{
    StringInfoData json;
    int i;

    initStringInfo(&json);
    appendStringInfoChar(&json, '{');
    for (i = 0; i < r->nparams; i++) {
        char *value = pnstrdup(values[i].value, values[i].len);

        if (i > 0)
            appendStringInfoChar(&json, ',');
        escape_json(&json, r->param_names[i]);
        appendStringInfoChar(&json, ':');
        escape_json(&json, value);
    }
    appendStringInfoChar(&json, '}');
    return DatumGetJsonbP(
        DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
}

void
nk_route_lookup(const char *method, const char *path, size_t path_len,
                nk_route_found *out)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    nk_route_param found[NK_ROUTE_MAX_PARAMS];
    int i;

    memset(out, 0, sizeof(*out));
    ensure_routes();
    out->allowed = palloc(sizeof(char *) * Max(n_routes, 1));
    for (i = 0; i < n_routes; i++) {
        const route_entry *r = &routes[i];

        if (nk_route_match(r->template, path, path_len, found) < 0)
            continue;
        out->allowed[out->n_allowed++] = r->method;
        if (out->path_template == NULL)
            out->path_template = r->template;
        if (out->route == NULL && strcmp(r->method, want) == 0) {
            out->route = &r->def;
            out->row = r->row;
            out->params = params_jsonb(r, found);
            out->nparams = r->nparams;
            memcpy(out->param_values, found, sizeof(found));
        }
    }
}

/*
 * match_route(method, path) → (route, params, allowed, path_template): the
 * route of the most specific template matching path with this method (HEAD
 * as GET) and its parameters, NULL when no template with this method
 * matches; the methods of every matching template, most specific first
 * ('{}' for an unknown path); the most specific matching template.
 */
PG_FUNCTION_INFO_V1(nk_sql_match_route);
Datum
nk_sql_match_route(PG_FUNCTION_ARGS)
{
    text *path_t;
    Datum values[4] = {0};
    bool nulls[4] = {true, true, false, true};
    Datum *allowed;
    nk_route_found m;
    TupleDesc tupdesc;
    int i;

    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "match_route must return a composite type");
    tupdesc = BlessTupleDesc(tupdesc);
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) { /* matches nothing */
        values[2] = PointerGetDatum(construct_empty_array(TEXTOID));
        PG_RETURN_DATUM(
            HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
    }
    path_t = PG_GETARG_TEXT_PP(1);
    nk_route_lookup(text_to_cstring(PG_GETARG_TEXT_PP(0)), VARDATA_ANY(path_t),
                    VARSIZE_ANY_EXHDR(path_t), &m);
    if (m.route != NULL) {
        values[0] = m.row;
        values[1] = JsonbPGetDatum(m.params);
        nulls[0] = nulls[1] = false;
    }
    allowed = palloc(sizeof(Datum) * Max(m.n_allowed, 1));
    for (i = 0; i < m.n_allowed; i++)
        allowed[i] = CStringGetTextDatum(m.allowed[i]);
    values[2] = PointerGetDatum(construct_array(allowed, m.n_allowed, TEXTOID,
                                                -1, false, TYPALIGN_INT));
    if (m.path_template != NULL) {
        values[3] = CStringGetTextDatum(m.path_template);
        nulls[3] = false;
    }
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
