-- Rate limiting, GCRA (leaky bucket as a meter): emission interval
-- T = window / limit, burst B passes at once, then one per T; cost > 1,
-- huge costs, limit 0. Explicit clock throughout.
\set VERBOSITY terse
\set t0 '''2026-01-01 00:00:00+00'''
-- T = 10 s, three at once
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, burst, scope)
VALUES ('rt_gcra', 'gcra', 6, 60, 3, 'client'),
       ('rt_gcra_odd', 'gcra', 3, 1, 1, 'client'),
       ('rt_gcra_zero', 'gcra', 0, 60, 5, 'client');
CREATE FUNCTION pg_temp.st(p text, k text)
RETURNS TABLE (tat timestamptz, expires_at timestamptz)
LANGUAGE sql AS $$
    SELECT '2000-01-01 00:00:00+00'::timestamptz + s.t_us * interval '1 microsecond', s.expires_at
    FROM namaskah.rate_limit_state s WHERE s.policy = p AND s.key = k
$$;
SET timezone = 'UTC';
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 1, :t0::timestamptz);
SELECT * FROM pg_temp.st('rt_gcra', 'a');
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 2, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 1, :t0::timestamptz);
SELECT * FROM pg_temp.st('rt_gcra', 'a');
-- one more per 10 s; one microsecond early is too early
SELECT * FROM namaskah.rate_limit_peek('rt_gcra', 'a', 1, :t0::timestamptz + '9.999999 s');
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 1, :t0::timestamptz + '9.999999 s');
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 1, :t0::timestamptz + '10 s');
-- cost 2 needs two intervals
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 2, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 2, :t0::timestamptz + '30 s');
SELECT * FROM pg_temp.st('rt_gcra', 'a');
-- idle: the whole burst is back, not more
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 3, :t0::timestamptz + '1 hour');
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'a', 1, :t0::timestamptz + '1 hour');
-- T rounds up to a whole microsecond: 3 per second -> 333334 us
SELECT * FROM namaskah.rate_limit_check('rt_gcra_odd', 'a', 1, :t0::timestamptz);
SELECT * FROM pg_temp.st('rt_gcra_odd', 'a');
SELECT * FROM namaskah.rate_limit_check('rt_gcra_odd', 'a', 1, :t0::timestamptz + '0.333333 s');
SELECT * FROM namaskah.rate_limit_check('rt_gcra_odd', 'a', 1, :t0::timestamptz + '0.333334 s');
-- cost above the burst, huge cost, limit 0 (whatever the burst)
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'b', 4, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_gcra', 'b', 2147483647, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_gcra_zero', 'b', 1, :t0::timestamptz);
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE key = 'b';
-- a burst so long that B * T leaves the supported range: a clear error
UPDATE namaskah.rate_limit_policies SET "limit" = 1, window_seconds = 2147483647, burst = 2147483647 WHERE name = 'rt_gcra_zero';
SELECT * FROM namaskah.rate_limit_check('rt_gcra_zero', 'b', 1, :t0::timestamptz);
DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'rt_gcra%';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy LIKE 'rt_gcra%';
