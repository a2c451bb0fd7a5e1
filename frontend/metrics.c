/*
 * metrics.c — Prometheus metrics of namaskahd (see metrics.h).
 *
 * Locking: `stats_lock` guards the per-route request counters and
 * histograms; it is held only to add one observation or to render them into
 * memory, never across I/O. `scrape_lock` guards the scrape's own database
 * connection and is held across that one database call: it serializes
 * scrapes among themselves but no worker thread ever takes it. Pool and
 * in-flight figures are atomics read without any lock.
 *
 * Cardinality: methods are folded into a fixed list, statuses are 100..599,
 * routes are the templates the database names (plus "unmatched", "/health",
 * "/health/ready"); past MAX_ROUTES distinct routes everything more is
 * counted under "other".
 */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "client.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "nk_http.h"
#include "nk_sanitize.h"

#define ROUTE_LABEL_MAX 128
#define MAX_ROUTES 256
#define N_BUCKETS 14
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const double bucket_le[N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                            0.05,  0.1,    0.25,  0.5,  1,
                                            2.5,   5,      7.5,   10};
static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "OTHER"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
#define N_STATUSES 500 /* 100..599 */

/* One route's counters: requests by method and status, and the latency
 * histogram (bucket counts not cumulative; made cumulative when rendered). */
struct route_stats {
    char route[ROUTE_LABEL_MAX];
    unsigned long long *by_method_status; /* N_METHODS * N_STATUSES, lazily */
    unsigned long long bucket[N_BUCKETS];
    unsigned long long count;
    double sum;
};

static int method_index(const char *method);
static struct route_stats *route_find(const char *route);
static void label_value(FILE *f, const char *s);
static void render_requests(FILE *f, const struct route_stats *rs);
static void render_histogram(FILE *f, const struct route_stats *rs);
static void render_frontend(FILE *f, int db_up);
static void render_db(FILE *f, const cJSON *doc);
static void render_db_counter(FILE *f, const cJSON *doc, const char *key,
                              const char *name, const char *label,
                              const char *help);
static cJSON *scrape_database(void);
static int token_ok(const struct mg_connection *conn);
static void send_text(struct mg_connection *conn, int status,
                      const char *extra_headers, const char *body, size_t len,
                      int head);
static int metrics_request(struct mg_connection *conn);
static int metrics_error(struct mg_connection *conn, int status,
                         const char *msg);
static int metrics_log(const struct mg_connection *conn, const char *message);

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_stats routes[MAX_ROUTES + 1]; /* + "other" */
static size_t n_routes;

static pthread_mutex_t scrape_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nk_db *scrape_db;

/* ---- recording ---------------------------------------------------------- */

static int
method_index(const char *method)
{
    size_t i;

    for (i = 0; method != NULL && i < N_METHODS - 1; i++)
        if (strcmp(method, methods[i]) == 0)
            return (int)i;
    return (int)N_METHODS - 1;
}

/* The route's entry, created if new (stats_lock held). */
static struct route_stats *
route_find(const char *route)
{
    size_t i;

    for (i = 0; i < n_routes; i++)
        if (strcmp(routes[i].route, route) == 0)
            return &routes[i];
    if (n_routes == MAX_ROUTES) {
        /* the overflow entry lives past the table */
        snprintf(routes[MAX_ROUTES].route, ROUTE_LABEL_MAX, "%s", "other");
        return &routes[MAX_ROUTES];
    }
    snprintf(routes[n_routes].route, ROUTE_LABEL_MAX, "%s", route);
    return &routes[n_routes++];
}

