/*
 * test_ratelimit.c — unit tests of the rate-limit arithmetic
 * (extension/core/nk_ratelimit.c): window edges, refill, burst, cost > 1,
 * limit 0, huge costs and overflow guards, for each of the four algorithms;
 * and the splitting of a key over slots (slot count, shares with their
 * remainders, merging the slots' answers, exact totals over the slots).
 */
#include "nk_ratelimit.h"
#include "unit.h"

#include <stdint.h>
#include <string.h>

#define SEC INT64_C(1000000)

static nk_rl_policy pol(nk_rl_algorithm a, int64_t limit, int64_t window_s,
                        int64_t burst);
static int run(const nk_rl_policy *p, nk_rl_state *st, int *has, int64_t now,
               int64_t cost, nk_rl_result *r);
static int burst_of(const nk_rl_policy *p, nk_rl_state *st, int *has,
                    int64_t now, int n);
static void test_fixed(void);
static void test_sliding(void);
static void test_bucket(void);
static void test_gcra(void);
static void test_common(void);
static void test_slot_count(void);
static void test_slot_shares(void);
static void test_merge(void);
static int64_t slots_serve(const nk_rl_policy *p, int S, int64_t now,
                           int64_t cost, int n, nk_rl_state *st, int *has);
static void test_slot_totals(void);

static nk_rl_policy
pol(nk_rl_algorithm a, int64_t limit, int64_t window_s, int64_t burst)
{
    nk_rl_policy p;

    p.algorithm = a;
    p.limit = limit;
    p.window_us = window_s * SEC;
    p.burst = burst;
    return p;
}

/* One request against a stored state that is updated like the SQL side
 * does: only when allowed with cost > 0. Returns allowed (or -1 on error). */
static int
run(const nk_rl_policy *p, nk_rl_state *st, int *has, int64_t now, int64_t cost,
    nk_rl_result *r)
{
    nk_rl_state before = *st;

    if (nk_rl_apply(p, *has ? st : NULL, now, cost, r) != NK_RL_OK)
        return -1;
    if (!r->allowed && *has && /* a denial must not change the state */
        (r->state.t != before.t || r->state.n != before.n ||
         r->state.p != before.p))
        CHECK(!"a denial changed the state");
    if (r->allowed && cost > 0) {
        *st = r->state;
        *has = 1;
    }
    return r->allowed;
}

/* How many of n cost-1 requests at `now` pass. */
static int
burst_of(const nk_rl_policy *p, nk_rl_state *st, int *has, int64_t now, int n)
{
    nk_rl_result r;
    int i, ok = 0;

    for (i = 0; i < n; i++)
        ok += run(p, st, has, now, 1, &r) == 1;
    return ok;
}

static void
test_fixed(void)
{
    nk_rl_policy p = pol(NK_RL_FIXED_WINDOW, 3, 60, 3);
    nk_rl_state st = {0, 0, 0};
    int has = 0;
    nk_rl_result r;
    int64_t t0 = 600 * SEC; /* a window boundary */

    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 1, &r) == 1);
    CHECK(r.quota == 3 && r.remaining == 2 && r.retry_after_us == 0);
    CHECK(r.reset_after_us == 50 * SEC && r.expires_at_us == t0 + 60 * SEC);
    CHECK(st.t == t0 && st.n == 1);
    CHECK(run(&p, &st, &has, t0 + 20 * SEC, 2, &r) == 1 && r.remaining == 0);
    CHECK(run(&p, &st, &has, t0 + 30 * SEC, 1, &r) == 0);
    CHECK(r.remaining == 0 && r.retry_after_us == 30 * SEC);
    /* last microsecond of the window, then the edge */
    CHECK(run(&p, &st, &has, t0 + 60 * SEC - 1, 1, &r) == 0);
    CHECK(r.retry_after_us == 1);
    CHECK(run(&p, &st, &has, t0 + 60 * SEC, 3, &r) == 1 && r.remaining == 0);
    CHECK(st.t == t0 + 60 * SEC && st.n == 3);
    /* cost above the limit never passes: retry after a whole window */
    CHECK(run(&p, &st, &has, t0 + 200 * SEC, 4, &r) == 0);
    CHECK(r.retry_after_us == 60 * SEC && r.remaining == 3);
    /* time running backwards stays in the later window */
    CHECK(run(&p, &st, &has, t0 + 30 * SEC, 1, &r) == 0);
    CHECK(r.reset_after_us == 90 * SEC && r.retry_after_us == 90 * SEC);
    /* negative times align too (floor, not truncation) */
    has = 0;
    CHECK(run(&p, &st, &has, -1, 1, &r) == 1 && st.t == -60 * SEC);
    CHECK(r.reset_after_us == 1);
}

