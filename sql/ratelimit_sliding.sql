-- Rate limiting, sliding window (weighted two-window counter): the previous
-- window's count fades as the window slides, window edges, cost > 1, huge
-- costs, limit 0. Explicit clock throughout.
\set VERBOSITY terse
\set t0 '''2026-01-01 00:00:00+00'''
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('rt_sliding', 'sliding_window', 10, 60, 'client'),
       ('rt_sliding_zero', 'sliding_window', 0, 60, 'client');
CREATE FUNCTION pg_temp.st(k text)
RETURNS TABLE (window_start timestamptz, used bigint, used_before bigint, expires_at timestamptz)
LANGUAGE sql AS $$
    SELECT '2000-01-01 00:00:00+00'::timestamptz + s.t_us * interval '1 microsecond', s.n, s.n_prev, s.expires_at
    FROM namaskah.rate_limit_state s WHERE s.policy = 'rt_sliding' AND s.key = k
$$;
SET timezone = 'UTC';
-- ten in the window [00:00, 01:00), in two requests of cost 4 and 6
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 4, :t0::timestamptz + '30 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 6, :t0::timestamptz + '40 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 1, :t0::timestamptz + '59 s');
SELECT * FROM pg_temp.st('a');
-- at the edge the previous ten still weigh fully: denied
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 1, :t0::timestamptz + '60 s');
-- 15 s later they weigh floor(10 * 45/60) = 7: three pass
SELECT * FROM namaskah.rate_limit_peek('rt_sliding', 'a', 3, :t0::timestamptz + '75 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 3, :t0::timestamptz + '75 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 1, :t0::timestamptz + '75 s');
SELECT * FROM pg_temp.st('a');
-- the weight drops to 6 just after 18 s into the window
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 1, :t0::timestamptz + '78 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 1, :t0::timestamptz + '78.000001 s');
-- near the end of the window the previous count has faded out
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 6, :t0::timestamptz + '119 s');
SELECT * FROM pg_temp.st('a');
-- full: the next window, where these ten weigh, is the earliest chance
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 5, :t0::timestamptz + '119 s');
-- two windows later the key is fresh again
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'a', 10, :t0::timestamptz + '180 s');
SELECT * FROM pg_temp.st('a');
-- cost above the limit, huge cost, limit 0
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'b', 11, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding', 'b', 2147483647, :t0::timestamptz + '10 s');
SELECT * FROM namaskah.rate_limit_check('rt_sliding_zero', 'b', 1, :t0::timestamptz + '10 s');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE key = 'b';
DELETE FROM namaskah.rate_limit_policies WHERE name IN ('rt_sliding', 'rt_sliding_zero');
SELECT count(*) AS rows FROM namaskah.rate_limit_state WHERE policy LIKE 'rt_sliding%';
