/*
 * http.c — what namaskahd does with a request.
 *
 * civetweb hands every request to http_begin_request (the "handle
 * everything" callback, so civetweb itself never serves a file). From there:
 *   1. request id and effective client address (client.c);
 *   2. the path is percent-decoded here (civetweb runs with decode_url=no so
 *      that %00 is seen, not silently cut) by the extension's decoder
 *      (nk_percent_decode, core/nk_http.c), and the query is decoded the
 *      same way to be checked; the head's framing is checked (head.c: an
 *      ambiguous head is 400/431 and closes the connection); a '%' not
 *      followed by two hex digits in the path or query, or a path or query
 *      that is not UTF-8 without NUL, is 400 invalid_encoding (under /api/
 *      still reported to the database for its audit record, see
 *      answer_transport_error; likewise 408, 413, invalid headers or body,
 *      and calls whose transaction failed);
 *   3. dispatch on the decoded path: /health (no database), /health/ready and
 *      /api/... (one call of namaskah.handle_request, db.c), / and
 *      /console/... (the web console, embedded: console.c; no database, no
 *      file system), else 404;
 *   4. for a database call: headers to JSON (each value checked), the body
 *      read under MAX_BODY_BYTES (else 413 without reading it), the call, and
 *      the database's status, headers and body relayed after checking every
 *      header it supplies;
 *   5. every response gets the security headers and X-Request-Id, one
 *      access-log line is written and the request is counted (metrics.c).
 *      Status lines and namaskahd's own problem documents come from the
 *      HTTP vocabulary the extension uses too (core/nk_http.c: reason
 *      phrases, problem titles, the problem's bytes), never from civetweb's
 *      own texts.
 * Requests civetweb refuses itself reach http_error, and those it would
 * close on without a word ("OPTIONS *", absolute-form targets for another
 * server) http_connection_close: both are answered, logged and audited
 * like the rest (answer_refused).
 * Client headers named x-namaskah-* (but the webhook signature pair) are
 * never forwarded: that prefix is namaskahd's channel to the database.
 * A response that leaves part of a request body unread closes the
 * connection, so civetweb never drains an unbounded body after it.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <civetweb.h>
#include <cjson/cJSON.h>

#include "client.h"
#include "config.h"
#include "console.h"
#include "db.h"
#include "head.h"
#include "log.h"
#include "metrics.h"
#include "nk_http.h"
#include "nk_json.h"
#include "nk_sanitize.h"
#include "sbuf.h"
#include "transport.h"
#include "worker.h"

struct out_header {
    const char *name;
    const char *value;
};

#define MAX_OUT_HEADERS 40
#define ROUTE_MAX 128

/* One request in flight (on the worker's stack). */
struct request {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    long long start_ms;
    char id[NK_REQUEST_ID_LEN];
    char client[NK_IP_STRLEN];
    int peer_trusted;
    char *path;           /* decoded path (malloc'd), NULL until decoded */
    size_t path_len;      /* its length (it may hold NUL bytes) */
    struct timespec t0;   /* CLOCK_MONOTONIC at the start, for metrics */
    const char *instance; /* what problem bodies show as "instance" */
    char route[ROUTE_MAX];
    int status;
    long long bytes;
    int head;
    int body_consumed; /* the whole request body has been read */
    int must_close;    /* what follows on the connection cannot be trusted */
    int in_error_cb;   /* answering from civetweb's http_error callback */
    const char *csp;   /* Content-Security-Policy; NULL: the API's */
};

/* Every API answer's policy: nothing may load, nothing may frame it. */
#define API_CSP "default-src 'none'; frame-ancestors 'none'"

/* The console's hashed assets never change under their name. */
#define IMMUTABLE_CACHE "public, max-age=31536000, immutable"

static char *decode_copy(const char *in, size_t len, unsigned flags,
                         long *out_len);
static void copy_cut(char *dst, size_t size, const char *src);
static int request_has_body(const struct mg_request_info *ri);
static long long body_length(const struct mg_request_info *ri,
                             struct mg_connection *conn);
static void force_close(struct mg_connection *conn);
static int client_keeps_alive(const struct mg_request_info *ri,
                              struct mg_connection *c);
static int threads_scarce(void);
/* A request body that arrived whole but is not UTF-8 text (besides the
 * HTTP statuses read_body answers with). */
#define BODY_NOT_UTF8 (-1)

/* send_problem's headers: Content-Type, then Retry-After for 503 only. */
#define HEADERS_WITH_RETRY 2

static int send_response(struct request *r, int status,
                         const struct out_header *h, size_t n, const char *body,
                         size_t body_len);
static int send_problem(struct request *r, int status, const char *code,
                        const char *detail);
static void access_log(const struct request *r);
static int build_headers_json(const struct mg_request_info *ri, struct sbuf *b);
static int read_body(struct request *r, char **body, size_t *len);
static int relay(struct request *r, const struct db_result *res, int ready);
static int ready_version_ok(const char *body);
static int header_name_ok(const char *s);
static int header_value_ok(const char *s);
static int header_reserved(const char *name);
static int header_internal(const char *name);
static int ready_with_pool(const struct db_result *res, struct sbuf *out);
static int answer_transport_error(struct request *r, int status,
                                  const char *code, const char *detail,
                                  int headers_parsed);
static double elapsed_seconds(const struct request *r);
static void finish_request(const struct request *r);
static int handle_health(struct request *r);
static int console_method_refused(struct request *r);
static int handle_console(struct request *r);
static int redirect_to_console(struct request *r);
static int handle_forward(struct request *r, int ready);
static int dispatch(struct request *r);
static int refuse_framing(struct request *r, enum nk_framing verdict);
static void request_init(struct request *r, struct mg_connection *conn);
static int method_refused_by_civetweb(const char *method);
static int head_timed_out(void);
static void answer_options_asterisk(struct mg_connection *conn);
static void civetweb_refusal(const struct mg_request_info *ri, int status,
                             const char *msg, int *out_status,
                             const char **code, const char **detail);
