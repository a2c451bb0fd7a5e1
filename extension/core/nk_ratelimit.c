/*
 * nk_ratelimit.c — rate-limit arithmetic of the four algorithms (pure C).
 *
 * Semantics are documented in nk_ratelimit.h. Every product that could leave
 * int64 is computed in 128 bits; the bounds checked up front (times, window,
 * quota, bucket span) guarantee that every value stored back into int64 fits.
 */
#include "nk_ratelimit.h"

#include <stddef.h>
#include <string.h>

typedef __int128 nk_i128;

static int64_t floor_div(int64_t a, int64_t b);
static nk_i128 ceil_div128(nk_i128 a, nk_i128 b);
static int64_t max64(int64_t a, int64_t b);
static bool state_ok(const nk_rl_state *s);
static void deny_common(nk_rl_result *out, const nk_rl_state *prev,
                        int64_t now);
static void apply_fixed(const nk_rl_policy *p, const nk_rl_state *prev,
                        int64_t now, int64_t cost, nk_rl_result *out);
static void apply_sliding(const nk_rl_policy *p, const nk_rl_state *prev,
                          int64_t now, int64_t cost, nk_rl_result *out);
static int64_t sliding_wait(int64_t W, int64_t weight, int64_t room);
static void apply_bucket(const nk_rl_policy *p, const nk_rl_state *prev,
                         int64_t now, int64_t cost, nk_rl_result *out);
static void apply_gcra(const nk_rl_policy *p, const nk_rl_state *prev,
                       int64_t now, int64_t cost, nk_rl_result *out);

static const char *const algorithm_names[] = {"fixed_window", "sliding_window",
                                              "token_bucket", "gcra"};

/* Floor division for b > 0 (C division truncates toward zero). */
static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b) != 0 && a < 0)
        q--;
    return q;
}

/* Ceiling division for a >= 0, b > 0. */
static nk_i128
ceil_div128(nk_i128 a, nk_i128 b)
{
    return (a + b - 1) / b;
}

static int64_t
max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * Stored state comes from a table an operator can edit: refuse values the
 * arithmetic was not designed for instead of overflowing on them.
 */
static bool
state_ok(const nk_rl_state *s)
{
    const int64_t tmax = NK_RL_MAX_TIME_US + NK_RL_MAX_SPAN_US;

    return s->t >= -tmax && s->t <= tmax && s->n >= 0 && s->p >= 0 &&
           s->n <= (INT64_C(1) << 53) && s->p <= (INT64_C(1) << 53);
}

/* A denial leaves the state exactly as it was. */
static void
deny_common(nk_rl_result *out, const nk_rl_state *prev, int64_t now)
{
    out->allowed = false;
    if (prev != NULL)
        out->state = *prev;
    else {
        memset(&out->state, 0, sizeof(out->state));
        out->expires_at_us = now;
    }
}

static void
apply_fixed(const nk_rl_policy *p, const nk_rl_state *prev, int64_t now,
            int64_t cost, nk_rl_result *out)
{
    const int64_t W = p->window_us, L = p->limit, real_now = now;
    int64_t ws = floor_div(now, W) * W;
    int64_t used = 0;

    /* A state in a later window than now's means time ran backwards: stay. */
    if (prev != NULL && prev->t >= ws) {
        ws = prev->t;
        used = prev->n;
    }
    now = max64(now, ws);
    out->quota = L;
    out->reset_after_us = ws + W - real_now;
    out->expires_at_us = ws + W;
    if (cost <= L - used) {
        out->allowed = true;
        out->remaining = L - used - cost;
        out->retry_after_us = 0;
        out->state.t = ws;
        out->state.n = used + cost;
        out->state.p = 0;
        return;
    }
    deny_common(out, prev, now);
    out->remaining = max64(0, L - used);
    /* The next window starts empty, so any cost <= L passes there. */
    out->retry_after_us = cost > L ? W : ws + W - real_now;
}