static void
test_sliding(void)
{
    nk_rl_policy p = pol(NK_RL_SLIDING_WINDOW, 10, 60, 10);
    nk_rl_state st = {0, 0, 0};
    int has = 0;
    nk_rl_result r;
    int64_t t0 = 6000 * SEC;

    CHECK(burst_of(&p, &st, &has, t0 + 30 * SEC, 12) == 10);
    CHECK(st.t == t0 && st.n == 10 && st.p == 0);
    /* 15 s into the next window the previous 10 weigh 10*45/60 = 7.5 -> 7 */
    CHECK(burst_of(&p, &st, &has, t0 + 75 * SEC, 5) == 3);
    CHECK(st.t == t0 + 60 * SEC && st.n == 3 && st.p == 10);
    /* denied: used 3 + floor(10*45/60)=7 -> 10; passes when the weight <= 6,
     * i.e. 10*(60-e)/60 < 7 <=> e > 18 s: e = 18 s + 1 us */
    CHECK(run(&p, &st, &has, t0 + 75 * SEC, 1, &r) == 0);
    CHECK(r.retry_after_us == 3 * SEC + 1 && r.remaining == 0);
    CHECK(run(&p, &st, &has, t0 + 78 * SEC, 1, &r) == 0);
    CHECK(run(&p, &st, &has, t0 + 78 * SEC + 1, 1, &r) == 1);
    CHECK(r.remaining == 0);
    /* full current window: retry only in the next window */
    CHECK(burst_of(&p, &st, &has, t0 + 119 * SEC, 10) == 6);
    CHECK(st.n == 10);
    CHECK(run(&p, &st, &has, t0 + 119 * SEC, 5, &r) == 0);
    /* next window: floor(10*k/W) <= 5 <=> k <= (6W - 1)/10 = 35999999 us,
     * so e >= 24000001 us after the 1 s left in this window */
    CHECK(r.retry_after_us == 1 * SEC + 24000001);
    /* two windows later everything is forgotten */
    CHECK(run(&p, &st, &has, t0 + 180 * SEC, 10, &r) == 1);
    CHECK(r.remaining == 0 && r.expires_at_us == t0 + 300 * SEC);
    CHECK(run(&p, &st, &has, t0 + 181 * SEC, 11, &r) == 0);
    CHECK(r.retry_after_us == 60 * SEC);
}

