/*
 * db.c — the pool of libpq connections (see db.h).
 *
 * The pool is a stack of free handles (the most recently used first, so
 * the busiest connections stay warm and idle ones stay idle) and a queue
 * of waiting threads, each with its own condition variable: a released
 * handle goes straight to the oldest waiter, so nobody overtakes and no
 * herd wakes up for one handle.
 *
 * The query is sent asynchronously and awaited with poll(2) against a
 * deadline (REQUEST_TIMEOUT_MS, or the shutdown deadline if sooner), so a
 * stuck database costs a request at most that long; on expiry the query is
 * cancelled. Nothing from the request is ever placed into SQL text: every
 * value is a bind parameter of the one statement.
 *
 * The statement is named and prepared once per connection (DB_STATEMENTS
 * named, the default), or sent as the unnamed statement with every call
 * (DB_STATEMENTS unnamed). A transaction pooler (pgbouncer 1.18 in
 * transaction mode) hands each transaction to whichever server connection
 * is free, where a named statement prepared on another one does not exist;
 * the unnamed statement is parsed, bound and executed within the call's own
 * transaction (Parse, Bind, Describe, Execute, Sync), so it is always there.
 */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"

#define STMT_NAME "namaskah_handle_request"
#define STMT_SQL                                                               \
    "SELECT status, headers::text, body FROM namaskah.handle_request("         \
    "$1, $2, $3, $4::jsonb, $5, $6::inet, $7)"

/* After a cancel, how long to wait for the cancelled query to finish. */
#define CANCEL_DRAIN_MS 1000

struct nk_db {
    PGconn *conn;
    int prepared;
    long long next_attempt_ms; /* no connection attempt before this */
    int lost;                  /* a connection was lost: log the recovery */
    int failing;               /* last attempt failed: log again at debug */
    int pooled;                /* counts in the pool figures */
    int ever_connected;        /* a later connect is a reconnect */
};

static int db_connect(struct nk_db *db);
static void db_drop(struct nk_db *db, const char *why);
static int db_prepare(struct nk_db *db);
static int send_call(struct nk_db *db, const char *const params[DBP_COUNT]);
static int conn_is_stale(struct nk_db *db);
static int wait_result(struct nk_db *db, long long deadline);
static void cancel_query(struct nk_db *db);
static enum db_outcome take_result(struct nk_db *db, long long deadline,
                                   struct db_result *out);
static enum db_outcome failed_result(struct nk_db *db, const PGresult *res,
                                     int after_row);
static enum db_outcome row_to_result(PGresult *res, struct db_result *out);
static enum db_outcome db_call_inner(struct nk_db *db,
                                     const char *const params[DBP_COUNT],
                                     struct db_result *out);
static int connection_error(const char *sqlstate);
static void log_pg_error(int level, const char *event, const char *sqlstate,
                         const char *message);

static volatile long long shutdown_deadline_ms;

/* Pool figures (db_pool_stats), updated with atomics only. */
static long long pool_size;
static long long pool_open;
static long long pool_busy;
static long long pool_waiting;
static long long pool_waits;
static long long pool_wait_us;
static long long pool_wait_timeouts;
static long long pool_rejected;
static long long reconnects;

