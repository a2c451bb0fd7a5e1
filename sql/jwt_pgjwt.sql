\set VERBOSITY terse
-- pgjwt-compatible functions: url_encode, url_decode, algorithm_sign, sign,
-- verify. Expected values are pgjwt 0.2.0's own test vectors, RFC 4231 and
-- RFC 7515 Appendix A.1 (whose binary key cannot be a text secret: its MAC
-- is checked in test/unit/test_jwt.c; here the encodings of its parts).

-- url_encode / url_decode
SELECT namaskah.url_encode(convert_to(x, 'UTF8')) AS enc
FROM unnest(ARRAY['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']) AS x;
SELECT namaskah.url_encode('\xfbff'::bytea) AS url_alphabet,
       namaskah.url_encode(NULL) AS null_in;
SELECT to_json(x) AS input, namaskah.url_decode(x) AS dec
FROM unnest(ARRAY['', 'Zg', 'Zg=', 'Zg==', 'Zm9v', '-_8', '+/8', 'Zh',
                  E'Zm9v\r\n\t YmFy']) AS x;
-- what PostgreSQL's base64 decoder refuses, pgjwt refuses
SELECT namaskah.url_decode('Z');
SELECT namaskah.url_decode('Zm9v YmF');
SELECT namaskah.url_decode('Zm*v');
SELECT namaskah.url_decode(E'Zm9v\nYmFy');
-- long input (PostgreSQL's base64 wraps lines every 76 characters; pgjwt
-- strips the newlines)
SELECT namaskah.url_encode(convert_to(repeat('x', 100), 'UTF8')) !~ E'[\n=+/]' AS no_wrap,
       convert_from(namaskah.url_decode(namaskah.url_encode(convert_to(repeat('x', 100), 'UTF8'))), 'UTF8') = repeat('x', 100) AS round_trip;

-- algorithm_sign with RFC 4231 test case 2 (key "Jefe")
SELECT alg, encode(namaskah.url_decode(namaskah.algorithm_sign(
           'what do ya want for nothing?', 'Jefe', alg)), 'hex') AS mac
FROM unnest(ARRAY['HS256', 'HS384', 'HS512']) AS alg;
SELECT namaskah.algorithm_sign('x', 'k', 'bogus');
SELECT namaskah.algorithm_sign('x', 'k', 'hs256');
SELECT namaskah.algorithm_sign('x', 'k', NULL);
-- NULL data or secret: NULL, even with a bad algorithm (as in pgjwt)
SELECT namaskah.algorithm_sign(NULL, 'k', 'bogus') IS NULL AS null_data,
       namaskah.algorithm_sign('x', NULL, 'bogus') IS NULL AS null_secret;

-- RFC 7515 A.1: the header and payload bytes encode to the RFC's segments,
-- and its signature decodes to the RFC's MAC octets
SELECT namaskah.url_encode(convert_to(E'{"typ":"JWT",\r\n "alg":"HS256"}', 'UTF8')) AS a1_header,
       namaskah.url_encode(convert_to(E'{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}', 'UTF8')) AS a1_payload;