void
metrics_observe(const char *method, const char *route, int status,
                double seconds)
{
    struct route_stats *rs;
    int m = method_index(method), b;

    if (status < 100 || status > 599)
        status = 500;
    if (seconds < 0)
        seconds = 0;
    /* a label value must be valid UTF-8; routes come from the database */
    if (route == NULL || route[0] == '\0' || strlen(route) >= ROUTE_LABEL_MAX ||
        !nk_utf8_valid(route, strlen(route)))
        route = "invalid";
    pthread_mutex_lock(&stats_lock);
    rs = route_find(route);
    if (rs->by_method_status == NULL)
        rs->by_method_status =
            calloc(N_METHODS * N_STATUSES, sizeof(unsigned long long));
    if (rs->by_method_status != NULL)
        rs->by_method_status[m * N_STATUSES + (status - 100)]++;
    for (b = 0; b < N_BUCKETS; b++)
        if (seconds <= bucket_le[b]) {
            rs->bucket[b]++;
            break;
        }
    rs->count++;
    rs->sum += seconds;
    pthread_mutex_unlock(&stats_lock);
}

/* ---- rendering ---------------------------------------------------------- */

/* A quoted label value: backslash, double quote and newline escaped. */
static void
label_value(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '"')
            fputs("\\\"", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void
render_requests(FILE *f, const struct route_stats *rs)
{
    unsigned long long c;
    int m, s;

    if (rs->by_method_status == NULL)
        return;
    for (m = 0; m < (int)N_METHODS; m++)
        for (s = 0; s < N_STATUSES; s++) {
            c = rs->by_method_status[m * N_STATUSES + s];
            if (c == 0)
                continue;
            fprintf(f, "namaskah_http_requests_total{method=\"%s\",route=",
                    methods[m]);
            label_value(f, rs->route);
            fprintf(f, ",status=\"%d\"} %llu\n", s + 100, c);
        }
}

static void
render_histogram(FILE *f, const struct route_stats *rs)
{
    static const char name[] = "namaskah_http_request_duration_seconds";
    unsigned long long cum = 0;
    int b;

    if (rs->count == 0)
        return;
    for (b = 0; b < N_BUCKETS; b++) {
        cum += rs->bucket[b];
        fprintf(f, "%s_bucket{route=", name);
        label_value(f, rs->route);
        fprintf(f, ",le=\"%g\"} %llu\n", bucket_le[b], cum);
    }
    fprintf(f, "%s_bucket{route=", name);
    label_value(f, rs->route);
    fprintf(f, ",le=\"+Inf\"} %llu\n%s_sum{route=", rs->count, name);
    label_value(f, rs->route);
    fprintf(f, "} %.9g\n%s_count{route=", rs->sum, name);
    label_value(f, rs->route);
    fprintf(f, "} %llu\n", rs->count);
}

/* The frontend's own families (stats_lock taken here, briefly). */
static void
render_frontend(FILE *f, int db_up)
{
    struct db_pool_stats ps;
    size_t i;

    pthread_mutex_lock(&stats_lock);
    fputs("# HELP namaskah_http_requests_total HTTP requests answered by this "
          "frontend, by method, route template and status.\n"
          "# TYPE namaskah_http_requests_total counter\n",
          f);
    for (i = 0; i <= MAX_ROUTES; i++)
        if (i < n_routes || i == MAX_ROUTES)
            render_requests(f, &routes[i]);
    fputs("# HELP namaskah_http_request_duration_seconds Time from request "
          "start to response written, by route template.\n"
          "# TYPE namaskah_http_request_duration_seconds histogram\n",
          f);
    for (i = 0; i <= MAX_ROUTES; i++)
        if (i < n_routes || i == MAX_ROUTES)
            render_histogram(f, &routes[i]);
    pthread_mutex_unlock(&stats_lock);

    db_pool_stats(&ps);
    fprintf(f,
            "# HELP namaskah_http_requests_in_flight Requests being answered "
            "right now.\n"
            "# TYPE namaskah_http_requests_in_flight gauge\n"
            "namaskah_http_requests_in_flight %d\n"
            "# HELP namaskah_http_connections_open Client connections open "
            "on the API listener, each holding a worker thread.\n"
            "# TYPE namaskah_http_connections_open gauge\n"
            "namaskah_http_connections_open %d\n"
            "# HELP namaskah_http_worker_threads Worker threads of the API "
            "listener (WORKER_THREADS).\n"
            "# TYPE namaskah_http_worker_threads gauge\n"
            "namaskah_http_worker_threads %ld\n"
            "# HELP namaskah_db_connections Pooled database connections: open, "
            "and busy inside a call.\n"
            "# TYPE namaskah_db_connections gauge\n"
            "namaskah_db_connections{state=\"open\"} %lld\n"
            "namaskah_db_connections{state=\"busy\"} %lld\n"
            "# HELP namaskah_db_pool_size Database connections the worker "
            "threads share (DB_POOL_SIZE).\n"
            "# TYPE namaskah_db_pool_size gauge\n"
            "namaskah_db_pool_size %lld\n"
            "# HELP namaskah_db_pool_waiting Requests waiting for a free "
            "database connection right now.\n"
            "# TYPE namaskah_db_pool_waiting gauge\n"
            "namaskah_db_pool_waiting %lld\n"
            "# HELP namaskah_db_pool_waits_total Requests that found every "
            "database connection busy and waited.\n"
            "# TYPE namaskah_db_pool_waits_total counter\n"
            "namaskah_db_pool_waits_total %lld\n"
            "# HELP namaskah_db_pool_wait_seconds_total Time requests spent "
            "waiting for a database connection.\n"
            "# TYPE namaskah_db_pool_wait_seconds_total counter\n"
            "namaskah_db_pool_wait_seconds_total %.6f\n"
            "# HELP namaskah_db_pool_timeouts_total Requests answered 503 "
            "server_busy because no connection became free in time.\n"
            "# TYPE namaskah_db_pool_timeouts_total counter\n"
            "namaskah_db_pool_timeouts_total %lld\n"
            "# HELP namaskah_db_pool_rejected_total Requests answered 503 "
            "server_busy at once because DB_POOL_QUEUE_MAX were waiting.\n"
            "# TYPE namaskah_db_pool_rejected_total counter\n"
            "namaskah_db_pool_rejected_total %lld\n"
            "# HELP namaskah_db_reconnects_total Database connections opened "
            "again after one was lost or an attempt failed.\n"
            "# TYPE namaskah_db_reconnects_total counter\n"
            "namaskah_db_reconnects_total %lld\n"
            "# HELP namaskah_db_up Whether the database answered this scrape "
            "(1) or not (0).\n"
            "# TYPE namaskah_db_up gauge\n"
            "namaskah_db_up %d\n"
            "# HELP namaskah_build_info The frontend's version; always 1.\n"
            "# TYPE namaskah_build_info gauge\n"
            "namaskah_build_info{version=\"%s\",civetweb=",
            http_inflight(), http_open_connections(), g_config.worker_threads,
            ps.open, ps.busy, ps.size, ps.waiting, ps.waits,
            (double)ps.wait_us / 1e6, ps.wait_timeouts, ps.rejected,
            ps.reconnects, db_up, NK_FRONTEND_VERSION);
    label_value(f, mg_version());
    fprintf(f, ",libpq=\"%d\"} 1\n", PQlibVersion());
}

/* One database counter family: [{label: "...", "total": N}, ...]. */
static void
render_db_counter(FILE *f, const cJSON *doc, const char *key, const char *name,
                  const char *label, const char *help)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key), *item;

    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    if (!cJSON_IsArray(arr))
        return;
    cJSON_ArrayForEach(item, arr)
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(item, label);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "total");

        if (!cJSON_IsString(l) || !cJSON_IsNumber(t) || t->valuedouble < 0 ||
            !nk_utf8_valid(l->valuestring, strlen(l->valuestring)))
            continue;
        fprintf(f, "%s{%s=", name, label);
        label_value(f, l->valuestring);
        fprintf(f, "} %.17g\n", t->valuedouble);
    }
}

