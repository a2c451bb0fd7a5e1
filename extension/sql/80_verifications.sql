-- namaskah install script, part 80: verifications and number providers.
--
-- A verification rents a phone number from a provider for one service
-- ("telegram") until the SMS code arrives (part 82, the signed webhook), the
-- user cancels, or it expires (setting verification.ttl_minutes, default 20).
--
--   POST /api/verifications              {service, country?} -> 201 verification
--   GET  /api/verifications              own only; limit, cursor, status
--   GET  /api/verifications/{id}         someone else's or malformed id -> 404
--   POST /api/verifications/{id}/cancel  pending -> cancelled (else 409)
--
-- namaskah.verifications has row-level security: the endpoints run as
-- namaskah_api and see, insert and update only the rows of the verified
-- subject. What must look past that (choosing a free number, completing a
-- verification from a provider callback) runs in narrow SECURITY DEFINER
-- functions owned by namaskah_owner.
--
-- Locking: creation sweeps expired rows (FOR UPDATE SKIP LOCKED: never waits
-- on them) and draws from the sandbox number sequence; cancel locks its one
-- row (FOR UPDATE). The endpoints that lock carry lock_timeout = 2s, so a
-- stuck row answers 503 instead of holding a connection.
--
-- Providers: docs/providers.md. Expiry: rows past expires_at are turned into
-- 'expired' lazily when their owner reads them, when a number is allocated,
-- and by namaskah.expire_verifications() (operators, cron).

-- ---- providers ----------------------------------------------------------------

-- The adapter interface (docs/providers.md):
--   allocate_fn(service text, country text) RETURNS text
--       a free E.164 number for that service and country, or NULL when none
--       is available; called as namaskah_owner inside the request's
--       transaction, so it must not block for long.
--   release_fn(phone_number text, verification_id uuid) RETURNS void
--       optional; called once when a verification leaves 'pending'
--       (completed, cancelled or expired), so the provider can free the number.
-- countries lists the ISO 3166-1 alpha-2 codes served; the enabled provider
-- with the lowest priority that serves the country is used.
CREATE TABLE @extschema@.providers (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    allocate_fn regprocedure NOT NULL,
    release_fn regprocedure,
    countries text[] NOT NULL CHECK (countries <> '{}'),
    priority int NOT NULL DEFAULT 100,
    enabled boolean NOT NULL DEFAULT true,
    description text
);
ALTER TABLE @extschema@.providers OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.providers IS
    'Phone-number providers: allocate_fn(service text, country text) -> E.164 text or NULL; release_fn(phone text, verification uuid) optional';

-- The sandbox provider: numbers +1 555 010 0000 .. +1 555 010 9999 (the
-- 555-01xx block is reserved for fiction), handed out round robin, skipping
-- numbers held by a pending verification. Everything runs offline.
CREATE SEQUENCE @extschema@.sandbox_number_seq MINVALUE 0 MAXVALUE 9999 START 0 CYCLE;
ALTER SEQUENCE @extschema@.sandbox_number_seq OWNER TO namaskah_owner;

