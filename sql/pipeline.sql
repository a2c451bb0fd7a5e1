-- The request pipeline: routing (404, 405, OPTIONS, HEAD), path parameters,
-- query and body parsing (400, 415), the problem format, error mapping,
-- HTML-inert JSON output and the least-privilege wiring.
\set VERBOSITY terse

-- Test endpoints: run as namaskah_api like real ones.
CREATE FUNCTION api.t_echo(req jsonb) RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT jsonb_build_object('params', req->'params', 'query', req->'query',
    'body', req->'body', 'method', req->>'method', 'route', req->>'route',
    'who', current_user) $$;
CREATE FUNCTION api.t_created(req jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN PERFORM namaskah.set_response_status(201); RETURN '{"ok": true}'; END $$;
CREATE FUNCTION api.t_fail(req jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE req->'params'->>'kind'
    WHEN 'problem' THEN
        PERFORM namaskah.raise_problem(422, 'bad_thing', 'The thing is bad.',
            '{"errors": [{"field": "name", "code": "too_long"}]}');
    WHEN 'zero' THEN PERFORM 1 / 0;
    WHEN 'invalid' THEN RAISE EXCEPTION 'secret internal name x_tbl' USING ERRCODE = '22023';
    WHEN 'denied' THEN RAISE EXCEPTION 'no' USING ERRCODE = '42501';
    ELSE RAISE EXCEPTION 'relation "internal_table" does not exist';
    END CASE;
    RETURN NULL;
END $$;
ALTER FUNCTION api.t_echo(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.t_created(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.t_fail(jsonb) OWNER TO namaskah_api;
REVOKE ALL ON FUNCTION api.t_echo(jsonb), api.t_created(jsonb), api.t_fail(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.t_echo(jsonb), api.t_created(jsonb), api.t_fail(jsonb) TO namaskah_owner;
INSERT INTO namaskah.routes (method, path_template, target, auth, rate_limit_policy) VALUES
    ('GET', '/api/t/items/{id}', 'api.t_echo(jsonb)', 'public', 'none'),
    ('POST', '/api/t/items/{id}', 'api.t_echo(jsonb)', 'public', 'none'),
    ('GET', '/api/t/items/special', 'api.t_created(jsonb)', 'public', 'none'),
    ('GET', '/api/t/fail/{kind}', 'api.t_fail(jsonb)', 'public', 'none');

-- a compact view of a response
CREATE FUNCTION pg_temp.req(m text, p text, q text DEFAULT '', h jsonb DEFAULT '{}',
    b text DEFAULT NULL, OUT status int, OUT headers jsonb, OUT body text)
LANGUAGE sql AS $$
    SELECT r.status, r.headers, r.body
    FROM namaskah.handle_request(m, p, q, h, b, '192.0.2.1', 'req-1') r
$$;

-- derived route columns
SELECT path_template, path_regex, param_names, literal_segments
FROM namaskah.routes WHERE path_template LIKE '/api/t/%' ORDER BY id;

-- routing
SELECT status, headers->>'x-namaskah-route' AS route, body::jsonb->'params' AS params,
       body::jsonb->>'who' AS who FROM pg_temp.req('GET', '/api/t/items/abc-1');
SELECT status, body FROM pg_temp.req('GET', '/api/t/items/special');
SELECT status, body::jsonb->>'method' AS method FROM pg_temp.req('HEAD', '/api/t/items/x');
SELECT status, headers->>'Allow' AS allow, body IS NULL AS no_body FROM pg_temp.req('OPTIONS', '/api/t/items/x');
SELECT status, headers->>'Allow' AS allow, body::jsonb->>'code' AS code FROM pg_temp.req('DELETE', '/api/t/items/x');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('TRACE', '/api/t/items/x');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('BREW', '/api/t/items/x');
SELECT status, body::jsonb - 'request_id' AS body FROM pg_temp.req('GET', '/api/nope');
SELECT status, headers FROM pg_temp.req('GET', '/api/nope');
SELECT status FROM pg_temp.req('GET', '/api/t/items/a/b');
SELECT status FROM pg_temp.req('GET', '/api/t/items/');
-- a dot in a template is a dot, not "any character"
SELECT status, headers->>'x-namaskah-route' AS route FROM pg_temp.req('GET', '/api/openapi.json');
SELECT status, headers->>'x-namaskah-route' AS route FROM pg_temp.req('GET', '/api/openapiXjson');
SELECT path_regex FROM namaskah.routes WHERE path_template = '/api/openapi.json';
-- a literal template matches the whole path only
SELECT status FROM pg_temp.req('GET', '/api/versionX');
SELECT status FROM pg_temp.req('GET', '/api/version/');
-- malformed identifiers look exactly like missing ones
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/items/a''b');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/items/' || repeat('x', 129));

-- query strings
SELECT status, body::jsonb->'query' AS query FROM pg_temp.req('GET', '/api/t/items/x', 'a=1&b=%3Cscript%3E&c=x+y&d&&e=%C3%A9');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=1&=2');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=1&a=2');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=%zz');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=%ff%fe');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=%0d%0aX-Injected:1');
SELECT status, body::jsonb->>'detail' AS detail FROM pg_temp.req('GET', '/api/t/items/x', 'a=%00');
SELECT namaskah.parse_query('');
SELECT namaskah.parse_query('%E2%9C%93=%C3%A9');
-- a '%' not followed by two hex digits is refused, never kept or guessed at
-- (core/nk_http.c: the rule namaskahd applies to paths and queries too)
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/items/x', 'a=100%');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/items/x', '%%41=1');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/items/x', 'a=%4&b=1');

-- reason phrases and problem titles: the one table namaskahd's status lines
-- come from too (core/nk_http.c); an unknown status reads as its class's x00
SELECT s AS status, namaskah.http_reason(s) AS reason
FROM unnest(ARRAY[200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 413, 415,
                  422, 423, 429, 431, 500, 501, 503, 505, 499, 599, 600]) s;
-- namaskahd writes these very bytes for its own problems (test/unit/test_http.c)
SELECT namaskah.problem_body(404, 'not_found', 'No resource exists at this path.',
    '/api/nope', '5f0c7a1e-1d2b-4c55-9a43-0c5e3f8f9b10');

-- bodies
SELECT status, body::jsonb->'body' AS body FROM pg_temp.req('POST', '/api/t/items/x', '',
    '{"content-type": "application/json; charset=utf-8"}', '{"name": "<b>&amp;</b>", "n": [1, 2]}');
-- the body text itself never contains raw < > & '
SELECT body FROM pg_temp.req('POST', '/api/t/items/x', '', '{"content-type": "application/json"}',
    '{"x": "<script>alert(''1'')</script> & \u2028"}');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('POST', '/api/t/items/x', '',
    '{"content-type": "text/plain"}', '{}');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('POST', '/api/t/items/x', '', '{}', '{}');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('POST', '/api/t/items/x', '',
    '{"content-type": "application/json"}', '{"a": ');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('POST', '/api/t/items/x', '',
    '{"content-type": "application/json"}', repeat('[', 100000));
-- bodies are scanned before they become jsonb: linear work, one answer per
-- limit, and a member name twice is refused (which one would win?)
SELECT status, body::jsonb->>'code' AS code, body::jsonb->>'detail' AS detail,
       body::jsonb->>'limit' AS "limit", body::jsonb->>'max' AS max
FROM (VALUES
    ('{"password": "wrong", "password": "right"}'),
    ('{"a": {"b": 1, "\u0062": 2}}'),
    ('{' || (SELECT string_agg(format('"k%s": 0', i), ',') FROM generate_series(1, 10000) i) || '}'),
    ('{"a": "' || repeat('x', 16385) || '"}'),
    ('[' || repeat('0,', 5000) || '0]'),
    ('{"a": ' || repeat('[', 16) || repeat(']', 16) || '}'),
    ('{"a": "\u0000"}'),
    ('{"a": 1} {"b": 2}')) AS t(b),
    LATERAL pg_temp.req('POST', '/api/t/items/x', '', '{"content-type": "application/json"}', t.b);
-- within the limits a body is passed on whole
SELECT status, jsonb_array_length(body::jsonb->'body'->'a') AS n FROM pg_temp.req('POST',
    '/api/t/items/x', '', '{"content-type": "application/json"}',
    '{"a": [' || repeat('"' || repeat('y', 100) || '",', 4000) || '1]}');

-- error mapping: deliberate problems keep their code and extras; database
-- errors say nothing about internals
SELECT status, headers->>'Content-Type' AS ctype, body::jsonb - 'request_id' AS body
FROM pg_temp.req('GET', '/api/t/fail/problem');
SELECT status, body::jsonb - 'request_id' AS body FROM pg_temp.req('GET', '/api/t/fail/zero');
SELECT status, body::jsonb->>'code' AS code, body LIKE '%x_tbl%' AS leaks
FROM pg_temp.req('GET', '/api/t/fail/invalid');
SELECT status, body::jsonb->>'code' AS code FROM pg_temp.req('GET', '/api/t/fail/denied');
SELECT status, body::jsonb->>'code' AS code, body LIKE '%internal_table%' AS leaks
FROM pg_temp.req('GET', '/api/t/fail/other');
SELECT namaskah.raise_problem(200, 'x', 'y');
SELECT namaskah.raise_problem(400, 'Bad Code', 'y');

-- least privilege: the frontend role may run the entry function and nothing else
SELECT has_function_privilege('namaskah_frontend',
    'namaskah.handle_request(text, text, text, jsonb, text, inet, text)', 'EXECUTE') AS entry,
    has_function_privilege('namaskah_frontend', 'namaskah.parse_query(text)', 'EXECUTE') AS other,
    has_table_privilege('namaskah_frontend', 'namaskah.routes', 'SELECT') AS routes,
    has_schema_privilege('namaskah_frontend', 'api', 'USAGE') AS api_schema;
SELECT p.oid::regprocedure AS frontend_can_execute
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('namaskah', 'api')
  AND has_schema_privilege('namaskah_frontend', n.oid, 'USAGE')
  AND has_function_privilege('namaskah_frontend', p.oid, 'EXECUTE') ORDER BY 1;
SELECT c.relname AS frontend_can_read
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('namaskah', 'api') AND c.relkind IN ('r', 'v', 'p')
  AND has_table_privilege('namaskah_frontend', c.oid, 'SELECT') ORDER BY 1;
-- every SECURITY DEFINER function pins search_path: by a SET clause, or,
-- for the three C functions on every request's path (where a SET clause is
-- a configuration save and restore per call), in C at entry when the caller
-- has not (nk_pin_search_path, extension/namaskah.h); none of them may be
-- called by the API or frontend roles
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('namaskah', 'api') AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
  AND NOT (p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
           AND p.proname IN ('rate_limit_peek', 'rate_limit_check', 'audit_append'));
