/*
 * nk_route.h — matching a request path against a route's path template
 * (pure C; the route cache of extension/routes.c and its tests use it).
 *
 * A template is '/'-separated segments, each a literal ([a-z0-9._-]+) or a
 * parameter ({name}); the routes table's CHECK constraint guarantees that
 * shape. A path matches when it has as many segments, every literal
 * segment is equal byte for byte, and every parameter segment is
 * non-empty. This is exactly what the regex that routes_derive() stores
 * (path_regex: each {name} as ([^/]+), anchored) accepts.
 */
#ifndef NK_ROUTE_H
#define NK_ROUTE_H

#include <stddef.h>

/* Templates with more parameters than this are refused (nk_route_match
 * returns -1): the API's have at most two. */
#define NK_ROUTE_MAX_PARAMS 8

/* One parameter's value: a slice of the path, not NUL-terminated. */
typedef struct nk_route_param {
    const char *value;
    size_t len;
} nk_route_param;

/*
 * Matches path (path_len bytes, may contain NUL, which never matches a
 * literal and never ends a segment) against template (a C string). Returns
 * the number of parameters filled into params (0..NK_ROUTE_MAX_PARAMS, in
 * template order) on a match, NK_ROUTE_NO_MATCH when the path does not
 * match, or NK_ROUTE_BAD_TEMPLATE for a template that is not of the shape
 * above (empty, not starting with '/', an empty or unclosed segment, too
 * many parameters).
 */
#define NK_ROUTE_NO_MATCH (-1)
#define NK_ROUTE_BAD_TEMPLATE (-2)
int nk_route_match(const char *template, const char *path, size_t path_len,
                   nk_route_param params[NK_ROUTE_MAX_PARAMS]);

/*
 * The number of literal segments of a template (how specific it is: the
 * most specific matching template wins), or -1 for a bad template.
 */
int nk_route_literal_segments(const char *template);

#endif