/*
 * Sliding window: the smallest wait from the start of a window for the
 * weighted previous count floor(weight * (W - e) / W) to fall to `room` or
 * below (room >= 0). With k = W - e: floor(weight*k/W) <= room
 * <=> weight*k <= (room+1)*W - 1 <=> k <= floor(((room+1)*W - 1) / weight).
 */
static int64_t
sliding_wait(int64_t W, int64_t weight, int64_t room)
{
    nk_i128 kmax;

    if (weight == 0)
        return 0;
    kmax = ((nk_i128)(room + 1) * W - 1) / weight;
    if (kmax >= W)
        return 0;
    return W - (int64_t)kmax;
}

static void
apply_sliding(const nk_rl_policy *p, const nk_rl_state *prev, int64_t now,
              int64_t cost, nk_rl_result *out)
{
    const int64_t W = p->window_us, L = p->limit, real_now = now;
    int64_t ws = floor_div(now, W) * W;
    int64_t cur = 0, before = 0, e, weighted, used;

    if (prev != NULL) {
        if (prev->t >= ws) { /* same window (or time ran backwards) */
            ws = prev->t;
            cur = prev->n;
            before = prev->p;
        } else if (prev->t == ws - W) { /* the state's window is now previous */
            before = prev->n;
        }
    }
    now = max64(now, ws);
    e = now - ws;
    weighted = (int64_t)(((nk_i128)before * (W - e)) / W);
    used = cur + weighted;
    out->quota = L;
    out->reset_after_us = ws + W - real_now;
    out->expires_at_us = ws + 2 * W;
    if (cost <= L - used) {
        out->allowed = true;
        out->remaining = L - used - cost;
        out->retry_after_us = 0;
        out->state.t = ws;
        out->state.n = cur + cost;
        out->state.p = before;
        return;
    }
    deny_common(out, prev, now);
    out->remaining = max64(0, L - used);
    /* Waits are measured from the real now (earlier when time ran back). */
    if (cost > L)
        out->retry_after_us = W;
    else if (L - cost - cur >= 0) /* passes later in this window */
        out->retry_after_us =
            max64(1, ws + sliding_wait(W, before, L - cost - cur) - real_now);
    else /* only in the next window, where this window's count weighs */
        out->retry_after_us =
            ws + W + sliding_wait(W, cur, L - cost) - real_now;
}

static void
apply_bucket(const nk_rl_policy *p, const nk_rl_state *prev, int64_t now,
             int64_t cost, nk_rl_result *out)
{
    const int64_t W = p->window_us;
    const nk_i128 rate_den = (nk_i128)p->limit * NK_RL_MICRO; /* per W */
    const int64_t cap = p->burst * NK_RL_MICRO, real_now = now;
    int64_t last = now, tokens = cap;

    if (prev != NULL) {
        nk_i128 add;

        last = prev->t;
        tokens = prev->n;
        now = max64(now, last);
        /* Refill; advance `last` only by the time the added micro-tokens took,
         * so the fractions left over are not lost between calls. */
        add = ((nk_i128)now - last) * rate_den / W;
        if ((nk_i128)tokens + add >= cap) { /* also clamps a lowered burst */
            tokens = cap;
            last = now;
        } else {
            tokens += (int64_t)add;
            last += (int64_t)ceil_div128(add * W, rate_den);
        }
    }
    out->quota = p->burst;
    if (cost <= p->burst && cost * NK_RL_MICRO <= tokens) {
        out->allowed = true;
        tokens -= cost * NK_RL_MICRO;
        out->retry_after_us = 0;
        out->state.t = last;
        out->state.n = tokens;
        out->state.p = 0;
    } else {
        deny_common(out, prev, now);
        if (cost > p->burst)
            out->retry_after_us = W;
        else
            out->retry_after_us =
                max64(1, last - real_now +
                             (int64_t)ceil_div128(
                                 (nk_i128)(cost * NK_RL_MICRO - tokens) * W,
                                 rate_den));
    }
    out->remaining = tokens / NK_RL_MICRO;
    /* Full again (== a fresh key) at last + time to refill the gap. */
    out->expires_at_us =
        tokens >= cap ? now
                      : last + (int64_t)ceil_div128((nk_i128)(cap - tokens) * W,
                                                    rate_den);
    out->reset_after_us = max64(0, out->expires_at_us - real_now);
    if (!out->allowed && prev == NULL)
        out->expires_at_us = now;
}