/* The database's families, from the /internal/metrics document. */
static void
render_db(FILE *f, const cJSON *doc)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "signing_keys");
    const cJSON *ver =
        cJSON_GetObjectItemCaseSensitive(doc, "extension_version");

    render_db_counter(f, doc, "auth_failures", "namaskah_auth_failures_total",
                      "reason",
                      "Failed authentications by reason, counted by the "
                      "database for all frontends.");
    render_db_counter(f, doc, "rate_limited", "namaskah_rate_limited_total",
                      "policy",
                      "Requests refused by a rate-limit policy, counted by the "
                      "database for all frontends.");
    render_db_counter(f, doc, "security_events",
                      "namaskah_security_events_total", "type",
                      "Security events by type, counted by the database for "
                      "all frontends.");
    if (cJSON_IsNumber(keys))
        fprintf(f,
                "# HELP namaskah_signing_keys Active JWT signing keys.\n"
                "# TYPE namaskah_signing_keys gauge\n"
                "namaskah_signing_keys %.17g\n",
                keys->valuedouble);
    if (cJSON_IsString(ver) &&
        nk_utf8_valid(ver->valuestring, strlen(ver->valuestring))) {
        fputs("# HELP namaskah_extension_info The database extension's "
              "version; always 1.\n"
              "# TYPE namaskah_extension_info gauge\n"
              "namaskah_extension_info{version=",
              f);
        label_value(f, ver->valuestring);
        fputs("} 1\n", f);
    }
}

