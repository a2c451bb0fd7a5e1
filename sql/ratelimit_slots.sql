-- Rate limiting, a key's state split over slots: the slot count, shares with
-- their remainders, a limit smaller than the configured slots, costs above a
-- slot's share (taken from several slots), exhausted slots, the summed
-- answers of peek and check, the policy trigger, cleanup. Explicit clock
-- throughout. Slot choice is random, so the tests only look at outcomes that
-- do not depend on it.
\set VERBOSITY terse
\set t0 '''2026-01-01 00:00:00+00'''
SET timezone = 'UTC';
-- the number of slots: min(slots, quota / 8), at least 1; the buckets'
-- quota is min(limit, burst)
SELECT a, l, b, s, namaskah.rate_limit_slots(a, l, b, s) AS slots
FROM (VALUES ('fixed_window', 5, NULL, 16), ('fixed_window', 15, NULL, 16),
             ('fixed_window', 16, NULL, 16), ('sliding_window', 100, NULL, 16),
             ('fixed_window', 20, NULL, 64), ('fixed_window', 100000, NULL, 64),
             ('fixed_window', 100000, NULL, 1), ('token_bucket', 1000, 20, 16),
             ('gcra', 20, 1000, 16), ('token_bucket', 1000, NULL, 16),
             ('fixed_window', 0, NULL, 16)) v(a, l, b, s);
SELECT namaskah.rate_limit_slots('leaky', 10, NULL, 16);
SELECT namaskah.rate_limit_slots(NULL, 10, NULL, 16) IS NULL AS null_in_null_out;
-- the built-in policies: small quotas keep one slot (behave as unsplit)
SELECT name, slots, namaskah.rate_limit_slots(algorithm, "limit", burst, slots) AS actual
FROM namaskah.rate_limit_policies
WHERE name IN ('default', 'auth_register', 'auth_login', 'auth_login_account',
               'auth_login_account_client', 'auth_failures')
ORDER BY name;
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope, slots)
VALUES ('rt_bad', 'fixed_window', 1, 1, 'client', 0);
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope, slots)
VALUES ('rt_bad', 'fixed_window', 1, 1, 'client', 65);
CREATE FUNCTION pg_temp.slots(p text, k text)
RETURNS TABLE (slot smallint, n bigint)
LANGUAGE sql AS $$
    SELECT s.slot, s.n FROM namaskah.rate_limit_state s
    WHERE s.policy = p AND s.key = k ORDER BY s.slot
