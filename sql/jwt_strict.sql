\set VERBOSITY terse
-- jwt_issue / jwt_verify_strict: every reason code, with an injected clock
-- and the leeway edges. Runs in one transaction that is rolled back, so no
-- key or setting survives; keys left by others are hidden for the duration.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL timezone = 'UTC';
UPDATE namaskah.signing_keys SET retired_at = now() - interval '400 days';
SELECT namaskah.jwt_issue('{"sub":"u1"}', '2030-01-01 00:00:00+00');

\set secret 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF'
SELECT namaskah.install_signing_key(:'secret') AS kid \gset
SELECT :'kid' ~ '^k[0-9a-f]{16}$' AS kid_shape;

-- tok(header, payload): a token signed with the test secret (HS256)
CREATE FUNCTION pg_temp.tok(h text, p text, secret text, alg text DEFAULT 'HS256')
RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || namaskah.algorithm_sign(s, secret, alg)
    FROM (SELECT namaskah.url_encode(convert_to(h, 'UTF8')) || '.' ||
                 namaskah.url_encode(convert_to(p, 'UTF8')) AS s) q
$$;
-- v(token, at): the verdict without the random jti
CREATE FUNCTION pg_temp.v(t text, at timestamptz)
RETURNS TABLE(valid boolean, reason text, claims jsonb, kid_ok boolean)
LANGUAGE sql AS $$
    SELECT r.valid, r.reason, r.claims::jsonb - 'jti', r.kid IS NOT NULL
    FROM namaskah.jwt_verify_strict(t, at) r
$$;

-- Issue at T = 2030-01-01 (epoch 1893456000): iat = nbf = T, exp = T + 480 min
SELECT namaskah.jwt_issue('{"sub":"u1","role":"user","exp":1,"iat":2}', '2030-01-01 00:00:00+00') AS t \gset
SELECT convert_from(namaskah.url_decode(split_part(:'t', '.', 1)), 'UTF8') = '{"alg":"HS256","typ":"JWT","kid":"' || :'kid' || '"}' AS header_ok;
SELECT (namaskah.url_decode(split_part(:'t', '.', 2)) IS NOT NULL) AS payload_b64,
       length(split_part(:'t', '.', 3)) AS sig_len;
SELECT * FROM pg_temp.v(:'t', '2030-01-01 00:00:00+00');
SELECT (r.claims->>'jti') ~ '^[A-Za-z0-9_-]{22}$' AS jti_shape, r.kid = :'kid' AS kid_match
FROM namaskah.jwt_verify_strict(:'t', '2030-01-01 00:00:00+00') r;
-- the claims the pipeline acts on, beside the JSON
SELECT r.sub, r.role, pg_typeof(r.claims) AS claims_type
FROM namaskah.jwt_verify_strict(:'t', '2030-01-01 00:00:00+00') r;
-- two tokens never share a jti
SELECT namaskah.jwt_issue('{}', '2030-01-01') <> namaskah.jwt_issue('{}', '2030-01-01') AS distinct_tokens;

-- exp edge (leeway 30 s): valid until exp + 30 s, exclusive
SELECT at, (pg_temp.v(:'t', at)).reason FROM unnest(ARRAY[
    timestamptz '2030-01-01 08:00:00+00',
    '2030-01-01 08:00:29.999+00',
    '2030-01-01 08:00:30+00',
    '2031-01-01 00:00:00+00']) AS at;
-- nbf edge: valid from nbf - 30 s
SELECT at, (pg_temp.v(:'t', at)).reason FROM unnest(ARRAY[
    timestamptz '2029-12-31 23:59:30+00',
    '2029-12-31 23:59:29.999+00',
    '2029-01-01 00:00:00+00']) AS at;
-- iat in the future (no nbf): 30 s tolerated
SELECT pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
                   '{"sub":"u1","iat":1893456100,"exp":1893470000}', :'secret') AS tf \gset
SELECT at, (pg_temp.v(:'tf', at)).reason FROM unnest(ARRAY[
    timestamptz '2030-01-01 00:01:10+00',
    '2030-01-01 00:01:09+00']) AS at;
-- leeway setting: 0 s
SELECT namaskah.set_setting('jwt.leeway_seconds', '0');
SELECT at, (pg_temp.v(:'t', at)).reason FROM unnest(ARRAY[
    timestamptz '2030-01-01 07:59:59.999+00',
    '2030-01-01 08:00:00+00',
    '2029-12-31 23:59:59.999+00']) AS at;
SELECT namaskah.set_setting('jwt.leeway_seconds', '30');