/*
 * The one database call of a scrape, on the scrape's own connection.
 * Returns the parsed document (caller frees with cJSON_Delete), or NULL when
 * the database is down or did not answer 200 with a JSON object.
 */
static cJSON *
scrape_database(void)
{
    const char *params[DBP_COUNT];
    struct db_result res;
    char id[NK_REQUEST_ID_LEN];
    cJSON *doc = NULL;
    enum db_outcome rc;

    if (client_request_id(NULL, 0, id) != 0)
        snprintf(id, sizeof(id), "%s", "no-random-id");
    params[DBP_METHOD] = "GET";
    params[DBP_PATH] = "/internal/metrics";
    params[DBP_QUERY] = "";
    params[DBP_HEADERS] = "{}";
    params[DBP_BODY] = NULL;
    params[DBP_CLIENT] = NULL;
    params[DBP_REQUEST_ID] = id;
    pthread_mutex_lock(&scrape_lock);
    if (scrape_db == NULL)
        scrape_db = db_new(0);
    rc = scrape_db ? db_call(scrape_db, params, &res) : DB_UNAVAILABLE;
    pthread_mutex_unlock(&scrape_lock);
    if (rc != DB_OK)
        return NULL;
    if (res.status == 200 && res.body != NULL)
        doc = cJSON_Parse(res.body);
    if (!cJSON_IsObject(doc)) {
        struct nk_log l;

        log_begin(&l, NK_DEBUG, "metrics_db_unusable");
        log_int(&l, "status", res.status);
        log_end(&l);
        cJSON_Delete(doc);
        doc = NULL;
    }
    db_result_clear(&res);
    return doc;
}

/* ---- the listener ------------------------------------------------------- */

/*
 * METRICS_TOKEN: "Authorization: Bearer <token>". The SHA-256 digests are
 * compared in constant time, so neither the content nor the length of the
 * token leaks through timing.
 */
static int
token_ok(const struct mg_connection *conn)
{
    const char *want = g_config.metrics_token;
    const char *auth = mg_get_header(conn, "Authorization");
    unsigned char a[32], b[32];
    unsigned int la = 0, lb = 0;
    int ok;

    if (want == NULL)
        return 1;
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    auth += 7;
    if (EVP_Digest(auth, strlen(auth), a, &la, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(want, strlen(want), b, &lb, EVP_sha256(), NULL) != 1)
        return 0;
    ok = la == 32 && lb == 32 && CRYPTO_memcmp(a, b, 32) == 0;
    OPENSSL_cleanse(b, sizeof(b));
    return ok;
}

static void
send_text(struct mg_connection *conn, int status, const char *extra_headers,
          const char *body, size_t len, int head)
{
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %s\r\n"
              "Content-Length: %zu\r\n"
              "Cache-Control: no-store\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "%s"
              "Connection: close\r\n\r\n",
              status, nk_http_reason(status),
              status == 200 ? CONTENT_TYPE : "text/plain; charset=utf-8", len,
              extra_headers ? extra_headers : "");
    if (!head && len > 0)
        mg_write(conn, body, len);
}