static void request_init_outside(struct request *r, struct mg_connection *conn);
static void target_path(const char *target, char *out, size_t out_size);
static void answer_refused(struct mg_connection *conn, int status,
                           const char *code, const char *detail);

static int inflight; /* requests being answered (atomic) */
static int draining; /* shutting down: close every connection (atomic) */
static int open_connections; /* API connections open (atomic) */

/*
 * Past this share of WORKER_THREADS connections open (in percent), every
 * response closes its connection: an idle keep-alive connection holds a
 * worker thread, and under pressure the thread is worth more than the
 * client's saved handshake.
 */
#define KEEP_ALIVE_MAX_LOAD_PERCENT 75

/* Set while force_close() provokes civetweb's close-after-response path. */
static __thread int closing_trick;

/*
 * The connection this worker thread serves (civetweb gives each connection
 * one thread from accept to close): when its next head began, whether the
 * current request was answered outside http_begin_request, and how many
 * requests it has had.
 */
static __thread struct {
    long long head_started_ms;
    int answered;
    long requests;
} conn_state;

/* How much sooner than civetweb's deadline a cut head still counts as cut
 * by it (its clock and ours are read at different moments). */
#define HEAD_DEADLINE_SLACK_MS 100

/*
 * Percent-decodes in[0..len) with nk_percent_decode (strict: a '%' not
 * followed by two hex digits refuses the whole input) into a new
 * NUL-terminated string (caller frees; NULL when out of memory). *out_len is
 * the decoded length (it may hold NUL bytes), or -1 when the input was
 * refused: the string is then a copy of in, undecoded.
 */
static char *
decode_copy(const char *in, size_t len, unsigned flags, long *out_len)
{
    char *out = malloc(len + 1);

    if (out == NULL)
        return NULL;
    *out_len = nk_percent_decode(out, in, len, flags);
    if (*out_len < 0)
        memcpy(out, in, len);
    out[*out_len < 0 ? len : (size_t)*out_len] = '\0';
    return out;
}

/* Copies src into dst, cut to size - 1 bytes (the log sanitizer copes with
 * a cut UTF-8 sequence). */
static void
copy_cut(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- responses -------------------------------------------------------- */

static int
request_has_body(const struct mg_request_info *ri)
{
    const char *te = NULL;
    int i;

    for (i = 0; i < ri->num_headers; i++)
        if (strcasecmp(ri->http_headers[i].name, "Transfer-Encoding") == 0)
            te = ri->http_headers[i].value;
    return ri->content_length > 0 ||
           (te != NULL && strcasecmp(te, "identity") != 0);
}

/* The request's body length for transport_head_begin: -1 when chunked. */
static long long
body_length(const struct mg_request_info *ri, struct mg_connection *conn)
{
    if (mg_get_header(conn, "Transfer-Encoding") != NULL)
        return -1;
    return ri->content_length > 0 ? ri->content_length : 0;
}

/*
 * Makes civetweb close the connection after this response instead of
 * reading (discarding) the rest of the request body, which could be of any
 * size. civetweb has no public call for that; its default error path sets
 * the flag, and with a response already sent and a no-body status (304) it
 * writes nothing more. http_error() lets it through while closing_trick is
 * set.
 */
static void
force_close(struct mg_connection *conn)
{
    closing_trick = 1;
    mg_send_http_error(conn, 304, "%s", "");
    closing_trick = 0;
}

/* What civetweb will do after this response (its should_keep_alive). */
static int
client_keeps_alive(const struct mg_request_info *ri, struct mg_connection *c)
{
    const char *hdr = mg_get_header(c, "Connection");

    if (hdr != NULL)
        return strcasestr(hdr, "keep-alive") != NULL;
    return ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
}

/* Whether open connections leave too few worker threads for keep-alive. */
static int
threads_scarce(void)
{
    long open = __atomic_load_n(&open_connections, __ATOMIC_RELAXED);

    return open * 100 >= g_config.worker_threads * KEEP_ALIVE_MAX_LOAD_PERCENT;
}

/*
 * Writes the whole response (status line, headers, body) with one mg_write.
 * The head is built here rather than with mg_response_header_*, which
 * refuse to work once an interim "100 Continue" has been written.
 */
static int
send_response(struct request *r, int status, const struct out_header *h,
              size_t n, const char *body, size_t body_len)
{
    int has_cache_control = 0, close_after;
    int no_body = status < 200 || status == 204 || status == 304;
    char line[160], date[64];
    struct sbuf b = {0};
    time_t now = time(NULL);
    struct tm tm;
    size_t i;

    close_after = r->in_error_cb || r->must_close ||
                  (!r->body_consumed && request_has_body(r->ri)) ||
                  __atomic_load_n(&draining, __ATOMIC_SEQ_CST) ||
                  threads_scarce();
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
             nk_http_reason(status));
    sb_addz(&b, line);
    for (i = 0; i < n; i++) {
        sb_addz(&b, h[i].name);
        sb_addz(&b, ": ");
        sb_addz(&b, h[i].value);
        sb_addz(&b, "\r\n");
        if (strcasecmp(h[i].name, "Cache-Control") == 0)
            has_cache_control = 1;
    }
    sb_addz(&b, "X-Content-Type-Options: nosniff\r\n"
                "Content-Security-Policy: ");
    sb_addz(&b, r->csp != NULL ? r->csp : API_CSP);
    sb_addz(&b, "\r\n"
                "X-Frame-Options: DENY\r\n"
                "Referrer-Policy: no-referrer\r\n");
    if (!has_cache_control)
        sb_addz(&b, "Cache-Control: no-store\r\n");
    sb_addz(&b, "X-Request-Id: ");
    sb_addz(&b, r->id);
    sb_addz(&b, "\r\n");
    if (!no_body) {
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n", body_len);
        sb_addz(&b, line);
    }
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    sb_addz(&b, date);
    sb_addz(&b, close_after || !client_keeps_alive(r->ri, r->conn)
                    ? "Connection: close\r\n\r\n"
                    : "Connection: keep-alive\r\n\r\n");
    r->status = status;
    r->bytes = 0;
    if (!r->head && !no_body && body_len > 0) {
        sb_add(&b, body, body_len);
        r->bytes = (long long)body_len;
    }
    if (b.failed) {
        r->bytes = 0;
        close_after = 1;
    } else {
        mg_write(r->conn, b.p, b.len);
    }
    free(b.p);
    if (close_after && !r->in_error_cb)
        force_close(r->conn);
    return status;
}

