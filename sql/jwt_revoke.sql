\set VERBOSITY terse
-- Revocation: by jti (logout), by user cutoff ("log out everywhere"), the
-- per-backend "not revoked" memory following changes, and purging. One
-- rolled-back transaction; keys and revocations left by others are hidden.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL timezone = 'UTC';
UPDATE namaskah.signing_keys SET retired_at = now() - interval '400 days';
DELETE FROM namaskah.revoked_tokens;
DELETE FROM namaskah.user_token_cutoff;
SELECT namaskah.install_signing_key('hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF') IS NOT NULL AS installed;

SELECT namaskah.jwt_issue('{"sub":"alice"}', now() - interval '10 minutes') AS a1 \gset
SELECT namaskah.jwt_issue('{"sub":"alice"}', now() - interval '5 minutes') AS a2 \gset
SELECT namaskah.jwt_issue('{"sub":"bob"}', now() - interval '10 minutes') AS b1 \gset
SELECT namaskah.jwt_issue('{"role":"service"}', now() - interval '10 minutes') AS nosub \gset
CREATE FUNCTION pg_temp.r(t text) RETURNS text LANGUAGE sql AS $$
    SELECT reason FROM namaskah.jwt_verify_strict(t, now())
$$;
CREATE FUNCTION pg_temp.jti(t text) RETURNS text LANGUAGE sql AS $$
    SELECT claims->>'jti' FROM namaskah.jwt_verify_strict(t, now())
$$;
CREATE FUNCTION pg_temp.exp(t text) RETURNS timestamptz LANGUAGE sql AS $$
    SELECT to_timestamp((claims->>'exp')::bigint) FROM namaskah.jwt_verify_strict(t, now())
$$;
SELECT pg_temp.r(:'a1') AS a1, pg_temp.r(:'a2') AS a2, pg_temp.r(:'b1') AS b1, pg_temp.r(:'nosub') AS nosub;

-- logout: revoke one token by jti (verified just before, so this also shows
-- that a remembered "not revoked" is dropped when the table changes)
SELECT pg_temp.jti(:'a1') AS a1_jti, pg_temp.exp(:'a1') AS a1_exp \gset
SELECT namaskah.revoke_token(:'a1_jti', :'a1_exp');
SELECT pg_temp.r(:'a1') AS a1, pg_temp.r(:'a2') AS a2, pg_temp.r(:'b1') AS b1;
-- the verdict of a revoked token hands back no claims, but names its key
SELECT valid, reason, claims IS NULL AS no_claims, kid IS NOT NULL AS has_kid
FROM namaskah.jwt_verify_strict(:'a1', now());
-- revoking again keeps the later expiry
SELECT namaskah.revoke_token(:'a1_jti', now() - interval '1 day');
SELECT expires_at = :'a1_exp'::timestamptz AS kept_later FROM namaskah.revoked_tokens WHERE jti = :'a1_jti';
-- no jti: refused
SELECT namaskah.revoke_token(NULL, now());
SELECT namaskah.revoke_token('', now());
-- a NULL expiry means "a full token lifetime from now"
SELECT namaskah.revoke_token('unknown-jti', NULL);
SELECT expires_at > now() + interval '8 hours' AS covers_lifetime FROM namaskah.revoked_tokens WHERE jti = 'unknown-jti';

-- log out everywhere: alice's tokens issued before the cutoff
SELECT namaskah.revoke_user_tokens('alice', now() - interval '7 minutes');
SELECT pg_temp.r(:'a2') AS a2_after_cutoff, pg_temp.r(:'b1') AS bob;
SELECT namaskah.revoke_user_tokens('alice');
SELECT pg_temp.r(:'a2') AS a2, pg_temp.r(:'b1') AS bob, pg_temp.r(:'nosub') AS nosub;
-- a fresh login after the cutoff works; an earlier cutoff never moves it back
SELECT pg_temp.r(namaskah.jwt_issue('{"sub":"alice"}', now() + interval '1 second')) AS new_login;
SELECT namaskah.revoke_user_tokens('alice', now() - interval '1 year');
SELECT not_before = now() AS kept_latest FROM namaskah.user_token_cutoff WHERE user_id = 'alice';
SELECT namaskah.revoke_user_tokens(NULL);
-- a token without iat is revoked by any cutoff of its user
SELECT namaskah.install_signing_key('hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF') AS kid \gset
SELECT reason FROM namaskah.jwt_verify_strict(
    (SELECT s || '.' || namaskah.algorithm_sign(s, 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF', 'HS256')
     FROM (SELECT namaskah.url_encode(convert_to('{"alg":"HS256","kid":"' || :'kid' || '"}', 'UTF8'))
                  || '.' || namaskah.url_encode(convert_to('{"sub":"alice","exp":' ||
                  (extract(epoch FROM now())::bigint + 60) || '}', 'UTF8')) AS s) q), now());

-- purge: only entries that can no longer matter, at most max_rows
INSERT INTO namaskah.revoked_tokens VALUES
    ('gone-1', now() - interval '1 hour'),
    ('gone-2', now() - interval '2 hours'),
    ('gone-3', now() - interval '3 hours'),
    ('in-leeway', now() - interval '10 seconds'),
    ('live', now() + interval '1 hour');
INSERT INTO namaskah.user_token_cutoff VALUES
    ('old-user', now() - interval '2 days'),
    ('recent-user', now() - interval '2 hours');
SELECT namaskah.purge_revocations(2) AS purged_first;
SELECT namaskah.purge_revocations() AS purged_rest;
SELECT namaskah.purge_revocations() AS purged_none;
SELECT CASE WHEN jti = :'a1_jti' THEN '(a1)' ELSE jti END AS jti FROM namaskah.revoked_tokens ORDER BY 1;
SELECT user_id FROM namaskah.user_token_cutoff ORDER BY user_id;
-- revoked tokens stay revoked after a purge
SELECT pg_temp.r(:'a1') AS a1;

-- tables and functions are for the owner and the pipeline only
SELECT has_table_privilege('namaskah_api', 'namaskah.revoked_tokens', 'SELECT,INSERT') AS api_revoked,
       has_table_privilege('namaskah_api', 'namaskah.user_token_cutoff', 'SELECT,INSERT') AS api_cutoff,
       has_function_privilege('namaskah_api', 'namaskah.revoke_token(text, timestamptz)', 'EXECUTE') AS api_revoke;
ROLLBACK;
