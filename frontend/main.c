/*
 * main.c — namaskahd: arguments, configuration, signals, start and stop.
 *
 * Signal handling: SIGTERM, SIGINT are blocked in the main thread before
 * civetweb starts its threads, so every worker inherits the blocked mask;
 * the main thread then waits for them with sigwait(2). Shutdown (the
 * drain, stop_server): the API port stops taking connections at once,
 * /health/ready answers 503 shutting_down, responses close their
 * connections, requests in flight or arriving may finish until
 * SHUTDOWN_GRACE_MS (database waits are cut at that deadline), then mg_stop
 * closes the idle connections (it must come last: it drops responses not
 * yet written), the metrics listener (metrics.c) is stopped, the pool's
 * database connections are closed, and the process exits 0.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <civetweb.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "head.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "nk_secret.h"
#include "sd_notify.h"
#include "transport.h"

static int run(void);
static int check_secret(const char *name);
static void *stop_thread(void *arg);
static int stop_server(struct mg_context *ctx);
static int stop_listening(long port);
static void limit_malloc_arenas(void);
static int wait_for_signal(const sigset_t *set);

/* How long the drain must see nothing in flight before civetweb stops. */
#define DRAIN_QUIET_MS 50

/* How often freed heap memory goes back to the kernel (wait_for_signal). */
#define MALLOC_TRIM_INTERVAL_S 10

/* Set by stop_thread when mg_stop has returned. */
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stopped;