/*
 * namaskahd's own problem document: the bytes namaskah.problem_body would
 * write for it (nk_problem_json), so it does not matter which side answers.
 */
static int
send_problem(struct request *r, int status, const char *code,
             const char *detail)
{
    struct out_header h[2] = {
        {"Content-Type", "application/problem+json; charset=utf-8"},
        {"Retry-After", "1"}};
    const char *inst = r->instance ? r->instance : "";
    size_t len = nk_problem_json(NULL, 0, status, code, detail, inst, r->id);
    char *body = malloc(len + 1);
    int rc;

    if (body == NULL)
        return send_response(r, 500, h, 1, "", 0);
    nk_problem_json(body, len + 1, status, code, detail, inst, r->id);
    rc = send_response(r, status, h, status == 503 ? HEADERS_WITH_RETRY : 1,
                       body, len);
    free(body);
    return rc;
}

static double
elapsed_seconds(const struct request *r)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - r->t0.tv_sec) +
           (double)(now.tv_nsec - r->t0.tv_nsec) / 1e9;
}

/* Every answered request: its access-log line and its metrics. */
static void
finish_request(const struct request *r)
{
    access_log(r);
    metrics_observe(r->ri ? r->ri->request_method : NULL, r->route, r->status,
                    elapsed_seconds(r));
}

static void
access_log(const struct request *r)
{
    struct nk_log l;

    log_begin(&l, NK_INFO, "request");
    log_str(&l, "request_id", r->id);
    log_str(&l, "method",
            r->ri && r->ri->request_method ? r->ri->request_method : "");
    log_str(&l, "route", r->route);
    log_int(&l, "status", r->status);
    log_int(&l, "duration_ms", nk_now_ms() - r->start_ms);
    log_int(&l, "bytes", r->bytes);
    log_str(&l, "client", r->client);
    log_end(&l);
}

/* ---- request parts ---------------------------------------------------- */

/*
 * The request headers as one JSON object: lower-case name -> value, repeated
 * headers joined with ", ". Returns -1 when a name or value is not UTF-8
 * without NUL.
 */
static int
build_headers_json(const struct mg_request_info *ri, struct sbuf *b)
{
    int i, j, first = 1;

    sb_addz(b, "{");
    for (i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value;
        struct sbuf joined = {0};
        char *lower;
        size_t k, nlen = strlen(name);
        int seen = 0;

        if (!nk_utf8_valid(name, nlen) || !nk_utf8_valid(value, strlen(value)))
            return -1;
        if (header_internal(name))
            continue; /* only namaskahd may set these */
        for (j = 0; j < i && !seen; j++)
            seen = strcasecmp(ri->http_headers[j].name, name) == 0;
        if (seen)
            continue;
        sb_addz(&joined, value);
        for (j = i + 1; j < ri->num_headers; j++)
            if (strcasecmp(ri->http_headers[j].name, name) == 0) {
                if (!nk_utf8_valid(ri->http_headers[j].value,
                                   strlen(ri->http_headers[j].value))) {
                    free(joined.p);
                    return -1;
                }
                sb_addz(&joined, ", ");
                sb_addz(&joined, ri->http_headers[j].value);
            }
        lower = strdup(name);
        if (lower == NULL || joined.failed) {
            free(lower);
            free(joined.p);
            b->failed = 1;
            return 0;
        }
        for (k = 0; k < nlen; k++)
            if (lower[k] >= 'A' && lower[k] <= 'Z')
                lower[k] = (char)(lower[k] - 'A' + 'a');
        if (!first)
            sb_addz(b, ",");
        first = 0;
        sb_json(b, lower, nlen);
        sb_addz(b, ":");
        sb_json(b, joined.p ? joined.p : "", joined.len);
        free(lower);
        free(joined.p);
    }
    sb_addz(b, "}");
    return 0;
}

/*
 * Reads the request body into *body (malloc'd, NUL-terminated; caller
 * frees) when there is one. Returns 0, 413 (over MAX_BODY_BYTES: a declared
 * length is refused before reading anything), 408 (not all there within
 * REQUEST_TIMEOUT_MS of the head) or 400 (cut short).
 */