CREATE FUNCTION @extschema@.sandbox_allocate(service text, country text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    candidate text;
BEGIN
    -- At most a few hundred tries: a full block is 'no number available',
    -- not a long scan.
    FOR i IN 1..200 LOOP
        candidate := '+1555010' || lpad(nextval('@extschema@.sandbox_number_seq')::text, 4, '0');
        IF NOT EXISTS (SELECT FROM @extschema@.verifications v
                       WHERE v.phone_number = candidate AND v.status = 'pending') THEN
            RETURN candidate;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
ALTER FUNCTION @extschema@.sandbox_allocate(text, text) OWNER TO namaskah_owner;

-- ---- verifications -----------------------------------------------------------

CREATE TABLE @extschema@.verifications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES @extschema@.users (id) ON DELETE CASCADE,
    service text NOT NULL CHECK (service ~ '^[a-z0-9][a-z0-9_.-]{0,31}$'),
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{7,14}$'),
    provider text NOT NULL REFERENCES @extschema@.providers (name),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    code text CHECK (code ~ '^[0-9]{4,8}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    completed_at timestamptz,
    cancelled_at timestamptz,
    CHECK ((status = 'completed') = (completed_at IS NOT NULL AND code IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
ALTER TABLE @extschema@.verifications OWNER TO namaskah_owner;
ALTER TABLE @extschema@.verifications ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE @extschema@.verifications IS
    'Rented numbers awaiting an SMS code; row-level security: an API caller sees only its own rows';

-- Keyset pagination of a user's list, newest first.
CREATE INDEX verifications_user_page ON @extschema@.verifications
    (user_id, created_at DESC, id DESC);
-- A number belongs to at most one pending verification: the webhook finds
-- the verification by the number the SMS was sent to.
CREATE UNIQUE INDEX verifications_pending_number ON @extschema@.verifications
    (phone_number) WHERE status = 'pending';
CREATE INDEX verifications_pending_expiry ON @extschema@.verifications
    (expires_at) WHERE status = 'pending';

CREATE POLICY verifications_own_select ON @extschema@.verifications
    FOR SELECT TO namaskah_api
    USING (user_id = @extschema@.request_subject());
CREATE POLICY verifications_own_insert ON @extschema@.verifications
    FOR INSERT TO namaskah_api
    WITH CHECK (user_id = @extschema@.request_subject() AND status = 'pending');
CREATE POLICY verifications_own_update ON @extschema@.verifications
    FOR UPDATE TO namaskah_api
    USING (user_id = @extschema@.request_subject())
    WITH CHECK (user_id = @extschema@.request_subject()
                AND status IN ('pending', 'cancelled', 'expired'));
GRANT SELECT ON @extschema@.verifications TO namaskah_api;
GRANT INSERT (user_id, service, country, phone_number, provider, expires_at)
    ON @extschema@.verifications TO namaskah_api;
GRANT UPDATE (status, cancelled_at) ON @extschema@.verifications TO namaskah_api;

-- Status changes only leave 'pending': completed, cancelled and expired are
-- final, whoever updates (endpoint, webhook, operator).
CREATE FUNCTION @extschema@.verifications_transition()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'verification % is %, not pending', OLD.id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.user_id <> OLD.user_id
       OR NEW.phone_number <> OLD.phone_number OR NEW.provider <> OLD.provider THEN
        RAISE EXCEPTION 'the identity of verification % cannot change', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION @extschema@.verifications_transition() OWNER TO namaskah_owner;
CREATE TRIGGER verifications_transition BEFORE UPDATE ON @extschema@.verifications
    FOR EACH ROW EXECUTE FUNCTION @extschema@.verifications_transition();

-- When a verification leaves 'pending', its provider may free the number.
-- SECURITY DEFINER: the endpoint role cannot call provider functions itself.
CREATE FUNCTION @extschema@.verifications_release()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fn record;
BEGIN
    SELECT n.nspname, p.proname INTO fn
    FROM @extschema@.providers pr
    JOIN pg_proc p ON p.oid = pr.release_fn::oid
    JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE pr.name = NEW.provider;
    IF FOUND THEN
        EXECUTE format('SELECT %I.%I($1, $2)', fn.nspname, fn.proname)
            USING NEW.phone_number, NEW.id;
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION @extschema@.verifications_release() OWNER TO namaskah_owner;
CREATE TRIGGER verifications_release AFTER UPDATE OF status ON @extschema@.verifications
    FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')
    EXECUTE FUNCTION @extschema@.verifications_release();

INSERT INTO @extschema@.providers (name, allocate_fn, release_fn, countries, priority, description)
VALUES ('sandbox', '@extschema@.sandbox_allocate(text, text)', NULL, '{US,CA}', 1000,
        'Offline test numbers +1 555 010 xxxx; codes arrive through signed webhooks sent by hand');

-- ---- expiry ---------------------------------------------------------------------

-- expire_verifications(): every pending verification past expires_at becomes
-- 'expired'; returns how many. For operators (cron) and the allocator; not
-- granted to the API roles.
CREATE FUNCTION @extschema@.expire_verifications()
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    n integer;
BEGIN
    -- SKIP LOCKED: concurrent sweeps (every allocation runs one) share the
    -- work instead of queueing behind each other's row locks.
    UPDATE @extschema@.verifications v SET status = 'expired'
    WHERE v.id IN (SELECT x.id FROM @extschema@.verifications x
                   WHERE x.status = 'pending' AND x.expires_at <= now()
                   FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
ALTER FUNCTION @extschema@.expire_verifications() OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.expire_verifications() IS
    'Turns every pending verification past expires_at into expired; returns the count (operators)';

-- expire_own_verifications(): the same for the caller's own rows, run as the
-- caller (row-level security limits it to the verified subject).
CREATE FUNCTION @extschema@.expire_own_verifications()
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    UPDATE @extschema@.verifications v SET status = 'expired'
    WHERE v.user_id = @extschema@.request_subject()
      AND v.status = 'pending' AND v.expires_at <= now()
$$;

-- ---- allocation -----------------------------------------------------------------

-- allocate_number(service, country): (provider, phone_number) from the first
-- enabled provider serving the country. 422 no_provider when none serves it,
-- 503 no_numbers_available when the providers have no free number.
CREATE FUNCTION @extschema@.allocate_number(service text, country text,
    OUT provider text, OUT phone_number text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    p record;
    served boolean := false;
BEGIN
    -- Numbers of verifications that ran out go back to the pool first.
    PERFORM @extschema@.expire_verifications();
    FOR p IN
        SELECT pr.name, n.nspname, pp.proname
        FROM @extschema@.providers pr
        JOIN pg_proc pp ON pp.oid = pr.allocate_fn::oid
        JOIN pg_namespace n ON n.oid = pp.pronamespace
        WHERE pr.enabled AND $2 = ANY (pr.countries)
        ORDER BY pr.priority, pr.name
    LOOP
        served := true;
        EXECUTE format('SELECT %I.%I($1, $2)', p.nspname, p.proname)
            INTO phone_number USING $1, $2;
        IF phone_number IS NOT NULL THEN
            IF phone_number !~ '^\+[1-9][0-9]{7,14}$' THEN
                RAISE EXCEPTION 'provider % returned a number that is not E.164', p.name
                    USING ERRCODE = 'data_exception';
            END IF;
            provider := p.name;
            RETURN;
        END IF;
    END LOOP;
    IF NOT served THEN
        PERFORM @extschema@.raise_problem(422, 'country_not_supported',
            'No provider serves this country.');
    END IF;
    PERFORM @extschema@.raise_problem(503, 'no_numbers_available',
        'No phone number is available right now; retry later.');
END
$$;
ALTER FUNCTION @extschema@.allocate_number(text, text) OWNER TO namaskah_owner;

-- ---- helpers for the endpoints ----------------------------------------------------

-- Timestamps in responses: RFC 3339 in UTC with microseconds, whatever the
-- session's TimeZone. STABLE like to_char: an SQL function declared more
-- strictly than its body is not inlined, and was then parsed and planned
-- again in every request that used it (some 50 us in GET /api/auth/me).
CREATE FUNCTION @extschema@.json_time(ts timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- ---- paging and lookups shared by the endpoints (verifications, admin) ----

-- Opaque cursors: base64url (no padding) of a text this API made.
CREATE FUNCTION @extschema@.cursor_encode(payload text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT rtrim(translate(encode(convert_to($1, 'UTF8'), 'base64'), E'+/\n', '-_'), '=')
$$;

-- The text inside a cursor whose whole text matches format; otherwise 400
-- invalid_query (field "cursor", code "format") with a detail that says what
-- to pass instead. NULL for no cursor (the first page).
CREATE FUNCTION @extschema@.cursor_decode(cursor text, format text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    b64 text;
    plain text;
BEGIN
    IF cursor IS NULL THEN
        RETURN NULL;
    END IF;
    IF cursor ~ '^[A-Za-z0-9_-]{8,96}$' THEN
        b64 := translate(cursor, '-_', '+/');
        b64 := b64 || repeat('=', (4 - length(b64) % 4) % 4);
        BEGIN
            plain := convert_from(decode(b64, 'base64'), 'UTF8');
        EXCEPTION WHEN data_exception OR character_not_in_repertoire
                    OR untranslatable_character THEN
            plain := NULL;
        END;
    END IF;
    IF plain IS NULL OR plain !~ format THEN
        PERFORM @extschema@.raise_problem(400, 'invalid_query',
            'The cursor is not one this API returned: pass the next_cursor '
            'of the previous page unchanged, or no cursor for the first page.',
            '{"errors": [{"field": "cursor", "code": "format"}]}');
    END IF;
    RETURN plain;
END
$$;

-- Keyset cursors of (created_at, id) pages: "<epoch microseconds>.<uuid>".
CREATE FUNCTION @extschema@.page_cursor(ts timestamptz, id uuid)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT @extschema@.cursor_encode(
        (extract(epoch FROM $1) * 1000000)::bigint::text || '.' || $2::text)
$$;

-- The (ts, id) of a cursor (both NULL for none); 400 as cursor_decode.
CREATE FUNCTION @extschema@.page_cursor_parse(cursor text, OUT ts timestamptz, OUT id uuid)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    parts text[] := regexp_match(@extschema@.cursor_decode(cursor,
        '^-?[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
        '^(.*)\.(.*)$');
BEGIN
    IF parts IS NOT NULL THEN
        ts := timestamptz 'epoch' + (parts[1] || ' microseconds')::interval;
        id := parts[2]::uuid;
    END IF;
END
$$;

-- One page from up to page_size + 1 rows, in order, each {"item", "cursor"}:
-- the first page_size items, and when a row more came, the cursor of the
-- page's last item (where the next page starts after).
CREATE FUNCTION @extschema@.keyset_page(rows jsonb, page_size int,
    OUT items jsonb, OUT next_cursor text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(jsonb_agg(r.e->'item' ORDER BY r.n) FILTER (WHERE r.n <= page_size), '[]'),
           CASE WHEN count(*) > page_size THEN (rows->(page_size - 1))->>'cursor' END
    FROM jsonb_array_elements(coalesce(rows, '[]')) WITH ORDINALITY r(e, n)
$$;

-- The 404 of a missing resource (or one that is not the caller's).
CREATE FUNCTION @extschema@.raise_not_found()
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    PERFORM @extschema@.raise_problem(404, 'not_found', 'The resource does not exist.');
END
$$;

-- The public shape of a verification: what every endpoint returns.
CREATE FUNCTION @extschema@.verification_json(v @extschema@.verifications)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'id', v.id, 'service', v.service, 'country', v.country,
        'phone_number', v.phone_number, 'provider', v.provider,
        -- a row not yet swept by expiry still reads as expired
        'status', CASE WHEN v.status = 'pending' AND v.expires_at <= now()
                       THEN 'expired' ELSE v.status END,
        'code', v.code,
        'created_at', @extschema@.json_time(v.created_at),
        'expires_at', @extschema@.json_time(v.expires_at),
        'completed_at', @extschema@.json_time(v.completed_at),
        'cancelled_at', @extschema@.json_time(v.cancelled_at))
$$;

-- The {id} path parameter: a uuid, or the same 404 as a missing row (so a
-- malformed id says nothing more than an unknown one).
CREATE FUNCTION @extschema@.id_param(req jsonb)
RETURNS uuid
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF NOT coalesce(req->'params'->>'id', '') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        PERFORM @extschema@.raise_not_found();
    END IF;
    RETURN lower(req->'params'->>'id')::uuid;
END
$$;

GRANT EXECUTE ON FUNCTION @extschema@.expire_own_verifications(),
    @extschema@.allocate_number(text, text),
    @extschema@.json_time(timestamptz),
    @extschema@.page_cursor(timestamptz, uuid),
    @extschema@.page_cursor_parse(text),
    @extschema@.cursor_encode(text),
    @extschema@.cursor_decode(text, text),
    @extschema@.keyset_page(jsonb, int),
    @extschema@.raise_not_found(),
    @extschema@.verification_json(@extschema@.verifications),
    @extschema@.id_param(jsonb) TO namaskah_api;

-- ---- endpoints --------------------------------------------------------------------

CREATE FUNCTION api.verifications_create(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    b jsonb := req->'body';
    subject uuid := @extschema@.request_subject();
    number record;
    created @extschema@.verifications;
BEGIN
    PERFORM @extschema@.validate_request(req, '{
        "service": {"type": "string", "required": true, "min_length": 1, "max_length": 32,
                    "pattern": "^[a-z0-9][a-z0-9_.-]{0,31}$"},
        "country": {"type": "string", "min_length": 2, "max_length": 2, "pattern": "^[A-Z]{2}$"}}');
    IF subject IS NULL THEN
        PERFORM @extschema@.raise_problem(401, 'missing_token', 'A bearer token is required.');
    END IF;
    SELECT * INTO number FROM @extschema@.allocate_number(b->>'service', coalesce(b->>'country', 'US'));
    INSERT INTO @extschema@.verifications (user_id, service, country, phone_number,
                                        provider, expires_at)
    VALUES (subject, b->>'service', coalesce(b->>'country', 'US'), number.phone_number,
            number.provider, now() + make_interval(mins =>
                @extschema@.setting('verification.ttl_minutes')::int))
    RETURNING * INTO created;
    PERFORM @extschema@.set_response_status(201);
    RETURN @extschema@.verification_json(created);
END
$$;

CREATE FUNCTION api.verifications_list(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    q jsonb := req->'query';
    page_size int;
    after record;
    page record;
BEGIN
    PERFORM @extschema@.validate_request(req, NULL, '{
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "cursor": {"type": "string", "max_length": 96},
        "status": {"type": "string", "enum": ["pending", "completed", "cancelled", "expired"]}}');
    page_size := coalesce((q->>'limit')::int, 20);
    SELECT * INTO after FROM @extschema@.page_cursor_parse(q->>'cursor');
    PERFORM @extschema@.expire_own_verifications();
    -- One row more than the page tells whether another page follows.
    SELECT * INTO page FROM @extschema@.keyset_page((
        SELECT jsonb_agg(jsonb_build_object('item', @extschema@.verification_json(v),
                                            'cursor', @extschema@.page_cursor(v.created_at, v.id))
                         ORDER BY v.created_at DESC, v.id DESC)
        FROM (SELECT * FROM @extschema@.verifications x
              WHERE x.user_id = @extschema@.request_subject()
                AND (q->>'status' IS NULL OR x.status = q->>'status')
                AND (after.ts IS NULL OR (x.created_at, x.id) < (after.ts, after.id))
              ORDER BY x.created_at DESC, x.id DESC
              LIMIT page_size + 1) v), page_size);
    RETURN jsonb_build_object('items', page.items, 'next_cursor', page.next_cursor);
END
$$;

CREATE FUNCTION api.verifications_get(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    want uuid := @extschema@.id_param(req);
    found_row @extschema@.verifications;
BEGIN
    PERFORM @extschema@.validate_request(req);
    PERFORM @extschema@.expire_own_verifications();
    SELECT * INTO found_row FROM @extschema@.verifications v
    WHERE v.id = want AND v.user_id = @extschema@.request_subject();
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_not_found();
    END IF;
    RETURN @extschema@.verification_json(found_row);
END
$$;

CREATE FUNCTION api.verifications_cancel(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    want uuid := @extschema@.id_param(req);
    found_row @extschema@.verifications;
BEGIN
    -- No body, or an empty object: nothing here can be assigned.
    PERFORM @extschema@.validate_request(req);
    SELECT * INTO found_row FROM @extschema@.verifications v
    WHERE v.id = want AND v.user_id = @extschema@.request_subject()
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_not_found();
    END IF;
    IF found_row.status = 'pending' AND found_row.expires_at <= now() THEN
        UPDATE @extschema@.verifications v SET status = 'expired' WHERE v.id = want;
        found_row.status := 'expired';
    END IF;
    IF found_row.status <> 'pending' THEN
        PERFORM @extschema@.raise_problem(409, 'verification_not_pending',
            'Only a pending verification can be cancelled; this one is '
            || found_row.status || '.');
    END IF;
    UPDATE @extschema@.verifications v SET status = 'cancelled', cancelled_at = now()
    WHERE v.id = want
    RETURNING * INTO found_row;
    RETURN @extschema@.verification_json(found_row);
END
$$;

ALTER FUNCTION api.verifications_create(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.verifications_list(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.verifications_get(jsonb) OWNER TO namaskah_api;
ALTER FUNCTION api.verifications_cancel(jsonb) OWNER TO namaskah_api;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description) VALUES
    ('POST', '/api/verifications', 'api.verifications_create(jsonb)', 'bearer', NULL,
     'Rent a number for a service and wait for its SMS code'),
    ('GET', '/api/verifications', 'api.verifications_list(jsonb)', 'bearer', NULL,
     'The caller''s verifications, newest first, keyset paginated'),
    ('GET', '/api/verifications/{id}', 'api.verifications_get(jsonb)', 'bearer', NULL,
     'One of the caller''s verifications'),
    ('POST', '/api/verifications/{id}/cancel', 'api.verifications_cancel(jsonb)', 'bearer', NULL,
     'Cancel a pending verification');