static void
apply_gcra(const nk_rl_policy *p, const nk_rl_state *prev, int64_t now,
           int64_t cost, nk_rl_result *out)
{
    const int64_t T = (int64_t)ceil_div128(p->window_us, p->limit);
    const int64_t span = p->burst * T; /* <= NK_RL_MAX_SPAN_US, checked */
    int64_t base = now, tat;

    if (prev != NULL)
        base = max64(prev->t, now);
    out->quota = p->burst;
    if (cost > p->burst) {
        deny_common(out, prev, now);
        out->remaining = max64(0, (span - (base - now)) / T);
        out->reset_after_us = base - now;
        out->retry_after_us = p->window_us;
        if (prev != NULL)
            out->expires_at_us = prev->t;
        return;
    }
    tat = base + cost * T;
    if (tat - now <= span) {
        out->allowed = true;
        out->remaining = (span - (tat - now)) / T;
        out->reset_after_us = tat - now;
        out->retry_after_us = 0;
        out->state.t = tat;
        out->state.n = 0;
        out->state.p = 0;
        out->expires_at_us = tat;
        return;
    }
    deny_common(out, prev, now);
    out->remaining = max64(0, (span - (base - now)) / T);
    out->reset_after_us = base - now;
    out->retry_after_us = tat - span - now;
    if (prev != NULL)
        out->expires_at_us = prev->t;
}

nk_rl_error
nk_rl_policy_check(const nk_rl_policy *policy)
{
    if ((unsigned)policy->algorithm > NK_RL_GCRA)
        return NK_RL_EALGORITHM;
    if (policy->limit < 0 || policy->limit > NK_RL_MAX_QUOTA ||
        policy->burst < 0 || policy->burst > NK_RL_MAX_QUOTA ||
        policy->window_us <= 0 || policy->window_us > NK_RL_MAX_WINDOW_US)
        return NK_RL_EPOLICY;
    if ((policy->algorithm == NK_RL_TOKEN_BUCKET ||
         policy->algorithm == NK_RL_GCRA) &&
        policy->limit > 0 &&
        (nk_i128)policy->burst * ceil_div128(policy->window_us, policy->limit) >
            NK_RL_MAX_SPAN_US)
        return NK_RL_EOVERFLOW;
    return NK_RL_OK;
}

nk_rl_error
nk_rl_apply(const nk_rl_policy *policy, const nk_rl_state *prev, int64_t now_us,
            int64_t cost, nk_rl_result *out)
{
    nk_rl_error err = nk_rl_policy_check(policy);

    if (err != NK_RL_OK)
        return err;
    if (cost < 0)
        return NK_RL_ECOST;
    if (now_us < -NK_RL_MAX_TIME_US || now_us > NK_RL_MAX_TIME_US ||
        (prev != NULL && !state_ok(prev)))
        return NK_RL_EOVERFLOW;

    memset(out, 0, sizeof(*out));
    if (policy->limit == 0) {
        /* Nothing ever refills or fits: only a cost of 0 passes. */
        out->allowed = cost == 0;
        out->retry_after_us = cost == 0 ? 0 : policy->window_us;
        out->reset_after_us = policy->window_us;
        if (prev != NULL)
            out->state = *prev;
        out->expires_at_us = now_us;
        return NK_RL_OK;
    }
    switch (policy->algorithm) {
    case NK_RL_FIXED_WINDOW:
        apply_fixed(policy, prev, now_us, cost, out);
        break;
    case NK_RL_SLIDING_WINDOW:
        apply_sliding(policy, prev, now_us, cost, out);
        break;
    case NK_RL_TOKEN_BUCKET:
        apply_bucket(policy, prev, now_us, cost, out);
        break;
    case NK_RL_GCRA:
        apply_gcra(policy, prev, now_us, cost, out);
        break;
    }
    return NK_RL_OK;
}

