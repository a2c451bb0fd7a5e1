/*
 * config.c — table-driven settings for namaskahd.
 *
 * Every setting is one row of `settings` below: name, default, validator,
 * bounds, help text and whether it is secret. Parsing, validation, --help,
 * --check-config and the start-up "config" log line all walk that table, so
 * a setting is declared exactly once. Values come from the environment, or
 * from a .env file (ENV_FILE, default ./.env) for names the environment
 * does not set; the file's lines are read by the one .env grammar
 * (extension/core/nk_dotenv.c, which the scripts' lib-env.sh follows), and
 * of several assignments of a name the last counts. Variables that are not
 * in the table are never read, stored or printed (SECRET_KEY,
 * JWT_SECRET_KEY ... belong to the database side).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <civetweb.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "log.h"
#include "nk_dotenv.h"

struct setting;
typedef int (*validator)(const struct setting *s, const char *val,
                         const char **why);

struct setting {
    const char *name;
    const char *def; /* NULL: required */
    validator validate;
    long min, max;
    size_t offset; /* of the long in struct nk_config (v_long only) */
    int secret;
    const char *help;
};

/* One setting's KEY=VALUE from the .env file, the last assignment's value
 * (both malloc'd, the value wiped when replaced or freed). */
struct env_entry {
    char *key;
    char *value;
};

static int v_database_url(const struct setting *s, const char *val,
                          const char **why);
static int v_listen(const struct setting *s, const char *val, const char **why);
static int v_metrics_listen(const struct setting *s, const char *val,
                            const char **why);
static int v_metrics_token(const struct setting *s, const char *val,
                           const char **why);
static int parse_listen(const char *val, long min, long max, char *host,
                        size_t host_size, char *ports, size_t ports_size,
                        long *port, const char **why);
static int v_long(const struct setting *s, const char *val, const char **why);
static int v_log_level(const struct setting *s, const char *val,
                       const char **why);
static int v_db_statements(const struct setting *s, const char *val,
                           const char **why);
static int v_proxies(const struct setting *s, const char *val,
                     const char **why);
static int env_file_load(const char *path, int explicit_path, FILE *err);
static int env_line(char *line, size_t len, size_t lineno, const char *path,
                    FILE *err);
static const char *lookup(const char *name);
static void env_free(void);
static int parse_long(const char *val, long *out);
static void print_wrapped(FILE *out, const char *text, int indent, int width);
static long effective_pool_size(long configured, long threads);

#define OFF(field) offsetof(struct nk_config, field)

