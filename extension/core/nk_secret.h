/*
 * nk_secret.h — the one rule for secret strength (pure C).
 *
 * SECRET_KEY, the JWT signing keys and every tool that judges them
 * (install_app_secret and install_signing_key in the extension, namaskahd
 * --check-secret, scripts/validate_config, scripts/manage_secrets) ask this
 * rule, so a secret one of them accepts is accepted by all.
 */
#ifndef NK_SECRET_H
#define NK_SECRET_H

#include <stddef.h>

/* Why a secret is refused; NK_SECRET_OK when it is not. */
typedef enum nk_secret_status {
    NK_SECRET_OK = 0,
    NK_SECRET_INVALID,     /* not valid UTF-8, or contains NUL/controls */
    NK_SECRET_PLACEHOLDER, /* contains a known placeholder word */
    NK_SECRET_TOO_SHORT,   /* under NK_SECRET_MIN_CHARS, or min_bytes */
    NK_SECRET_LOW_ENTROPY  /* few distinct symbols, a run or a repetition */
} nk_secret_status;

#define NK_SECRET_MIN_CHARS 32
#define NK_SECRET_MIN_DISTINCT 10
#define NK_SECRET_MIN_BITS 96 /* Shannon estimate over the whole string */

/*
 * Judges a candidate secret, in this order: valid UTF-8 without control
 * characters; no known placeholder ("changeme", "secret", "your-",
 * "example" ... case-insensitively, anywhere); at least NK_SECRET_MIN_CHARS
 * characters and at least min_bytes bytes (an HMAC key at least as long as
 * the hash output, RFC 7518 section 3.2; 0 for no byte minimum); at least
 * NK_SECRET_MIN_DISTINCT distinct bytes, NK_SECRET_MIN_BITS bits and 3 bits
 * a symbol, less than half of it steps ("aaaa", "abcd", "dcba") and not one
 * short pattern repeated. Never keeps or prints the value.
 */
nk_secret_status nk_secret_judge(const char *s, size_t len, size_t min_bytes);

/* A fixed English phrase completing "the secret ...", never the value. */
const char *nk_secret_status_text(nk_secret_status st);

/* What a secret needs, in one sentence, for error details and --help. */
extern const char nk_secret_rule_text[];

#endif
