/*
 * metrics.h — namaskahd's Prometheus metrics: per-process request counters
 * and latency histograms, and the separate /metrics listener.
 *
 * Requests on the public listener are recorded with metrics_observe (a
 * short mutex, never held across I/O). The listener (METRICS_LISTEN, its
 * own civetweb context and threads) answers GET /metrics in the text format
 * 0.0.4: the frontend's own families, the pool figures (db.h), and the
 * database's counters from ONE call of namaskah.handle_request('GET',
 * '/internal/metrics', ...) per scrape, on a connection of its own that no
 * worker thread uses, so a scrape never waits for or blocks a request.
 */
#ifndef NK_FRONTEND_METRICS_H
#define NK_FRONTEND_METRICS_H

struct mg_context;

/*
 * Records one answered request: method (normalised to a fixed set, else
 * "OTHER"), route template (bounded by the route table), status, duration.
 * Thread-safe.
 */
void metrics_observe(const char *method, const char *route, int status,
                     double seconds);

/*
 * Starts the metrics listener on g_config.metrics_ports. Returns its
 * context (stop it with metrics_stop), or NULL when METRICS_LISTEN is "off"
 * or the listener could not start (logged: the public listener keeps
 * serving, and Prometheus sees the target down).
 */
struct mg_context *metrics_start(void);

/* Stops the listener and closes the scrape connection; accepts NULL. */
void metrics_stop(struct mg_context *ctx);

#endif
