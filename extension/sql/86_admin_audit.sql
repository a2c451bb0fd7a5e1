-- namaskah install script, part 86: admin views of the audit log,
-- security events and rate-limit state (role admin; everyone else 403).
--
--   GET /api/admin/audit            records, newest first; filters from, to,
--                                   actor, route, status; limit + cursor
--   GET /api/admin/security-events  totals by type and reason, and the actors
--                                   over the per-minute threshold
--   GET /api/admin/rate-limits      the most recently active rate-limit keys,
--                                   pseudonymized, with what remains
-- The endpoints run as namaskah_api, which cannot read these tables; each
-- reads through one SECURITY DEFINER function that checks the admin role
-- itself as well. What they return is already masked: audit details are
-- masked when written, actors are user ids or pseudonyms, keys are
-- pseudonymized here.

CREATE FUNCTION @extschema@.admin_audit_page(page_size int, before_id bigint,
    from_ts timestamptz, to_ts timestamptz, actor_is text, route_is text, status_is int,
    OUT items jsonb, OUT next_cursor text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.require_admin();
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', a.id, 'logged_at', @extschema@.json_time(a.logged_at),
               'request_id', a.request_id, 'actor', a.actor, 'method', a.method,
               'route', a.route, 'status', a.status, 'outcome', a.outcome,
               'duration_ms', a.duration_ms, 'details', a.details) ORDER BY a.id DESC), '[]'),
           CASE WHEN count(*) = page_size THEN @extschema@.cursor_encode('audit:' || min(a.id)) END
    INTO items, next_cursor
    FROM (SELECT * FROM @extschema@.audit_log l
          WHERE (before_id IS NULL OR l.id < before_id)
            AND (from_ts IS NULL OR l.logged_at >= from_ts)
            AND (to_ts IS NULL OR l.logged_at < to_ts)
            AND (actor_is IS NULL OR l.actor = actor_is)
            AND (route_is IS NULL OR l.route = route_is)
            AND (status_is IS NULL OR l.status = status_is)
          ORDER BY l.id DESC
          LIMIT page_size) a;
END
$$;
ALTER FUNCTION @extschema@.admin_audit_page(int, bigint, timestamptz, timestamptz, text, text, int)
    OWNER TO namaskah_auditor;

CREATE FUNCTION @extschema@.admin_security_report(from_ts timestamptz, to_ts timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    threshold bigint := @extschema@.setting('security.event_threshold')::bigint;
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.security_rollup();
    RETURN jsonb_build_object(
        'threshold_per_minute', threshold,
        'totals', coalesce((SELECT jsonb_agg(jsonb_build_object('type', t.type,
                                'reason', t.reason, 'total', t.total) ORDER BY t.type, t.reason)
                            FROM @extschema@.security_event_totals t), '[]'),
        'events', coalesce((SELECT jsonb_agg(jsonb_build_object('type', e.type,
                                'actor', e.actor, 'minute', @extschema@.json_time(e.minute),
                                'count', e.count, 'reasons', e.reasons)
                                ORDER BY e.minute DESC, e.count DESC)
                            FROM (SELECT * FROM @extschema@.security_events s
                                  WHERE s.count >= threshold
                                    AND s.minute >= coalesce(from_ts, '-infinity')
                                    AND s.minute < coalesce(to_ts, 'infinity')
                                  ORDER BY s.minute DESC, s.count DESC
                                  LIMIT 200) e), '[]'));
END
$$;
ALTER FUNCTION @extschema@.admin_security_report(timestamptz, timestamptz) OWNER TO namaskah_auditor;

CREATE FUNCTION @extschema@.admin_hot_keys(page_size int)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.require_admin();
    RETURN coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'policy', k.policy, 'key', @extschema@.pseudonymize(k.key),
                   'limit', r."limit", 'remaining', r.remaining,
                   'reset_after', r.reset_after, 'expires_at', @extschema@.json_time(k.expires_at))
                   ORDER BY r.remaining, k.expires_at DESC)
        FROM (SELECT s.policy, s.key, max(s.expires_at) AS expires_at
              FROM @extschema@.rate_limit_state s
              WHERE s.expires_at > now()
              GROUP BY s.policy, s.key
              ORDER BY max(s.expires_at) DESC
              LIMIT page_size) k,
             LATERAL @extschema@.rate_limit_peek(k.policy, k.key, 0) r), '[]');
END
$$;
ALTER FUNCTION @extschema@.admin_hot_keys(int) OWNER TO namaskah_owner;