static const struct setting settings[] = {
    {"DATABASE_URL", NULL, v_database_url, 0, 0, 0, 1,
     "PostgreSQL connection URI (postgresql:// or postgres:// only), e.g. "
     "postgresql://namaskah_frontend:PASSWORD@127.0.0.1:5432/namaskah. "
     "Required; its password is never printed."},
    {"LISTEN", "127.0.0.1:8080", v_listen, 1, 65535, 0, 0,
     "Address and port to listen on: PORT, IPv4:PORT or [IPv6]:PORT."},
    {"METRICS_LISTEN", "127.0.0.1:9464", v_metrics_listen, 1, 65535, 0, 0,
     "Address and port of the separate Prometheus listener serving only "
     "GET /metrics (never served on LISTEN): PORT, IPv4:PORT or "
     "[IPv6]:PORT, or \"off\". Must differ from LISTEN."},
    {"METRICS_TOKEN", "", v_metrics_token, 0, 0, 0, 1,
     "When set, /metrics requires the header \"Authorization: Bearer "
     "<token>\" (at least 16 characters). Empty: no token."},
    {"WORKER_THREADS", "1280", v_long, 1, 16384, OFF(worker_threads), 0,
     "HTTP worker threads: how many client connections are open at once (a "
     "connection holds its thread from accept to close; ~20 KB each). Past "
     "three quarters of them in use, responses close their connections. "
     "Database work is bounded by DB_POOL_SIZE, not by this."},
    {"DB_POOL_SIZE", "0", v_long, 0, 1024, OFF(db_pool_size), 0,
     "Database connections shared by the worker threads; a request waits "
     "in arrival order for a free one. 0: four per CPU of this machine, at "
     "least 2. Never more than WORKER_THREADS. About four per database CPU "
     "does the most work; more connections only queue inside PostgreSQL."},
    {"DB_POOL_TIMEOUT_MS", "5000", v_long, 1, 3600000, OFF(db_pool_timeout_ms),
     0,
     "Longest wait for a free database connection; then the request gets "
     "503 server_busy with Retry-After (load is shed instead of queued)."},
    {"DB_POOL_QUEUE_MAX", "1024", v_long, 0, 1000000, OFF(db_pool_queue_max), 0,
     "Most requests that may wait for a database connection at once; one "
     "more is answered 503 server_busy with Retry-After at once, so an "
     "overload is shed instead of queued."},
    {"MAX_BODY_BYTES", "1048576", v_long, 0, 268435456, OFF(max_body_bytes), 0,
     "Largest request body accepted; larger bodies get 413."},
    {"MAX_HEADER_BYTES", "16384", v_long, 1024, 1048576, OFF(max_header_bytes),
     0,
     "Largest request line plus headers; a larger head, or one of more than "
     "63 header fields, gets 431."},
    {"REQUEST_TIMEOUT_MS", "10000", v_long, 100, 3600000,
     OFF(request_timeout_ms), 0,
     "Deadline for a request's head (from the connection's start) and for "
     "its body (from the end of the head): 408 after it. Also the longest "
     "wait for the database's answer (then the query is cancelled and 503 "
     "is returned)."},
    {"KEEP_ALIVE_TIMEOUT_MS", "5000", v_long, 0, 3600000,
     OFF(keep_alive_timeout_ms), 0,
     "How long an idle keep-alive connection is kept open (and the deadline "
     "of a later request's head on it)."},
    {"DB_CONNECT_TIMEOUT_S", "2", v_long, 1, 600, OFF(db_connect_timeout_s), 0,
     "libpq connect_timeout for each database connection attempt."},
    {"DB_RETRY_INTERVAL_MS", "250", v_long, 0, 60000, OFF(db_retry_interval_ms),
     0,
     "Least time between two reconnection attempts of one pooled "
     "connection; meanwhile requests get 503 at once."},
    {"DB_STATEMENTS", "named", v_db_statements, 0, 0, 0, 0,
     "How the one call per request reaches the database: \"named\" "
     "prepares a named statement once per connection and executes it; "
     "\"unnamed\" sends the statement with its parameters on every call "
     "(the unnamed statement: parse, bind and execute in one round trip), "
     "which is what a transaction pooler such as pgbouncer 1.18 in "
     "transaction mode needs, since a named statement lives on one server "
     "connection only."},
    {"TRUSTED_PROXIES", "", v_proxies, 0, NK_MAX_PROXIES, 0, 0,
     "Comma-separated IPs or CIDRs (IPv4 and IPv6) of reverse proxies whose "
     "X-Forwarded-For / Forwarded / X-Request-Id headers are believed. "
     "Empty: none."},
    {"LOG_LEVEL", "info", v_log_level, 0, 0, 0, 0,
     "Least level logged: debug, info, warn or error."},
    {"SHUTDOWN_GRACE_MS", "10000", v_long, 0, 600000, OFF(shutdown_grace_ms), 0,
     "On SIGTERM/SIGINT the port stops taking connections at once; how long "
     "in-flight requests may still run."},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

struct nk_config g_config;

static struct env_entry *env_entries;
static size_t n_env_entries;

/* The environment wins over the .env file (whose keys env_line keeps
 * unique). */
static const char *
lookup(const char *name)
{
    const char *v = getenv(name);
    size_t i;

    if (v != NULL)
        return v;
    for (i = 0; i < n_env_entries; i++)
        if (strcmp(env_entries[i].key, name) == 0)
            return env_entries[i].value;
    return NULL;
}

/*
 * One .env line (the grammar is nk_dotenv's). Only keys of the settings
 * table are kept; a key seen again replaces its value (the last assignment
 * counts, as under systemd's EnvironmentFile= and a shell's ". .env").
 * Returns 0, or 1 for a bad line.
 */
static int
env_line(char *line, size_t len, size_t lineno, const char *path, FILE *err)
{
    char *key, *val, *copy;
    size_t i;

    switch (nk_dotenv_parse_line(line, len, &key, &val)) {
    case NK_DOTENV_SKIP:
        return 0;
    case NK_DOTENV_BAD:
        fprintf(err, "ENV_FILE: %s line %zu is not KEY=VALUE\n", path, lineno);
        return 1;
    case NK_DOTENV_OK:
        break;
    }
    for (i = 0; i < N_SETTINGS; i++)
        if (strcmp(settings[i].name, key) == 0)
            break;
    if (i == N_SETTINGS)
        return 0; /* not ours: never kept */
    for (i = 0; i < n_env_entries; i++)
        if (strcmp(env_entries[i].key, key) == 0)
            break;
    copy = strdup(val);
    if (copy == NULL)
        goto nomem;
    if (i < n_env_entries) {
        OPENSSL_cleanse(env_entries[i].value, strlen(env_entries[i].value));
        free(env_entries[i].value);
        env_entries[i].value = copy;
        return 0;
    }
    {
        struct env_entry *grown =
            realloc(env_entries, (n_env_entries + 1) * sizeof(*env_entries));
        char *key_copy = strdup(key);

        if (grown != NULL)
            env_entries = grown;
        if (grown == NULL || key_copy == NULL) {
            OPENSSL_cleanse(copy, strlen(copy));
            free(copy);
            free(key_copy);
            goto nomem;
        }
        env_entries[n_env_entries].key = key_copy;
        env_entries[n_env_entries].value = copy;
        n_env_entries++;
    }
    return 0;
nomem:
    fprintf(err, "ENV_FILE: out of memory reading %s\n", path);
    return 1;
}

/* Reads the .env file; a missing default file is fine. Returns problems. */
static int
env_file_load(const char *path, int explicit_path, FILE *err)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int problems = 0;

    if (f == NULL) {
        if (errno == ENOENT && !explicit_path)
            return 0;
        fprintf(err, "ENV_FILE: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        problems += env_line(line, (size_t)n, lineno, path, err);
    }
    if (line != NULL)
        OPENSSL_cleanse(line, cap);
    free(line);
    fclose(f);
    return problems;
}

static void
env_free(void)
{
    size_t i;

    for (i = 0; i < n_env_entries; i++) {
        if (env_entries[i].value != NULL)
            OPENSSL_cleanse(env_entries[i].value, strlen(env_entries[i].value));
        free(env_entries[i].key);
        free(env_entries[i].value);
    }
    free(env_entries);
    env_entries = NULL;
    n_env_entries = 0;
}

static int
v_database_url(const struct setting *s, const char *val, const char **why)
{
    PQconninfoOption *opts;
    char *errmsg = NULL;

    (void)s;
    if (strncmp(val, "postgresql://", 13) != 0 &&
        strncmp(val, "postgres://", 11) != 0) {
        *why = "must start with postgresql:// or postgres://";
        return -1;
    }
    /* libpq's own parser; its message may quote the URI, so it is dropped */
    opts = PQconninfoParse(val, &errmsg);
    PQfreemem(errmsg);
    if (opts == NULL) {
        *why = "is not a valid PostgreSQL connection URI";
        return -1;
    }
    PQconninfoFree(opts);
    free(g_config.database_url);
    g_config.database_url = strdup(val);
    if (g_config.database_url == NULL) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

static int
parse_long(const char *val, long *out)
{
    char *end;
    long v;

    if (*val == '\0' || isspace((unsigned char)*val))
        return -1;
    errno = 0;
    v = strtol(val, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int
v_long(const struct setting *s, const char *val, const char **why)
{
    static char msg[96];
    long v;

    if (parse_long(val, &v) != 0) {
        *why = "must be a whole number";
        return -1;
    }
    if (v < s->min || v > s->max) {
        snprintf(msg, sizeof(msg), "must be between %ld and %ld", s->min,
                 s->max);
        *why = msg;
        return -1;
    }
    *(long *)((char *)&g_config + s->offset) = v;
    return 0;
}

/*
 * PORT, IPv4:PORT or [IPv6]:PORT, the address a literal. Fills host (the
 * address part, "" for any), ports (civetweb's listening_ports form) and
 * port. Returns 0, or -1 with *why set.
 */
static int
parse_listen(const char *val, long min, long max, char *host, size_t host_size,
             char *ports, size_t ports_size, long *port, const char **why)
{
    const char *port_s = val, *h = "", *close;
    size_t host_len = 0;
    struct nk_ip ip;
    long p;

    *why = "must be PORT, IPv4:PORT or [IPv6]:PORT with an address literal "
           "and a port from 1 to 65535";
    if (val[0] == '[') {
        close = strchr(val, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = val + 1;
        host_len = (size_t)(close - h);
        port_s = close + 2;
        if (!ip_parse(h, host_len, &ip) || ip.family != AF_INET6)
            return -1;
        if (!mg_check_feature(MG_FEATURES_IPV6)) {
            *why = "is an IPv6 address, but this civetweb build has no IPv6";
            return -1;
        }
    } else if (strchr(val, ':') != NULL) {
        port_s = strrchr(val, ':') + 1;
        h = val;
        host_len = (size_t)(port_s - 1 - val);
        if (!ip_parse(h, host_len, &ip) || ip.family != AF_INET)
            return -1;
    }
    if (parse_long(port_s, &p) != 0 || p < min || p > max ||
        host_len >= host_size)
        return -1;
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    *port = p;
    if (host_len == 0)
        snprintf(ports, ports_size, "%ld", p);
    else if (val[0] == '[')
        snprintf(ports, ports_size, "[%s]:%ld", host, p);
    else
        snprintf(ports, ports_size, "%s:%ld", host, p);
    return 0;
}

static int
v_listen(const struct setting *s, const char *val, const char **why)
{
    return parse_listen(val, s->min, s->max, g_config.listen_host,
                        sizeof(g_config.listen_host), g_config.listen_ports,
                        sizeof(g_config.listen_ports), &g_config.listen_port,
                        why);
}

/*
 * METRICS_LISTEN: like LISTEN, or "off". The same port as LISTEN is refused
 * (checked in config_load, once both are known): metrics must never be
 * reachable on the public listener by accident.
 */
static int
v_metrics_listen(const struct setting *s, const char *val, const char **why)
{
    if (strcmp(val, "off") == 0) {
        g_config.metrics_port = 0;
        g_config.metrics_ports[0] = '\0';
        g_config.metrics_host[0] = '\0';
        return 0;
    }
    if (parse_listen(val, s->min, s->max, g_config.metrics_host,
                     sizeof(g_config.metrics_host), g_config.metrics_ports,
                     sizeof(g_config.metrics_ports), &g_config.metrics_port,
                     why) != 0) {
        *why = "must be off, PORT, IPv4:PORT or [IPv6]:PORT with an address "
               "literal and a port from 1 to 65535";
        return -1;
    }
    return 0;
}

/* METRICS_TOKEN: empty (no token) or at least 16 printable ASCII bytes. */
static int
v_metrics_token(const struct setting *s, const char *val, const char **why)
{
    size_t i, n = strlen(val);

    (void)s;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (val[i] <= ' ' || val[i] > '~') {
            *why = "must be printable ASCII without spaces";
            return -1;
        }
    if (n < 16) {
        *why = "must be at least 16 characters long";
        return -1;
    }
    free(g_config.metrics_token);
    g_config.metrics_token = strdup(val);
    if (g_config.metrics_token == NULL) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

static int
v_log_level(const struct setting *s, const char *val, const char **why)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    int i;

    (void)s;
    for (i = 0; i < 4; i++)
        if (strcmp(val, names[i]) == 0) {
            g_config.log_level = i;
            return 0;
        }
    *why = "must be one of debug, info, warn, error";
    return -1;
}

/* DB_STATEMENTS: named (the default) or unnamed; see db.c. */
static int
v_db_statements(const struct setting *s, const char *val, const char **why)
{
    (void)s;
    if (strcmp(val, "named") == 0)
        g_config.db_unnamed_statements = 0;
    else if (strcmp(val, "unnamed") == 0)
        g_config.db_unnamed_statements = 1;
    else {
        *why = "must be named or unnamed";
        return -1;
    }
    return 0;
}

static int
v_proxies(const struct setting *s, const char *val, const char **why)
{
    static char msg[96];
    const char *p = val, *comma, *a, *b;
    size_t n = 0, item = 0;

    while (*p != '\0') {
        comma = strchr(p, ',');
        if (comma == NULL)
            comma = p + strlen(p);
        item++;
        for (a = p; a < comma && (*a == ' ' || *a == '\t'); a++)
            ;
        for (b = comma; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
            ;
        if (b > a) {
            if (n >= (size_t)s->max) {
                snprintf(msg, sizeof(msg), "has more than %ld entries", s->max);
                *why = msg;
                return -1;
            }
            if (!cidr_parse(a, (size_t)(b - a), &g_config.proxies[n])) {
                snprintf(msg, sizeof(msg),
                         "entry %zu is not an IP address or CIDR", item);
                *why = msg;
                return -1;
            }
            n++;
        }
        p = *comma ? comma + 1 : comma;
    }
    g_config.n_proxies = n;
    return 0;
}

int
config_load(FILE *err)
{
    const char *env_path = getenv("ENV_FILE");
    const char *val, *why;
    int problems;
    size_t i;

    config_free();
    memset(&g_config, 0, sizeof(g_config));
    problems = env_file_load(env_path && *env_path ? env_path : "./.env",
                             env_path && *env_path, err);
    for (i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];

        val = lookup(s->name);
        if (val == NULL || (*val == '\0' && s->def == NULL))
            val = s->def;
        if (val == NULL) {
            fprintf(err, "%s: required but not set\n", s->name);
            problems++;
            continue;
        }
        why = NULL;
        if (s->validate(s, val, &why) != 0) {
            /* the value itself is never echoed: it may be a secret, and
             * it may hold control characters */
            fprintf(err, "%s: %s\n", s->name, why ? why : "is not valid");
            problems++;
        }
    }
    env_free();
    /* the same port on both listeners would make one of them fail to bind,
     * or (any address vs one) serve metrics where the public is */
    if (g_config.metrics_port != 0 && g_config.listen_port != 0 &&
        g_config.metrics_port == g_config.listen_port) {
        fprintf(err, "METRICS_LISTEN: must use another port than LISTEN\n");
        problems++;
    }
    if (problems == 0) {
        log_set_level(g_config.log_level);
        g_config.db_pool_size =
            effective_pool_size(g_config.db_pool_size, g_config.worker_threads);
    }
    return problems;
}

/* DB_POOL_SIZE as used: 0 picks four per online CPU; capped by threads. */
static long
effective_pool_size(long configured, long threads)
{
    long n = configured;

    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        n = cpus > 0 ? 4 * cpus : 8;
        if (n < 2)
            n = 2;
    }
    return n < threads ? n : threads;
}

/* Prints text word-wrapped to width columns, each line indented. */
static void
print_wrapped(FILE *out, const char *text, int indent, int width)
{
    const char *p = text;
    int col = 0;

    while (*p != '\0') {
        size_t word = strcspn(p, " ");

        if (col > indent && col + 1 + (int)word > width) {
            fputc('\n', out);
            col = 0;
        }
        if (col == 0) {
            fprintf(out, "%*s", indent, "");
            col = indent;
        } else {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, word, out);
        col += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void
config_help(FILE *out)
{
    size_t i;

    fprintf(out,
            "usage: namaskahd [--check-config | --check-secret NAME | --help "
            "| --version]\n\n"
            "namaskahd is the HTTP frontend of Namaskah: every /api/ request "
            "becomes one\ncall of namaskah.handle_request in PostgreSQL.\n\n"
            "  --check-config  validate the settings, print problems, exit "
            "0 (ok) or 2\n"
            "  --check-secret NAME\n"
            "                  judge SECRET_KEY or JWT_SECRET_KEY, given on "
            "standard\n"
            "                  input, by the extension's rule; exit 0 (ok), "
            "1 or 2\n"
            "  --help          this text\n"
            "  --version       print the version\n\n"
            "Settings come from the environment, or from the file named by "
            "ENV_FILE\n(default ./.env; KEY=VALUE lines, # comments, "
            "optional quotes, the last\nassignment of a name counts; "
            "docs/operations.md); the environment wins.\nSettings:\n\n");
    for (i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];

        fprintf(out, "  %s", s->name);
        if (s->def == NULL)
            fprintf(out, " (required%s)", s->secret ? ", secret" : "");
        else
            fprintf(out, " (default \"%s\"%s)", s->def,
                    s->secret ? ", secret" : "");
        if (s->validate == v_long)
            fprintf(out, " [%ld..%ld]", s->min, s->max);
        fputc('\n', out);
        print_wrapped(out, s->help, 6, 78);
    }
}

void
config_mask_url(const char *url, char *out, size_t out_size)
{
    const char *scheme = strstr(url, "://");
    const char *auth, *auth_end, *at = NULL, *colon, *q, *p;
    size_t len = 0;

#define PUT(ptr, n)                                                            \
    do {                                                                       \
        size_t n_ = (n);                                                       \
        if (len + n_ < out_size) {                                             \
            memcpy(out + len, (ptr), n_);                                      \
            len += n_;                                                         \
        }                                                                      \
    } while (0)

    if (out_size == 0)
        return;
    out[0] = '\0';
    if (scheme == NULL) {
        PUT("***", 3);
        out[len] = '\0';
        return;
    }
    auth = scheme + 3;
    auth_end = auth + strcspn(auth, "/?#");
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        PUT(url, (size_t)(colon + 1 - url));
        PUT("***", 3);
        p = at;
    } else {
        p = url;
    }
    /* the rest, with every password= parameter value masked */
    q = strchr(p, '?');
    if (q == NULL) {
        PUT(p, strlen(p));
    } else {
        PUT(p, (size_t)(q + 1 - p));
        p = q + 1;
        while (*p != '\0') {
            size_t n = strcspn(p, "&");

            const char *eq = memchr(p, '=', n);

            /* password=, sslpassword= ... */
            if (eq != NULL && eq - p >= 8 &&
                strncmp(eq - 8, "password", 8) == 0) {
                PUT(p, (size_t)(eq + 1 - p));
                PUT("***", 3);
            } else {
                PUT(p, n);
            }
            p += n;
            if (*p == '&') {
                PUT("&", 1);
                p++;
            }
        }
    }
    out[len] = '\0';
#undef PUT
}

void
config_log(void)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    char masked[1024];
    struct nk_log l;
    size_t i;

    config_mask_url(g_config.database_url ? g_config.database_url : "", masked,
                    sizeof(masked));
    log_begin(&l, NK_INFO, "config");
    log_str(&l, "database_url", masked);
    log_str(&l, "listen", g_config.listen_ports);
    log_str(&l, "metrics_listen",
            g_config.metrics_port ? g_config.metrics_ports : "off");
    log_str(&l, "metrics_token", g_config.metrics_token ? "set" : "unset");
    for (i = 0; i < N_SETTINGS; i++)
        if (settings[i].validate == v_long) {
            char key[40];
            size_t k;

            for (k = 0; k < sizeof(key) - 1 && settings[i].name[k]; k++)
                key[k] = (char)tolower((unsigned char)settings[i].name[k]);
            key[k] = '\0';
            log_int(
                &l, key,
                *(const long *)((const char *)&g_config + settings[i].offset));
        }
    log_int(&l, "trusted_proxies", (long long)g_config.n_proxies);
    log_str(&l, "log_level", levels[g_config.log_level]);
    log_str(&l, "db_statements",
            g_config.db_unnamed_statements ? "unnamed" : "named");
    log_end(&l);
}

void
config_free(void)
{
    if (g_config.database_url != NULL) {
        OPENSSL_cleanse(g_config.database_url, strlen(g_config.database_url));
        free(g_config.database_url);
        g_config.database_url = NULL;
    }
    if (g_config.metrics_token != NULL) {
        OPENSSL_cleanse(g_config.metrics_token, strlen(g_config.metrics_token));
        free(g_config.metrics_token);
        g_config.metrics_token = NULL;
    }
    env_free();
}
