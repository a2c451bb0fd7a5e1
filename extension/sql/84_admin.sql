-- namaskah install script, part 84: admin endpoints over accounts, and
-- the operator's way to create an admin.
--
--   GET  /api/admin/users              role admin; masked emails and phones,
--                                      keyset paginated (limit, cursor, role)
--   POST /api/admin/users/{id}/lock    role admin; locks the account and
--                                      revokes every token issued to it
--   POST /api/admin/users/{id}/unlock  role admin
--
-- The routes require the role claim 'admin' (pipeline stage 5); the definer
-- helpers check it again, so they are safe even if a route row is wrong.
-- Listings never carry a clear email or phone (docs/masking.md).
--
-- namaskah.create_admin(email, password) is for operators only (psql or
-- scripts/create_admin): no route reaches it and no API role may call it.

-- require_admin(): 403 unless the verified claims carry role 'admin'.
CREATE FUNCTION @extschema@.require_admin()
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF (nullif(current_setting('request.jwt.claims', true), '')::jsonb->>'role')
       IS DISTINCT FROM 'admin' OR @extschema@.request_subject() IS NULL THEN
        PERFORM @extschema@.raise_problem(403, 'forbidden', 'You are not allowed to do this.');
    END IF;
END
$$;

-- The admin view of an account: masked contact data, lock state.
CREATE FUNCTION @extschema@.admin_user_json(u @extschema@.users)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'id', u.id,
        'email', @extschema@.mask_email(u.email),
        'phone', @extschema@.mask_phone(u.phone),
        'role', u.role,
        'locked', coalesce(u.locked_until > now(), false),
        'locked_until', CASE WHEN u.locked_until = 'infinity' THEN 'infinity'
                             ELSE @extschema@.json_time(u.locked_until) END,
        'failed_logins', u.failed_logins,
        'created_at', @extschema@.json_time(u.created_at))
$$;

