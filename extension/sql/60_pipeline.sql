-- namaskah install script, part 60: the request pipeline's tables and SQL
-- helpers.
--
-- namaskah.handle_request (part 65) is the one function namaskahd may call.
-- Its stages are C (extension/request.c: run_pipeline there is their list):
--   1. route          method + path against namaskah.routes (the copy held
--                     per backend, extension/routes.c) -> 404, 405, 501;
--                     OPTIONS 204
--   2. input          query string and JSON body (parse_query, parse_body)
--                     -> 400, 415
--   3. identity       the bearer token of a bearer route (jwt_verify_strict)
--                     -> 401 (429 once auth_failures is used up)
--   4. admission      rate-limit peek; already over the limit -> 429, no write
--   5. authorization  the route's required role -> 403
--   6. endpoint       the route's function, in the request's one
--                     subtransaction (errors mapped: map_error)
--   7. accounting     inside that subtransaction: the consuming rate-limit
--                     check, last before commit; denied -> the endpoint's
--                     effects are rolled back, 429
--   8. audit          the request's audit record (audit_append, part 65)
-- Everything happens in the caller's single transaction: an acknowledged
-- request's effect, its accounting and its audit record commit together.
-- What the stages call in SQL is here: the endpoint helpers (raise_problem,
-- problem_keeping_effects, set_response_status), map_error, cors_headers.
--
-- The small helpers below run only inside the SECURITY DEFINER context of
-- handle_request (search_path pinned) and carry no SET clause: a SET clause
-- costs a configuration save and restore on every call and keeps an SQL
-- function from being inlined; their bodies are schema-qualified instead.

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
    -- the route matcher takes at most 8 (core/nk_route.h, NK_ROUTE_MAX_PARAMS)
    IF cardinality(NEW.param_names) > 8 THEN
        RAISE EXCEPTION 'route % % has more than 8 path parameters',
            NEW.method, NEW.path_template
            USING ERRCODE = 'check_violation';
    END IF;
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
AS 'MODULE_PATHNAME', 'nk_sql_problem_body'
LANGUAGE C STABLE PARALLEL SAFE;

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
-- for an unknown path or a NULL argument), path_template is the most
-- specific one. C
-- (extension/routes.c): the table is read once per backend and kept until
-- it changes (the trigger below), and matched segment by segment.
CREATE FUNCTION @extschema@.match_route(method text, path text,
    OUT route @extschema@.routes, OUT params jsonb, OUT allowed text[],
    OUT path_template text)
AS 'MODULE_PATHNAME', 'nk_sql_match_route'
LANGUAGE C STABLE;
ALTER FUNCTION @extschema@.match_route(text, text) OWNER TO namaskah_owner;