static void
test_bucket(void)
{
    nk_rl_policy p = pol(NK_RL_TOKEN_BUCKET, 6, 60, 3); /* 1 token / 10 s */
    nk_rl_state st = {0, 0, 0};
    int has = 0;
    nk_rl_result r;
    int64_t t0 = 1000 * SEC;

    CHECK(run(&p, &st, &has, t0, 1, &r) == 1);
    CHECK(r.quota == 3 && r.remaining == 2 && r.reset_after_us == 10 * SEC);
    CHECK(burst_of(&p, &st, &has, t0, 5) == 2);
    CHECK(run(&p, &st, &has, t0, 1, &r) == 0 && r.retry_after_us == 10 * SEC);
    CHECK(r.reset_after_us == 30 * SEC);
    /* 5 s give half a token: still denied, 5 s more needed */
    CHECK(run(&p, &st, &has, t0 + 5 * SEC, 1, &r) == 0);
    CHECK(r.retry_after_us == 5 * SEC);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 1, &r) == 1 && r.remaining == 0);
    /* cost 2 needs 20 s; cost > burst never passes */
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 2, &r) == 0);
    CHECK(r.retry_after_us == 20 * SEC);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 4, &r) == 0);
    CHECK(r.retry_after_us == 60 * SEC);
    /* refill stops at the capacity */
    CHECK(run(&p, &st, &has, t0 + 1000 * SEC, 3, &r) == 1 && r.remaining == 0);
    CHECK(run(&p, &st, &has, t0 + 1000 * SEC, 1, &r) == 0);
    /* many small steps lose no refill: 3 tokens per 7 s (fractional
     * micro-tokens per us), drained, polled every 13 us: 29 tokens arrive
     * before 70 s, the 30th at 70 s (each allowed request may lose less than
     * 1 us of refill to rounding: 30 us at most here) */
    {
        nk_rl_policy q = pol(NK_RL_TOKEN_BUCKET, 3, 7, 100);
        nk_rl_state s2 = {0, 0, 0};
        int h2 = 0, ok = 0;
        int64_t t;

        CHECK(run(&q, &s2, &h2, 0, 100, &r) == 1);
        for (t = 13; t < 70 * SEC; t += 13)
            ok += run(&q, &s2, &h2, t, 1, &r) == 1;
        CHECK(ok == 29);
        CHECK(run(&q, &s2, &h2, 70 * SEC + 30, 1, &r) == 1);
    }
    /* lowering the burst clamps stored tokens */
    p.burst = 1;
    st.n = 3 * NK_RL_MICRO;
    CHECK(burst_of(&p, &st, &has, st.t + 1, 3) == 1);
}

static void
test_gcra(void)
{
    nk_rl_policy p = pol(NK_RL_GCRA, 6, 60, 3); /* T = 10 s, 3 at once */
    nk_rl_state st = {0, 0, 0};
    int has = 0;
    nk_rl_result r;
    int64_t t0 = 1000 * SEC;

    CHECK(run(&p, &st, &has, t0, 1, &r) == 1);
    CHECK(r.quota == 3 && r.remaining == 2 && r.reset_after_us == 10 * SEC);
    CHECK(st.t == t0 + 10 * SEC && r.expires_at_us == st.t);
    CHECK(burst_of(&p, &st, &has, t0, 5) == 2);
    CHECK(run(&p, &st, &has, t0, 1, &r) == 0);
    CHECK(r.retry_after_us == 10 * SEC && r.reset_after_us == 30 * SEC);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC - 1, 1, &r) == 0);
    CHECK(r.retry_after_us == 1);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 1, &r) == 1 && r.remaining == 0);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 2, &r) == 0);
    CHECK(r.retry_after_us == 20 * SEC);
    CHECK(run(&p, &st, &has, t0 + 10 * SEC, 4, &r) == 0);
    CHECK(r.retry_after_us == 60 * SEC);
    /* after idling, the full burst is back (and not more) */
    CHECK(burst_of(&p, &st, &has, t0 + 10000 * SEC, 5) == 3);
    /* T rounds up: 3 per 1 s -> T = 333334 us */
    p = pol(NK_RL_GCRA, 3, 1, 1);
    has = 0;
    CHECK(run(&p, &st, &has, 0, 1, &r) == 1 && st.t == 333334);
}

