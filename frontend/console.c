/*
 * console.c — finds the web console's embedded assets by path.
 *
 * The assets are compiled into namaskahd (gen/console_assets.c, made by
 * embed_assets.py from frontend/console/), so nothing is read from the file
 * system at run time and civetweb's file handler is never involved. The
 * table holds a handful of entries: a linear search is the simplest thing
 * that is fast enough. "/console/" is the document itself.
 */
#include "console.h"

#include <string.h>

const struct console_asset *
console_find(const char *path)
{
    size_t i;

    if (path == NULL)
        return NULL;
    for (i = 0; i < console_asset_count; i++)
        if (strcmp(console_assets[i].path, path) == 0)
            return &console_assets[i];
    return NULL;
}