SELECT p.proname AS pinned_inside, l.lanname,
       has_function_privilege('namaskah_api', p.oid, 'EXECUTE') AS api,
       has_function_privilege('namaskah_frontend', p.oid, 'EXECUTE') AS frontend
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'namaskah'::regnamespace
  AND p.proname IN ('rate_limit_peek', 'rate_limit_check', 'audit_append')
ORDER BY 1;
-- ... and they do pin it: called under a path that puts a caller's schema
-- first, their statements never use the caller's operators (no NOTICE)
CREATE SCHEMA hijack;
CREATE FUNCTION hijack.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'a caller''s operator ran as %', current_user;
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR hijack.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hijack.text_eq);
CREATE FUNCTION hijack.uuid_eq(a uuid, b uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'a caller''s operator ran as %', current_user;
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR hijack.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = hijack.uuid_eq);
SET search_path = hijack, pg_catalog;
SELECT allowed FROM namaskah.rate_limit_peek('default', 'hijack');
SELECT allowed FROM namaskah.rate_limit_check('default', 'hijack');
BEGIN;
SELECT namaskah.audit_append('hijack', 'test', 'GET', '/hijack', 200, 'ok', 0, '{}') > 0 AS appended;
ROLLBACK;
SHOW search_path;
RESET search_path;
DROP SCHEMA hijack CASCADE;
-- a NULL path or method matches nothing: 404
SELECT m.route IS NULL AS no_route, m.allowed, m.path_template
FROM namaskah.match_route('GET', NULL) m;
SELECT r.status, r.headers->>'x-namaskah-route' AS route, r.body::jsonb->>'code' AS code
FROM namaskah.handle_request('GET', NULL, '', '{}', NULL, '192.0.2.1', 'null-path') r;
SELECT r.status, r.body::jsonb->>'code' AS code
FROM namaskah.handle_request(NULL, '/api/version', '', '{}', NULL, '192.0.2.1', 'null-method') r;
-- the route matcher takes at most 8 path parameters; more is refused
INSERT INTO namaskah.routes (method, path_template, target, auth)
VALUES ('GET', '/api/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}', 'api.version(jsonb)', 'public');

