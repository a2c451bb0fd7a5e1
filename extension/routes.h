/*
 * routes.h — the route lookup of routes.c, for the request pipeline
 * (request.c) as much as for match_route.
 */
#ifndef NAMASKAH_ROUTES_H
#define NAMASKAH_ROUTES_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "nk_route.h"

/* What the pipeline acts on of one namaskah.routes row. */
typedef struct nk_route_def {
    Oid target;                    /* the endpoint function */
    const char *method;            /* GET, POST, ... */
    const char *path_template;     /* /api/verifications/{id} */
    const char *auth;              /* public, bearer or webhook */
    const char *required_role;     /* NULL: any */
    const char *rate_limit_policy; /* NULL: 'default'; 'none': none */
} nk_route_def;

/* What a lookup found (strings point into the per-backend copy of the
 * table: valid until the next lookup). */
typedef struct nk_route_found {
    const nk_route_def *route; /* NULL: no template with this method */
    Datum row;                 /* its namaskah.routes row */
    Jsonb *params;             /* {"name": "value", ...} */
    int nparams;
    nk_route_param param_values[NK_ROUTE_MAX_PARAMS];
    const char *path_template; /* the most specific match; NULL: none */
    int n_allowed;             /* the methods of every matching template */
    const char **allowed;
} nk_route_found;

/*
 * The route of the most specific template matching path with method (HEAD
 * as GET), and what else matched (match_route, sql/60_pipeline.sql).
 */
void nk_route_lookup(const char *method, const char *path, size_t path_len,
                     nk_route_found *out);

#endif