/* A thread waiting in db_acquire; lives on that thread's stack. */
struct waiter {
    pthread_cond_t cond;
    struct nk_db *handed; /* set by db_release under pool_lock */
    struct waiter *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nk_db **pool_all;  /* every handle, for db_pool_close */
static struct nk_db **pool_free; /* stack of free handles */
static long pool_nfree;
static struct waiter *queue_head; /* oldest waiter */
static struct waiter *queue_tail;
static long queue_len; /* waiters in the queue */

void
db_pool_stats(struct db_pool_stats *out)
{
    out->size = __atomic_load_n(&pool_size, __ATOMIC_RELAXED);
    out->open = __atomic_load_n(&pool_open, __ATOMIC_RELAXED);
    out->busy = __atomic_load_n(&pool_busy, __ATOMIC_RELAXED);
    out->waiting = __atomic_load_n(&pool_waiting, __ATOMIC_RELAXED);
    out->waits = __atomic_load_n(&pool_waits, __ATOMIC_RELAXED);
    out->wait_us = __atomic_load_n(&pool_wait_us, __ATOMIC_RELAXED);
    out->wait_timeouts = __atomic_load_n(&pool_wait_timeouts, __ATOMIC_RELAXED);
    out->rejected = __atomic_load_n(&pool_rejected, __ATOMIC_RELAXED);
    out->reconnects = __atomic_load_n(&reconnects, __ATOMIC_RELAXED);
}

static long long
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
db_pool_init(long size)
{
    long i;

    pool_all = calloc((size_t)size, sizeof(*pool_all));
    pool_free = calloc((size_t)size, sizeof(*pool_free));
    if (pool_all == NULL || pool_free == NULL)
        goto fail;
    for (i = 0; i < size; i++) {
        pool_all[i] = db_new(1);
        if (pool_all[i] == NULL)
            goto fail;
        /* pushed in reverse so handle 0 is used first */
        pool_free[size - 1 - i] = pool_all[i];
    }
    pool_nfree = size;
    __atomic_store_n(&pool_size, size, __ATOMIC_RELAXED);
    return 0;
fail:
    if (pool_all != NULL)
        for (i = 0; i < size; i++)
            db_free(pool_all[i]);
    free(pool_all);
    free(pool_free);
    pool_all = pool_free = NULL;
    return -1;
}

void
db_pool_close(void)
{
    long i, size = (long)__atomic_load_n(&pool_size, __ATOMIC_RELAXED);

    for (i = 0; pool_all != NULL && i < size; i++)
        db_free(pool_all[i]);
    free(pool_all);
    free(pool_free);
    pool_all = pool_free = NULL;
    pool_nfree = 0;
    __atomic_store_n(&pool_size, 0, __ATOMIC_RELAXED);
}

/* Removes w from the queue (pool_lock held). */
static void
queue_remove(struct waiter *w)
{
    struct waiter **pp = &queue_head, *prev = NULL;

    while (*pp != NULL && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = w->next;
    if (queue_tail == w)
        queue_tail = prev;
}

/*
 * Waits (pool_lock held) until a handle is handed to w or the deadline
 * passes, in slices of at most 100 ms so that a shutdown deadline set
 * meanwhile is noticed.
 */
static void
wait_for_handle(struct waiter *w, long long deadline_ms)
{
    while (w->handed == NULL) {
        long long now = nk_now_ms(), until, sd;
        struct timespec ts;

        sd = __atomic_load_n(&shutdown_deadline_ms, __ATOMIC_SEQ_CST);
        if (sd != 0 && sd < deadline_ms)
            deadline_ms = sd;
        if (now >= deadline_ms)
            return;
        until = deadline_ms - now < 100 ? deadline_ms : now + 100;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)((until - now) / 1000);
        ts.tv_nsec += (long)((until - now) % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &pool_lock, &ts);
    }
}

struct nk_db *
db_acquire(long long deadline_ms, long max_waiting)
{
    struct waiter w = {.handed = NULL, .next = NULL};
    pthread_condattr_t attr;
    long long t0;

    pthread_mutex_lock(&pool_lock);
    if (queue_head == NULL && pool_nfree > 0) {
        struct nk_db *db = pool_free[--pool_nfree];

        pthread_mutex_unlock(&pool_lock);
        return db;
    }
    if (queue_len >= max_waiting) {
        /* the queue is long enough: shed now rather than queue */
        pthread_mutex_unlock(&pool_lock);
        __atomic_add_fetch(&pool_rejected, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    queue_len++;
    /* the condition variable's clock must match wait_for_handle's */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (queue_tail != NULL)
        queue_tail->next = &w;
    else
        queue_head = &w;
    queue_tail = &w;
    __atomic_add_fetch(&pool_waiting, 1, __ATOMIC_RELAXED);
    t0 = now_us();
    wait_for_handle(&w, deadline_ms);
    if (w.handed == NULL)
        queue_remove(&w);
    queue_len--;
    pthread_mutex_unlock(&pool_lock);
    pthread_cond_destroy(&w.cond);
    __atomic_sub_fetch(&pool_waiting, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pool_waits, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pool_wait_us, now_us() - t0, __ATOMIC_RELAXED);
    if (w.handed == NULL)
        __atomic_add_fetch(&pool_wait_timeouts, 1, __ATOMIC_RELAXED);
    return w.handed;
}

void
db_release(struct nk_db *db)
{
    struct waiter *w;

    if (db == NULL)
        return;
    pthread_mutex_lock(&pool_lock);
    w = queue_head;
    if (w != NULL) {
        queue_head = w->next;
        if (queue_head == NULL)
            queue_tail = NULL;
        w->handed = db;
        pthread_cond_signal(&w->cond);
    } else {
        pool_free[pool_nfree++] = db;
    }
    pthread_mutex_unlock(&pool_lock);
}

void
db_set_shutdown_deadline(long long deadline_ms)
{
    __atomic_store_n(&shutdown_deadline_ms, deadline_ms, __ATOMIC_SEQ_CST);
}

struct nk_db *
db_new(int pooled)
{
    struct nk_db *db = calloc(1, sizeof(struct nk_db));

    if (db != NULL)
        db->pooled = pooled;
    return db;
}

void
db_free(struct nk_db *db)
{
    if (db == NULL)
        return;
    if (db->conn != NULL) {
        PQfinish(db->conn);
        if (db->pooled)
            __atomic_sub_fetch(&pool_open, 1, __ATOMIC_RELAXED);
    }
    free(db);
}

void
db_result_clear(struct db_result *r)
{
    if (r->res != NULL)
        PQclear(r->res);
    memset(r, 0, sizeof(*r));
}

static void
log_pg_error(int level, const char *event, const char *sqlstate,
             const char *message)
{
    struct nk_log l;
    size_t len = message ? strlen(message) : 0;

    /* libpq messages end with a newline; the sanitizer would show it */
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    log_begin(&l, level, event);
    if (sqlstate != NULL)
        log_str(&l, "sqlstate", sqlstate);
    log_strn(&l, "error", message ? message : "", len);
    log_end(&l);
}

/* Closes a connection that can no longer be trusted. */
static void
db_drop(struct nk_db *db, const char *why)
{
    if (db->conn != NULL) {
        log_pg_error(NK_WARN, "db_connection_lost", NULL,
                     why ? why : PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        if (db->pooled)
            __atomic_sub_fetch(&pool_open, 1, __ATOMIC_RELAXED);
        db->lost = 1;
        /* the first attempt after a loss may happen at once */
        db->next_attempt_ms = 0;
    }
    db->prepared = 0;
}

/* Opens the connection, at most once per DB_RETRY_INTERVAL_MS. */
static int
db_connect(struct nk_db *db)
{
    char timeout[16];
    const char *keys[] = {"dbname", "connect_timeout",
                          "fallback_application_name", NULL};
    const char *vals[] = {g_config.database_url, timeout, "namaskahd", NULL};
    long long now = nk_now_ms();

    if (now < db->next_attempt_ms)
        return -1;
    db->next_attempt_ms = now + g_config.db_retry_interval_ms;
    snprintf(timeout, sizeof(timeout), "%ld", g_config.db_connect_timeout_s);
    /* expand_dbname=1: the URI is expanded, later keys override it */
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        /* one warning per outage and thread, not one per attempt */
        log_pg_error(db->failing ? NK_DEBUG : NK_WARN, "db_connect_failed",
                     NULL,
                     db->conn ? PQerrorMessage(db->conn) : "out of memory");
        db->failing = 1;
        if (db->conn != NULL)
            PQfinish(db->conn);
        db->conn = NULL;
        return -1;
    }
    log_msg(NK_INFO, db->lost ? "db_reconnected" : "db_connected",
            "database connection opened");
    if (db->pooled)
        __atomic_add_fetch(&pool_open, 1, __ATOMIC_RELAXED);
    if (db->ever_connected)
        __atomic_add_fetch(&reconnects, 1, __ATOMIC_RELAXED);
    db->ever_connected = 1;
    db->lost = 0;
    db->failing = 0;
    return 0;
}

static int
db_prepare(struct nk_db *db)
{
    PGresult *res = PQprepare(db->conn, STMT_NAME, STMT_SQL, DBP_COUNT, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok) {
        log_pg_error(NK_ERROR, "db_prepare_failed",
                     PQresultErrorField(res, PG_DIAG_SQLSTATE),
                     PQresultErrorMessage(res));
        if (PQstatus(db->conn) != CONNECTION_OK)
            db_drop(db, "connection lost while preparing");
    }
    PQclear(res);
    db->prepared = ok;
    return ok ? 0 : -1;
}

/* Class 08 (connection exception) and 57P0x (shutdown): the database is
 * going away, not the request at fault. */
static int
connection_error(const char *sqlstate)
{
    if (sqlstate == NULL)
        return 1; /* libpq-side failure (no SQLSTATE from the server) */
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0;
}

static void
cancel_query(struct nk_db *db)
{
    PGcancel *c = PQgetCancel(db->conn);
    char errbuf[256];

    if (c != NULL) {
        PQcancel(c, errbuf, sizeof(errbuf));
        PQfreeCancel(c);
    }
}

/*
 * Waits until the result is complete. Returns 0, -1 when the connection
 * broke, or 1 when the deadline passed.
 */
static int
wait_result(struct nk_db *db, long long deadline)
{
    struct pollfd pfd;
    long long now, sd;
    int n;

    for (;;) {
        if (!PQconsumeInput(db->conn))
            return -1;
        if (!PQisBusy(db->conn))
            return 0;
        now = nk_now_ms();
        sd = __atomic_load_n(&shutdown_deadline_ms, __ATOMIC_SEQ_CST);
        if (sd != 0 && sd < deadline)
            deadline = sd;
        if (now >= deadline)
            return 1;
        pfd.fd = PQsocket(db->conn);
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* short slices so a shutdown deadline set later is noticed */
        n = poll(&pfd, 1, (int)(deadline - now < 100 ? deadline - now : 100));
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/*
 * Reads the call's results up to the end of its implicit transaction: the
 * row arrives with CommandComplete, but the commit happens at Sync, and a
 * deferred constraint, a serialization failure or a crash can still fail it
 * then. Only a NULL from PQgetResult (ReadyForQuery seen) on a healthy,
 * idle connection proves the commit; until then the row acknowledges
 * nothing. Returns DB_OK with the row kept in out, or the failure (the row,
 * if any, is freed).
 */
static enum db_outcome
take_result(struct nk_db *db, long long deadline, struct db_result *out)
{
    PGresult *row = NULL, *res;
    enum db_outcome rc = DB_OK;
    int w, cancelled = 0;

    for (;;) {
        w = wait_result(db, deadline);
        if (w > 0 && !cancelled) {
            /* no answer, or no commit, in time: whatever it did is not
             * acknowledged; the connection is kept if the cancel drains */
            log_msg(NK_WARN, "db_timeout",
                    "no answer in time; query cancelled");
            cancel_query(db);
            cancelled = 1;
            rc = DB_TIMEOUT;
            deadline = nk_now_ms() + CANCEL_DRAIN_MS;
            continue;
        }
        if (w != 0)
            break;
        res = PQgetResult(db->conn);
        if (res == NULL)
            break;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && row == NULL &&
            rc == DB_OK) {
            row = res;
            continue;
        }
        if (rc == DB_OK)
            rc = failed_result(db, res, row != NULL);
        PQclear(res);
    }
    if (w != 0 || PQstatus(db->conn) != CONNECTION_OK ||
        PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        if (rc == DB_OK)
            rc = DB_UNAVAILABLE;
        db_drop(db, cancelled ? "cancelled query did not finish"
                              : "connection lost before the commit was "
                                "confirmed");
    }
    if (rc == DB_OK && row == NULL) {
        log_msg(NK_ERROR, "db_bad_result", "entry function returned no rows");
        rc = DB_BAD_RESULT;
    }
    if (rc == DB_OK)
        rc = row_to_result(row, out);
    if (rc != DB_OK)
        PQclear(row);
    return rc;
}

/*
 * A result that is not the expected row: an error inside the call or at its
 * commit (after_row), or a second row set. Logs it and says what it means.
 */
static enum db_outcome
failed_result(struct nk_db *db, const PGresult *res, int after_row)
{
    const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR) {
        log_msg(NK_ERROR, "db_bad_result",
                "entry function returned more than one result");
        return DB_BAD_RESULT;
    }
    if (PQstatus(db->conn) != CONNECTION_OK || connection_error(sqlstate)) {
        log_pg_error(NK_WARN, after_row ? "db_commit_failed" : "db_call_failed",
                     sqlstate, PQresultErrorMessage(res));
        return DB_UNAVAILABLE;
    }
    if (sqlstate != NULL && strcmp(sqlstate, "26000") == 0)
        db->prepared = 0; /* statement gone (e.g. DISCARD ALL) */
    if (sqlstate != NULL && strcmp(sqlstate, "57014") == 0) {
        /* statement_timeout inside the database */
        log_pg_error(NK_WARN, "db_timeout", sqlstate,
                     PQresultErrorMessage(res));
        return DB_TIMEOUT;
    }
    log_pg_error(NK_ERROR, after_row ? "db_commit_failed" : "db_call_error",
                 sqlstate, PQresultErrorMessage(res));
    return DB_SQL_ERROR;
}

/* The one row of the entry function into out (which then owns res). */
static enum db_outcome
row_to_result(PGresult *res, struct db_result *out)
{
    char *end;
    long status;

    if (PQntuples(res) != 1 || PQnfields(res) != 3 || PQgetisnull(res, 0, 0)) {
        log_msg(NK_ERROR, "db_bad_result",
                "entry function did not return "
                "exactly one row with a status");
        return DB_BAD_RESULT;
    }
    status = strtol(PQgetvalue(res, 0, 0), &end, 10);
    if (*end != '\0' || status < 100 || status > 599) {
        log_msg(NK_ERROR, "db_bad_result", "status out of range");
        return DB_BAD_RESULT;
    }
    out->status = (int)status;
    out->res = res;
    out->headers = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
    out->body = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
    return DB_OK;
}

/*
 * An idle connection has nothing to read (namaskahd never LISTENs) unless
 * the server is closing it: a restart or pg_terminate_backend sends FATAL,
 * then EOF. Checking costs one poll(2) and means the first request after a
 * database restart reconnects instead of failing, which is safe because it
 * has not reached the database yet.
 */
static int
conn_is_stale(struct nk_db *db)
{
    struct pollfd pfd = {PQsocket(db->conn), POLLIN, 0};

    return pfd.fd < 0 || poll(&pfd, 1, 0) != 0;
}

enum db_outcome
db_call(struct nk_db *db, const char *const params[DBP_COUNT],
        struct db_result *out)
{
    enum db_outcome rc;

    if (db->pooled)
        __atomic_add_fetch(&pool_busy, 1, __ATOMIC_RELAXED);
    rc = db_call_inner(db, params, out);
    if (db->pooled)
        __atomic_sub_fetch(&pool_busy, 1, __ATOMIC_RELAXED);
    return rc;
}

/* Sends the call (named statement, prepared first if needed, or unnamed).
 * Returns 1 when sent; 0 when preparing failed (db_prepare decided about
 * the connection) or sending did (the connection is dropped). */
static int
send_call(struct nk_db *db, const char *const params[DBP_COUNT])
{
    if (g_config.db_unnamed_statements) {
        if (PQsendQueryParams(db->conn, STMT_SQL, DBP_COUNT, NULL, params, NULL,
                              NULL, 0))
            return 1;
    } else {
        if (!db->prepared && db_prepare(db) != 0)
            return 0;
        if (PQsendQueryPrepared(db->conn, STMT_NAME, DBP_COUNT, params, NULL,
                                NULL, 0))
            return 1;
    }
    db_drop(db, NULL);
    return 0;
}

static enum db_outcome
db_call_inner(struct nk_db *db, const char *const params[DBP_COUNT],
              struct db_result *out)
{
    memset(out, 0, sizeof(*out));
    if (db->conn != NULL &&
        (PQstatus(db->conn) != CONNECTION_OK || conn_is_stale(db)))
        db_drop(db, "the server closed the connection");
    if (db->conn == NULL && db_connect(db) != 0)
        return DB_UNAVAILABLE;
    if (!send_call(db, params))
        return DB_UNAVAILABLE;
    return take_result(db, nk_now_ms() + g_config.request_timeout_ms, out);
}