int
nk_rl_slot_count(const nk_rl_policy *policy, int64_t max_slots)
{
    int64_t q = policy->limit, s;

    if (policy->algorithm == NK_RL_TOKEN_BUCKET ||
        policy->algorithm == NK_RL_GCRA)
        q = q < policy->burst ? q : policy->burst;
    if (max_slots > NK_RL_MAX_SLOTS)
        max_slots = NK_RL_MAX_SLOTS;
    s = q / NK_RL_MIN_SLOT_SHARE;
    if (s > max_slots)
        s = max_slots;
    return s < 1 ? 1 : (int)s;
}

nk_rl_error
nk_rl_slot_policy(const nk_rl_policy *policy, int slots, int slot,
                  nk_rl_policy *out)
{
    if (slots < 1 || slots > NK_RL_MAX_SLOTS || slot < 0 || slot >= slots)
        return NK_RL_EPOLICY;
    *out = *policy;
    /* Remainders go to the lowest slots, so the shares add up exactly. */
    out->limit = policy->limit / slots + (slot < policy->limit % slots);
    out->burst = policy->burst / slots + (slot < policy->burst % slots);
    return NK_RL_OK;
}

int64_t
nk_rl_units_left(const nk_rl_result *r, int64_t cost)
{
    return r->allowed ? r->remaining + cost : r->remaining;
}

void
nk_rl_merge(const nk_rl_result *per_slot, int nslots, int64_t cost, int chosen,
            int64_t now_us, nk_rl_result *out)
{
    int64_t left = 0, quota = 0, reset = 0, retry = INT64_MAX;
    int64_t expires = INT64_MIN;
    bool allowed = chosen >= 0, fits_one = false;
    int i;

    for (i = 0; i < nslots; i++) {
        const nk_rl_result *r = &per_slot[i];

        left += nk_rl_units_left(r, cost);
        quota += r->quota;
        reset = max64(reset, r->reset_after_us);
        expires = max64(expires, r->expires_at_us);
        if (cost <= r->quota)
            fits_one = true;
        if (chosen < 0 && r->allowed)
            allowed = true;
        if (!r->allowed && r->retry_after_us < retry)
            retry = r->retry_after_us;
    }
    if (chosen < 0 && cost > 0 && left >= cost)
        allowed = true;
    /* A cost too big for any slot's share passes once all slots are fresh
     * (when it fits the whole quota); each slot alone would say "never". */
    if (!allowed && !fits_one && cost <= quota && nslots > 1)
        retry = max64(1, expires - now_us);
    memset(out, 0, sizeof(*out));
    out->allowed = allowed;
    out->quota = quota;
    out->remaining = allowed ? left - cost : left;
    out->reset_after_us = reset;
    out->retry_after_us = allowed || retry == INT64_MAX ? 0 : retry;
    out->expires_at_us = nslots > 0 ? expires : 0;
}

const char *
nk_rl_algorithm_name(nk_rl_algorithm algorithm)
{
    if ((unsigned)algorithm > NK_RL_GCRA)
        return NULL;
    return algorithm_names[algorithm];
}

bool
nk_rl_algorithm_parse(const char *name, nk_rl_algorithm *out)
{
    size_t i;

    for (i = 0; i < sizeof(algorithm_names) / sizeof(algorithm_names[0]); i++)
        if (strcmp(name, algorithm_names[i]) == 0) {
            *out = (nk_rl_algorithm)i;
            return true;
        }
    return false;
}
