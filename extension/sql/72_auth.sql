-- namaskah install script, part 72: the auth endpoints.
--
--   POST /api/auth/register  public   {email, password, phone?} -> 201 {id, email}
--   POST /api/auth/login     public   {email, password} -> {access_token, token_type, expires_in}
--   GET  /api/auth/me        bearer   the caller's account
--   POST /api/auth/logout    bearer   revokes the presented token -> 204
--   POST /api/auth/refresh   bearer   a fresh token for the same session; the
--                                     presented one is revoked
-- All run as namaskah_api; password and account checks go through the narrow
-- definer functions of part 50.

CREATE FUNCTION api.auth_register(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b jsonb := req->'body';
    new_id uuid;
BEGIN
    PERFORM @extschema@.validate_request(req, '{
        "email": {"type": "string", "required": true, "max_length": 254, "format": "email"},
        "password": {"type": "string", "required": true, "min_length": 12, "max_length": 256},
        "phone": {"type": "string", "format": "e164"}}');
    BEGIN
        new_id := @extschema@.create_user(b->>'email', b->>'password', b->>'phone');
    EXCEPTION WHEN unique_violation THEN
        PERFORM @extschema@.raise_problem(409, 'registration_conflict',
            'An account cannot be created with these details.');
    END;
    PERFORM @extschema@.set_response_status(201);
    RETURN jsonb_build_object('id', new_id, 'email', b->>'email');
END
$$;

CREATE FUNCTION api.auth_login(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b jsonb := req->'body';
    attempt record;
    result record;
    token record;
BEGIN
    PERFORM @extschema@.validate_request(req, '{
        "email": {"type": "string", "required": true, "max_length": 254},
        "password": {"type": "string", "required": true, "max_length": 256}}');
    attempt := @extschema@.login_attempt_allowed(b->>'email', (req->>'client_addr')::inet);
    IF NOT attempt.allowed THEN
        PERFORM @extschema@.raise_problem(429, 'rate_limited',
            'Too many login attempts for this account; retry after the time in Retry-After.',
            jsonb_build_object('policy', attempt.policy,
                               'retry_after', greatest(attempt.retry_after, 1)));
    END IF;
    result := @extschema@.authenticate_password(b->>'email', b->>'password');
    -- failures keep their effect: the attempt counted, the failure counter
    IF result.outcome <> 'ok' THEN
        PERFORM @extschema@.login_failed(b->>'email', (req->>'client_addr')::inet);
    END IF;
    IF result.outcome = 'account_locked' THEN
        RETURN @extschema@.problem_keeping_effects(401, 'account_locked',
            'The account is locked; contact support.');
    ELSIF result.outcome <> 'ok' THEN
        RETURN @extschema@.problem_keeping_effects(401, 'invalid_credentials',
            'The email or password is wrong.');
    END IF;
    token := @extschema@.issue_access_token(result.user_id);
    RETURN jsonb_build_object('access_token', token.access_token,
        'token_type', 'Bearer', 'expires_in', token.expires_in);
END
$$;

-- PL/pgSQL rather than SQL: its plan is cached per session, where an SQL
-- function's query would be planned again on every request.
CREATE FUNCTION api.auth_me(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    account jsonb;
BEGIN
    PERFORM @extschema@.validate_request(req);
    SELECT jsonb_build_object('id', u.id, 'email', u.email, 'phone', u.phone,
                              'role', u.role,
                              'created_at', @extschema@.json_time(u.created_at))
    INTO account
    FROM @extschema@.users u WHERE u.id = @extschema@.request_subject();
    IF account IS NULL THEN
        PERFORM @extschema@.raise_problem(404, 'not_found', 'The account does not exist.');
    END IF;
    RETURN account;
END
$$;

CREATE FUNCTION api.auth_logout(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.validate_request(req);
    PERFORM @extschema@.revoke_current_token();
    PERFORM @extschema@.set_response_status(204);
    RETURN NULL;
END
$$;

CREATE FUNCTION api.auth_refresh(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claims jsonb := current_setting('request.jwt.claims', true)::jsonb;
    token record;
BEGIN
    PERFORM @extschema@.validate_request(req);
    -- The presented token was verified (not expired, not revoked) by the
    -- pipeline; the new one keeps its session and auth_time, so refreshing
    -- never outlives a revoke-all, and the old one stops working.
    token := @extschema@.issue_access_token(@extschema@.request_subject(),
        claims->>'sid', (claims->>'auth_time')::bigint);
    PERFORM @extschema@.revoke_current_token();
    RETURN jsonb_build_object('access_token', token.access_token,
        'token_type', 'Bearer', 'expires_in', token.expires_in);
END
$$;

ALTER FUNCTION api.auth_register(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.auth_login(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.auth_me(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.auth_logout(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.auth_refresh(jsonb) OWNER TO namaskah_api;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description) VALUES
    ('POST', '/api/auth/register', 'api.auth_register(jsonb)', 'public', 'auth_register',
     'Create an account'),
    ('POST', '/api/auth/login', 'api.auth_login(jsonb)', 'public', 'auth_login',
     'Exchange email and password for an access token'),
    ('GET', '/api/auth/me', 'api.auth_me(jsonb)', 'bearer', NULL, 'The caller''s account'),
    ('POST', '/api/auth/logout', 'api.auth_logout(jsonb)', 'bearer', NULL,
     'Revoke the presented token'),
    ('POST', '/api/auth/refresh', 'api.auth_refresh(jsonb)', 'bearer', NULL,
     'A fresh token for the same session');
