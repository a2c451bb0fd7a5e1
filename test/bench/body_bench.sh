#!/bin/sh
# body_bench.sh — the database time of the worst request bodies.
#
# Sends a corpus of hostile bodies, each at most 1 MB (MAX_BODY_BYTES),
# through the entry function (namaskah.handle_request, POST /api/auth/login,
# no password hashing reached) in ONE backend, and prints each one's median
# time over 5 calls, the worst case against the 20 ms ceiling the review
# set, and against a peer measured in the same run: an ordinary 60-byte
# login body that fails validation. The corpus: the review's 10 000
# members, 5 000 members of one name, a megabyte of members, of nesting, of
# one string, of array items, of whitespace, and the largest body within
# every limit (60 members of 16 KB strings: scanned, made jsonb, validated).
#
# Connection: PGHOST, PGPORT, PGUSER, PGDATABASE; the database must have
# CREATE EXTENSION namaskah. Runs in one transaction that is rolled back
# (auth rate limits raised inside it). Exit status 0 when it ran.
set -eu

case "${1:-}" in
-h | --help)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

psql -X -q -At -v ON_ERROR_STOP=1 -F ' ' <<'SQL'
BEGIN;
SET LOCAL client_min_messages = warning;
UPDATE namaskah.rate_limit_policies SET "limit" = 1000000000 WHERE name LIKE 'auth%';
CREATE TEMP TABLE corpus (name text, body text);
INSERT INTO corpus VALUES
    ('peer: 60-byte login body', '{"email": "someone@example.test", "passwd": "not a field"}'),
    ('10 000 members (99 KB)', '{' || (SELECT string_agg(format('"k%s":0', i), ',') FROM generate_series(1, 10000) i) || '}'),
    ('5 000 members named alike', '{' || (SELECT string_agg('"k":0', ',') FROM generate_series(1, 5000)) || '}'),
    ('1 MB of members', '{' || (SELECT string_agg(format('"k%s":0', i), ',') FROM generate_series(1, 90000) i) || '}'),
    ('1 MB of nesting', repeat('[', 1000000)),
    ('1 MB string', '{"email": "' || repeat('x', 1000000) || '"}'),
    ('1 MB of array items', '{"a": [' || repeat('0,', 500000) || '0]}'),
    ('1 MB of whitespace', repeat(' ', 1000000) || '{}'),
    ('within every limit, 983 KB', '{' || (SELECT string_agg(format('"k%s":"%s"', i, repeat('y', 16384)), ',')
                                           FROM generate_series(1, 60) i) || '}');
CREATE FUNCTION pg_temp.median_ms(b text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    ms float8[] := '{}';
    i int;
BEGIN
    FOR i IN 1..5 LOOP
        t := clock_timestamp();
        PERFORM namaskah.handle_request('POST', '/api/auth/login', '',
            '{"content-type": "application/json"}', b, '127.0.0.1', 'body-bench');
        ms := ms || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RETURN (SELECT x FROM unnest(ms) x ORDER BY x OFFSET 2 LIMIT 1);
END
$$;
CREATE TEMP TABLE timed AS
SELECT name, length(body) AS bytes, pg_temp.median_ms(body) AS ms,
       (SELECT r.status || ' ' || (r.body::jsonb->>'code')
        FROM namaskah.handle_request('POST', '/api/auth/login', '',
            '{"content-type": "application/json"}', body, '127.0.0.1', 'body-bench') r) AS answer
FROM corpus;
SELECT format('%-30s %8s bytes %8s ms  %s', name, bytes, round(ms::numeric, 3), answer) FROM timed ORDER BY name LIKE 'peer%' DESC, ms DESC;
SELECT format('worst case: %s ms (%s) = %s of the 20 ms ceiling; %s x the peer''s %s ms',
              round(w.ms::numeric, 2), w.name, round((w.ms / 20)::numeric, 3),
              round((w.ms / p.ms)::numeric, 1), round(p.ms::numeric, 3))
FROM (SELECT * FROM timed WHERE name NOT LIKE 'peer%' ORDER BY ms DESC LIMIT 1) w,
     (SELECT * FROM timed WHERE name LIKE 'peer%') p;
ROLLBACK;
SQL
