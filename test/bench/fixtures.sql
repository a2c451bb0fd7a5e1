-- fixtures.sql — the benchmarks' accounts and tight policy, shared by
-- scenarios_auth.sh and ceiling_bench.sh: 1000 users with one shared
-- password hash (hashing 1000 passwords with scrypt would only time scrypt),
-- and GET /api/bench/me under a policy of 1 request an hour per user.
INSERT INTO namaskah.users (email, email_key, password_hash)
SELECT 'bench' || g || '@example.test', 'bench' || g || '@example.test',
       namaskah.password_hash('bench password not used')
FROM generate_series(1, 1000) g
ON CONFLICT DO NOTHING;
INSERT INTO namaskah.rate_limit_policies (name, algorithm, "limit", window_seconds, scope)
VALUES ('bench_tight', 'fixed_window', 1, 3600, 'user') ON CONFLICT DO NOTHING;
INSERT INTO namaskah.routes (method, path_template, target, auth, rate_limit_policy)
VALUES ('GET', '/api/bench/me', 'api.auth_me(jsonb)', 'bearer', 'bench_tight')
ON CONFLICT DO NOTHING;