-- octets 116, 24, 223, 180, ... 141, 121 as printed in the RFC
SELECT encode(namaskah.url_decode('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'hex') =
       '7418dfb49799e0254ffa607dd8adbbba16d4254d69d6bff05b58055853848d79' AS a1_mac;
SELECT encode(namaskah.url_decode('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'hex') AS a1_mac_hex;

-- sign: pgjwt's vectors, byte for byte
SELECT namaskah.sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret');
SELECT namaskah.sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret', 'HS256');
SELECT namaskah.sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret', 'HS384');
SELECT namaskah.sign('{"sub":"1234567890","name":"John Doe","admin":true}', 'secret', 'HS512');
-- the payload is used as written (json keeps the input text)
SELECT namaskah.sign('{ "a" : 1 }', 'secret') <> namaskah.sign('{"a":1}', 'secret') AS text_kept;
SELECT namaskah.sign('{"sub":"1234567890"}', 'secret', 'bogus');
SELECT namaskah.sign('{}', NULL) IS NULL AS null_secret;

-- verify: valid / invalid signature, per algorithm
SELECT header::text, payload::text, valid FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'secret');
SELECT header::text, payload::text, valid FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'badsecret');
SELECT header::text, valid FROM namaskah.verify(
    'eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.DtVnCyiYCsCbg8gUP-579IC2GJ7P3CtFw6nfTTPw-0lZUzqgWAo9QIQElyxOpoRm',
    'secret', 'HS384');
SELECT header::text, valid FROM namaskah.verify(
    'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.YI0rUGDq5XdRw8vW2sDLRNFMN8Waol03iSFH8I4iLzuYK7FKHaQYWzPt0BJFGrAmKJ6SjY0mJIMZqNQJFVpkuw',
    'secret', 'HS512');
SELECT header::text, valid FROM namaskah.verify(
    'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.YI0rUGDq5XdRw8vW2sDLRNFMN8Waol03iSFH8I4iLzuYK7FKHaQYWzPt0BJFGrAmKJ6SjY0mJIMZqNQJFVpkuw',
    'badsecret', 'HS512');
-- the algorithm is the caller's, not the token's: HS256 token, HS512 check
SELECT valid FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'secret', 'HS512');
-- errors: bad algorithm (22023), undecodable header or payload
SELECT * FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'secret', 'bogus');
SELECT * FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIBOGUScCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'secret', 'HS256');
SELECT * FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaBOGUS9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    'secret', 'HS256');
SELECT * FROM namaskah.verify('.', 'secret');
-- pgjwt's shapes: extra segments ignored, missing ones give NULLs
SELECT valid FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ.extra',
    'secret');
SELECT header::text, payload IS NULL AS no_payload, valid IS NULL AS valid_null
FROM namaskah.verify('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', 'secret');
SELECT header IS NULL AS h, payload IS NULL AS p, valid IS NULL AS v
FROM namaskah.verify(NULL, 'secret');
SELECT valid IS NULL AS valid_null FROM namaskah.verify(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ',
    NULL);

-- verify's time window: tstzrange(nbf, exp) contains CURRENT_TIMESTAMP
SELECT p AS payload, (SELECT valid FROM namaskah.verify(namaskah.sign(p::json, 'secret'), 'secret')) AS valid
FROM unnest(ARRAY[
    '{"exp":1}',
    '{"exp":99999999999}',
    '{"nbf":99999999999}',
    '{"nbf":1,"exp":99999999999}',
    '{"nbf":5,"exp":5}',
    '{"exp":"99999999999"}',
    '{"exp":"soon"}',
    '{"exp":null}',
    '{"exp":"Infinity"}',
    '{"exp":1,"exp":99999999999}',
    '{"exp":99999999999,"exp":1}',
    '{"\u0065xp":1}',
    '{"exp":[99999999999]}',
    '[1,2]']) AS p;
-- PostgreSQL's json ->> refuses \u0000 anywhere in the object, as in pgjwt
SELECT valid FROM namaskah.verify(namaskah.sign('{"x":"\u0000","exp":1}', 'secret'), 'secret');
SELECT valid FROM namaskah.verify(namaskah.sign('{"nbf":6,"exp":5}', 'secret'), 'secret');
SELECT valid FROM namaskah.verify(namaskah.sign('{"exp":"NaN"}', 'secret'), 'secret');
-- a bad signature is reported without looking at the times
SELECT valid FROM namaskah.verify(namaskah.sign('{"exp":"NaN"}', 'secret'), 'other');

-- round trip through every algorithm
SELECT alg, (SELECT valid FROM namaskah.verify(namaskah.sign('{"a":"é"}', 'k', alg), 'k', alg)) AS valid
FROM unnest(ARRAY['HS256', 'HS384', 'HS512']) AS alg;