static int
metrics_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *method = ri->request_method ? ri->request_method : "";
    int head = strcmp(method, "HEAD") == 0;
    char *text = NULL;
    size_t len = 0;
    cJSON *doc;
    FILE *f;

    if (ri->local_uri == NULL || strcmp(ri->local_uri, "/metrics") != 0) {
        send_text(conn, 404, NULL, "not found\n", 10, head);
        return 404;
    }
    if (strcmp(method, "GET") != 0 && !head) {
        send_text(conn, 405, "Allow: GET, HEAD\r\n", "method not allowed\n", 19,
                  0);
        return 405;
    }
    if (!token_ok(conn)) {
        send_text(conn, 401, "WWW-Authenticate: Bearer realm=\"metrics\"\r\n",
                  "unauthorized\n", 13, head);
        return 401;
    }
    /* the database first, with no lock of the request path held */
    doc = scrape_database();
    f = open_memstream(&text, &len);
    if (f == NULL) {
        cJSON_Delete(doc);
        send_text(conn, 500, NULL, "out of memory\n", 14, head);
        return 500;
    }
    render_frontend(f, doc != NULL);
    if (doc != NULL)
        render_db(f, doc);
    cJSON_Delete(doc);
    if (fclose(f) != 0 || text == NULL) {
        free(text);
        send_text(conn, 500, NULL, "out of memory\n", 14, head);
        return 500;
    }
    send_text(conn, 200, NULL, text, len, head);
    free(text);
    return 200;
}

/* civetweb's own errors on the metrics listener, as plain text. */
static int
metrics_error(struct mg_connection *conn, int status, const char *msg)
{
    (void)msg;
    send_text(conn, status, NULL, "error\n", 6, 0);
    return 0;
}

static int
metrics_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_msg(NK_WARN, "civetweb_metrics", message);
    return 1;
}

struct mg_context *
metrics_start(void)
{
    struct mg_context *ctx;
    struct mg_callbacks cb;
    struct nk_log l;
    char errtext[256];
    /* two threads: a scrape and a stray connection; nothing from disk */
    const char *options[] = {"listening_ports",
                             g_config.metrics_ports,
                             "num_threads",
                             "2",
                             "enable_keep_alive",
                             "no",
                             "request_timeout_ms",
                             "15000",
                             "max_request_size",
                             "8192",
                             "decode_url",
                             "no",
                             NULL};

    if (g_config.metrics_port == 0)
        return NULL;
    memset(&cb, 0, sizeof(cb));
    cb.begin_request = metrics_request;
    cb.http_error = metrics_error;
    cb.log_message = metrics_log;
    ctx = http_listener_start(&cb, options, errtext, sizeof(errtext));
    log_begin(&l, ctx ? NK_INFO : NK_ERROR,
              ctx ? "metrics_start" : "metrics_start_failed");
    log_str(&l, "listen", g_config.metrics_ports);
    log_str(&l, "token", g_config.metrics_token ? "required" : "none");
    if (ctx == NULL)
        log_str(&l, "error", errtext[0] ? errtext : "mg_start failed");
    log_end(&l);
    return ctx;
}

void
metrics_stop(struct mg_context *ctx)
{
    if (ctx != NULL)
        mg_stop(ctx);
    pthread_mutex_lock(&scrape_lock);
    db_free(scrape_db);
    scrape_db = NULL;
    pthread_mutex_unlock(&scrape_lock);
}
