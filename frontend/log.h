/*
 * log.h — namaskahd's structured log: one JSON object per line on stdout.
 *
 * A line is built in a caller-owned struct nk_log (on the stack), field by
 * field, and written with one write(2) under a mutex, so lines from worker
 * threads never interleave. Every string value goes through nk_sanitize_log
 * and then nk_json_escape: nothing a request carries can end a line, start a
 * terminal escape or add a field. Keys are compile-time literals.
 */
#ifndef NK_FRONTEND_LOG_H
#define NK_FRONTEND_LOG_H

#include <stddef.h>

enum nk_level { NK_DEBUG = 0, NK_INFO = 1, NK_WARN = 2, NK_ERROR = 3 };

/* Longest line written; longer lines are cut at a field boundary. */
#define NK_LOG_LINE_MAX 4096

struct nk_log {
    char buf[NK_LOG_LINE_MAX];
    size_t len;
    int active; /* 0 when the level is filtered out: every call is a no-op */
};

void log_set_level(int level);
int log_enabled(int level);

/* Starts a line with "ts", "level" and "event". */
void log_begin(struct nk_log *l, int level, const char *event);
/* Adds "key": "sanitized value"; val NULL adds JSON null. */
void log_str(struct nk_log *l, const char *key, const char *val);
void log_strn(struct nk_log *l, const char *key, const char *val, size_t len);
void log_int(struct nk_log *l, const char *key, long long val);
/* Closes the object and writes the line. */
void log_end(struct nk_log *l);

/* One-call form: {"event": event, "msg": msg}. */
void log_msg(int level, const char *event, const char *msg);

/* Milliseconds from CLOCK_MONOTONIC (for durations and deadlines). */
long long nk_now_ms(void);

#endif
