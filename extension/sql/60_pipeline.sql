-- namaskah install script, part 60: the request pipeline.
--
-- namaskah.handle_request (part 65) is the one function namaskahd may call;
-- it runs these stages (run_pipeline, at the end of this part, is their
-- list), then writes the audit record. Stages, in order, one function each
-- (each can end the request with its answer):
--   1. route          stage_route: method + path against namaskah.routes
--                     (match_route, C) -> 404, 405, 501; OPTIONS 204
--   2. input          stage_input: query string and JSON body -> 400, 415
--   3. identity       stage_identity: the bearer token of a bearer route -> 401
--                     (429 once auth_failures is used up)
--   4. admission      stage_admission: rate-limit peek; already over the
--                     limit -> 429, no write
--   5. authorization  stage_authorization: required role -> 403
--   6. endpoint       stage_endpoint: the route's function, in the request's
--                     one subtransaction (errors mapped: map_error)
--   7. accounting     stage_accounting, inside that subtransaction: the
--                     consuming rate-limit check, last before commit; denied
--                     -> the endpoint's effects are rolled back, 429
--   (endpoint_answer turns 6 and 7 into the answer)
--   8. audit          handle_request: the request's audit record (part 65)
-- Everything happens in the caller's single transaction: an acknowledged
-- request's effect, its accounting and its audit record commit together.
--
-- SECURITY DEFINER functions pin search_path. The small helpers below run
-- only inside that pinned context and carry no SET clause: a SET clause costs
-- a configuration save and restore on every call and keeps an SQL function
-- from being inlined (together some 300 us a request); their bodies are
-- schema-qualified instead.

-- Path templates: literal segments or {name} parameters.
CREATE TABLE @extschema@.routes (
    id serial PRIMARY KEY,
    method text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    path_template text NOT NULL
        CHECK (path_template ~ '^(/([a-z0-9._-]+|\{[a-z_][a-z0-9_]*\}))+$'),
    target regprocedure NOT NULL,
    auth text NOT NULL DEFAULT 'bearer' CHECK (auth IN ('public', 'bearer', 'webhook')),
    required_role text CHECK (required_role ~ '^[a-z_]{1,32}$'),
    rate_limit_policy text,
    description text,
    -- derived by the trigger below; never set by hand
    path_regex text NOT NULL DEFAULT '',
    param_names text[] NOT NULL DEFAULT '{}',
    literal_segments int NOT NULL DEFAULT 0,
    UNIQUE (method, path_template)
);
ALTER TABLE @extschema@.routes OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.routes IS
    'API routes: method + path template -> endpoint function (jsonb) -> jsonb';

CREATE FUNCTION @extschema@.routes_derive()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- '.' is the only regex metacharacter a literal segment may hold
    NEW.path_regex := '^' || regexp_replace(replace(NEW.path_template, '.', '\.'),
        '\{[a-z_][a-z0-9_]*\}', '([^/]+)', 'g') || '$';
    NEW.param_names := coalesce(ARRAY(
        SELECT m[1] FROM regexp_matches(NEW.path_template,
            '\{([a-z_][a-z0-9_]*)\}', 'g') AS m), '{}');
    NEW.literal_segments := (SELECT count(*) FROM regexp_split_to_table(
        NEW.path_template, '/') AS s WHERE s <> '' AND s !~ '^\{');
    -- A mistyped policy must not silently exempt a route: NULL means the
    -- 'default' policy, 'none' means not rate limited, anything else must exist.
    IF NEW.rate_limit_policy IS NOT NULL AND NEW.rate_limit_policy <> 'none'
       AND NOT EXISTS (SELECT FROM @extschema@.rate_limit_policies p
                       WHERE p.name = NEW.rate_limit_policy) THEN
        RAISE EXCEPTION 'unknown rate-limit policy "%" for route % %',
            NEW.rate_limit_policy, NEW.method, NEW.path_template
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION @extschema@.routes_derive() OWNER TO namaskah_owner;

CREATE TRIGGER routes_derive BEFORE INSERT OR UPDATE ON @extschema@.routes
    FOR EACH ROW EXECUTE FUNCTION @extschema@.routes_derive();
-- each backend's copy of the table (match_route) is dropped when it changes
CREATE TRIGGER routes_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.routes
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cache_invalidate();

