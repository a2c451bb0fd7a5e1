/*
 * nk_ratelimit.h — rate-limit arithmetic of the four algorithms (pure C).
 *
 * One function, nk_rl_apply(), decides one request: given a policy, the
 * key's previous state (or none), the current time and the request's cost,
 * it says whether the request is allowed, how much quota remains, when the
 * quota resets, when to retry, and what the key's new state is. It touches
 * no storage: the caller (extension/ratelimit.c) reads and writes the state
 * row and provides the locking. Everything is integer arithmetic on int64
 * with 128-bit intermediates, so results are exact and reproducible.
 *
 * Time is an int64 count of microseconds on any fixed epoch (the extension
 * uses PostgreSQL's: 2000-01-01 00:00 UTC). Times must lie within
 * +/- NK_RL_MAX_TIME_US; anything else is NK_RL_EOVERFLOW.
 *
 * Algorithms (W = window in microseconds, L = limit, B = burst):
 *
 *   NK_RL_FIXED_WINDOW   at most L cost units per window; windows are aligned
 *                        to multiples of W from the epoch (an hour window
 *                        starts on the hour). State: t = window start,
 *                        n = cost used in it. B is ignored.
 *   NK_RL_SLIDING_WINDOW weighted two-window counter: the cost used is the
 *                        current aligned window's count plus the previous
 *                        window's count weighted by the share of the sliding
 *                        window [now - W, now) that still overlaps it,
 *                        rounded down. State: t = current window start,
 *                        n = its count, p = previous window's count.
 *   NK_RL_TOKEN_BUCKET   a bucket of capacity B tokens (full when the key is
 *                        new) refilled continuously at L tokens per W; a
 *                        request takes `cost` tokens. State: t = time of the
 *                        last refill, n = tokens in micro-tokens (1e-6 token;
 *                        refill rounds down, never in the caller's favour,
 *                        and the unused fraction carries over: an allowed
 *                        request loses less than 1 us of refill).
 *   NK_RL_GCRA           generic cell rate algorithm (leaky bucket as a
 *                        meter): emission interval T = ceil(W / L), a request
 *                        of cost c moves the theoretical arrival time (TAT)
 *                        to max(TAT, now) + c*T and is allowed when the new
 *                        TAT is at most B*T ahead of now (B requests may
 *                        arrive at once, then one per T). State: t = TAT.
 *
 * Token bucket and GCRA make the same decisions up to rounding (GCRA is the
 * bucket written as one timestamp); they differ in their state and in
 * rounding (the bucket rounds refill down to a micro-token, GCRA rounds T up
 * to a microsecond).
 *
 * Common rules:
 *   - A request is allowed when used + cost <= quota (quota = L for the
 *     windows, B for the buckets). A cost of 0 is allowed unless the key is
 *     already over a (lowered) quota. A denied request leaves the state as it
 *     was (out->state == *prev, or the empty state when prev is NULL).
 *   - limit 0 denies every request of cost > 0 (whatever B); quota is then
 *     0. A request whose cost exceeds the quota can never pass:
 *     retry_after_us is then W.
 *   - Time never runs backwards for a key: a `now` earlier than the state's
 *     own time is treated as that time (conservative); reset_after_us and
 *     retry_after_us are still measured from the real `now`.
 *   - Window states are aligned window starts (as this code writes them);
 *     an unaligned stored window start is tolerated but may be off by part
 *     of a window.
 *   - expires_at_us is the time from which the state is equivalent to no
 *     state at all (a fresh key), so the caller may delete it from then on.
 */
#ifndef NK_RATELIMIT_H
#define NK_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Bounds that keep every intermediate value inside int64. */
#define NK_RL_MAX_TIME_US (INT64_C(1) << 61)          /* about 73 000 years */
#define NK_RL_MAX_WINDOW_US INT64_C(2147483647000000) /* INT32_MAX seconds */
#define NK_RL_MAX_QUOTA INT64_C(2147483647)           /* limit and burst */
#define NK_RL_MAX_SPAN_US (INT64_C(1) << 60)          /* B*T of the buckets */
#define NK_RL_MICRO INT64_C(1000000) /* micro-tokens per token */

typedef enum nk_rl_algorithm {
    NK_RL_FIXED_WINDOW = 0,
    NK_RL_SLIDING_WINDOW,
    NK_RL_TOKEN_BUCKET,
    NK_RL_GCRA
} nk_rl_algorithm;

typedef enum nk_rl_error {
    NK_RL_OK = 0,
    NK_RL_EALGORITHM, /* unknown algorithm */
    NK_RL_EPOLICY,    /* limit/burst < 0 or > NK_RL_MAX_QUOTA, window <= 0 or
                         > NK_RL_MAX_WINDOW_US */
    NK_RL_ECOST,      /* cost < 0 */
    NK_RL_EOVERFLOW   /* now outside +/- NK_RL_MAX_TIME_US, a bucket whose
                         B * T exceeds NK_RL_MAX_SPAN_US, or a stored state
                         out of range (t beyond the time bounds plus the span,
                         n or p negative or above 2^53) */
} nk_rl_error;