static void
test_common(void)
{
    nk_rl_algorithm a;
    nk_rl_state st = {0, 0, 0};
    int has, i;
    nk_rl_result r;
    nk_rl_policy p;

    for (i = 0; i <= NK_RL_GCRA; i++) {
        a = (nk_rl_algorithm)i;
        /* limit 0: nothing with cost > 0, cost 0 passes */
        p = pol(a, 0, 60, 5);
        has = 0;
        CHECK(run(&p, &st, &has, 0, 1, &r) == 0);
        CHECK(r.retry_after_us == 60 * SEC && r.quota == 0 && r.remaining == 0);
        CHECK(run(&p, &st, &has, 0, 0, &r) == 1);
        /* huge costs are denied without overflow, huge windows work */
        p = pol(a, 2147483647, 2147483647, 2147483647);
        has = 0;
        CHECK(run(&p, &st, &has, NK_RL_MAX_TIME_US, INT64_MAX, &r) == 0);
        CHECK(r.retry_after_us == p.window_us);
        CHECK(run(&p, &st, &has, NK_RL_MAX_TIME_US, 2147483647, &r) == 1);
        CHECK(run(&p, &st, &has, -NK_RL_MAX_TIME_US, 1, &r) == 0);
        p = pol(a, 1, 2147483647, 1);
        has = 0;
        CHECK(run(&p, &st, &has, NK_RL_MAX_TIME_US, 1, &r) == 1);
        CHECK(run(&p, &st, &has, -NK_RL_MAX_TIME_US, 1, &r) == 0);
        CHECK(run(&p, &st, &has, NK_RL_MAX_TIME_US, 0, &r) == 1);
        /* cost 0 is a query */
        p = pol(a, 5, 60, 5);
        has = 0;
        CHECK(run(&p, &st, &has, 0, 0, &r) == 1 && r.remaining == 5);
        CHECK(nk_rl_apply(&p, NULL, 0, -1, &r) == NK_RL_ECOST);
        CHECK(nk_rl_apply(&p, NULL, NK_RL_MAX_TIME_US + 1, 1, &r) ==
              NK_RL_EOVERFLOW);
        CHECK(nk_rl_apply(&p, NULL, INT64_MIN, 1, &r) == NK_RL_EOVERFLOW);
        st.t = INT64_MAX;
        CHECK(nk_rl_apply(&p, &st, 0, 1, &r) == NK_RL_EOVERFLOW);
        st.t = 0;
        st.n = -1;
        CHECK(nk_rl_apply(&p, &st, 0, 1, &r) == NK_RL_EOVERFLOW);
        st.n = 0;
        p.window_us = 0;
        CHECK(nk_rl_apply(&p, NULL, 0, 1, &r) == NK_RL_EPOLICY);
        p.window_us = NK_RL_MAX_WINDOW_US + 1;
        CHECK(nk_rl_policy_check(&p) == NK_RL_EPOLICY);
        p = pol(a, -1, 60, 5);
        CHECK(nk_rl_policy_check(&p) == NK_RL_EPOLICY);
        p = pol(a, 5, 60, (INT64_C(1) << 31));
        CHECK(nk_rl_policy_check(&p) == NK_RL_EPOLICY);
        CHECK(nk_rl_algorithm_parse(nk_rl_algorithm_name(a), &a) &&
              a == (nk_rl_algorithm)i);
    }
    p = pol(NK_RL_GCRA, 1, 2147483647, 2147483647); /* B*T far too long */
    CHECK(nk_rl_policy_check(&p) == NK_RL_EOVERFLOW);
    p.algorithm = (nk_rl_algorithm)7;
    CHECK(nk_rl_policy_check(&p) == NK_RL_EALGORITHM);
    CHECK(nk_rl_algorithm_name((nk_rl_algorithm)7) == NULL);
    CHECK(!nk_rl_algorithm_parse("leaky", &a));
}

static void
test_slot_count(void)
{
    nk_rl_policy p = pol(NK_RL_FIXED_WINDOW, 5, 3600, 5);

    CHECK(nk_rl_slot_count(&p, 16) == 1); /* small quotas keep one slot */
    p.limit = 15;
    CHECK(nk_rl_slot_count(&p, 16) == 1);
    p.limit = 16;
    CHECK(nk_rl_slot_count(&p, 16) == 2); /* at least 8 units per slot */
    p.limit = 100;
    CHECK(nk_rl_slot_count(&p, 16) == 12);
    p.limit = 1000;
    CHECK(nk_rl_slot_count(&p, 16) == 16);
    CHECK(nk_rl_slot_count(&p, 1) == 1);
    CHECK(nk_rl_slot_count(&p, 0) == 1);
    CHECK(nk_rl_slot_count(&p, 1000) == NK_RL_MAX_SLOTS);
    p.limit = 0;
    CHECK(nk_rl_slot_count(&p, 16) == 1);
    /* the buckets: the smaller of limit and burst decides */
    p = pol(NK_RL_TOKEN_BUCKET, 1000, 3600, 20);
    CHECK(nk_rl_slot_count(&p, 16) == 2);
    p = pol(NK_RL_GCRA, 20, 3600, 1000);
    CHECK(nk_rl_slot_count(&p, 16) == 2);
    /* the windows ignore the burst */
    p = pol(NK_RL_SLIDING_WINDOW, 1000, 3600, 1);
    CHECK(nk_rl_slot_count(&p, 16) == 16);
}