-- the version endpoint
SELECT status, body::jsonb FROM pg_temp.req('GET', '/api/version');

DELETE FROM namaskah.routes WHERE path_template LIKE '/api/t/%';
DROP FUNCTION api.t_echo(jsonb), api.t_created(jsonb), api.t_fail(jsonb);

-- CORS: off by default; an explicit allowlist; never "*"; preflight answers
SELECT headers ? 'Access-Control-Allow-Origin' AS cors_by_default
FROM namaskah.handle_request('GET', '/api/version', '', '{"origin": "https://app.example.com"}', NULL, '192.0.2.1', 'c1');
SELECT namaskah.set_setting('cors.allowed_origins', 'https://app.example.com, http://localhost:3000');
SELECT headers->>'Access-Control-Allow-Origin' AS allow_origin, headers->>'Vary' AS vary,
       headers ? 'Access-Control-Allow-Credentials' AS credentials
FROM namaskah.handle_request('GET', '/api/version', '', '{"origin": "https://app.example.com"}', NULL, '192.0.2.1', 'c2');
SELECT headers ? 'Access-Control-Allow-Origin' AS evil_allowed, headers->>'Vary' AS vary
FROM namaskah.handle_request('GET', '/api/version', '', '{"origin": "https://evil.example"}', NULL, '192.0.2.1', 'c3');
SELECT status, headers->>'Access-Control-Allow-Methods' AS methods,
       headers->>'Access-Control-Allow-Headers' AS allow_headers
FROM namaskah.handle_request('OPTIONS', '/api/auth/login', '',
    '{"origin": "http://localhost:3000", "access-control-request-method": "POST"}', NULL, '192.0.2.1', 'c4');
SELECT namaskah.set_setting('cors.allowed_origins', '*');
SELECT headers ? 'Access-Control-Allow-Origin' AS star_honoured
FROM namaskah.handle_request('GET', '/api/version', '', '{"origin": "https://evil.example"}', NULL, '192.0.2.1', 'c5');
SELECT namaskah.set_setting('cors.allowed_origins', '');