static int
read_body(struct request *r, char **body, size_t *len)
{
    const struct mg_request_info *ri = r->ri;
    size_t cap = (size_t)g_config.max_body_bytes, size, got = 0;
    const char *expect = mg_get_header(r->conn, "Expect");
    long long declared = ri->content_length, deadline;
    char *buf;
    int n = 0;

    *body = NULL;
    *len = 0;
    if (!request_has_body(ri)) {
        r->body_consumed = 1;
        return 0;
    }
    if (declared > (long long)cap)
        return 413;
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
        ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0)
        mg_printf(r->conn, "HTTP/1.1 100 %s\r\n\r\n", nk_http_reason(100));
    /* chunked: read at most cap + 1 bytes, enough to know it is too big */
    size = declared >= 0 ? (size_t)declared : cap + 1;
    buf = malloc(size + 1);
    if (buf == NULL)
        return 500;
    /* the whole body within REQUEST_TIMEOUT_MS of the head (transport.c) */
    deadline = r->start_ms + g_config.request_timeout_ms;
    transport_set_deadline(deadline);
    while (got < size) {
        n = mg_read(r->conn, buf + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    transport_clear_deadline();
    buf[got] = '\0';
    /* a client that went silent ends civetweb's read at its own timeout,
     * past the deadline, with nothing for recv to refuse */
    if (transport_deadline_hit() ||
        (n <= 0 && got < size && nk_now_ms() >= deadline)) {
        free(buf);
        return 408;
    }
    if (n < 0) {
        /* a broken chunk or a connection lost mid-body: never a body */
        free(buf);
        return 400;
    }
    if (got > cap) {
        free(buf);
        return 413;
    }
    if (declared >= 0 && got != (size_t)declared) {
        free(buf);
        return 400;
    }
    if (declared < 0) {
        char probe;

        /* a chunked body that ended exactly at the buffer is complete only
         * if nothing follows */
        if (got == size && mg_read(r->conn, &probe, 1) > 0) {
            free(buf);
            return 413;
        }
    }
    r->body_consumed = 1;
    *body = buf;
    *len = got;
    return 0;
}

/* ---- relaying the database's answer ----------------------------------- */

/* RFC 9110 token: !#$%&'*+-.^_`|~ digits letters. */
static int
header_name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') ||
              strchr("!#$%&'*+-.^_`|~", s[i]) != NULL))
            return 0;
    return i > 0 && i <= 128;
}

static int
header_value_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL && strlen(s) <= 8192;
}

/* Headers namaskahd sets itself (framing, and its security headers). */
static int
header_reserved(const char *name)
{
    static const char *const names[] = {"content-length",
                                        "transfer-encoding",
                                        "connection",
                                        "keep-alive",
                                        "upgrade",
                                        "trailer",
                                        "te",
                                        "date",
                                        "x-request-id",
                                        "x-content-type-options",
                                        "content-security-policy",
                                        "x-frame-options",
                                        "referrer-policy"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/*
 * x-namaskah-* names are the frontend's channel to the database (such as
 * x-namaskah-transport-error), so a client's are dropped before forwarding.
 * The exceptions are the two headers a webhook provider signs its calls
 * with (82_webhooks.sql): they come from clients by design.
 */
static int
header_internal(const char *name)
{
    return strncasecmp(name, "x-namaskah-", 11) == 0 &&
           strcasecmp(name, "x-namaskah-timestamp") != 0 &&
           strcasecmp(name, "x-namaskah-signature") != 0;
}

/*
 * /health/ready: the database's JSON object with this frontend's pool state
 * added as "pool" (counts only). Writes the new body to out; returns 0, or
 * -1 when the body is not a JSON object (then it is relayed as it is).
 */
static int
ready_with_pool(const struct db_result *res, struct sbuf *out)
{
    cJSON *doc = res->body ? cJSON_Parse(res->body) : NULL;
    struct db_pool_stats ps;
    size_t len;
    char pool[160];
    int has_members;

    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return -1;
    }
    has_members = doc->child != NULL;
    cJSON_Delete(doc);
    /* the database's bytes are kept (its escaping); only the end changes */
    len = strlen(res->body);
    while (len > 0 && strchr(" \t\r\n", res->body[len - 1]) != NULL)
        len--;
    if (len == 0 || res->body[len - 1] != '}')
        return -1;
    db_pool_stats(&ps);
    snprintf(pool, sizeof(pool),
             "%s\"pool\":{\"size\":%lld,\"open\":%lld,\"busy\":%lld,"
             "\"waiting\":%lld}}",
             has_members ? "," : "", ps.size, ps.open, ps.busy, ps.waiting);
    sb_add(out, res->body, len - 1);
    sb_addz(out, pool);
    return out->failed ? -1 : 0;
}

/* /health/ready: the body's extension_version must be ours. */
static int
ready_version_ok(const char *body)
{
    cJSON *doc = body ? cJSON_Parse(body) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "extension_version");
    int ok =
        cJSON_IsString(v) && strcmp(v->valuestring, NK_EXTENSION_VERSION) == 0;

    cJSON_Delete(doc);
    return ok;
}

static int
relay(struct request *r, const struct db_result *res, int ready)
{
    struct out_header h[MAX_OUT_HEADERS];
    cJSON *doc = NULL;
    const cJSON *item, *obj;
    struct sbuf ready_body = {0};
    size_t n = 0;
    int has_type = 0, rc;
    struct nk_log l;

    if (ready && res->status == 200 && !ready_version_ok(res->body)) {
        log_msg(NK_WARN, "ready_version_mismatch",
                "extension_version is not " NK_EXTENSION_VERSION);
        return send_problem(r, 503, "database_unavailable",
                            "The database extension is not at the version "
                            "this frontend needs.");
    }
    if (res->headers != NULL) {
        doc = cJSON_Parse(res->headers);
        if (!cJSON_IsObject(doc))
            log_msg(NK_WARN, "db_headers_invalid",
                    "headers returned by the database are not an object");
    }
    obj = cJSON_IsObject(doc) ? doc : NULL;
    cJSON_ArrayForEach(item, obj)
    {
        const char *name = item->string;

        if (name != NULL && strcasecmp(name, "x-namaskah-route") == 0) {
            if (cJSON_IsString(item) && header_value_ok(item->valuestring))
                copy_cut(r->route, sizeof(r->route), item->valuestring);
            continue;
        }
        if (name == NULL || !header_name_ok(name) || !cJSON_IsString(item) ||
            !header_value_ok(item->valuestring) || n == MAX_OUT_HEADERS) {
            log_begin(&l, NK_WARN, "db_header_dropped");
            log_str(&l, "request_id", r->id);
            log_str(&l, "header", name ? name : "");
            log_end(&l);
            continue;
        }
        if (header_reserved(name))
            continue;
        if (strcasecmp(name, "Content-Type") == 0)
            has_type = 1;
        h[n].name = name;
        h[n].value = item->valuestring;
        n++;
    }
    if (!has_type && res->body != NULL && n < MAX_OUT_HEADERS) {
        h[n].name = "Content-Type";
        h[n].value = "application/json; charset=utf-8";
        n++;
    }
    if (ready && res->status == 200 && ready_with_pool(res, &ready_body) == 0)
        rc = send_response(r, res->status, h, n, ready_body.p, ready_body.len);
    else
        rc = send_response(r, res->status, h, n, res->body ? res->body : "",
                           res->body ? strlen(res->body) : 0);
    free(ready_body.p);
    cJSON_Delete(doc);
    return rc;
}

