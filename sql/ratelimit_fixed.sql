-- Rate limiting, fixed window: window edges, cost > 1, limit 0, huge costs,
-- peek never writes, a denial changes nothing. Explicit clock throughout.
\set VERBOSITY terse
\set t0 '''2026-01-01 00:00:00+00'''
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_fixed', 'fixed_window', 3, 60, 'client'),
       ('rt_fixed_zero', 'fixed_window', 0, 60, 'client');
CREATE FUNCTION pg_temp.st(k text)
RETURNS TABLE (window_start timestamptz, used bigint, expires_at timestamptz)
LANGUAGE sql AS $$
    SELECT '2000-01-01 00:00:00+00'::timestamptz + s.t_us * interval '1 microsecond', s.n, s.expires_at
    FROM namaskah.rate_limit_state s WHERE s.policy = 'rt_fixed' AND s.key = k
$$;
SET timezone = 'UTC';
-- a fresh key: peek says yes and writes nothing
SELECT * FROM namaskah.rate_limit_peek('rt_fixed', 'a', now => :t0::timestamptz + '10 s');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy = 'rt_fixed';
-- three units in the window [00:00, 01:00)
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', now => :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', 2, :t0::timestamptz + '20 s');
SELECT * FROM pg_temp.st('a');
-- the fourth is denied until the window ends; peek agrees; state unchanged
SELECT * FROM namaskah.rate_limit_peek('rt_fixed', 'a', now => :t0::timestamptz + '30 s');
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', now => :t0::timestamptz + '30 s');
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', now => :t0::timestamptz + '59.999999 s');
SELECT * FROM pg_temp.st('a');
-- cost 0 is a query: allowed, writes nothing
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', 0, :t0::timestamptz + '30 s');
-- the window edge: a new window starts empty
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', 3, :t0::timestamptz + '60 s');
SELECT * FROM pg_temp.st('a');
-- an earlier clock never reopens an old window
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'a', now => :t0::timestamptz + '30 s');
-- cost above the limit never passes: retry after a whole window
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'b', 4, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'b', 2147483647, :t0::timestamptz + '10 s');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE key = 'b';
-- keys are independent
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'c', 3, :t0::timestamptz + '61 s');
-- limit 0 denies everything but cost 0
SELECT * FROM namaskah.rate_limit_check('rt_fixed_zero', 'a', now => :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_fixed_zero', 'a', 0, :t0::timestamptz + '10 s');
-- the policy's default cost is used when cost is NULL
UPDATE namaskah.rate_limit_policies SET cost = 2 WHERE name = 'rt_fixed';
SELECT * FROM namaskah.rate_limit_check('rt_fixed', 'd', NULL, :t0::timestamptz + '10 s');
-- deleting the policy forgets its state
DELETE FROM namaskah.rate_limit_policies WHERE name IN ('rt_fixed', 'rt_fixed_zero');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy LIKE 'rt_fixed%';