-- missing_exp
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"sub":"u1"}', :'secret'), '2030-01-01');
-- malformed: not a JWS, padding, whitespace, duplicate claims, bad claim types,
-- non-object payload, NULL, non-ASCII
SELECT reason FROM pg_temp.v('garbage', '2030-01-01');
SELECT reason FROM pg_temp.v('a.b', '2030-01-01');
SELECT reason FROM pg_temp.v(:'t' || '.x', '2030-01-01');
SELECT reason FROM pg_temp.v(:'t' || '=', '2030-01-01');
SELECT reason FROM pg_temp.v(' ' || :'t', '2030-01-01');
SELECT reason FROM pg_temp.v(replace(:'t', '.', E'.\n'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"sub":"u1","sub":"admin","exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '","alg":"none"}',
    '{"exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":"1893500000"}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '[{"exp":1893470000}]', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000,"x":"\u0000"}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(NULL, '2030-01-01');
SELECT reason FROM pg_temp.v('é.é.é', '2030-01-01');
-- token_too_large (8 KiB cap), before any parsing
SELECT reason FROM pg_temp.v(repeat('a', 8193), '2030-01-01');
-- alg_not_allowed: none (with or without signature), unknown, and a header
-- alg that is not the key's
SELECT reason FROM pg_temp.v(namaskah.url_encode(convert_to('{"alg":"none","kid":"' || :'kid' || '"}', 'UTF8'))
    || '.' || split_part(:'t', '.', 2) || '.', '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"none","kid":"' || :'kid' || '"}',
    '{"exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"RS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS512","kid":"' || :'kid' || '"}',
    '{"exp":1893470000}', :'secret', 'HS512'), '2030-01-01');
-- bad_signature: changed payload, other secret, stripped signature
SELECT reason FROM pg_temp.v(split_part(:'t', '.', 1) || '.' ||
    namaskah.url_encode(convert_to('{"sub":"admin","exp":1893470000}', 'UTF8')) || '.' ||
    split_part(:'t', '.', 3), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000}', 'some-other-secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(split_part(:'t', '.', 1) || '.' || split_part(:'t', '.', 2) || '.', '2030-01-01');
-- unknown_kid: absent, unknown
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256"}', '{"exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"nope"}', '{"exp":1893470000}', :'secret'), '2030-01-01');
-- unsupported_crit; jku/x5u/jwk are ignored, never followed
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '","crit":["exp"]}',
    '{"exp":1893470000}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '","jku":"https://evil.example/jwks","x5u":"https://evil.example/c"}',
    '{"exp":1893470000}', :'secret'), '2030-01-01');

-- bad_issuer / bad_audience once configured; jwt_issue then adds iss and aud
SELECT namaskah.set_setting('jwt.issuer', 'https://namaskah.example');
SELECT namaskah.set_setting('jwt.audience', 'namaskah-api');
SELECT reason FROM pg_temp.v(:'t', '2030-01-01');
SELECT namaskah.jwt_issue('{"sub":"u2"}', '2030-01-01') AS t2 \gset
SELECT * FROM pg_temp.v(:'t2', '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000,"iss":"https://evil.example","aud":"namaskah-api"}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000,"iss":"https://namaskah.example","aud":["other","namaskah-api"]}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000,"iss":"https://namaskah.example","aud":["other"]}', :'secret'), '2030-01-01');
SELECT reason FROM pg_temp.v(pg_temp.tok('{"alg":"HS256","kid":"' || :'kid' || '"}',
    '{"exp":1893470000,"iss":"https://namaskah.example"}', :'secret'), '2030-01-01');
DELETE FROM namaskah.settings WHERE name IN ('jwt.issuer', 'jwt.audience');

-- token lifetime setting
SELECT namaskah.set_setting('jwt.expire_minutes', '15');
SELECT (claims->>'exp')::bigint - (claims->>'iat')::bigint AS lifetime_s
FROM namaskah.jwt_verify_strict(namaskah.jwt_issue('{}', '2030-01-01'), '2030-01-01');
DELETE FROM namaskah.settings WHERE name = 'jwt.expire_minutes';

-- revoked (details in jwt_revoke)
SELECT namaskah.revoke_token((SELECT claims->>'jti' FROM namaskah.jwt_verify_strict(:'t', '2030-01-01')), '2030-01-01 08:00:00+00');
SELECT reason FROM pg_temp.v(:'t', '2030-01-01');

-- claims must be an object
SELECT namaskah.jwt_issue('[1]', '2030-01-01');

-- request claims for endpoint functions
SELECT namaskah.current_user_id() IS NULL AS no_user, namaskah.current_role() IS NULL AS no_role;
SELECT namaskah.set_request_claims('{"sub":"u42","role":"admin"}');
SELECT namaskah.current_user_id(), namaskah.current_role();
SELECT current_setting('request.jwt.claims');
SELECT namaskah.set_request_claims(NULL);
SELECT namaskah.current_user_id() IS NULL AS cleared;

-- who may call what
SELECT has_function_privilege('namaskah_api', 'namaskah.jwt_verify_strict(text, timestamptz)', 'EXECUTE') AS api_verify,
       has_function_privilege('namaskah_api', 'namaskah.jwt_issue(jsonb, timestamptz)', 'EXECUTE') AS api_issue,
       has_function_privilege('namaskah_api', 'namaskah.current_user_id()', 'EXECUTE') AS api_user_id,
       has_function_privilege('namaskah_api', 'namaskah.set_request_claims(jsonb)', 'EXECUTE') AS api_set_claims,
       has_function_privilege('namaskah_frontend', 'namaskah.verify(text, text, text)', 'EXECUTE') AS frontend_verify;
ROLLBACK;