-- A timestamp query parameter, or a 400 naming it.
CREATE FUNCTION @extschema@.query_time(query jsonb, field text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF query->>field IS NULL THEN
        RETURN NULL;
    END IF;
    IF query->>field !~ '^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$' THEN
        RAISE EXCEPTION USING ERRCODE = '22007';
    END IF;
    RETURN (query->>field)::timestamptz;
EXCEPTION WHEN data_exception THEN
    PERFORM @extschema@.raise_problem(400, 'invalid_query', 'The query parameters are invalid.',
        jsonb_build_object('errors', jsonb_build_array(
            jsonb_build_object('field', field, 'code', 'format'))));
    RETURN NULL;
END
$$;

CREATE FUNCTION api.admin_audit(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q jsonb := req->'query';
    before_id bigint;
    cursor_text text;
    page record;
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.validate_request(req, NULL, '{
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "cursor": {"type": "string", "max_length": 64, "pattern": "^[A-Za-z0-9_-]+$"},
        "from": {"type": "string", "max_length": 40},
        "to": {"type": "string", "max_length": 40},
        "actor": {"type": "string", "max_length": 128},
        "route": {"type": "string", "max_length": 256},
        "status": {"type": "integer", "minimum": 100, "maximum": 599}}');
    cursor_text := @extschema@.cursor_decode(q->>'cursor', '^audit:[0-9]{1,18}$');
    before_id := substr(cursor_text, 7)::bigint;
    SELECT * INTO page FROM @extschema@.admin_audit_page(coalesce((q->>'limit')::int, 20),
        before_id, @extschema@.query_time(q, 'from'), @extschema@.query_time(q, 'to'),
        q->>'actor', q->>'route', (q->>'status')::int);
    RETURN jsonb_build_object('items', page.items, 'next_cursor', page.next_cursor);
END
$$;

CREATE FUNCTION api.admin_security_events(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q jsonb := req->'query';
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.validate_request(req, NULL, '{
        "from": {"type": "string", "max_length": 40},
        "to": {"type": "string", "max_length": 40}}');
    RETURN @extschema@.admin_security_report(@extschema@.query_time(q, 'from'),
                                          @extschema@.query_time(q, 'to'));
END
$$;

CREATE FUNCTION api.admin_rate_limits(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q jsonb := req->'query';
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.validate_request(req, NULL, '{"limit": {"type": "integer", "minimum": 1, "maximum": 100}}');
    RETURN jsonb_build_object('items', @extschema@.admin_hot_keys(coalesce((q->>'limit')::int, 20)));
END
$$;

-- GET /api/admin/audit/verify: audit_verify over an id range (both ends
-- optional; none checks the whole log and its seals), for the console's
-- audit page. Reads no record itself: the chain check is the auditor's.
CREATE FUNCTION api.admin_audit_verify(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q jsonb := req->'query';
    from_id bigint;
    to_id bigint;
    v record;
BEGIN
    PERFORM @extschema@.require_admin();
    PERFORM @extschema@.validate_request(req, NULL, '{
        "from_id": {"type": "integer", "minimum": 1},
        "to_id": {"type": "integer", "minimum": 1}}');
    from_id := (q->>'from_id')::bigint;
    to_id := (q->>'to_id')::bigint;
    IF from_id > to_id THEN
        PERFORM @extschema@.raise_problem(400, 'invalid_query', 'The query parameters are invalid.',
            jsonb_build_object('errors', jsonb_build_array(
                jsonb_build_object('field', 'to_id', 'code', 'out_of_range'))));
    END IF;
    SELECT * INTO v FROM @extschema@.audit_verify(from_id, to_id);
    RETURN jsonb_build_object('ok', v.ok, 'checked', v.checked, 'first_bad_id', v.first_bad_id,
                              'from_id', from_id, 'to_id', to_id);
END
$$;

ALTER FUNCTION api.admin_audit(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.admin_audit_verify(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.admin_security_events(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.admin_rate_limits(jsonb) OWNER TO namaskah_api;

GRANT EXECUTE ON FUNCTION @extschema@.query_time(jsonb, text),
    @extschema@.admin_audit_page(int, bigint, timestamptz, timestamptz, text, text, int),
    @extschema@.admin_security_report(timestamptz, timestamptz),
    @extschema@.admin_hot_keys(int), @extschema@.audit_verify(bigint, bigint) TO namaskah_api;
-- what the definer functions above need as their owners
GRANT EXECUTE ON FUNCTION @extschema@.require_admin(), @extschema@.json_time(timestamptz),
    @extschema@.security_rollup(), @extschema@.request_subject(),
    @extschema@.raise_problem(int, text, text, jsonb) TO namaskah_auditor;

INSERT INTO @extschema@.routes (method, path_template, target, auth, required_role, description) VALUES
    ('GET', '/api/admin/audit', 'api.admin_audit(jsonb)', 'bearer', 'admin',
     'Audit records, newest first, filtered (masked)'),
    ('GET', '/api/admin/audit/verify', 'api.admin_audit_verify(jsonb)', 'bearer', 'admin',
     'Verifies the audit chain over an id range'),
    ('GET', '/api/admin/security-events', 'api.admin_security_events(jsonb)', 'bearer', 'admin',
     'Security-event totals and the actors over the threshold'),
    ('GET', '/api/admin/rate-limits', 'api.admin_rate_limits(jsonb)', 'bearer', 'admin',
     'The most recently active rate-limit keys, pseudonymized');
