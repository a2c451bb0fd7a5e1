/*
 * nk_route.c — path template matching (see nk_route.h). Segment by segment,
 * no regex and no allocation: a request's route lookup is a handful of
 * comparisons per route.
 */
#include "nk_route.h"

#include <string.h>

/* The end of the segment that starts at s (the next '/' or end). */
static size_t
segment_len(const char *s, size_t left)
{
    const char *slash = memchr(s, '/', left);

    return slash ? (size_t)(slash - s) : left;
}

/* 1 when the template segment t (tlen bytes) is {name}, 0 when it is a
 * literal, -1 when it is neither. */
static int
segment_kind(const char *t, size_t tlen)
{
    if (tlen == 0)
        return -1;
    if (t[0] != '{')
        return memchr(t, '{', tlen) || memchr(t, '}', tlen) ? -1 : 0;
    if (tlen < 3 || t[tlen - 1] != '}' || memchr(t + 1, '{', tlen - 2) ||
        memchr(t + 1, '}', tlen - 2))
        return -1;
    return 1;
}

int
nk_route_match(const char *template, const char *path, size_t path_len,
               nk_route_param params[NK_ROUTE_MAX_PARAMS])
{
    size_t tleft, pleft;
    int nparams = 0, result = 0;

    if (template == NULL || template[0] != '/' || template[1] == '\0')
        return NK_ROUTE_BAD_TEMPLATE;
    tleft = strlen(template);
    if (path == NULL)
        path = "", path_len = 0;
    /* Walk both; a mismatch is remembered, the template still checked. */
    if (path_len == 0 || path[0] != '/')
        result = NK_ROUTE_NO_MATCH;
    pleft = result ? 0 : path_len;
    while (tleft > 0) {
        size_t tlen, plen = 0;
        int kind;

        template ++, tleft--; /* the '/' */
        tlen = segment_len(template, tleft);
        kind = segment_kind(template, tlen);
        if (kind < 0)
            return NK_ROUTE_BAD_TEMPLATE;
        if (kind == 1 && nparams == NK_ROUTE_MAX_PARAMS)
            return NK_ROUTE_BAD_TEMPLATE;
        if (result == 0) {
            if (pleft == 0 || path[0] != '/')
                result = NK_ROUTE_NO_MATCH;
            else {
                path++, pleft--;
                plen = segment_len(path, pleft);
                if (kind == 1 ? plen == 0
                              : plen != tlen || memcmp(path, template, tlen))
                    result = NK_ROUTE_NO_MATCH;
            }
        }
        if (kind == 1) {
            if (result == 0) {
                params[nparams].value = path;
                params[nparams].len = plen;
            }
            nparams++;
        }
        path += plen, pleft -= plen;
        template += tlen, tleft -= tlen;
    }
    if (result == 0 && pleft > 0)
        result = NK_ROUTE_NO_MATCH; /* the path has more segments */
    return result ? result : nparams;
}

int
nk_route_literal_segments(const char *template)
{
    size_t left;
    int literals = 0;

    if (template == NULL || template[0] != '/' || template[1] == '\0')
        return -1;
    left = strlen(template);
    while (left > 0) {
        size_t len;
        int kind;

        template ++, left--;
        len = segment_len(template, left);
        kind = segment_kind(template, len);
        if (kind < 0)
            return -1;
        literals += kind == 0;
        template += len, left -= len;
    }
    return literals;
}
