-- Rate limiting, token bucket: capacity = burst (limit when NULL), refill of
-- limit per window, cost > 1, refill capped at the capacity, huge costs,
-- limit 0. Explicit clock throughout.
\set VERBOSITY terse
\set t0 '''2026-01-01 00:00:00+00'''
-- one token every 10 s, three at most
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, burst, scope)
VALUES ('rt_bucket', 'token_bucket', 6, 60, 3, 'client'),
       ('rt_bucket_noburst', 'token_bucket', 2, 60, NULL, 'client'),
       ('rt_bucket_zero', 'token_bucket', 0, 60, 5, 'client');
CREATE FUNCTION pg_temp.st(k text)
RETURNS TABLE (last_refill timestamptz, tokens numeric, expires_at timestamptz)
LANGUAGE sql AS $$
    SELECT '2000-01-01 00:00:00+00'::timestamptz + s.t_us * interval '1 microsecond',
           round(s.n / 1000000.0, 6), s.expires_at
    FROM namaskah.rate_limit_state s WHERE s.policy = 'rt_bucket' AND s.key = k
$$;
SET timezone = 'UTC';
-- a full bucket: three at once, then empty
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 2, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz);
SELECT * FROM pg_temp.st('a');
-- half a token after 5 s: denied, 5 s to wait; a token after 10 s
SELECT * FROM namaskah.rate_limit_peek('rt_bucket', 'a', 1, :t0::timestamptz + '5 s');
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz + '5 s');
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz + '10 s');
-- cost 2 needs 20 s of refill
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 2, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 2, :t0::timestamptz + '30 s');
SELECT * FROM pg_temp.st('a');
-- a long idle time refills to the capacity, not beyond
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 3, :t0::timestamptz + '1 hour');
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz + '1 hour');
-- burst NULL means capacity = limit
SELECT * FROM namaskah.rate_limit_check('rt_bucket_noburst', 'a', 2, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_bucket_noburst', 'a', 1, :t0::timestamptz);
-- cost above the capacity, huge cost, limit 0 (whatever the burst)
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'b', 4, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'b', 2147483647, :t0::timestamptz);
SELECT * FROM namaskah.rate_limit_check('rt_bucket_zero', 'b', 1, :t0::timestamptz);
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE key = 'b';
-- lowering the burst applies at once
UPDATE namaskah.rate_limit_policies SET burst = 1 WHERE name = 'rt_bucket';
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz + '2 hours');
SELECT * FROM namaskah.rate_limit_check('rt_bucket', 'a', 1, :t0::timestamptz + '2 hours');
DELETE FROM namaskah.rate_limit_policies WHERE name LIKE 'rt_bucket%';
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy LIKE 'rt_bucket%';
