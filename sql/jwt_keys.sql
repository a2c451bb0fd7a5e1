\set VERBOSITY terse
-- Signing keys: idempotent install, refused secrets, rotation with a grace
-- period, unknown_kid after it, retirement, the status view, privileges.
-- One rolled-back transaction (now() is fixed inside it, and keys left by
-- others are hidden for the duration).
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL timezone = 'UTC';
UPDATE namaskah.signing_keys SET retired_at = now() - interval '400 days';

\set s1 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF'
\set s2 'Zq7Wm3Xr9Tn5Yb1Uc8Vd2Ke6Lf4Pg0Hs'
\set s3 'Mn4Bv8Cx2Zl6Kj0Hg5Fd9Sa3Qw7Er1TyUi5Op9As3Df7Gh1Jk8Lz2Xc6Vb0Nm4QwEr'

-- install: returns the kid; the same secret again changes nothing
SELECT namaskah.install_signing_key(:'s1') AS k1 \gset
SELECT namaskah.install_signing_key(:'s1') = :'k1' AS idempotent;
SELECT count(*) AS rows_for_s1 FROM namaskah.signing_keys WHERE kid = :'k1';
-- the secret is stored as given, the fingerprint is not the secret
SELECT secret = convert_to(:'s1', 'UTF8') AS stored, fingerprint ~ '^[0-9a-f]{64}$' AS fp_hex,
       position(:'s1' in fingerprint) = 0 AS fp_not_secret, algorithm
FROM namaskah.signing_keys WHERE kid = :'k1';
-- another algorithm is another key
SELECT namaskah.install_signing_key(:'s3', 'HS512') AS k512 \gset
SELECT :'k512' <> :'k1' AS distinct_kid,
       (SELECT algorithm FROM namaskah.signing_keys WHERE kid = :'k512') AS alg;

-- refusals: 22023, and the message never quotes the secret
SELECT namaskah.install_signing_key('your-jwt-secret-key');
SELECT namaskah.install_signing_key('changeme');
SELECT namaskah.install_signing_key('secret');
SELECT namaskah.install_signing_key('your-jwt-secret-key-change-this-in-production');
SELECT namaskah.install_signing_key(repeat('a', 40));
SELECT namaskah.install_signing_key(repeat('0123456789', 4));
SELECT namaskah.install_signing_key(:'s1', 'HS384');
SELECT namaskah.install_signing_key(:'s2', 'none');
SELECT namaskah.install_signing_key(:'s2', 'RS256');
DO $$
DECLARE
    msg text;
    detail text;
    hint text;
BEGIN
    PERFORM namaskah.install_signing_key('your-jwt-secret-key-change-this-in-production');
EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'sqlstate 22023; secret quoted: %; detail: %',
        position('your-jwt' in msg || detail || hint) > 0, detail;
END
$$;
SELECT count(*) AS keys_installed FROM namaskah.signing_keys WHERE retired_at IS NULL;

-- signing uses the newest active key; tokens carry its kid
SELECT namaskah.jwt_issue('{"sub":"u1"}', now()) AS t1 \gset
SELECT kid = :'k512' OR kid = :'k1' AS known_kid, reason
FROM namaskah.jwt_verify_strict(:'t1', now());
SELECT kid, algorithm, state FROM namaskah.signing_key_status
WHERE kid IN (:'k1', :'k512') ORDER BY kid;