/* ---- handlers --------------------------------------------------------- */

/*
 * A pooled database handle, waiting for one at most DB_POOL_TIMEOUT_MS;
 * NULL when the pool stayed busy that long (or shutdown cut the wait), or
 * at once when DB_POOL_QUEUE_MAX requests are waiting already.
 */
static struct nk_db *
acquire_db(void)
{
    return db_acquire(nk_now_ms() + g_config.db_pool_timeout_ms,
                      g_config.db_pool_queue_max);
}

/*
 * A request under /api/ that namaskahd refuses itself (invalid_encoding,
 * payload_too_large) still gets its audit record: the database is told
 * through x-namaskah-transport-error (a header no client can send, see
 * header_internal) and answers the same problem, which is relayed. The path
 * and User-Agent go through the log sanitizer first, so they are valid
 * UTF-8 text; the User-Agent only when the headers were parsed. When the
 * database cannot answer, or answers another status, namaskahd's own
 * problem goes out as before.
 */
static int
answer_transport_error(struct request *r, int status, const char *code,
                       const char *detail, int headers_parsed)
{
    struct nk_db *db;
    const char *ua =
        headers_parsed ? mg_get_header(r->conn, "User-Agent") : NULL;
    const char *params[DBP_COUNT];
    char path[1024], agent[512], method[64];
    struct sbuf headers = {0};
    const char *m;
    struct db_result res;
    int rc = 0;

    /* the API's transport errors, and (from http_error) requests too
     * malformed to name a target */
    if (r->path == NULL ||
        (strncmp(r->path, "/api/", 5) != 0 && !r->in_error_cb))
        return send_problem(r, status, code, detail);
    nk_sanitize_log(path, sizeof(path), r->path, r->path_len);
    sb_addz(&headers, "{\"x-namaskah-transport-error\":");
    sb_json(&headers, code, strlen(code));
    sb_addz(&headers, ",\"x-namaskah-transport-detail\":");
    sb_json(&headers, detail, strlen(detail));
    if (ua != NULL) {
        nk_sanitize_log(agent, sizeof(agent), ua, strlen(ua));
        sb_addz(&headers, ",\"user-agent\":");
        sb_json(&headers, agent, strlen(agent));
    }
    sb_addz(&headers, "}");
    m = r->ri->request_method;
    nk_sanitize_log(method, sizeof(method), m ? m : "", m ? strlen(m) : 0);
    params[DBP_METHOD] = method;
    params[DBP_PATH] = path;
    params[DBP_QUERY] = "";
    params[DBP_HEADERS] = headers.p;
    params[DBP_BODY] = NULL;
    params[DBP_CLIENT] = r->client;
    params[DBP_REQUEST_ID] = r->id;
    if (!headers.failed && (db = acquire_db()) != NULL) {
        enum db_outcome outcome = db_call(db, params, &res);

        db_release(db);
        if (outcome == DB_OK) {
            if (res.status == status)
                rc = relay(r, &res, 0);
            db_result_clear(&res);
        }
    }
    free(headers.p);
    return rc != 0 ? rc : send_problem(r, status, code, detail);
}

static int
handle_health(struct request *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    struct out_header h = {"Content-Type", "application/json; charset=utf-8"};

    snprintf(r->route, sizeof(r->route), "%s", "/health");
    return send_response(r, 200, &h, 1, body, sizeof(body) - 1);
}

/*
 * Only GET and HEAD reach the console; anything else is 405 naming them.
 * Returns 0 when the method is one of them.
 */
static int
console_method_refused(struct request *r)
{
    const char *m = r->ri->request_method;
    struct out_header h[2] = {
        {"Content-Type", "application/problem+json; charset=utf-8"},
        {"Allow", "GET, HEAD"}};
    size_t len;
    char body[512];

    if (m != NULL && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0))
        return 0;
    len = nk_problem_json(body, sizeof(body), 405, "method_not_allowed",
                          "The console answers GET and HEAD only.",
                          r->instance ? r->instance : "", r->id);
    if (len >= sizeof(body))
        return send_problem(r, 405, "method_not_allowed",
                            "The console answers GET and HEAD only.");
    return send_response(r, 405, h, 2, body, len);
}

/* "/" and "/console": the console's document is at /console/. */
static int
redirect_to_console(struct request *r)
{
    struct out_header h = {"Location", CONSOLE_PREFIX};
    int rc;

    snprintf(r->route, sizeof(r->route), "%s", "/console");
    if ((rc = console_method_refused(r)) != 0)
        return rc;
    return send_response(r, 302, &h, 1, "", 0);
}

/*
 * /console/...: an embedded asset. The document is never stored (it names
 * the current hashed assets, and a stale copy would name gone ones); the
 * hashed assets are cacheable for good. The assets carry the console's
 * policy (CONSOLE_CSP); refusals are problem documents under the API's.
 */