int
main(int argc, char **argv)
{
    int problems;

    if (argc == 3 && strcmp(argv[1], "--check-secret") == 0)
        return check_secret(argv[2]);
    if (argc > 2) {
        fprintf(stderr, "usage: namaskahd [--check-config | --check-secret "
                        "NAME | --help | --version]\n");
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        config_help(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("namaskahd %s (civetweb %s, libpq %d)\n", NK_FRONTEND_VERSION,
               mg_version(), PQlibVersion());
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--check-config") != 0) {
        fprintf(stderr, "namaskahd: unknown option; try --help\n");
        return 2;
    }
    problems = config_load(stderr);
    if (problems > 0) {
        config_free();
        return 2;
    }
    if (argc == 2) {
        printf("namaskahd: configuration is valid\n");
        config_free();
        return 0;
    }
    return run();
}

/*
 * --check-secret NAME: judges the secret on standard input (one trailing
 * newline dropped) by the rule the extension applies when it is installed
 * (nk_secret.h), so scripts/validate_config and scripts/manage_secrets
 * answer as the database will. The value never comes from the command line
 * (visible in ps) and is never printed. Exit 0 acceptable, 1 refused, 2 on
 * bad usage.
 */
static int
check_secret(const char *name)
{
    /* The signing key is installed as HS256: at least its 32-byte output. */
    size_t min_bytes = strcmp(name, "JWT_SECRET_KEY") == 0 ? 32 : 0;
    char buf[4097];
    size_t len = fread(buf, 1, sizeof(buf), stdin);
    nk_secret_status st;

    if (strcmp(name, "SECRET_KEY") != 0 && min_bytes == 0) {
        fprintf(stderr, "namaskahd: --check-secret takes SECRET_KEY or "
                        "JWT_SECRET_KEY\n");
        return 2;
    }
    if (len == sizeof(buf) || ferror(stdin)) {
        fprintf(stderr,
                "namaskahd: %s: could not read it from standard "
                "input (at most 4096 bytes)\n",
                name);
        OPENSSL_cleanse(buf, sizeof(buf));
        return 2;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    st = nk_secret_judge(buf, len, min_bytes);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (st != NK_SECRET_OK) {
        printf("namaskahd: %s %s. %s\n", name, nk_secret_status_text(st),
               nk_secret_rule_text);
        return 1;
    }
    printf("namaskahd: %s is acceptable\n", name);
    return 0;
}

static void *
stop_thread(void *arg)
{
    mg_stop(arg);
    pthread_mutex_lock(&stop_lock);
    stopped = 1;
    pthread_cond_signal(&stop_cond);
    pthread_mutex_unlock(&stop_lock);
    return NULL;
}

/*
 * Stops taking connections on the API port at once: civetweb has no call
 * for it short of mg_stop, which also drops requests being answered. Its
 * listening socket is found by port, shut down (the kernel refuses new
 * connections from then on, and resets those it had queued but civetweb
 * had not accepted), and replaced under the same descriptor by a pipe that
 * never becomes readable, so civetweb's accept loop sleeps until mg_stop
 * closes it. Returns how many listening sockets were closed.
 */
static int
stop_listening(long port)
{
    int fd, max_fd = (int)sysconf(_SC_OPEN_MAX), closed = 0, idle[2];

    if (pipe(idle) != 0)
        return 0;
    for (fd = 0; fd < max_fd && fd < 65536; fd++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss), ilen = sizeof(int);
        int listening = 0;
        long bound;

        if (fd == idle[0] || fd == idle[1] ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 ||
            !listening || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
            continue;
        if (ss.ss_family == AF_INET)
            bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        else
            continue;
        if (bound != port)
            continue;
        shutdown(fd, SHUT_RDWR);
        if (dup2(idle[0], fd) >= 0)
            closed++;
    }
    close(idle[0]);
    /* idle[1] stays open: the pipe must never report end of file */
    return closed;
}

/*
 * The drain: readiness reports "shutting down" and every response closes
 * its connection, no new connection is taken, requests being answered or
 * whose head is arriving may finish until the grace deadline (database
 * waits are cut short there), then civetweb stops, closing the idle
 * keep-alive connections. Returns 1 if it stopped.
 */
static int
stop_server(struct mg_context *ctx)
{
    long long deadline = nk_now_ms() + g_config.shutdown_grace_ms;
    struct timespec until, nap = {0, 10 * 1000 * 1000},
                           quiet_nap = {0, DRAIN_QUIET_MS * 1000 * 1000};
    struct nk_log l;
    pthread_t t;
    int done, closed, quiet;

    /* first the port, so no client reconnects after a closing response */
    closed = stop_listening(g_config.listen_port);
    http_set_draining();
    db_set_shutdown_deadline(deadline);
    log_begin(&l, NK_INFO, "draining");
    log_int(&l, "listeners_closed", closed);
    log_int(&l, "in_flight", http_inflight());
    log_int(&l, "connections_open", http_open_connections());
    log_end(&l);
    /* quiet: nothing in flight and no head arriving, twice DRAIN_QUIET_MS
     * apart (a keep-alive client answered just before the drain began may
     * still be sending its next request) */
    for (quiet = 0; quiet < 2 && nk_now_ms() < deadline;) {
        quiet = http_inflight() == 0 && transport_heads_arriving() == 0
                    ? quiet + 1
                    : 0;
        if (quiet < 2)
            nanosleep(quiet > 0 ? &quiet_nap : &nap, NULL);
    }
    if (pthread_create(&t, NULL, stop_thread, ctx) != 0) {
        mg_stop(ctx);
        return 1;
    }
    /* time for cancelled queries to drain and civetweb to wind down */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&stop_lock);
    while (!stopped)
        if (pthread_cond_timedwait(&stop_cond, &stop_lock, &until) == ETIMEDOUT)
            break;
    done = stopped;
    pthread_mutex_unlock(&stop_lock);
    if (done)
        pthread_join(t, NULL);
    return done;
}

/*
 * glibc gives threads up to eight malloc arenas per CPU, and with a thousand
 * worker threads each arena keeps its own freed memory: after 1000 slow
 * bodies namaskahd held 77 MB with the default, 55 MB with two arenas per
 * CPU (edge_bench, slow_body), at no measurable cost in throughput on the
 * database-bound request path.
 */
static void
limit_malloc_arenas(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    mallopt(M_ARENA_MAX, (int)(cpus > 0 ? 2 * cpus : 2));
}

/*
 * Waits for SIGTERM or SIGINT and returns it. Meanwhile, every
 * MALLOC_TRIM_INTERVAL_S, hands the heap memory that worker threads freed
 * back to the kernel: after a burst of slow or many clients their buffers
 * are free, but glibc keeps them in its arenas; a trim walks a few
 * megabytes of heap.
 */
static int
wait_for_signal(const sigset_t *set)
{
    struct timespec interval = {MALLOC_TRIM_INTERVAL_S, 0};
    int sig;

    for (;;) {
        sig = sigtimedwait(set, NULL, &interval);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            malloc_trim(0);
    }
}

static int
run(void)
{
    struct mg_context *ctx, *metrics_ctx;
    struct nk_log l;
    struct mg_callbacks cb;
    char threads[16], hdr[32], req_to[32], ka_to[32], backlog[16];
    char errtext[256];
    sigset_t set;
    int sig = 0;

    snprintf(threads, sizeof(threads), "%ld", g_config.worker_threads);
    snprintf(backlog, sizeof(backlog), "%ld", g_config.worker_threads);
    snprintf(hdr, sizeof(hdr), "%ld",
             head_buffer_size(g_config.max_header_bytes));
    snprintf(req_to, sizeof(req_to), "%ld", g_config.request_timeout_ms);
    snprintf(ka_to, sizeof(ka_to), "%ld", g_config.keep_alive_timeout_ms);
    /* document_root is never set: nothing is served from disk
     * (CVE-2025-55763); decode_url=no lets http.c see %00; absolute-form
     * targets for this port are served as their path (RFC 9112 § 3.2.2)
     * whatever host they name, as requests with any Host are */
    const char *options[] = {"listening_ports",
                             g_config.listen_ports,
                             "num_threads",
                             threads,
                             "listen_backlog",
                             backlog,
                             "tcp_nodelay",
                             "1",
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             ka_to,
                             "request_timeout_ms",
                             req_to,
                             "max_request_size",
                             hdr,
                             "decode_url",
                             "no",
                             "enable_auth_domain_check",
                             "no",
                             NULL};

    limit_malloc_arenas();
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mg_init_library(0);
    config_log();
    if (db_pool_init(g_config.db_pool_size) != 0) {
        fprintf(stderr, "namaskahd: out of memory for the database pool\n");
        mg_exit_library();
        config_free();
        return 1;
    }
    memset(&cb, 0, sizeof(cb));
    cb.begin_request = http_begin_request;
    cb.http_error = http_error;
    cb.log_message = http_log_message;
    cb.init_connection = http_connection_open;
    cb.connection_close = http_connection_close;
    ctx = http_listener_start(&cb, options, errtext, sizeof(errtext));
    if (ctx == NULL) {
        log_begin(&l, NK_ERROR, "start_failed");
        log_str(&l, "listen", g_config.listen_ports);
        log_str(&l, "error", errtext[0] ? errtext : "mg_start failed");
        log_end(&l);
        fprintf(stderr, "namaskahd: cannot start the HTTP server on %s: %s\n",
                g_config.listen_ports, errtext[0] ? errtext : "unknown error");
        db_pool_close();
        mg_exit_library();
        config_free();
        return 1;
    }
    log_begin(&l, NK_INFO, "start");
    log_str(&l, "version", NK_FRONTEND_VERSION);
    log_str(&l, "listen", g_config.listen_ports);
    log_int(&l, "worker_threads", g_config.worker_threads);
    log_int(&l, "db_pool_size", g_config.db_pool_size);
    log_int(&l, "pid", (long long)getpid());
    log_end(&l);
    /* a metrics listener that cannot start is logged, not fatal: the API
     * keeps serving and Prometheus reports the target down */
    metrics_ctx = metrics_start();
    /* systemd (Type=notify): ready once the listener accepts */
    nk_sd_notify("READY=1");

    sig = wait_for_signal(&set);
    nk_sd_notify("STOPPING=1");
    log_begin(&l, NK_INFO, "stopping");
    log_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    log_int(&l, "grace_ms", g_config.shutdown_grace_ms);
    log_end(&l);
    if (!stop_server(ctx)) {
        log_msg(NK_WARN, "stop_timeout",
                "requests still running after the grace period; exiting");
        fflush(stdout);
        _exit(0);
    }
    metrics_stop(metrics_ctx);
    db_pool_close();
    mg_exit_library();
    log_msg(NK_INFO, "stopped", "all connections closed");
    config_free();
    return 0;
}