static void
test_slot_shares(void)
{
    nk_rl_policy p = pol(NK_RL_TOKEN_BUCKET, 50, 60, 35), sp;
    int64_t lsum = 0, bsum = 0;
    int i;

    for (i = 0; i < 4; i++) {
        CHECK(nk_rl_slot_policy(&p, 4, i, &sp) == NK_RL_OK);
        CHECK(sp.algorithm == p.algorithm && sp.window_us == p.window_us);
        CHECK(sp.limit == (i < 2 ? 13 : 12)); /* 50 = 13 + 13 + 12 + 12 */
        CHECK(sp.burst == (i < 3 ? 9 : 8));   /* 35 = 9 + 9 + 9 + 8 */
        lsum += sp.limit;
        bsum += sp.burst;
    }
    CHECK(lsum == 50 && bsum == 35);
    CHECK(nk_rl_slot_policy(&p, 4, 4, &sp) == NK_RL_EPOLICY);
    CHECK(nk_rl_slot_policy(&p, 4, -1, &sp) == NK_RL_EPOLICY);
    CHECK(nk_rl_slot_policy(&p, 0, 0, &sp) == NK_RL_EPOLICY);
    CHECK(nk_rl_slot_policy(&p, NK_RL_MAX_SLOTS + 1, 0, &sp) == NK_RL_EPOLICY);
    CHECK(nk_rl_slot_policy(&p, 1, 0, &sp) == NK_RL_OK && sp.limit == 50 &&
          sp.burst == 35);
}

static void
test_merge(void)
{
    nk_rl_policy p = pol(NK_RL_FIXED_WINDOW, 10, 60, 10);
    nk_rl_result r[3], m;
    nk_rl_state st = {0, 9, 0};

    /* one slot: the merge is the slot's own answer */
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 1, &r[0]) == NK_RL_OK);
    nk_rl_merge(r, 1, 1, 0, 5 * SEC, &m);
    CHECK(m.allowed && m.quota == 10 && m.remaining == 0 &&
          m.reset_after_us == r[0].reset_after_us && m.retry_after_us == 0);
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 2, &r[0]) == NK_RL_OK);
    nk_rl_merge(r, 1, 2, -1, 5 * SEC, &m);
    CHECK(!m.allowed && m.remaining == 1 && m.retry_after_us == 55 * SEC);

    /* three slots of 10: 1, 5 and 0 left; cost 2 */
    st.n = 9;
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 2, &r[0]) == NK_RL_OK);
    st.n = 5;
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 2, &r[1]) == NK_RL_OK);
    st.n = 10;
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 2, &r[2]) == NK_RL_OK);
    nk_rl_merge(r, 3, 2, -1, 5 * SEC, &m); /* a peek: slot 1 would allow */
    CHECK(m.allowed && m.quota == 30 && m.remaining == 4 &&
          m.retry_after_us == 0);
    nk_rl_merge(r, 3, 2, 1, 5 * SEC, &m); /* a check that took slot 1 */
    CHECK(m.allowed && m.remaining == 4);
    r[1].allowed = false; /* 1 + 1 + 0 left: two slots together pass 2 */
    r[1].remaining = 1;
    r[1].retry_after_us = 7 * SEC;
    nk_rl_merge(r, 3, 2, -1, 5 * SEC, &m);
    CHECK(m.allowed && m.remaining == 0 && m.retry_after_us == 0);
    r[1].remaining = 0; /* 1 + 0 + 0: denied, the soonest slot's wait */
    nk_rl_merge(r, 3, 2, -1, 5 * SEC, &m);
    CHECK(!m.allowed && m.remaining == 1 && m.retry_after_us == 7 * SEC);
    /* a cost above every slot's share but within the quota: when 5 + 0 + 0
     * are left, until all the slots are fresh (the window's end) */
    st.n = 5;
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 11, &r[0]) == NK_RL_OK);
    st.n = 10;
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 11, &r[1]) == NK_RL_OK);
    r[2] = r[1];
    nk_rl_merge(r, 3, 11, -1, 5 * SEC, &m);
    CHECK(!m.allowed && m.remaining == 5 && m.retry_after_us == 55 * SEC);
    st.n = 0; /* 10 + 10 left: passes, taken from two slots */
    CHECK(nk_rl_apply(&p, &st, 5 * SEC, 11, &r[0]) == NK_RL_OK);
    r[1] = r[0];
    nk_rl_merge(r, 2, 11, -1, 5 * SEC, &m);
    CHECK(m.allowed && m.remaining == 9);
    nk_rl_merge(r, 3, 31, -1, 5 * SEC, &m); /* above the quota: never */
    CHECK(!m.allowed && m.remaining == 20 && m.retry_after_us == 60 * SEC);
}