-- Decoded query parameters as a jsonb object (C: percent-decoding, UTF-8 and
-- control-character checks, repeated parameters refused).
CREATE FUNCTION @extschema@.parse_query(query text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nk_sql_parse_query'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A request body as jsonb after a strict, bounded, linear scan (C): 22P02
-- not JSON, 22030 a duplicate member name, 54000 past a limit (depth 16,
-- 64 members an object, strings of 16384 bytes, 4096 values; the detail is
-- {"limit": name, "max": n}).
CREATE FUNCTION @extschema@.parse_body(body text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nk_sql_parse_body'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Calls a route's endpoint function by OID (C, fmgr): no SQL text and no
-- plan per request; EXECUTE privilege checked as for a direct call.
CREATE FUNCTION @extschema@.call_endpoint(target regprocedure, req jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nk_sql_call_endpoint'
LANGUAGE C VOLATILE;

-- JSON text that is inert in HTML: '<' '>' '&' '\'' and U+2028/9 can only
-- occur inside JSON strings, so replacing them by \u escapes keeps the
-- document equal (C, core/nk_json.c: one pass over the text).
CREATE FUNCTION @extschema@.json_text(doc jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_json_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The reason phrase of an HTTP status, which is also a problem's "title"
-- (C: the table in core/nk_http.c that namaskahd writes its status lines and
-- its own problems from). A status missing from the table reads as its
-- class's x00 (RFC 9110, section 15): 499 is 'Bad Request'.
CREATE FUNCTION @extschema@.http_reason(status int)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_http_reason'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The RFC 9457 body every error uses. namaskahd writes the same bytes for
-- its own problems (nk_problem_json in core/nk_http.c: jsonb's member order
-- and separators, json_text's escaping); keep the two alike.
CREATE FUNCTION @extschema@.problem_body(status int, code text, detail text,
    instance text, request_id text, extra jsonb DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT @extschema@.json_text(jsonb_build_object(
        'type', 'urn:namaskah:problem:' || $2,
        'title', @extschema@.http_reason($1),
        'status', $1,
        'detail', $3,
        'instance', $4,
        'code', $2,
        'request_id', $5) || coalesce($6, '{}'))
$$;

-- For endpoint functions: end the request with a problem answer. The status
-- travels in the SQLSTATE (NK + status), the stable code in the hint, an
-- optional jsonb of extra members (e.g. {"errors": [...]}) in the detail.
CREATE FUNCTION @extschema@.raise_problem(status int, code text, detail text,
    extra jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF status NOT BETWEEN 400 AND 599 OR code !~ '^[a-z][a-z0-9_]{0,63}$' THEN
        RAISE EXCEPTION 'raise_problem: invalid status % or code', status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'NK' || status::text, MESSAGE = detail,
        HINT = code, DETAIL = coalesce(extra::text, '');
END
$$;

-- For endpoint functions: answer with a problem but KEEP the endpoint's
-- effects (raise_problem rolls them back). For failures that must leave a
-- trace, such as counting a failed login. Use as the endpoint's return value:
--   RETURN namaskah.problem_keeping_effects(401, 'invalid_credentials', '...');
CREATE FUNCTION @extschema@.problem_keeping_effects(status int, code text, detail text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
    IF status NOT BETWEEN 400 AND 599 OR code !~ '^[a-z][a-z0-9_]{0,63}$' THEN
        RAISE EXCEPTION 'problem_keeping_effects: invalid status % or code', status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('namaskah.response_problem',
        jsonb_build_object('status', status, 'code', code, 'detail', detail)::text, true);
    RETURN NULL;
END
$$;

-- For endpoint functions: choose the success status (default 200).
CREATE FUNCTION @extschema@.set_response_status(status int)
RETURNS void
LANGUAGE sql
AS $$
    SELECT set_config('namaskah.response_status', $1::text, true)
$$;

-- An error raised inside an endpoint -> (status, code, detail). Only
-- deliberate problems and well-understood SQLSTATEs say anything; the rest
-- is a 500 that shows nothing but the request id. Data exceptions (class 22:
-- bad casts, values too long or out of range) come from request values and
-- are the client's 400, except division by zero, which is a bug of ours.
CREATE FUNCTION @extschema@.map_error(state text, message text, hint text,
    OUT status int, OUT code text, OUT detail text)
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF state ~ '^NK[45][0-9][0-9]$' THEN
        status := substr(state, 3)::int;
        code := coalesce(nullif(hint, ''), 'error');
        detail := message;
    ELSIF state IN ('23505', '23P01') THEN
        status := 409; code := 'conflict';
        detail := 'The request conflicts with the current state of a resource.';
    ELSIF state = '23503' THEN
        status := 409; code := 'conflict';
        detail := 'The request refers to a resource that does not exist or is in use.';
    ELSIF (state ~ '^22' AND state <> '22012') OR state IN ('23502', '23514', '54000', '54001') THEN
        status := 400; code := 'invalid_input';
        detail := 'The request contains an invalid value.';
    ELSIF state = '42501' THEN
        status := 403; code := 'forbidden';
        detail := 'You are not allowed to do this.';
    ELSIF state = 'P0002' THEN
        status := 404; code := 'not_found';
        detail := 'The resource does not exist.';
    ELSIF state IN ('40001', '40P01', '55P03', '57014') THEN
        status := 503; code := 'temporarily_unavailable';
        detail := 'The service is busy; retry shortly.';
    ELSE
        status := 500; code := 'internal_error';
        detail := 'An internal error occurred; quote the request id when reporting it.';
    END IF;
END
$$;

-- Readiness (GET /health/ready through namaskahd): extension version and
-- whether a signing key is installed; no secret, no row counts.
CREATE FUNCTION @extschema@.ready(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    keys_present boolean := false;
BEGIN
    PERFORM @extschema@.validate_request(req);
    IF to_regclass('@extschema@.signing_keys') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM @extschema@.signing_keys WHERE retired_at IS NULL)'
            INTO keys_present;
    END IF;
    RETURN jsonb_build_object(
        'status', 'ready',
        'extension_version',
            (SELECT extversion FROM pg_extension WHERE extname = 'namaskah'),
        'signing_keys_present', keys_present);
END
$$;
ALTER FUNCTION @extschema@.ready(jsonb) OWNER TO namaskah_owner;

-- CORS: off unless the setting cors.allowed_origins lists origins (exact
-- "scheme://host[:port]" values, comma-separated; "*" is never honoured).
-- A request whose Origin is listed gets Access-Control-Allow-Origin with that
-- origin (no credentials: the API uses bearer tokens, not cookies); a
-- preflight (OPTIONS with Access-Control-Request-Method) also gets the
-- allowed methods and headers. Other origins get no CORS header, so a
-- browser refuses to hand them the response.
CREATE FUNCTION @extschema@.cors_headers(request_headers jsonb, method text,
    response_headers jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    origin text := request_headers->>'origin';
    allowed text;
BEGIN
    allowed := @extschema@.setting('cors.allowed_origins');
    IF coalesce(allowed, '') = '' THEN
        RETURN '{}';
    ELSIF origin IS NULL OR origin !~ '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$'
          OR NOT origin = ANY (string_to_array(replace(allowed, ' ', ''), ',')) THEN
        RETURN '{"Vary": "Origin"}';
    END IF;
    RETURN jsonb_build_object('Access-Control-Allow-Origin', origin, 'Vary', 'Origin',
            'Access-Control-Expose-Headers', 'RateLimit, RateLimit-Policy, Retry-After, X-Request-Id')
        || CASE WHEN method = 'OPTIONS' AND request_headers ? 'access-control-request-method'
                THEN jsonb_build_object(
                    'Access-Control-Allow-Methods', coalesce(response_headers->>'Allow', ''),
                    'Access-Control-Allow-Headers', 'Authorization, Content-Type',
                    'Access-Control-Max-Age', '600')
                ELSE '{}' END;
END
$$;

-- Route lookup: the most specific template (most literal segments) wins.
-- route and params are NULL when no template with this method (HEAD as
-- GET) matches; allowed lists the methods of every matching template ('{}'
-- for an unknown path), path_template is the most specific one. C
-- (extension/routes.c): the table is read once per backend and kept until
-- it changes (the trigger below), and matched segment by segment.
CREATE FUNCTION @extschema@.match_route(method text, path text,
    OUT route @extschema@.routes, OUT params jsonb, OUT allowed text[],
    OUT path_template text)
AS 'MODULE_PATHNAME', 'nk_sql_match_route'
LANGUAGE C STABLE STRICT;
ALTER FUNCTION @extschema@.match_route(text, text) OWNER TO namaskah_owner;

-- What a request is answered: status, headers (with x-namaskah-route, the
-- route template for namaskahd's log and metrics; namaskahd strips it) and
-- body. A stage that ends the request returns one; NULL lets it go on.
CREATE TYPE @extschema@.answer AS (status int, headers jsonb, body text);
ALTER TYPE @extschema@.answer OWNER TO namaskah_owner;

-- A finished answer with a JSON body.
CREATE FUNCTION @extschema@.respond(status int, body jsonb, route text,
    extra_headers jsonb DEFAULT '{}')
RETURNS @extschema@.answer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ROW(status,
        jsonb_build_object('Content-Type', 'application/json; charset=utf-8',
                           'x-namaskah-route', route) || coalesce(extra_headers, '{}'),
        CASE WHEN status = 204 OR body IS NULL THEN NULL
             ELSE @extschema@.json_text(body) END)::@extschema@.answer;
END
$$;

-- A problem answer (problem_body).
CREATE FUNCTION @extschema@.respond_problem(status int, code text,
    detail text, path text, request_id text, route text,
    extra_headers jsonb DEFAULT '{}', extra jsonb DEFAULT NULL)
RETURNS @extschema@.answer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ROW(status,
        jsonb_build_object('Content-Type', 'application/problem+json; charset=utf-8',
                           'x-namaskah-route', route) || coalesce(extra_headers, '{}'),
        @extschema@.problem_body(status, code, detail, path, request_id, extra)
        )::@extschema@.answer;
END
$$;

-- The rate-limit key of a request under a policy's scope. Anonymous requests
-- fall back to the client address for user scopes. Addresses appear as
-- their pseudonyms (client_pseudonym): the keys of what a request consumed
-- are kept in its audit record.
CREATE FUNCTION @extschema@.rate_limit_key(scope text, route text,
    user_id text, client_addr inet)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT CASE $1
        WHEN 'client' THEN @extschema@.client_pseudonym($4)
        WHEN 'user' THEN coalesce('user:' || $3, @extschema@.client_pseudonym($4))
        WHEN 'user_route' THEN coalesce('user:' || $3, @extschema@.client_pseudonym($4)) || ' ' || $2
        WHEN 'route' THEN $2
        ELSE '*' END
$$;

-- IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) and, when
-- denied, Retry-After.
CREATE FUNCTION @extschema@.rate_limit_headers(policy text, window_seconds int,
    limited @extschema@.rate_limit_result)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'RateLimit-Policy', format('"%s";q=%s;w=%s', $1, ($3)."limit", $2),
        'RateLimit', format('"%s";r=%s;t=%s', $1, ($3).remaining, ($3).reset_after))
        || CASE WHEN ($3).allowed THEN '{}'::jsonb
           ELSE jsonb_build_object('Retry-After', greatest(($3).retry_after, 1)::text) END
$$;

-- The one 429 of the pipeline: a policy's denial (limited) as a problem
-- with its RateLimit fields, Retry-After and the policy named in the body.
CREATE FUNCTION @extschema@.respond_rate_limited(policy text, window_seconds int,
    limited @extschema@.rate_limit_result, detail text, path text, request_id text,
    route text)
RETURNS @extschema@.answer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- (PL/pgSQL: an SQL function returning a row is not inlined, and would
    -- be parsed again in every transaction that calls it)
    RETURN @extschema@.respond_problem(429, 'rate_limited',
        coalesce(detail, 'Too many requests; retry after the time in Retry-After.'),
        path, request_id, route,
        @extschema@.rate_limit_headers(policy, window_seconds, limited),
        jsonb_build_object('policy', policy));
END
$$;

-- ---------------------------------------------------------------------------
-- The stages. Each takes what the stages before it found and either ends
-- the request (its rejection, an answer) or hands on what it found.
-- run_pipeline, at the end of this part, is the list of them in order.

-- 1. route: which endpoint. 501 for an unknown method, 404 for an unknown
-- path or a malformed identifier (it cannot name a resource), 405 for a
-- method the path does not have (OPTIONS: 204 with Allow).
CREATE FUNCTION @extschema@.stage_route(method text, path text, request_id text,
    OUT route @extschema@.routes, OUT route_label text, OUT params jsonb,
    OUT rejection @extschema@.answer)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    matched record;
    allow_header text;
BEGIN
    route_label := 'unmatched';
    IF method NOT IN ('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT') THEN
        rejection := @extschema@.respond_problem(501, 'method_not_implemented',
            'This HTTP method is not supported.', path, request_id, route_label);
        RETURN;
    END IF;
    matched := @extschema@.match_route(method, path);
    IF matched.allowed = '{}' THEN
        rejection := @extschema@.respond_problem(404, 'not_found',
            'No resource exists at this path.', path, request_id, route_label);
        RETURN;
    END IF;
    route_label := matched.path_template;
    IF matched.route IS NULL THEN
        allow_header := array_to_string(ARRAY(SELECT DISTINCT m FROM unnest(
            matched.allowed || CASE WHEN 'GET' = ANY (matched.allowed)
                THEN ARRAY['HEAD'] ELSE '{}' END || ARRAY['OPTIONS']) AS m ORDER BY m), ', ');
        IF method = 'OPTIONS' THEN
            rejection := @extschema@.respond(204, NULL, route_label,
                jsonb_build_object('Allow', allow_header));
        ELSE
            rejection := @extschema@.respond_problem(405, 'method_not_allowed',
                'This method is not allowed on this resource.', path, request_id,
                route_label, jsonb_build_object('Allow', allow_header));
        END IF;
        RETURN;
    END IF;
    route := matched.route;
    route_label := route.path_template;
    params := matched.params;
    IF params = '{}' THEN
        RETURN;   -- (apart: a condition with EXISTS is a query each time)
    END IF;
    IF EXISTS (SELECT FROM jsonb_each_text(params) AS p
               WHERE p.value !~ '^[A-Za-z0-9._~-]{1,128}$') THEN
        rejection := @extschema@.respond_problem(404, 'not_found',
            'The resource does not exist.', path, request_id, route_label);
    END IF;
END
$$;

-- 2. input: the query string and the JSON body, parsed strictly (400, 415).
-- An exception block is a subtransaction: entered only when there is
-- something to parse.
CREATE FUNCTION @extschema@.stage_input(method text, query text,
    request_headers jsonb, request_body text, path text, request_id text,
    route_label text, OUT query_params jsonb, OUT json_body jsonb,
    OUT rejection @extschema@.answer)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    err_state text;
    err_message text;
    err_detail text;
BEGIN
    query_params := '{}';
    IF query IS NOT NULL AND query <> '' THEN
        BEGIN
            query_params := @extschema@.parse_query(query);
        EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
            GET STACKED DIAGNOSTICS err_message = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE;
            rejection := @extschema@.respond_problem(400,
                CASE WHEN err_state IN ('22021', '22P05') THEN 'invalid_encoding'
                     ELSE 'invalid_query' END,
                'The query string is invalid: ' || err_message || '.',
                path, request_id, route_label);
            RETURN;
        END;
    END IF;
    IF request_body IS NULL OR request_body = '' OR method = 'HEAD' THEN
        RETURN;
    END IF;
    IF coalesce(request_headers->>'content-type', '') !~* '^application/json[ \t]*(;|$)' THEN
        rejection := @extschema@.respond_problem(415, 'unsupported_media_type',
            'Request bodies must be application/json.', path, request_id, route_label);
        RETURN;
    END IF;
    BEGIN
        json_body := @extschema@.parse_body(request_body);
    EXCEPTION WHEN data_exception OR program_limit_exceeded OR statement_too_complex THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE,
            err_detail = PG_EXCEPTION_DETAIL;
        rejection := @extschema@.respond_problem(400,
            CASE err_state WHEN '22030' THEN 'duplicate_member'
                           WHEN '54000' THEN 'body_limit_exceeded'
                           ELSE 'invalid_json' END,
            CASE err_state
                WHEN '22030' THEN 'A member name appears twice in one object of the request body.'
                WHEN '54000' THEN format('The request body exceeds the limit on %s (%s).',
                    replace(err_detail::jsonb->>'limit', '_', ' '), err_detail::jsonb->>'max')
                ELSE 'The request body is not valid JSON.' END,
            path, request_id, route_label, '{}',
            CASE WHEN err_state = '54000' THEN err_detail::jsonb END);
    END;
END
$$;

-- 3. identity: the bearer token of a route that wants one (401). Failed
-- attempts count against the client address (policy auth_failures): a
-- failure consumes from it, and once it is used up the answer is 429
-- instead of 401, so guessing tokens from one address is throttled. A valid
-- token costs no rate-limit work here; its claims are published to the
-- endpoint as request.jwt.claims.
CREATE FUNCTION @extschema@.stage_identity(route @extschema@.routes,
    request_headers jsonb, client_addr inet, path text, request_id text,
    OUT subject text, OUT role text, OUT rejection @extschema@.answer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    token text;
    verdict @extschema@.jwt_verdict;
    limited @extschema@.rate_limit_result;
BEGIN
    IF route.auth <> 'bearer' THEN
        RETURN;
    END IF;
    -- the scheme is case-insensitive (RFC 9110 § 11.1)
    token := substring(request_headers->>'authorization'
                       FROM '(?i)^bearer +([A-Za-z0-9._~+/=-]+) *$');
    IF token IS NOT NULL THEN
        verdict := @extschema@.jwt_verify_strict(token, now());
        IF verdict.valid THEN
            subject := verdict.sub;
            role := verdict.role;
            PERFORM set_config('request.jwt.claims', verdict.claims::text, true);
            RETURN;
        END IF;
    END IF;
    limited := @extschema@.rate_limit_check('auth_failures',
        @extschema@.rate_limit_key('client', route.path_template, NULL, client_addr));
    IF NOT limited.allowed THEN
        rejection := @extschema@.respond_rate_limited('auth_failures',
            (@extschema@.rate_limit_policy_info('auth_failures')).window_seconds, limited,
            'Too many failed authentication attempts; retry after the time in Retry-After.',
            path, request_id, route.path_template);
    ELSIF token IS NULL THEN
        rejection := @extschema@.respond_problem(401, 'missing_token',
            'A bearer token is required.', path, request_id, route.path_template,
            jsonb_build_object('WWW-Authenticate', 'Bearer realm="namaskah"'));
    ELSE
        rejection := @extschema@.respond_problem(401, verdict.reason,
            'The bearer token is not valid.', path, request_id, route.path_template,
            jsonb_build_object('WWW-Authenticate',
                format('Bearer realm="namaskah", error="invalid_token", error_description="%s"',
                       verdict.reason)));
    END IF;
END
$$;

-- 4. admission: the route's policy (NULL means 'default', 'none' none) and
-- the request's key under it; a request already over its limit costs one
-- read and no write (429). limit_headers are the RateLimit fields so far.
CREATE FUNCTION @extschema@.stage_admission(route @extschema@.routes,
    subject text, client_addr inet, path text, request_id text,
    OUT policy text, OUT window_seconds int, OUT limit_key text,
    OUT limit_headers jsonb, OUT rejection @extschema@.answer)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    info record;
    limited @extschema@.rate_limit_result;
BEGIN
    limit_headers := '{}';
    info := @extschema@.rate_limit_policy_info(coalesce(route.rate_limit_policy, 'default'));
    IF info.scope IS NULL THEN
        RETURN;
    END IF;
    policy := coalesce(route.rate_limit_policy, 'default');
    window_seconds := info.window_seconds;
    limit_key := @extschema@.rate_limit_key(info.scope, route.path_template,
                                            subject, client_addr);
    limited := @extschema@.rate_limit_peek(policy, limit_key);
    limit_headers := @extschema@.rate_limit_headers(policy, window_seconds, limited);
    IF NOT limited.allowed THEN
        rejection := @extschema@.respond_rate_limited(policy, window_seconds,
            limited, NULL, path, request_id, route.path_template);
    END IF;
END
$$;

-- 5. authorization: the route's required role (403).
CREATE FUNCTION @extschema@.stage_authorization(route @extschema@.routes,
    role text, limit_headers jsonb, path text, request_id text)
RETURNS @extschema@.answer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF route.required_role IS NOT NULL AND role IS DISTINCT FROM route.required_role THEN
        RETURN @extschema@.respond_problem(403, 'forbidden',
            'You are not allowed to do this.', path, request_id,
            route.path_template, limit_headers);
    END IF;
    RETURN NULL;
END
$$;

-- What the endpoint and accounting stages came to (stage_endpoint).
CREATE TYPE @extschema@.endpoint_outcome AS (
    result jsonb,            -- the endpoint's answer
    result_status int,       -- its success status (set_response_status)
    err_status int,          -- a problem instead: status, code, detail
    err_code text,
    err_text text,
    err_state text,          -- the SQLSTATE it was raised with, if raised
    err_detail text,         -- and the error's DETAIL
    limited @extschema@.rate_limit_result,  -- the accounting's decision
    denied boolean           -- the accounting refused: 429, effects undone
);
ALTER TYPE @extschema@.endpoint_outcome OWNER TO namaskah_owner;

-- 7. accounting: the consuming rate-limit check, last before commit.
CREATE FUNCTION @extschema@.stage_accounting(policy text, limit_key text)
RETURNS @extschema@.rate_limit_result
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF policy IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN @extschema@.rate_limit_check(policy, limit_key);
END
$$;

-- 6. endpoint, with 7. accounting in the same subtransaction: an endpoint
-- error rolls back the endpoint's effects and the request is accounted
-- after it; a denied accounting step (since an endpoint may raise a 429 of
-- its own: denied) rolls back the endpoint's effects too. The one
-- subtransaction of a request, entered only when an endpoint runs.
CREATE FUNCTION @extschema@.stage_endpoint(route @extschema@.routes, req jsonb,
    policy text, limit_key text)
RETURNS @extschema@.endpoint_outcome
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    o @extschema@.endpoint_outcome;
    soft_problem jsonb;
    err_state text;
    err_message text;
    err_hint text;
    err_detail text;
    mapped record;
BEGIN
    o.denied := false;
    BEGIN
        PERFORM set_config('namaskah.response_status', '', true);
        PERFORM set_config('namaskah.response_problem', '', true);
        o.result := @extschema@.call_endpoint(route.target, req);
        o.result_status := coalesce(nullif(current_setting(
            'namaskah.response_status', true), '')::int, 200);
        soft_problem := nullif(current_setting('namaskah.response_problem', true), '')::jsonb;
        IF soft_problem IS NOT NULL THEN
            o.err_status := (soft_problem->>'status')::int;
            o.err_code := soft_problem->>'code';
            o.err_text := soft_problem->>'detail';
        END IF;
        o.limited := @extschema@.stage_accounting(policy, limit_key);
        IF NOT (o.limited).allowed THEN
            o.denied := true;
            RAISE EXCEPTION USING ERRCODE = 'NK429';
        END IF;
    EXCEPTION WHEN OTHERS THEN
        IF NOT o.denied THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE,
                err_message = MESSAGE_TEXT, err_hint = PG_EXCEPTION_HINT,
                err_detail = PG_EXCEPTION_DETAIL;
            o.err_state := err_state;
            o.err_detail := err_detail;
            mapped := @extschema@.map_error(err_state, err_message, err_hint);
            o.err_status := mapped.status;
            o.err_code := mapped.code;
            o.err_text := mapped.detail;
            IF o.err_status >= 500 THEN
                RAISE LOG 'namaskah: request % on % failed with SQLSTATE %: %',
                    req->>'request_id', route.path_template, err_state,
                    @extschema@.sanitize_log(err_message, 512);
            END IF;
            o.limited := @extschema@.stage_accounting(policy, limit_key);
            o.denied := (o.limited).allowed IS FALSE;
        END IF;
    END;
    RETURN o;
END
$$;

-- The answer of a request that reached its endpoint: the accounting's 429,
-- the endpoint's problem, or its result; with the RateLimit fields after
-- accounting.
CREATE FUNCTION @extschema@.endpoint_answer(route @extschema@.routes,
    o @extschema@.endpoint_outcome, policy text, window_seconds int,
    limit_headers jsonb, path text, request_id text)
RETURNS @extschema@.answer
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF policy IS NOT NULL THEN
        limit_headers := @extschema@.rate_limit_headers(policy, window_seconds, o.limited);
    END IF;
    IF o.denied THEN
        RETURN @extschema@.respond_rate_limited(policy, window_seconds, o.limited,
            NULL, path, request_id, route.path_template);
    ELSIF o.err_status IS NULL THEN
        RETURN @extschema@.respond(o.result_status, o.result, route.path_template,
                                   limit_headers);
    END IF;
    RETURN @extschema@.respond_problem(o.err_status, o.err_code, o.err_text, path,
        request_id, route.path_template,
        limit_headers || CASE WHEN o.err_status = 503
            THEN '{"Retry-After": "1"}'::jsonb
            WHEN o.err_status = 401 AND route.auth <> 'webhook'
            THEN jsonb_build_object('WWW-Authenticate', 'Bearer realm="namaskah"')
            -- an endpoint's own rate limit says when to retry
            WHEN o.err_status = 429 AND o.err_detail ~ '^\{'
            THEN jsonb_build_object('Retry-After',
                coalesce(o.err_detail::jsonb->>'retry_after', '60'))
            ELSE '{}' END,
        CASE WHEN o.err_state ~ '^NK' AND coalesce(o.err_detail, '') <> ''
            THEN o.err_detail::jsonb END);
END
$$;

-- What an endpoint function receives.
CREATE FUNCTION @extschema@.endpoint_request(method text, path text,
    route @extschema@.routes, params jsonb, query_params jsonb, json_body jsonb,
    client_addr inet, request_id text, subject text, role text,
    request_headers jsonb, request_body text)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'method', method, 'path', path, 'route', (route).path_template,
        'params', params, 'query', query_params, 'body', json_body,
        'client_addr', host(client_addr), 'request_id', request_id,
        'user_id', subject, 'role', role,
        -- for endpoints that authenticate the request themselves (signed
        -- webhooks): the headers without credentials, and the exact body
        'headers', request_headers - 'authorization' - 'cookie' - 'proxy-authorization',
        'raw_body', CASE WHEN (route).auth = 'webhook' THEN request_body END)
$$;

-- The stages of one request, in order; each may end it with its answer
-- (handle_request, part 65, then writes the audit record, stage 8; subject,
-- the verified token's sub or NULL, is handed back for it). Runs as
-- namaskah_owner, the caller's identity.
CREATE FUNCTION @extschema@.run_pipeline(
    method text, path text, query text, request_headers jsonb,
    request_body text, client_addr inet, request_id text,
    OUT answer @extschema@.answer, OUT subject text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    routed record;
    parsed record;
    caller record;
    admitted record;
    outcome @extschema@.endpoint_outcome;
BEGIN
    request_headers := coalesce(request_headers, '{}');
    routed := @extschema@.stage_route(method, path, request_id);
    answer := routed.rejection;
    IF answer.status IS NOT NULL THEN RETURN; END IF;

    parsed := @extschema@.stage_input(method, query, request_headers, request_body,
        path, request_id, routed.route_label);
    answer := parsed.rejection;
    IF answer.status IS NOT NULL THEN RETURN; END IF;

    caller := @extschema@.stage_identity(routed.route, request_headers,
        client_addr, path, request_id);
    answer := caller.rejection;
    IF answer.status IS NOT NULL THEN RETURN; END IF;
    subject := caller.subject;

    admitted := @extschema@.stage_admission(routed.route, subject, client_addr,
        path, request_id);
    answer := admitted.rejection;
    IF answer.status IS NOT NULL THEN RETURN; END IF;

    answer := @extschema@.stage_authorization(routed.route, caller.role,
        admitted.limit_headers, path, request_id);
    IF answer.status IS NOT NULL THEN RETURN; END IF;

    outcome := @extschema@.stage_endpoint(routed.route,
        @extschema@.endpoint_request(method, path, routed.route, routed.params,
            parsed.query_params, parsed.json_body, client_addr, request_id,
            subject, caller.role, request_headers, request_body),
        admitted.policy, admitted.limit_key);
    answer := @extschema@.endpoint_answer(routed.route, outcome, admitted.policy,
        admitted.window_seconds, admitted.limit_headers, path, request_id);
END
$$;
ALTER FUNCTION @extschema@.run_pipeline(text, text, text, jsonb, text, inet, text)
    OWNER TO namaskah_owner;
