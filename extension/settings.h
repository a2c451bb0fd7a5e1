/*
 * settings.h — the one C accessor of namaskah's run-time settings (see
 * settings.c): every setting is declared once, in
 * namaskah.setting_definitions (sql/00_base.sql).
 */
#ifndef NAMASKAH_SETTINGS_H
#define NAMASKAH_SETTINGS_H

#include "postgres.h"

/*
 * The value of a declared setting: the operator's (namaskah.settings), else
 * the declared default; NULL when it has neither. palloc'd in the caller's
 * memory context. An undeclared name is an internal error.
 */
char *nk_setting_text(const char *name);

/*
 * An integer setting (type integer in its declaration). Values are checked
 * against their bounds when written, so the result is within them. One
 * with neither value nor default is an internal error: test
 * nk_setting_text for NULL first where the declaration has no default.
 */
int64 nk_setting_int(const char *name);

#endif