static int
handle_console(struct request *r)
{
    const struct console_asset *a;
    struct out_header h[2] = {{"Content-Type", NULL},
                              {"Cache-Control", "no-store"}};
    int rc;

    /* one metrics label for the whole console, whatever path was asked */
    snprintf(r->route, sizeof(r->route), "%s", "/console");
    if ((rc = console_method_refused(r)) != 0)
        return rc;
    a = console_find(r->path);
    if (a == NULL || strlen(r->path) != r->path_len)
        return send_problem(r, 404, "not_found",
                            "No resource exists at this path.");
    r->csp = CONSOLE_CSP;
    h[0].value = a->content_type;
    if (a->immutable)
        h[1].value = IMMUTABLE_CACHE;
    return send_response(r, 200, h, 2, (const char *)a->body, a->len);
}

/* /api/... and /health/ready: one call of namaskah.handle_request. */
static int
handle_forward(struct request *r, int ready)
{
    const struct mg_request_info *ri = r->ri;
    struct nk_db *db;
    enum db_outcome outcome;
    const char *params[DBP_COUNT];
    struct db_result res;
    struct sbuf headers = {0};
    char *body = NULL;
    size_t body_len = 0;
    int rc;

    if (ready)
        snprintf(r->route, sizeof(r->route), "%s", "/health/ready");
    if (build_headers_json(ri, &headers) != 0) {
        free(headers.p);
        return answer_transport_error(
            r, 400, "invalid_encoding",
            "A request header is not valid UTF-8 text.", 1);
    }
    rc = read_body(r, &body, &body_len);
    if (rc == 0 && headers.failed)
        rc = 500;
    if (rc == 0 && !nk_utf8_valid(body, body_len))
        rc = BODY_NOT_UTF8;
    if (rc != 0) {
        free(headers.p);
        free(body);
        if (rc == 413)
            return answer_transport_error(r, 413, "payload_too_large",
                                          "The request body is larger than "
                                          "this server accepts.",
                                          1);
        if (rc == 400)
            return answer_transport_error(r, 400, "bad_request",
                                          "The request body ended before "
                                          "its declared length.",
                                          1);
        if (rc == 408)
            return answer_transport_error(r, 408, "request_timeout",
                                          "The request body did not arrive "
                                          "in time.",
                                          1);
        if (rc == BODY_NOT_UTF8)
            return answer_transport_error(
                r, 400, "invalid_encoding",
                "The request body is not valid UTF-8 text.", 1);
        return send_problem(r, 500, "internal_error",
                            "The server could not process the request.");
    }
    params[DBP_METHOD] = ri->request_method;
    params[DBP_PATH] = r->path;
    params[DBP_QUERY] = ri->query_string ? ri->query_string : "";
    params[DBP_HEADERS] = headers.p;
    params[DBP_BODY] = body_len > 0 ? body : NULL;
    params[DBP_CLIENT] = r->client;
    params[DBP_REQUEST_ID] = r->id;
    db = acquire_db();
    if (db == NULL) {
        free(headers.p);
        free(body);
        return send_problem(r, 503, "server_busy",
                            "The server is busy; try again shortly.");
    }
    outcome = db_call(db, params, &res);
    /* the result stands alone: the connection is free before the client
     * (however slow) is written to */
    db_release(db);
    switch (outcome) {
    case DB_OK:
        rc = relay(r, &res, ready);
        db_result_clear(&res);
        break;
    case DB_UNAVAILABLE:
        rc = send_problem(r, 503, "database_unavailable",
                          "The database is unavailable; try again shortly.");
        break;
    case DB_TIMEOUT:
        /* the call's transaction was rolled back: its record is written
         * by a call of its own */
        rc = answer_transport_error(r, 503, "temporarily_unavailable",
                                    "The database did not answer in time; "
                                    "try again shortly.",
                                    0);
        break;
    default:
        rc = answer_transport_error(r, 500, "internal_error",
                                    "The server could not process the "
                                    "request; quote the request id when "
                                    "reporting it.",
                                    0);
        break;
    }
    free(headers.p);
    free(body);
    return rc;
}

/*
 * A head that two parsers could read in two ways: refused before anything
 * of it is acted on, and the connection closed, since the bytes after it
 * cannot be framed. Under /api/ it is audited like the other transport
 * errors (with the path sanitized, as it may not be text).
 */
static int
refuse_framing(struct request *r, enum nk_framing verdict)
{
    int status = nk_framing_status(verdict);

    r->must_close = 1;
    return answer_transport_error(
        r, status, status == 431 ? "header_fields_too_large" : "bad_request",
        nk_framing_detail(verdict), 0);
}

