\set VERBOSITY terse
-- The fast paths of jwt_verify_strict and verify give the same answers as
-- the slow ones: the claims handed on are the payload's exact JSON text,
-- revocation sets held in memory fall back to index probes past their size
-- cap, and both TABLE functions answer one row wherever they are called.
-- One rolled-back transaction; keys and revocations of others are hidden.
-- Verified at 2096-10-02 (tokens expire at 4000000000, 2096-10-02 07:06:40,
-- within the 480-minute lifetime the verifier allows).
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL timezone = 'UTC';
UPDATE namaskah.signing_keys SET retired_at = now() - interval '400 days';
DELETE FROM namaskah.revoked_tokens;
DELETE FROM namaskah.user_token_cutoff;
\set secret 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF'
SELECT namaskah.install_signing_key(:'secret') AS kid \gset
CREATE FUNCTION pg_temp.tok(p text) RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || namaskah.algorithm_sign(s, 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF', 'HS256')
    FROM (SELECT namaskah.url_encode(convert_to('{"alg":"HS256","kid":"' ||
                 (SELECT kid FROM namaskah.signing_keys WHERE retired_at IS NULL) || '"}', 'UTF8'))
                 || '.' || namaskah.url_encode(convert_to(p, 'UTF8')) AS s) q
$$;

-- claims: the payload's exact text as json, read the same by jsonb_in;
-- sub and role beside it (twice: the second verification answers from the
-- per-backend payload memory)
CREATE TEMP TABLE payloads(n int, p text);
INSERT INTO payloads VALUES
 (1, '{"sub":"u1","exp":4000000000}'),
 (2, '{"exp":4000000000,"s":"a\"b\\c\/d\b\f\n\r\t","u":"\u00e9\u20ac\ud83d\ude00 é€😀"}'),
 (3, '{"exp":4000000000,"i":-0,"j":-17,"k":123456789012345678,"l":1234567890123456789012,"m":1.50,"n":-2.5e-3,"o":1E+2,"p":0.0}'),
 (4, '{"exp":4000000000.5,"t":true,"f":false,"z":null,"e":""}'),
 (5, '{"exp":4000000000,"aud":["a","b"],"x":{"y":[1,{"z":2}]}}'),
 (6, ' { "exp" : 4000000000 , "\u0073ub" : "spaced" } '),
 (7, '{"exp":4000000000,"b":1,"a":2,"aa":3,"":4}'),
 (8, '{"exp":4000000000,"sub":"u8","role":"admin"}'),
 (9, '{"exp":4000000000,"sub":"u9","role":"\u0061dmin\u00e9"}'),
 (10, '{"exp":4000000000,"sub":"u10","role":7}'),
 (11, '{"exp":4000000000,"sub":"u11","role":"' || repeat('r', 33) || '"}'),
 (12, '{"exp":4000000000,"sub":"u12","role":"' || repeat('r', 32) || '"}');
SELECT n, v.valid, v.reason, v.claims::text = p AS exact_text,
       v.claims::jsonb = p::jsonb AS same_jsonb, v.sub, v.role
FROM (SELECT n, p, pg_temp.tok(p) AS t FROM payloads) q, LATERAL namaskah.jwt_verify_strict(t, '2096-10-02 00:00:00+00') v
ORDER BY n;
SELECT n, v.valid, v.claims::text = p AS same_again, v.sub, v.role
FROM (SELECT n, p, pg_temp.tok(p) AS t FROM payloads) q, LATERAL namaskah.jwt_verify_strict(t, '2096-10-02 00:00:00+00') v
ORDER BY n;
-- a rejected token hands nothing on
SELECT valid, reason, claims IS NULL AS no_claims, sub IS NULL AS no_sub, role IS NULL AS no_role
FROM namaskah.jwt_verify_strict(pg_temp.tok('{"exp":1,"sub":"u1","role":"admin"}'), '2096-10-02 00:00:00+00');
SELECT pg_temp.tok('{"exp":4000000000,"m":1.50,"u":"\u00e9"}') AS t3 \gset
SELECT claims, claims->>'u' AS u, (claims->'m')::text AS m FROM namaskah.jwt_verify_strict(:'t3', '2096-10-02 00:00:00+00');

-- one row, in FROM and in a target list, for both functions
SELECT count(*) AS rows_from FROM namaskah.jwt_verify_strict(:'t3', '2096-10-02 00:00:00+00');
SELECT (namaskah.jwt_verify_strict(:'t3', '2096-10-02 00:00:00+00')).reason AS tlist_reason;
SELECT (namaskah.jwt_verify_strict(t, '2096-10-02 00:00:00+00')).valid, count(*)
FROM (SELECT pg_temp.tok(p) AS t FROM payloads) q GROUP BY 1;
SELECT (namaskah.jwt_verify_strict(NULL, '2096-10-02 00:00:00+00')).reason AS null_token;
SELECT count(*) AS rows_from, bool_and(valid) AS valid
FROM namaskah.verify(namaskah.sign('{"a":1}', :'secret'), :'secret');
SELECT (namaskah.verify(namaskah.sign('{"a":1}', :'secret'), :'secret')).valid AS tlist_valid;
SELECT * FROM namaskah.verify(NULL, NULL);
-- verify: integer, decimal, negative and string bounds
SELECT p, (namaskah.verify(namaskah.sign(p::json, :'secret'), :'secret')).valid
FROM unnest(ARRAY['{"exp":4000000000}', '{"exp":1}', '{"exp":-1}', '{"exp":4000000000.25}',
                  '{"exp":"4000000000"}', '{"nbf":1,"exp":4000000000}',
                  '{"nbf":3999999999,"exp":4000000000}', '{"exp":-0}', '{"exp":1e10}']) AS p;
-- out of to_timestamp's range: an error, as in pgjwt
SELECT valid FROM namaskah.verify(namaskah.sign('{"exp":123456789012345678901234}', :'secret'), :'secret');

-- revocation: held in memory, and past jwt.revocation_cache_rows probed
-- through the index instead, with the same verdicts
-- carol before her cutoff (2001), carol after it, dave (jti j-3)
CREATE TEMP TABLE toks AS
SELECT n, pg_temp.tok(p) AS tok FROM (VALUES
    (1, '{"sub":"carol","jti":"j-1","iat":1,"exp":4000000000}'),
    (2, '{"sub":"carol","jti":"j-2","iat":1600000000,"exp":4000000000}'),
    (3, '{"sub":"dave","jti":"j-3","iat":1,"exp":4000000000}')) v(n, p);
CREATE FUNCTION pg_temp.verdicts() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(v.reason, ',' ORDER BY t.n)
    FROM pg_temp.toks t, LATERAL namaskah.jwt_verify_strict(t.tok, '2096-10-02 00:00:00+00') v
$$;
SELECT 'none' AS revoked, pg_temp.verdicts();
SELECT namaskah.revoke_token('j-3', NULL), namaskah.revoke_token('other-1', NULL),
       namaskah.revoke_user_tokens('carol', '2001-01-01'),
       namaskah.revoke_user_tokens('erin', '2001-01-01');
SELECT 'cached' AS mode, pg_temp.verdicts();
SELECT namaskah.set_setting('jwt.revocation_cache_rows', '1');
SELECT 'over cap' AS mode, pg_temp.verdicts();
SELECT namaskah.set_setting('jwt.revocation_cache_rows', '0');
SELECT 'always probed' AS mode, pg_temp.verdicts();
SELECT namaskah.set_setting('jwt.revocation_cache_rows', 'bogus');
SELECT namaskah.reset_setting('jwt.revocation_cache_rows');
DELETE FROM namaskah.revoked_tokens WHERE jti = 'j-3';
SELECT 'default cap, j-3 purged' AS mode, pg_temp.verdicts();
DELETE FROM namaskah.user_token_cutoff;
SELECT 'cutoffs purged' AS mode, pg_temp.verdicts();
-- a key longer than any token's jti or sub is never held, never matches
INSERT INTO namaskah.revoked_tokens VALUES (repeat('x', 300), now() + interval '1 hour');
SELECT 'long key' AS mode, pg_temp.verdicts();
ROLLBACK;