$$;
-- fixed window, 50 over 4 slots: 13 + 13 + 12 + 12
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope, slots)
VALUES ('rt_split', 'fixed_window', 50, 3600, 'client', 4);
SELECT * FROM namaskah.rate_limit_peek('rt_split', 'a', 1, :t0);
-- a cost of 13 fits only the two slots of 13 (the key's first check makes
-- the rows of all its slots, the others fresh: together in the table)
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 13, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 13, :t0);
SELECT * FROM pg_temp.slots('rt_split', 'a');
-- 12 + 12 left: no slot takes 13 alone, so it is taken from slots 2 and 3
SELECT * FROM namaskah.rate_limit_peek('rt_split', 'a', 13, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 13, :t0);
SELECT * FROM pg_temp.slots('rt_split', 'a');
-- 11 left in slot 3: 12 is denied until the window ends, 11 passes
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 12, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 11, :t0::timestamptz + '10 s');
-- every slot exhausted: denied, nothing changes; cost 0 still only asks
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 1, :t0::timestamptz + '20 s');
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 0, :t0::timestamptz + '20 s');
SELECT * FROM pg_temp.slots('rt_split', 'a');
-- the next window: every slot is fresh; the whole quota at once is taken
-- from all four
SELECT * FROM namaskah.rate_limit_check('rt_split', 'a', 50, :t0::timestamptz + '1 hour');
SELECT * FROM pg_temp.slots('rt_split', 'a');
-- above the quota: never
SELECT * FROM namaskah.rate_limit_check('rt_split', 'b', 51, :t0);
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split' AND key = 'b';
-- a limit smaller than slots * 8: 20 with slots = 64 gives 2 slots of 10
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope, slots)
VALUES ('rt_split_small', 'sliding_window', 20, 60, 'client', 64);
SELECT * FROM namaskah.rate_limit_check('rt_split_small', 'a', 10, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split_small', 'a', 10, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split_small', 'a', 1, :t0);
SELECT * FROM pg_temp.slots('rt_split_small', 'a');
-- half-way through the next window half of the previous count weighs
SELECT * FROM namaskah.rate_limit_peek('rt_split_small', 'a', 1, :t0::timestamptz + '90 s');
SELECT * FROM namaskah.rate_limit_check('rt_split_small', 'a', 10, :t0::timestamptz + '90 s');
SELECT * FROM namaskah.rate_limit_check('rt_split_small', 'a', 1, :t0::timestamptz + '90 s');
-- token bucket, burst 36 over 4 slots of 9, refill 100 per 100 s (25 per
-- 100 s per slot: a token every 4 s in each slot)
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, burst, scope, slots)
VALUES ('rt_split_bucket', 'token_bucket', 100, 100, 36, 'client', 16);
SELECT namaskah.rate_limit_slots('token_bucket', 100, 36, 16);
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 20, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 16, :t0);
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 1, :t0);
SELECT slot, round(n / 1000000.0, 6) AS tokens FROM namaskah.rate_limit_state
WHERE policy = 'rt_split_bucket' AND key = 'a' ORDER BY slot;
-- 4 s later one token in each slot: 4 in all, 2 taken from two slots
SELECT * FROM namaskah.rate_limit_peek('rt_split_bucket', 'a', 2, :t0::timestamptz + '4 s');
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 2, :t0::timestamptz + '4 s');
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 3, :t0::timestamptz + '4 s');
-- above the burst: never
SELECT * FROM namaskah.rate_limit_check('rt_split_bucket', 'a', 37, :t0::timestamptz + '1 hour');
-- GCRA, 32 per 32 s with a burst of 16: 2 slots of 8, one per 2 s each
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, burst, scope)
VALUES ('rt_split_gcra', 'gcra', 32, 32, 16, 'client');
SELECT count(*) FILTER (WHERE (namaskah.rate_limit_check('rt_split_gcra', 'a', 1, :t0)).allowed) AS allowed
FROM generate_series(1, 20);
SELECT * FROM namaskah.rate_limit_peek('rt_split_gcra', 'a', 1, :t0);
SELECT count(*) FILTER (WHERE (namaskah.rate_limit_check('rt_split_gcra', 'a', 1, :t0::timestamptz + '2 s')).allowed) AS allowed
FROM generate_series(1, 5);
-- the trigger: a changed limit that keeps the number of slots keeps the
-- state; one that changes it (or a changed slots) forgets it
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split';
UPDATE namaskah.rate_limit_policies SET "limit" = 51 WHERE name = 'rt_split';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split';
UPDATE namaskah.rate_limit_policies SET slots = 2 WHERE name = 'rt_split';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split';
-- cleanup removes expired slot rows like any other
SELECT (namaskah.rate_limit_check('rt_split', 'c', 26, :t0)).allowed;
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split';
SELECT namaskah.rate_limit_purge(now => :t0::timestamptz + '2 hours') >= 2 AS purged;
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_split';
-- least privilege: rate_limit_slots is owned by namaskah_owner and granted
-- to no API role
SELECT p.proname, pg_get_userbyid(p.proowner) AS owner,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('namaskah_frontend', p.oid, 'EXECUTE') AS frontend
FROM pg_proc p
WHERE p.pronamespace = 'namaskah'::regnamespace AND p.proname = 'rate_limit_slots';
-- a check takes the rows the same transaction's last peek of the key read,
-- but not rows read in a subtransaction that rolled back: they counted
-- consumption the rollback gave back (2 slots of 8)
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_split_memo', 'fixed_window', 16, 3600, 'client');
BEGIN;
SAVEPOINT s;
SELECT allowed FROM namaskah.rate_limit_check('rt_split_memo', 'm', 8, :t0);
SELECT allowed FROM namaskah.rate_limit_check('rt_split_memo', 'm', 8, :t0);
SELECT allowed, remaining FROM namaskah.rate_limit_peek('rt_split_memo', 'm', 1, :t0);
ROLLBACK TO SAVEPOINT s;
SELECT allowed, remaining FROM namaskah.rate_limit_check('rt_split_memo', 'm', 1, :t0);
COMMIT;
DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'rt_split%';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy LIKE 'rt_split%';
