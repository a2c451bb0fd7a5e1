/*
 * config.h — namaskahd settings: one table (config.c) drives parsing from
 * the environment and an optional .env file, validation, --help and
 * --check-config.
 */
#ifndef NK_FRONTEND_CONFIG_H
#define NK_FRONTEND_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "client.h"

#define NK_MAX_PROXIES 64

struct nk_config {
    char *database_url;    /* secret: its password is never printed */
    char listen_ports[96]; /* LISTEN in civetweb's listening_ports form */
    char listen_host[64];  /* the address part of LISTEN ("" for any) */
    long listen_port;
    /* METRICS_LISTEN: the metrics listener; metrics_port 0 = "off" */
    char metrics_ports[96];
    char metrics_host[64];
    long metrics_port;
    char *metrics_token; /* METRICS_TOKEN, secret; NULL when unset */
    long worker_threads;
    long db_pool_size; /* DB_POOL_SIZE as used (0 resolved, capped) */
    long db_pool_timeout_ms;
    long db_pool_queue_max;
    long max_body_bytes;
    long max_header_bytes;
    long request_timeout_ms;
    long keep_alive_timeout_ms;
    long db_connect_timeout_s;
    long db_retry_interval_ms;
    long shutdown_grace_ms;
    int log_level; /* enum nk_level */
    /* DB_STATEMENTS=unnamed: no named statement (transaction poolers) */
    int db_unnamed_statements;
    struct nk_cidr proxies[NK_MAX_PROXIES];
    size_t n_proxies;
};

/* The settings in force; filled once by config_load before any thread. */
extern struct nk_config g_config;

/*
 * Reads the .env file (ENV_FILE, default ./.env; the real environment wins)
 * and every setting, validates them and fills g_config. Writes one line per
 * problem to err, naming the variable (never a secret's value). Returns the
 * number of problems (0 = usable).
 */
int config_load(FILE *err);

/* Writes the --help text: every setting with its default and meaning. */
void config_help(FILE *out);

/* Logs the effective settings as one JSON line (secrets masked). */
void config_log(void);

/*
 * Copies url into out (out_size bytes) with any password replaced by "***"
 * (in the user-info part and in a password= query parameter).
 */
void config_mask_url(const char *url, char *out, size_t out_size);

/* Releases what config_load allocated (safe to call twice). */
void config_free(void);

#endif