-- admin_list_users(page_size, after_ts, after_id, role): one page, newest
-- first, and the cursor of the next page (NULL on the last one).
CREATE FUNCTION @extschema@.admin_list_users(page_size int, after_ts timestamptz,
    after_id uuid, role_filter text, OUT items jsonb, OUT next_cursor text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.require_admin();
    IF page_size NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'page size % out of range', page_size
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    SELECT * INTO items, next_cursor FROM @extschema@.keyset_page((
        SELECT jsonb_agg(jsonb_build_object('item', @extschema@.admin_user_json(u),
                                            'cursor', @extschema@.page_cursor(u.created_at, u.id))
                         ORDER BY u.created_at DESC, u.id DESC)
        FROM (SELECT * FROM @extschema@.users x
              WHERE (role_filter IS NULL OR x.role = role_filter)
                AND (after_ts IS NULL OR (x.created_at, x.id) < (after_ts, after_id))
              ORDER BY x.created_at DESC, x.id DESC
              LIMIT page_size + 1) u), page_size);
END
$$;
ALTER FUNCTION @extschema@.admin_list_users(int, timestamptz, uuid, text) OWNER TO namaskah_owner;

-- admin_set_user_lock(user_id, locked): locks (indefinitely, until unlocked)
-- or unlocks an account; a lock also revokes every token issued to it until
-- now. 404 for an unknown account, 409 cannot_lock_self for the caller's own.
CREATE FUNCTION @extschema@.admin_set_user_lock(user_id uuid, locked boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    u @extschema@.users;
BEGIN
    PERFORM @extschema@.require_admin();
    IF locked AND $1 = @extschema@.request_subject() THEN
        PERFORM @extschema@.raise_problem(409, 'cannot_lock_self',
            'An administrator cannot lock their own account.');
    END IF;
    UPDATE @extschema@.users x SET
        locked_until = CASE WHEN locked THEN 'infinity'::timestamptz END,
        failed_logins = CASE WHEN locked THEN x.failed_logins ELSE 0 END,
        updated_at = now()
    WHERE x.id = $1
    RETURNING * INTO u;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_not_found();
    END IF;
    IF locked THEN
        PERFORM @extschema@.revoke_user_tokens($1::text, now());
    END IF;
    RETURN @extschema@.admin_user_json(u);
END
$$;
ALTER FUNCTION @extschema@.admin_set_user_lock(uuid, boolean) OWNER TO namaskah_owner;

-- create_admin(email, password): a new account with role 'admin'; returns its
-- id. Operators only (not granted to any API role); pass the password as a
-- bind parameter or from a table, never as a literal (scripts/create_admin).
-- 22023 for a malformed email or a password under 12 characters, 23505 when
-- the email is taken.
CREATE FUNCTION @extschema@.create_admin(email text, password text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id uuid;
BEGIN
    IF length($1) > 254 OR NOT @extschema@.is_valid_email($1) THEN
        RAISE EXCEPTION 'invalid email address for an admin account'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF char_length($2) < 12 OR char_length($2) > 256 THEN
        RAISE EXCEPTION 'admin password must have 12 to 256 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.users u WHERE u.email_key = lower($1)) THEN
        RAISE EXCEPTION 'an account with this email already exists'
            USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO @extschema@.users (email, email_key, password_hash, role)
    VALUES ($1, lower($1), @extschema@.password_hash($2), 'admin')
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
ALTER FUNCTION @extschema@.create_admin(text, text) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.create_admin(text, text) IS
    'Creates an account with role admin (operators only; scripts/create_admin)';

GRANT EXECUTE ON FUNCTION @extschema@.require_admin(),
    @extschema@.admin_list_users(int, timestamptz, uuid, text),
    @extschema@.admin_set_user_lock(uuid, boolean) TO namaskah_api;

-- ---- endpoints ----------------------------------------------------------------

CREATE FUNCTION api.admin_users_list(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q jsonb := req->'query';
    after record;
    page record;
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.validate_request(req, NULL, '{
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "cursor": {"type": "string", "max_length": 96},
        "role": {"type": "string", "enum": ["user", "admin"]}}');
    SELECT * INTO after FROM @extschema@.page_cursor_parse(q->>'cursor');
    SELECT * INTO page FROM @extschema@.admin_list_users(
        coalesce((q->>'limit')::int, 20), after.ts, after.id, q->>'role');
    RETURN jsonb_build_object('items', page.items, 'next_cursor', page.next_cursor);
END
$$;

-- {id} must be a uuid (namaskah.id_param: else the same 404 as an unknown
-- account); the body, if any, must be empty.
CREATE FUNCTION api.admin_user_lock(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
BEGIN
    PERFORM @extschema@.validate_request(req);
    RETURN @extschema@.admin_set_user_lock(@extschema@.id_param(req), true);
END
$$;

CREATE FUNCTION api.admin_user_unlock(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
BEGIN
    PERFORM @extschema@.validate_request(req);
    RETURN @extschema@.admin_set_user_lock(@extschema@.id_param(req), false);
END
$$;

ALTER FUNCTION api.admin_users_list(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.admin_user_lock(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.admin_user_unlock(jsonb) OWNER TO namaskah_api;

INSERT INTO @extschema@.routes (method, path_template, target, auth, required_role,
                                rate_limit_policy, description) VALUES
    ('GET', '/api/admin/users', 'api.admin_users_list(jsonb)', 'bearer', 'admin', NULL,
     'Accounts with masked emails and phones (admins)'),
    ('POST', '/api/admin/users/{id}/lock', 'api.admin_user_lock(jsonb)', 'bearer', 'admin', NULL,
     'Lock an account and revoke its tokens (admins)'),
    ('POST', '/api/admin/users/{id}/unlock', 'api.admin_user_unlock(jsonb)', 'bearer', 'admin', NULL,
     'Unlock an account (admins)');
