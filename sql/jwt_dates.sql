\set VERBOSITY terse
-- jwt_verify_strict and the NumericDates this service could never have
-- issued: exp beyond the lifetime it issues (jwt.expire_minutes + leeway),
-- dates that are negative or not finite; fractions stay legal (RFC 7519).
-- One transaction, rolled back: no key or setting survives.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET LOCAL timezone = 'UTC';
UPDATE namaskah.signing_keys SET retired_at = now() - interval '400 days';
\set secret 'pQ4rS7tV1wX5yZ3aB6cD0eFhJ8kL2mN9'
SELECT namaskah.install_signing_key(:'secret') AS kid \gset

-- tok(kid, payload, secret): an HS256 token with that kid
CREATE FUNCTION pg_temp.tok(kid text, p text, secret text)
RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || namaskah.algorithm_sign(s, secret, 'HS256')
    FROM (SELECT namaskah.url_encode(convert_to(
                     '{"alg":"HS256","typ":"JWT","kid":"' || kid || '"}', 'UTF8')) || '.' ||
                 namaskah.url_encode(convert_to(p, 'UTF8')) AS s) q
$$;

-- at T = 2030-01-01 00:00:00 (epoch 1893456000); lifetime 480 min = 28800 s,
-- leeway 30 s: exp may be at most T + 28830
SELECT name, (namaskah.jwt_verify_strict(pg_temp.tok(:'kid', p, :'secret'),
                                          '2030-01-01 00:00:00+00')).reason
FROM (VALUES
    ('exp at the lifetime', '{"sub":"u","exp":1893484800}'),
    ('exp at lifetime + leeway', '{"sub":"u","exp":1893484830}'),
    ('exp a second beyond', '{"sub":"u","exp":1893484831}'),
    ('exp 1e300', '{"sub":"u","exp":1e300}'),
    ('exp 2^63', '{"sub":"u","exp":9223372036854775808}'),
    ('exp 2^64', '{"sub":"u","exp":18446744073709551616}'),
    ('exp 1e1000', '{"sub":"u","exp":1e1000}'),
    ('exp negative', '{"sub":"u","exp":-1}'),
    ('nbf negative', '{"sub":"u","exp":1893456600,"nbf":-1}'),
    ('iat negative', '{"sub":"u","exp":1893456600,"iat":-1}'),
    ('iat -1e1000', '{"sub":"u","exp":1893456600,"iat":-1e1000}'),
    ('nbf 1e1000', '{"sub":"u","exp":1893456600,"nbf":1e1000}'),
    ('fractional exp', '{"sub":"u","exp":1893456600.25}'),
    ('fractional iat and nbf', '{"sub":"u","exp":1893456600,"iat":1893455999.5,"nbf":1893455999.5}'),
    ('zero iat and nbf', '{"sub":"u","exp":1893456600,"iat":0,"nbf":0}')
) AS cases(name, p);

-- a token the service issued itself is within the bound
SELECT (namaskah.jwt_verify_strict(namaskah.jwt_issue('{"sub":"u"}', '2030-01-01 00:00:00+00'),
                                   '2030-01-01 00:00:00+00')).reason AS issued;

-- lowering the lifetime retires tokens issued for longer
SELECT namaskah.jwt_issue('{"sub":"u"}', '2030-01-01 00:00:00+00') AS long_lived \gset
SELECT namaskah.set_setting('jwt.expire_minutes', '10');
SELECT (namaskah.jwt_verify_strict(:'long_lived', '2030-01-01 00:00:00+00')).reason AS after_lowering;
SELECT (namaskah.jwt_verify_strict(namaskah.jwt_issue('{"sub":"u"}', '2030-01-01 00:00:00+00'),
                                   '2030-01-01 00:00:00+00')).reason AS issued_after_lowering;

-- a login's expires_in is the lifetime of the token it returns, whatever
-- jwt.expire_minutes holds (an out-of-range value is refused when set, and
-- the lifetime stays)
INSERT INTO namaskah.users (email, email_key, password_hash)
VALUES ('lifetime@example.test', 'lifetime@example.test', 'unused');
CREATE FUNCTION pg_temp.lifetime() RETURNS TABLE (expires_in int, exp_minus_iat bigint)
LANGUAGE sql AS $$
    SELECT t.expires_in, (p->>'exp')::bigint - (p->>'iat')::bigint
    FROM namaskah.issue_access_token((SELECT u.id FROM namaskah.users u
                                      WHERE u.email_key = 'lifetime@example.test')) t,
         LATERAL (SELECT convert_from(namaskah.url_decode(split_part(t.access_token, '.', 2)),
                                      'UTF8')::jsonb AS p) d
$$;
SELECT * FROM pg_temp.lifetime();
SELECT namaskah.set_setting('jwt.expire_minutes', '1000000');
SELECT * FROM pg_temp.lifetime();
SELECT namaskah.set_setting('jwt.expire_minutes', '45');
SELECT * FROM pg_temp.lifetime();
ROLLBACK;
