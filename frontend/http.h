/*
 * http.h — namaskahd's civetweb callbacks: request dispatch, the database
 * call, responses with the standard security headers, problem+json errors
 * and the access log.
 */
#ifndef NK_FRONTEND_HTTP_H
#define NK_FRONTEND_HTTP_H

#include <stddef.h>

struct mg_callbacks;
struct mg_connection;
struct mg_context;

/*
 * The extension version this frontend is built for (/health/ready) and its
 * own: one version, extension/namaskah.control's default_version, which
 * frontend/Makefile passes as NK_VERSION.
 */
#ifndef NK_VERSION
#error "NK_VERSION is not defined: build namaskahd with frontend/Makefile"
#endif
#define NK_EXTENSION_VERSION NK_VERSION
#define NK_FRONTEND_VERSION NK_VERSION

/*
 * Shutdown support: civetweb's mg_stop drops responses that are not yet
 * written, so main drains first. While draining, requests are still served
 * but every response closes its connection. http_inflight() counts the
 * requests being answered right now.
 */
void http_set_draining(void);
int http_draining(void);
int http_inflight(void);
/* API connections open right now (metrics, and the keep-alive policy). */
int http_open_connections(void);

/* civetweb begin_request: answers every request (nothing is left to
 * civetweb, so nothing is ever served from disk). Returns the status. */
int http_begin_request(struct mg_connection *conn);

/* civetweb http_error: civetweb's own errors (malformed request, headers
 * too large ...) as problem+json. Returns 0 when it answered. */
int http_error(struct mg_connection *conn, int status, const char *msg);

/* civetweb log_message: civetweb's internal messages as JSON log lines. */
int http_log_message(const struct mg_connection *conn, const char *message);

/*
 * civetweb init_connection / connection_close: a connection's bookkeeping,
 * and an answer for a request civetweb parsed but would close on without
 * one ("OPTIONS *", an absolute-form target for another server).
 */
int http_connection_open(const struct mg_connection *conn, void **conn_data);
void http_connection_close(const struct mg_connection *conn);

/*
 * Starts a civetweb listener (the API's or the metrics one) with these
 * callbacks (a zeroed struct with the ones wanted set) and options
 * (name/value pairs, NULL-terminated; never a document_root). NULL on
 * failure, with civetweb's reason in errtext ("" if it gave none).
 */
struct mg_context *http_listener_start(const struct mg_callbacks *callbacks,
                                       const char **options, char *errtext,
                                       size_t errtext_size);

#endif