typedef struct nk_rl_policy {
    nk_rl_algorithm algorithm;
    int64_t limit;     /* L: requests (cost units) per window, >= 0 */
    int64_t window_us; /* W: > 0 */
    int64_t burst;     /* B: bucket capacity; set it to limit for "no burst" */
} nk_rl_policy;

/* Per-algorithm meaning of the fields: see the table at the top. */
typedef struct nk_rl_state {
    int64_t t;
    int64_t n;
    int64_t p;
} nk_rl_state;

typedef struct nk_rl_result {
    bool allowed;
    int64_t quota;          /* L for the windows, B for the buckets; 0 when
                               L is 0 */
    int64_t remaining;      /* quota left after this request (if allowed) */
    int64_t reset_after_us; /* windows: until the current window ends;
                               buckets: until the bucket is full again */
    int64_t retry_after_us; /* 0 when allowed; else until this same request
                               would pass with no other traffic (W if never) */
    nk_rl_state state;      /* the new state (unchanged when denied) */
    int64_t expires_at_us;  /* the new state is dead (== fresh) from then on */
} nk_rl_result;

/*
 * Decides one request. prev is the key's stored state, or NULL for a key
 * without state. out is always fully written when NK_RL_OK is returned and
 * untouched otherwise.
 */
nk_rl_error nk_rl_apply(const nk_rl_policy *policy, const nk_rl_state *prev,
                        int64_t now_us, int64_t cost, nk_rl_result *out);

/*
 * Slots: the state of one key may be split over S slots so that concurrent
 * allowed requests on a hot key lock different rows. Slot i is an ordinary
 * policy with the same algorithm and window and a share of the quota:
 * limit_i = L / S, plus 1 for the first L % S slots (same for the burst), so
 * the shares add up to exactly L and B (and the buckets' refill rates to
 * L per W). A request is decided by ONE slot: it passes when some slot
 * passes it. S = min(max_slots, Q / NK_RL_MIN_SLOT_SHARE), at least 1, with
 * Q = L for the windows and min(L, B) for the buckets: every slot gets at
 * least NK_RL_MIN_SLOT_SHARE units, so small quotas keep one slot and
 * behave exactly as unsplit, and any cost up to that share fits a fresh slot.
 */
#define NK_RL_MAX_SLOTS 64
#define NK_RL_MIN_SLOT_SHARE 8

/* The number of slots of a policy (1 .. NK_RL_MAX_SLOTS); max_slots is the
 * policy's configured maximum, clamped to 1 .. NK_RL_MAX_SLOTS. */
int nk_rl_slot_count(const nk_rl_policy *policy, int64_t max_slots);

/* The policy of slot `slot` (0 <= slot < slots) of a key split in `slots`.
 * Returns NK_RL_EPOLICY when slot or slots are out of range. */
nk_rl_error nk_rl_slot_policy(const nk_rl_policy *policy, int slots, int slot,
                              nk_rl_policy *out);

/*
 * Merges the decisions of the slots of one key for one request of `cost`
 * (per_slot[i] from nk_rl_apply with the slot's policy, same cost and now)
 * into the key's answer.
 *
 * chosen >= 0: that slot took the request (a check). chosen < 0: the answer
 * of the committed state (a peek): allowed when some slot allows the cost,
 * or when cost > 0 and the slots together have at least `cost` whole units
 * left (a check then takes the cost from several slots).
 *
 * quota = sum of the quotas; remaining = sum of what the slots have left,
 * minus cost when allowed; reset_after = the latest slot's (until all are
 * fresh again); retry_after = 0 when allowed, else the soonest a slot would
 * allow the cost alone, or, when the cost fits the key's quota but no slot's
 * share, until every slot is fresh again (expires_at - now). out->state is
 * zeroed and out->expires_at_us is the latest slot's. With one slot the
 * answer is per_slot[0]'s.
 */
void nk_rl_merge(const nk_rl_result *per_slot, int nslots, int64_t cost,
                 int chosen, int64_t now_us, nk_rl_result *out);

/* Units a slot's answer says are left before the request: remaining, plus
 * the cost when it allowed the request. */
int64_t nk_rl_units_left(const nk_rl_result *r, int64_t cost);

/* Validates a policy alone (same rules as nk_rl_apply). */
nk_rl_error nk_rl_policy_check(const nk_rl_policy *policy);

/* Name of an algorithm as stored in SQL ("fixed_window" ...); NULL if bad. */
const char *nk_rl_algorithm_name(nk_rl_algorithm algorithm);

/* Parses an algorithm name; returns false when unknown. */
bool nk_rl_algorithm_parse(const char *name, nk_rl_algorithm *out);

#endif