/* Decodes and checks the path and query, then picks the handler. */
static int
dispatch(struct request *r)
{
    const struct mg_request_info *ri = r->ri;
    const char *raw = ri->local_uri ? ri->local_uri : "/";
    const char *query = ri->query_string ? ri->query_string : "";
    enum nk_framing framing;
    long path_len, q_len;
    char *q;
    int escapes_ok, text_ok;

    r->instance = raw;
    /* a path that does not decode stays undecoded in r->path: the audit
     * record names it (sanitized, answer_transport_error) */
    r->path = decode_copy(raw, strlen(raw), 0, &path_len);
    q = decode_copy(query, strlen(query), NK_PCT_PLUS_SPACE, &q_len);
    if (r->path == NULL || q == NULL) {
        free(q);
        return send_problem(r, 500, "internal_error",
                            "The server could not process the request.");
    }
    escapes_ok = path_len >= 0 && q_len >= 0;
    text_ok = escapes_ok && nk_utf8_valid(r->path, (size_t)path_len) &&
              nk_utf8_valid(query, strlen(query)) &&
              nk_utf8_valid(q, (size_t)q_len);
    free(q);
    r->path_len = path_len >= 0 ? (size_t)path_len : strlen(raw);
    framing = head_check(ri, (size_t)g_config.max_header_bytes,
                         transport_head_lines());
    if (framing != NK_FRAMING_OK)
        return refuse_framing(r, framing);
    if (!escapes_ok)
        return answer_transport_error(r, 400, "invalid_encoding",
                                      "The request path or query has a "
                                      "percent sign not followed by two hex "
                                      "digits.",
                                      1);
    if (!text_ok)
        return answer_transport_error(r, 400, "invalid_encoding",
                                      "The request path or query is not "
                                      "valid UTF-8 text.",
                                      1);
    r->instance = r->path;
    if (strcmp(r->path, "/health") == 0)
        return handle_health(r);
    if (strcmp(r->path, "/health/ready") == 0 && http_draining()) {
        snprintf(r->route, sizeof(r->route), "%s", "/health/ready");
        return send_problem(r, 503, "shutting_down",
                            "This server is shutting down; use another.");
    }
    if (strcmp(r->path, "/health/ready") == 0)
        return handle_forward(r, 1);
    if (strncmp(r->path, "/api/", 5) == 0)
        return handle_forward(r, 0);
    if (strcmp(r->path, "/") == 0 || strcmp(r->path, "/console") == 0)
        return redirect_to_console(r);
    if (strncmp(r->path, CONSOLE_PREFIX, strlen(CONSOLE_PREFIX)) == 0)
        return handle_console(r);
    return send_problem(r, 404, "not_found",
                        "No resource exists at this path.");
}

static void
request_init(struct request *r, struct mg_connection *conn)
{
    memset(r, 0, sizeof(*r));
    r->conn = conn;
    r->ri = mg_get_request_info(conn);
    r->start_ms = nk_now_ms();
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    snprintf(r->route, sizeof(r->route), "%s", "unmatched");
    r->head = r->ri->request_method != NULL &&
              strcmp(r->ri->request_method, "HEAD") == 0;
}

/*
 * civetweb 1.15 answers 400 to any method outside its own list (TRACE among
 * them, on purpose) before a callback sees the request; a well-formed
 * method token it refused deserves 501 instead.
 */
static int
method_refused_by_civetweb(const char *method)
{
    static const char *const accepted[] = {
        "GET",     "POST",    "PUT",       "DELETE",   "HEAD",
        "OPTIONS", "CONNECT", "PATCH",     "PROPFIND", "MKCOL",
        "LOCK",    "UNLOCK",  "PROPPATCH", "REPORT"};
    size_t i;

    if (method == NULL || method[0] == '\0' || strlen(method) > 32)
        return 0;
    for (i = 0; method[i] != '\0'; i++)
        if (!(method[i] >= 'A' && method[i] <= 'Z') && method[i] != '-' &&
            method[i] != '_')
            return 0;
    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
        if (strcmp(method, accepted[i]) == 0)
            return 0;
    return 1;
}

/* ---- civetweb callbacks ----------------------------------------------- */

int
http_begin_request(struct mg_connection *conn)
{
    struct request r;
    int status;

    __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
    transport_head_end();
    request_init(&r, conn);
    r.peer_trusted = client_address(r.ri, r.client, sizeof(r.client));
    if (client_request_id(r.ri, r.peer_trusted, r.id) != 0)
        snprintf(r.id, sizeof(r.id), "%s", "no-random-id");
    status = dispatch(&r);
    finish_request(&r);
    free(r.path);
    conn_state.requests++;
    conn_state.head_started_ms = nk_now_ms();
    transport_head_begin(body_length(r.ri, conn));
    __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
    return status;
}

void
http_set_draining(void)
{
    __atomic_store_n(&draining, 1, __ATOMIC_SEQ_CST);
}

int
http_inflight(void)
{
    return __atomic_load_n(&inflight, __ATOMIC_SEQ_CST);
}

int
http_open_connections(void)
{
    return __atomic_load_n(&open_connections, __ATOMIC_SEQ_CST);
}

int
http_draining(void)
{
    return __atomic_load_n(&draining, __ATOMIC_SEQ_CST);
}

/*
 * Whether the head being read has run into civetweb's deadline for it:
 * REQUEST_TIMEOUT_MS for a connection's first, KEEP_ALIVE_TIMEOUT_MS for a
 * later one.
 */
static int
head_timed_out(void)
{
    long long limit = conn_state.requests > 0 ? g_config.keep_alive_timeout_ms
                                              : g_config.request_timeout_ms;

    return nk_now_ms() - conn_state.head_started_ms >=
           limit - HEAD_DEADLINE_SLACK_MS;
}

/*
 * A request civetweb answers for or closes on (it never reached
 * http_begin_request): it may be only partly parsed, so no header of it is
 * believed (the peer's address, a new request id).
 */
static void
request_init_outside(struct request *r, struct mg_connection *conn)
{
    request_init(r, conn);
    r->in_error_cb = 1;
    snprintf(r->client, sizeof(r->client), "%s", r->ri->remote_addr);
    if (client_request_id(r->ri, 0, r->id) != 0)
        snprintf(r->id, sizeof(r->id), "%s", "no-random-id");
}

/* "OPTIONS *" asks what the server can do: the methods the API uses. */
static void
answer_options_asterisk(struct mg_connection *conn)
{
    struct out_header h = {"Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, "
                                    "OPTIONS"};
    struct request r;

    request_init_outside(&r, conn);
    snprintf(r.route, sizeof(r.route), "%s", "*");
    send_response(&r, 200, &h, 1, "", 0);
    finish_request(&r);
    conn_state.answered = 1;
}

/*
 * What a refusal of civetweb's own (it answers before any callback sees
 * the request) becomes: its status mapped onto the problem vocabulary.
 */
