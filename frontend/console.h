/*
 * console.h — the web console's assets, embedded in namaskahd at build time.
 *
 * frontend/embed_assets.py turns frontend/console/ into gen/console_assets.c
 * (the table below); console.c looks a request path up in it. The console's
 * documents carry CONSOLE_CSP instead of the API's policy (docs/console.md).
 */
#ifndef NK_CONSOLE_H
#define NK_CONSOLE_H

#include <stddef.h>

/* Where the console lives; "/" redirects here. */
#define CONSOLE_PREFIX "/console/"

/* The console documents' policy: only this origin's scripts, styles and
 * connections; no string may reach a script sink (Trusted Types with no
 * policy at all); never framed. */
#define CONSOLE_CSP                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; "                \
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "              \
    "form-action 'none'; frame-ancestors 'none'; "                             \
    "require-trusted-types-for 'script'; trusted-types 'none'"

struct console_asset {
    const char *path;         /* e.g. "/console/app.3f2a9c01d4e5.js" */
    const char *content_type; /* with charset for text */
    const unsigned char *body;
    size_t len;
    int immutable; /* content-hashed name: cacheable for good */
};

/* Generated (gen/console_assets.c). */
extern const struct console_asset console_assets[];
extern const size_t console_asset_count;

/* The asset served at path (decoded, NUL-terminated), or NULL. */
const struct console_asset *console_find(const char *path);

#endif
