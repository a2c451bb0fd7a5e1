/*
 * db.h — the database connections of namaskahd.
 *
 * Worker threads borrow a handle from a fixed pool of DB_POOL_SIZE handles
 * for the one call a request makes (db_acquire / db_release) and never share
 * it meanwhile. The pool is smaller than the worker threads on purpose:
 * PostgreSQL does more work with a few busy backends than with many that
 * queue on its locks (32 backends on 2 cores did 40% fewer calls than 8),
 * and requests waiting here wait in arrival order, so the slowest are not
 * starved. A connection is opened lazily, the entry statement is prepared
 * once per connection, and a lost connection is reopened at most once per
 * DB_RETRY_INTERVAL_MS; meanwhile calls fail fast with DB_UNAVAILABLE.
 */
#ifndef NK_FRONTEND_DB_H
#define NK_FRONTEND_DB_H

#include <libpq-fe.h>

struct nk_db;

enum db_outcome {
    DB_OK = 0,      /* *out holds the row */
    DB_UNAVAILABLE, /* could not reach the database: 503 */
    DB_TIMEOUT,     /* no answer within REQUEST_TIMEOUT_MS (cancelled): 503 */
    DB_SQL_ERROR,   /* the call failed inside the database: 500 */
    DB_BAD_RESULT   /* not exactly one well-formed row: 500 */
};

/* The row of namaskah.handle_request; strings point into res. */
struct db_result {
    PGresult *res;
    int status;
    const char *headers; /* JSON object text, or NULL */
    const char *body;    /* or NULL */
};

/* The seven text parameters, in the entry function's order. */
enum {
    DBP_METHOD,
    DBP_PATH,
    DBP_QUERY,
    DBP_HEADERS,
    DBP_BODY,
    DBP_CLIENT,
    DBP_REQUEST_ID,
    DBP_COUNT
};

/*
 * A new, unconnected handle (caller frees with db_free), or NULL. A pooled
 * handle counts in the pool figures below; the metrics scraper's own
 * connection does not.
 */
struct nk_db *db_new(int pooled);
/* Closes the connection and frees db; accepts NULL. */
void db_free(struct nk_db *db);

/* Creates the pool's size handles (unconnected). Returns 0, or -1. */
int db_pool_init(long size);
/* Closes and frees every handle; all must have been released. */
void db_pool_close(void);
/*
 * A handle for this thread's exclusive use until db_release, or NULL when
 * none became free by deadline_ms (nk_now_ms clock) or by the shutdown
 * deadline, or at once when max_waiting requests wait already. Waiters are
 * served first come, first served.
 */
struct nk_db *db_acquire(long long deadline_ms, long max_waiting);
void db_release(struct nk_db *db);

/*
 * Makes the one call of the entry function. Never retries: a call that may
 * have reached the database is answered from its outcome. On DB_OK the
 * caller owns *out and releases it with db_result_clear.
 */
enum db_outcome db_call(struct nk_db *db, const char *const params[DBP_COUNT],
                        struct db_result *out);
void db_result_clear(struct db_result *r);

/*
 * Pool figures for /metrics and /health/ready, read without locks (each is
 * an atomic counter): the pool's size, pooled connections open, pooled
 * handles inside db_call right now, requests waiting for a handle, the
 * waits so far (count, total microseconds, and those that gave up), the
 * requests turned away at once because the queue was full, and
 * connections opened again after one was lost or had failed (all handles).
 */
struct db_pool_stats {
    long long size;
    long long open;
    long long busy;
    long long waiting;
    long long waits;
    long long wait_us;
    long long wait_timeouts;
    long long rejected;
    long long reconnects;
};
void db_pool_stats(struct db_pool_stats *out);

/*
 * From now on no call waits past deadline_ms (nk_now_ms clock): used by the
 * shutdown grace period.
 */
void db_set_shutdown_deadline(long long deadline_ms);

#endif
