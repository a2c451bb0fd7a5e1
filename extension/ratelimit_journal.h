/*
 * ratelimit_journal.h — what rate_limit_check consumed in this transaction
 * (for the audit record) and the rebuild of the state after a crash; see
 * ratelimit_journal.c.
 */
#ifndef NAMASKAH_RATELIMIT_JOURNAL_H
#define NAMASKAH_RATELIMIT_JOURNAL_H

#include "postgres.h"

#include "utils/timestamp.h"

/* Registers the transaction callbacks (_PG_init, namaskah.c). */
void rl_journal_register_callbacks(void);

/* Rebuilds namaskah.rate_limit_state from the audit records if a crash or a
 * failover emptied it; once per backend, cheap after that. Call inside SPI. */
void rl_journal_ensure_state(void);

/* Notes one consuming decision that was allowed (cost > 0). */
void rl_journal_note(const text *policy, const text *key, int64 cost,
                     TimestampTz at);

#endif
