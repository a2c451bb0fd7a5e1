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

typedef struct route_entry {
    char method[8];
    char *template;
    int nparams;
    char *param_names[NK_ROUTE_MAX_PARAMS];
    Datum row; /* the namaskah.routes row, a composite datum */
} route_entry;

static MemoryContext routes_cxt;
static route_entry *routes;
static int n_routes;
static bool routes_valid;
static uint64 routes_gen; /* bumped by every invalidation */
static Oid routes_relid = InvalidOid;

static void load_routes(void);
static void ensure_routes(void);
static Datum params_jsonb(const route_entry *r, const nk_route_param *values);

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
    if (SPI_execute("SELECT r, r.method, r.path_template, r.param_names"
                    " FROM " NK_SCHEMA ".routes r"
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
static Datum
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
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data));
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
    char *method;
    const char *want, *path;
    size_t path_len;
    nk_route_param found[NK_ROUTE_MAX_PARAMS];
    Datum values[4] = {0};
    bool nulls[4] = {true, true, false, true};
    Datum *allowed;
    int n_allowed = 0, i;
    TupleDesc tupdesc;

    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "match_route must return a composite type");
    tupdesc = BlessTupleDesc(tupdesc);
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) { /* matches nothing */
        values[2] = PointerGetDatum(construct_empty_array(TEXTOID));
        PG_RETURN_DATUM(
            HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
    }
    method = text_to_cstring(PG_GETARG_TEXT_PP(0));
    want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    path_t = PG_GETARG_TEXT_PP(1);
    path = VARDATA_ANY(path_t);
    path_len = VARSIZE_ANY_EXHDR(path_t);
    ensure_routes();
    allowed = palloc(sizeof(Datum) * Max(n_routes, 1));
    for (i = 0; i < n_routes; i++) {
        const route_entry *r = &routes[i];

        if (nk_route_match(r->template, path, path_len, found) < 0)
            continue;
        allowed[n_allowed++] = CStringGetTextDatum(r->method);
        if (nulls[3]) {
            values[3] = CStringGetTextDatum(r->template);
            nulls[3] = false;
        }
        if (nulls[0] && strcmp(r->method, want) == 0) {
            values[0] = r->row;
            nulls[0] = false;
            values[1] = params_jsonb(r, found);
            nulls[1] = false;
        }
    }
    values[2] = PointerGetDatum(
        construct_array(allowed, n_allowed, TEXTOID, -1, false, TYPALIGN_INT));
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