static void
civetweb_refusal(const struct mg_request_info *ri, int status, const char *msg,
                 int *out_status, const char **code, const char **detail)
{
    /* civetweb's word for a head it gave up on: malformed, too large or
     * too slow alike */
    int unfinished_head =
        status == 400 && msg != NULL && strcmp(msg, "Malformed message") == 0;

    *out_status = status;
    *detail = "The request could not be processed.";
    if (status == 400 && method_refused_by_civetweb(ri->request_method)) {
        /* e.g. TRACE: answered like the pipeline answers unknown methods */
        *out_status = 501;
        *code = "method_not_implemented";
        *detail = "This HTTP method is not supported.";
    } else if (unfinished_head &&
               transport_head_bytes() >=
                   head_buffer_size(g_config.max_header_bytes)) {
        /* the head filled civetweb's buffer without ending */
        *out_status = 431;
        *code = "header_fields_too_large";
        *detail = nk_framing_detail(NK_FRAMING_HEAD_TOO_LARGE);
    } else if (unfinished_head && head_timed_out()) {
        /* civetweb's head deadline passed with a head still incomplete */
        *out_status = 408;
        *code = "request_timeout";
        *detail = "The request head did not arrive in time.";
    } else if (status == 413) {
        /* civetweb's 413 is the head outgrowing its buffer */
        *out_status = 431;
        *code = "header_fields_too_large";
        *detail = nk_framing_detail(NK_FRAMING_HEAD_TOO_LARGE);
    } else if (status == 411) {
        /* a Content-Length civetweb could not read as a number */
        *out_status = 400;
        *code = "bad_request";
        *detail = nk_framing_detail(NK_FRAMING_LENGTH_INVALID);
    } else if (status == 505) {
        *code = "http_version_not_supported";
        *detail = "Only HTTP/1.0 and HTTP/1.1 are supported.";
    } else {
        *out_status = status == 404 || status >= 500 ? status : 400;
        *code = status == 404   ? "not_found"
                : status >= 500 ? "internal_error"
                                : "bad_request";
    }
}

/*
 * The path of a target civetweb did not hand over as a local path: "*", or
 * an absolute-form target ("http://host:port/path?query") for another
 * server, whose path is still what the client asked for. Copies it, without
 * its query, into out ("/" when there is none).
 */
static void
target_path(const char *target, char *out, size_t out_size)
{
    const char *p = target;

    if (p != NULL && p[0] != '/' && (p = strstr(p, "://")) != NULL)
        p = strchr(p + 3, '/');
    copy_cut(out, out_size, p != NULL && p[0] == '/' ? p : "/");
    out[strcspn(out, "?")] = '\0';
}

/*
 * Answers a request civetweb refused (from http_error) or would have closed
 * without a word (from connection_close): one problem, one log line and,
 * when its target is under /api/ or could not be read, one audit record.
 */
static void
answer_refused(struct mg_connection *conn, int status, const char *code,
               const char *detail)
{
    struct request r;
    char target[256];

    request_init_outside(&r, conn);
    target_path(r.ri->request_uri, target, sizeof(target));
    r.instance = target;
    r.path = target;
    r.path_len = strlen(target);
    /* audited: the API's requests, and those too malformed to say where
     * they were going */
    if (strncmp(target, "/api/", 5) == 0 || r.ri->request_uri == NULL ||
        (r.ri->request_uri[0] != '/' &&
         strstr(r.ri->request_uri, "://") == NULL))
        answer_transport_error(&r, status, code, detail, 0);
    else
        send_problem(&r, status, code, detail);
    r.path = NULL;
    finish_request(&r);
    conn_state.answered = 1;
}

int
http_error(struct mg_connection *conn, int status, const char *msg)
{
    struct nk_log l;
    const char *code, *detail;
    int answer;

    if (closing_trick)
        return 1; /* see force_close() */
    log_begin(&l, NK_DEBUG, "http_error");
    log_int(&l, "status", status);
    log_str(&l, "msg", msg);
    log_end(&l);
    civetweb_refusal(mg_get_request_info(conn), status, msg, &answer, &code,
                     &detail);
    transport_head_end();
    answer_refused(conn, answer, code, detail);
    return 0;
}

int
http_connection_open(const struct mg_connection *conn, void **conn_data)
{
    (void)conn;
    (void)conn_data;
    conn_state.head_started_ms = nk_now_ms();
    conn_state.answered = 0;
    conn_state.requests = 0;
    __atomic_add_fetch(&open_connections, 1, __ATOMIC_SEQ_CST);
    transport_head_begin(0);
    return 0;
}

void
http_connection_close(const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct mg_connection *c = (struct mg_connection *)conn;

    /* civetweb parsed a request, never handed it over and is about to
     * close without an answer: "OPTIONS *" and absolute-form targets for
     * another host or port */
    if (ri != NULL && ri->request_uri != NULL && ri->local_uri == NULL &&
        !conn_state.answered) {
        if (strcmp(ri->request_uri, "*") == 0 &&
            strcmp(ri->request_method, "OPTIONS") == 0)
            answer_options_asterisk(c);
        else
            answer_refused(c, 400, "bad_request",
                           "The request target names another server.");
    }
    conn_state.answered = 0;
    transport_head_end();
    __atomic_sub_fetch(&open_connections, 1, __ATOMIC_SEQ_CST);
    worker_trim_stack();
}

int
http_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_msg(NK_WARN, "civetweb", message);
    return 1;
}

struct mg_context *
http_listener_start(const struct mg_callbacks *callbacks, const char **options,
                    char *errtext, size_t errtext_size)
{
    struct mg_init_data init;
    struct mg_error_data err;
    unsigned errcode = 0;

    memset(&init, 0, sizeof(init));
    init.callbacks = callbacks;
    init.configuration_options = options;
    memset(&err, 0, sizeof(err));
    errtext[0] = '\0';
    err.code = &errcode;
    err.text = errtext;
    err.text_buffer_size = errtext_size;
    return mg_start2(&init, &err);
}
