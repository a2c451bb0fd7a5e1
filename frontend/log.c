/*
 * log.c — JSON log lines for namaskahd (see log.h).
 *
 * Locking: one process-wide mutex serializes the final write(2) of a line;
 * building a line touches only the caller's struct nk_log.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nk_json.h"
#include "nk_sanitize.h"

static void append_raw(struct nk_log *l, const char *s, size_t n);
static void append_escaped(struct nk_log *l, const char *s, size_t n);
static void append_key(struct nk_log *l, const char *key);
static const char *level_name(int level);
static int field_fits(const struct nk_log *l, const char *key,
                      size_t value_min);

/* Room kept free at the end of the buffer for the closing "}\n". */
#define LOG_TAIL 2
/* Longest sanitized value (before JSON escaping) kept in a line. */
#define LOG_VALUE_MAX 1024

static int min_level = NK_INFO;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_set_level(int level)
{
    min_level = level;
}

int
log_enabled(int level)
{
    return level >= min_level;
}

long long
nk_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
level_name(int level)
{
    switch (level) {
    case NK_DEBUG:
        return "debug";
    case NK_INFO:
        return "info";
    case NK_WARN:
        return "warn";
    default:
        return "error";
    }
}

/* Appends n bytes if they fit entirely (so a line is never cut mid-token). */
static void
append_raw(struct nk_log *l, const char *s, size_t n)
{
    if (l->len + n + LOG_TAIL >= sizeof(l->buf))
        return;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends a quoted, sanitized and JSON-escaped string. */
static void
append_escaped(struct nk_log *l, const char *s, size_t n)
{
    char clean[LOG_VALUE_MAX];
    size_t clean_len, room, need;

    clean_len = nk_sanitize_log(clean, sizeof(clean), s, n);
    /* room for the two quotes and the tail */
    if (l->len + 2 + LOG_TAIL >= sizeof(l->buf))
        return;
    room = sizeof(l->buf) - l->len - 2 - LOG_TAIL;
    l->buf[l->len++] = '"';
    need = nk_json_escape(l->buf + l->len, room, clean, clean_len);
    /* nk_json_escape cuts only at escape/character boundaries */
    l->len += need < room ? need : strlen(l->buf + l->len);
    l->buf[l->len++] = '"';
}

/*
 * A field is written whole or not at all, so a full buffer drops trailing
 * fields but the line stays valid JSON.
 */
static int
field_fits(const struct nk_log *l, const char *key, size_t value_min)
{
    return l->len + strlen(key) + 4 + value_min + LOG_TAIL < sizeof(l->buf);
}

static void
append_key(struct nk_log *l, const char *key)
{
    append_raw(l, ",\"", 2);
    append_raw(l, key, strlen(key));
    append_raw(l, "\":", 2);
}

void
log_begin(struct nk_log *l, int level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char head[96];
    int n;

    l->len = 0;
    l->active = log_enabled(level);
    if (!l->active)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(head, sizeof(head),
                 "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
                 "\"level\":\"%s\",\"event\":",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_name(level));
    append_raw(l, head, (size_t)n);
    append_escaped(l, event, strlen(event));
}

void
log_strn(struct nk_log *l, const char *key, const char *val, size_t len)
{
    if (!l->active || !field_fits(l, key, 16))
        return;
    append_key(l, key);
    if (val == NULL)
        append_raw(l, "null", 4);
    else
        append_escaped(l, val, len);
}

void
log_str(struct nk_log *l, const char *key, const char *val)
{
    log_strn(l, key, val, val ? strlen(val) : 0);
}

void
log_int(struct nk_log *l, const char *key, long long val)
{
    char num[32];
    int n;

    if (!l->active || !field_fits(l, key, 24))
        return;
    n = snprintf(num, sizeof(num), "%lld", val);
    append_key(l, key);
    append_raw(l, num, (size_t)n);
}

void
log_end(struct nk_log *l)
{
    size_t off = 0;
    ssize_t w;

    if (!l->active)
        return;
    /* LOG_TAIL bytes are always free, so this never overflows */
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    pthread_mutex_lock(&write_lock);
    while (off < l->len) {
        w = write(STDOUT_FILENO, l->buf + off, l->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&write_lock);
    l->active = 0;
}

void
log_msg(int level, const char *event, const char *msg)
{
    struct nk_log l;

    log_begin(&l, level, event);
    log_str(&l, "msg", msg);
    log_end(&l);
}