-- rotate to s2: the new key signs, the others enter their grace period
SELECT namaskah.jwt_issue('{"sub":"now"}', now()) AS t_now \gset
SELECT namaskah.jwt_issue('{"sub":"later"}', now() + interval '300 minutes') AS t_later \gset
SELECT namaskah.rotate_signing_key(:'s2') AS k2 \gset
SELECT namaskah.rotate_signing_key(:'s2') = :'k2' AS rotate_idempotent;
SELECT kid = :'k2' AS new_kid_signs, reason
FROM namaskah.jwt_verify_strict(namaskah.jwt_issue('{"sub":"u1"}', now()), now());
SELECT kid = :'k2' AS is_new, state, retired_at IS NOT NULL AS retired
FROM namaskah.signing_key_status WHERE kid IN (:'k1', :'k2', :'k512') ORDER BY state, kid;
-- default grace = jwt.expire_minutes (480) + 5 = 485 minutes after retirement;
-- t_now expires first (480 min), t_later outlives the grace and then fails
-- with unknown_kid
SELECT d AS minutes_after_rotation,
       (SELECT reason FROM namaskah.jwt_verify_strict(:'t_now', now() + make_interval(mins => d))) AS t_now,
       (SELECT reason FROM namaskah.jwt_verify_strict(:'t_later', now() + make_interval(mins => d))) AS t_later
FROM unnest(ARRAY[0, 300, 479, 481, 484, 485, 600, 43200]) AS d;
-- the grace setting, read at once by every verifier
SELECT namaskah.set_setting('jwt.key_grace_minutes', '60');
SELECT (SELECT reason FROM namaskah.jwt_verify_strict(:'t_now', now() + interval '59 minutes')) AS at_59,
       (SELECT reason FROM namaskah.jwt_verify_strict(:'t_now', now() + interval '61 minutes')) AS at_61;
SELECT state FROM namaskah.signing_key_status WHERE kid = :'k1';
-- without it: the token lifetime + 5 minutes. At 14 minutes the retired
-- key is still found (the token fails on its claims: lowering the lifetime
-- retires tokens issued for longer, exp_too_far), at 16 it is not.
DELETE FROM namaskah.settings WHERE name = 'jwt.key_grace_minutes';
SELECT namaskah.set_setting('jwt.expire_minutes', '10');
SELECT (SELECT reason FROM namaskah.jwt_verify_strict(:'t_now', now() + interval '14 minutes')) AS at_14,
       (SELECT reason FROM namaskah.jwt_verify_strict(:'t_now', now() + interval '16 minutes')) AS at_16;
DELETE FROM namaskah.settings WHERE name = 'jwt.expire_minutes';

-- a key is found by kid only while usable: retire the signing key too
SELECT namaskah.retire_signing_key(:'k2');
SELECT namaskah.retire_signing_key(:'k2');
SELECT namaskah.retire_signing_key('nope');
SELECT namaskah.jwt_issue('{}', now());
-- rotating back to an old secret re-activates its key, same kid
SELECT namaskah.rotate_signing_key(:'s1') = :'k1' AS same_kid;
SELECT kid = :'k1' AS old_key_signs FROM namaskah.jwt_verify_strict(namaskah.jwt_issue('{}', now()), now());
SELECT count(*) AS active FROM namaskah.signing_keys WHERE retired_at IS NULL;

-- a key deleted outright: its tokens fail at once (the cache follows)
SELECT namaskah.jwt_issue('{}', now()) AS t3 \gset
SELECT reason FROM namaskah.jwt_verify_strict(:'t3', now());
DELETE FROM namaskah.signing_keys WHERE kid = :'k1';
SELECT reason FROM namaskah.jwt_verify_strict(:'t3', now());

-- nobody but the owner reads keys; the API role cannot manage them
SELECT has_table_privilege('namaskah_api', 'namaskah.signing_keys', 'SELECT') AS api_keys,
       has_table_privilege('namaskah_frontend', 'namaskah.signing_keys', 'SELECT') AS frontend_keys,
       has_table_privilege('namaskah_api', 'namaskah.signing_key_status', 'SELECT') AS api_status,
       has_function_privilege('namaskah_api', 'namaskah.install_signing_key(text, text)', 'EXECUTE') AS api_install,
       has_function_privilege('namaskah_api', 'namaskah.rotate_signing_key(text, text)', 'EXECUTE') AS api_rotate;
SELECT column_name FROM information_schema.columns
WHERE table_schema = 'namaskah' AND table_name = 'signing_key_status' ORDER BY ordinal_position;
ROLLBACK;
