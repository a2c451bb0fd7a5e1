-- jwt_verify_strict in a database whose encoding is not UTF-8: the claims,
-- sub and role are converted from the token's UTF-8; a payload with a
-- character the database cannot hold is malformed (never an error, never
-- mangled text).
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS namaskah_regress_latin1;
CREATE DATABASE namaskah_regress_latin1 TEMPLATE template0 ENCODING 'LATIN1'
    LC_COLLATE 'C' LC_CTYPE 'C';
\c namaskah_regress_latin1
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION namaskah;
SELECT namaskah.install_signing_key('hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF') IS NOT NULL AS key_installed;
-- tok(payload bytes): a token over exactly these payload bytes
CREATE FUNCTION pg_temp.tok(p bytea) RETURNS text LANGUAGE sql AS $$
    SELECT s || '.' || namaskah.algorithm_sign(s, 'hJ8kL2mN9pQ4rS7tV1wX5yZ3aB6cD0eF', 'HS256')
    FROM (SELECT namaskah.url_encode(convert_to('{"alg":"HS256","kid":"' ||
                 (SELECT kid FROM namaskah.signing_keys WHERE retired_at IS NULL) || '"}', 'UTF8'))
                 || '.' || namaskah.url_encode(p) AS s) q
$$;
-- e-acute (UTF-8 c3 a9) exists in LATIN1
SELECT valid, reason, sub, role, claims::text AS claims
FROM namaskah.jwt_verify_strict(pg_temp.tok(
    convert_to('{"exp":4000000000,"sub":"u1","role":"admin', 'UTF8') || '\xc3a9'::bytea
    || convert_to('"}', 'UTF8')), '2096-10-02 00:00:00+00');
-- U+1F600 (f0 9f 98 80) does not
SELECT valid, reason, sub IS NULL AS no_sub, role IS NULL AS no_role, claims IS NULL AS no_claims
FROM namaskah.jwt_verify_strict(pg_temp.tok(
    convert_to('{"exp":4000000000,"sub":"u1","role":"x', 'UTF8') || '\xf09f9880'::bytea
    || convert_to('"}', 'UTF8')), '2096-10-02 00:00:00+00');
-- ASCII as everywhere (twice: the second answer comes from the payload memory)
SELECT valid, reason, sub, role
FROM namaskah.jwt_verify_strict(pg_temp.tok(convert_to('{"exp":4000000000,"sub":"u2","role":"user"}', 'UTF8')), '2096-10-02 00:00:00+00');
SELECT valid, reason, sub, role
FROM namaskah.jwt_verify_strict(pg_temp.tok(convert_to('{"exp":4000000000,"sub":"u2","role":"user"}', 'UTF8')), '2096-10-02 00:00:00+00');
\c namaskah_regress
DROP DATABASE namaskah_regress_latin1;
