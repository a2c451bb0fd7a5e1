\set VERBOSITY terse
-- namaskah.sanitize_log, json_escape, html_escape and the input validators.

-- sanitize_log: every line breaker, control and terminal escape is made
-- visible; backslash is doubled so the result is unambiguous.
SELECT namaskah.sanitize_log(v) AS sanitized
FROM (VALUES
    ('plain text'),
    (''),
    (E'GET /x\r\nX-Injected: 1'),
    (E'tab\there'),
    (E'nel\u0085next'),
    (E'ls\u2028ps\u2029end'),
    (E'\x1b[31mred\x1b[0m \x1b]0;title\x07'),
    (E'del\x7f c1\u0080\u009f nbsp\u00a0'),
    ('%s%n%x%p'),
    (E'back\\slash \\n literal'),
    (E'\u202eevil\u202c'),
    ('नमस्ते café 😀')
) AS t(v);

-- A request-derived value can never start a new line.
SELECT count(*) AS lines_with_breaks
FROM (VALUES (E'a\nb'), (E'a\rb'), (E'a\u2028b'), (E'a\u2029b'), (E'a\u0085b'),
             (E'a\x0bb'), (E'a\x0cb')) AS t(v)
WHERE namaskah.sanitize_log(v) ~ E'[\\n\\r\\u2028\\u2029\\u0085\\x0b\\x0c]';

-- Length cap: at most max_bytes bytes, marked, cut on a character boundary.
SELECT octet_length(namaskah.sanitize_log(repeat('x', 5000))) AS default_cap,
       right(namaskah.sanitize_log(repeat('x', 5000)), 14) AS marker;
SELECT namaskah.sanitize_log(repeat('é', 20), 20) AS two_byte_cut,
       namaskah.sanitize_log(repeat('😀', 10), 20) AS four_byte_cut,
       namaskah.sanitize_log(repeat(E'\n', 11), 21) AS escape_cut;
SELECT octet_length(namaskah.sanitize_log(repeat('é', 10), 20)) AS bytes,
       namaskah.sanitize_log(repeat('é', 10), 21) AS fits_exactly;
SELECT octet_length(namaskah.sanitize_log(repeat(E'\u2028', 100000), 65536)) <= 65536 AS capped,
       namaskah.sanitize_log(repeat('ab', 3), 16) AS short_kept;
SELECT namaskah.sanitize_log('x', 15) AS smallest_cap;
SELECT namaskah.sanitize_log('x', 14);
SELECT namaskah.sanitize_log('x', 100000000);
SELECT namaskah.sanitize_log(NULL) IS NULL AS strict;

-- json_escape: the body of a JSON string, inert in HTML.
SELECT namaskah.json_escape(v) AS escaped
FROM (VALUES
    (''),
    ('say "hi"'),
    (E'a\\b'),
    (E'\b\f\n\r\t'),
    (E'\x01\x1b\x1f\x7f\u0085'),
    ('<script>alert(''x'')</script> & more'),
    (E'\u2028\u2029'),
    ('नमस्ते 😀'),
    ('%s%n')
) AS t(v);

-- Round trip: quoting the escaped body gives back the original value.
SELECT bool_and(('"' || namaskah.json_escape(v) || '"')::jsonb #>> '{}' = v) AS round_trip
FROM (VALUES ('<a href=''x''>&</a>'), (E'\r\n\t\x01'), (E'\u2028 \\ "'),
             ('😀'), (repeat('é<', 1000)), ('')) AS t(v);

-- html_escape.
SELECT namaskah.html_escape('<a href="x" onclick=''y''>Tom & Jerry</a>') AS html,
       namaskah.html_escape('') AS empty,
       namaskah.html_escape('नमस्ते & 😀') AS multibyte;

-- Validators.
SELECT v, namaskah.is_valid_email(v) AS ok
FROM (VALUES ('john.doe@example.com'), ('a+tag@sub.example.co.uk'),
             ('user@xn--bcher-kva.de'), (''), ('plain'), ('@example.com'),
             ('user@'), ('a@b@example.com'), ('.a@example.com'),
             ('a..b@example.com'), ('user@localhost'), ('user@example.c'),
             ('user@-bad.com'), ('user@1.2.3.4'), ('us er@example.com'),
             ('<script>@example.com'), ('élise@example.com'),
             (repeat('a', 64) || '@example.com'),
             (repeat('a', 65) || '@example.com')) AS t(v);
SELECT namaskah.is_valid_email(E'user@example.com\r\nBcc: x@y.com') AS crlf,
       namaskah.is_valid_email('a@' || repeat('b', 60) || '.' || repeat('c', 60) || '.'
                                || repeat('d', 60) || '.' || repeat('e', 60) || '.com') AS len_249,
       namaskah.is_valid_email('a@' || repeat('b', 63) || '.' || repeat('c', 63) || '.'
                                || repeat('d', 63) || '.' || repeat('e', 63) || '.com') AS len_261,
       namaskah.is_valid_email('a@' || repeat('b', 64) || '.com') AS label_64;

SELECT v, namaskah.is_valid_e164(v) AS ok
FROM (VALUES ('+14155552671'), ('+12345678'), ('+123456789012345'),
             ('+1234567'), ('+1234567890123456'), ('+04155552671'),
             ('14155552671'), ('+1 415 555 2671'), ('++14155552671'),
             ('+1415555267a'), (''), ('+'), ('+١٢٣٤٥٦٧٨٩')) AS t(v);

SELECT v, namaskah.is_valid_uuid(v) AS ok
FROM (VALUES ('123e4567-e89b-12d3-a456-426614174000'),
             ('123E4567-E89B-12D3-A456-426614174000'),
             ('00000000-0000-0000-0000-000000000000'),
             ('123e4567e89b12d3a456426614174000'),
             ('{123e4567-e89b-12d3-a456-426614174000}'),
             ('123e4567-e89b-12d3-a456-42661417400'),
             ('g23e4567-e89b-12d3-a456-426614174000'),
             ('')) AS t(v);

SELECT label, namaskah.is_printable_text(v, 10) AS ok
FROM (VALUES ('ascii', 'hello'), ('empty', ''), ('multibyte 10 chars', 'नमस्ते😀 éa'),
             ('11 chars', 'hello world'), ('CR', E'a\rb'), ('LF', E'a\nb'),
             ('TAB', E'a\tb'), ('ESC', E'\x1b[31m'), ('DEL', E'a\x7f'),
             ('NEL', E'a\u0085'), ('C1', E'a\u009f'), ('NBSP', E'a\u00a0'),
             ('LS', E'a\u2028'), ('PS', E'a\u2029'), ('RLO', E'a\u202e'),
             ('LRE', E'a\u202a'), ('LRI', E'a\u2066'), ('PDI', E'a\u2069'),
             ('ZWJ', E'a\u200d'), ('format', '%s%n'), ('html', '<b>x</b>')) AS t(label, v);
SELECT namaskah.is_printable_text(repeat('é', 1000), 1000) AS at_limit,
       namaskah.is_printable_text(repeat('é', 1001), 1000) AS over_limit,
       namaskah.is_printable_text('', 0) AS empty_zero;
SELECT namaskah.is_printable_text('x', -1);

-- Privileges: the API role may call them all, PUBLIC none.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'namaskah'::regnamespace
  AND p.proname IN ('sanitize_log', 'json_escape', 'html_escape', 'is_valid_email',
                    'is_valid_e164', 'is_valid_uuid', 'is_printable_text')
ORDER BY 1::text;