/*
 * n requests of `cost` at `now` on a key split over S slots, each tried on
 * the slots in turn from a rotating start (as the SQL side does); returns
 * how many passed. st/has: the slots' states.
 */
static int64_t
slots_serve(const nk_rl_policy *p, int S, int64_t now, int64_t cost, int n,
            nk_rl_state *st, int *has)
{
    int64_t passed = 0;
    int k, j;

    for (k = 0; k < n; k++)
        for (j = 0; j < S; j++) {
            int i = (k * 7 + j) % S;
            nk_rl_policy sp;
            nk_rl_result r;

            if (nk_rl_slot_policy(p, S, i, &sp) != NK_RL_OK ||
                nk_rl_apply(&sp, has[i] ? &st[i] : NULL, now, cost, &r) !=
                    NK_RL_OK)
                return -1;
            if (r.allowed) {
                st[i] = r.state;
                has[i] = 1;
                passed++;
                break;
            }
        }
    return passed;
}

/* Split over slots, the key as a whole allows exactly its quota. */
static void
test_slot_totals(void)
{
    nk_rl_state st[NK_RL_MAX_SLOTS];
    int has[NK_RL_MAX_SLOTS];
    nk_rl_policy p;
    int S, a;

    for (a = 0; a < 4; a++) {
        p = pol((nk_rl_algorithm)a, 500, 3600, 500);
        S = nk_rl_slot_count(&p, 16);
        CHECK(S == 16);
        memset(has, 0, sizeof(has));
        /* cost 1: exactly 500 at once, whatever the split */
        CHECK(slots_serve(&p, S, 0, 1, 2000, st, has) == 500);
        /* and nothing more at the same instant */
        CHECK(slots_serve(&p, S, 0, 1, 10, st, has) == 0);
    }
    /* fixed window: the next window starts fresh on every slot */
    p = pol(NK_RL_FIXED_WINDOW, 500, 3600, 500);
    memset(has, 0, sizeof(has));
    CHECK(slots_serve(&p, 16, 0, 1, 600, st, has) == 500);
    CHECK(slots_serve(&p, 16, 3600 * SEC, 1, 600, st, has) == 500);
    /* token bucket: after a tenth of the window, a tenth of the limit back
     * (50 tokens over 16 slots: each slot refilled 3.125 or 3.0625 tokens,
     * whole tokens only: 3 per slot = 48) */
    p = pol(NK_RL_TOKEN_BUCKET, 500, 3600, 500);
    memset(has, 0, sizeof(has));
    CHECK(slots_serve(&p, 16, 0, 1, 600, st, has) == 500);
    CHECK(slots_serve(&p, 16, 360 * SEC, 1, 600, st, has) == 48);
    /* cost above every slot's share (500 / 16 = 31 or 32) never passes */
    memset(has, 0, sizeof(has));
    CHECK(slots_serve(&p, 16, 0, 33, 5, st, has) == 0);
    CHECK(slots_serve(&p, 16, 0, 32, 5, st, has) == 4); /* slots 0..3 */
}

int
main(void)
{
    test_fixed();
    test_sliding();
    test_bucket();
    test_gcra();
    test_common();
    test_slot_count();
    test_slot_shares();
    test_merge();
    test_slot_totals();
    return unit_report();
}
