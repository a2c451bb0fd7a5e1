-- namaskah install script, part 65: the entry function, the
-- tamper-evident audit log and security events.
--
-- Every request gets exactly one audit record, written by handle_request
-- after the pipeline ran, in the request's own transaction: the request's
-- effect, its accounting and its record commit together or not at all
-- (60_pipeline.sql). Records form hash chains: each backend appends to a
-- chain of its own (audit_chain_id(), C), so auditing never makes one
-- request wait for another; a record's hash covers its fields and its
-- predecessor's hash (core/nk_audit.c), so changing, deleting or reordering
-- a record breaks the chain, and audit_verify() names the first broken
-- record. audit_seal() records every chain's head, so cutting records off a
-- chain's end is detected too.
--
-- The table belongs to namaskah_auditor: the pipeline (namaskah_owner) can
-- only call audit_append; no API role can read it; a trigger refuses UPDATE,
-- DELETE and TRUNCATE even for the owner.

CREATE SEQUENCE @extschema@.audit_log_id_seq;
CREATE TABLE @extschema@.audit_log (
    id bigint PRIMARY KEY,
    chain_id uuid NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    logged_at timestamptz NOT NULL,
    request_id text,
    actor text,
    method text,
    route text,
    status integer,
    outcome text,
    duration_ms integer,
    details jsonb NOT NULL DEFAULT '{}',
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    UNIQUE (chain_id, seq)
);
-- No index on logged_at, on purpose: ids are handed out in time order, so
-- time filters (admin listing, rollup) walk the primary key from the newest
-- id; an index on logged_at (B-tree or BRIN) is a spot that every
-- concurrent insert updates (one 32-client run: 3289 -> 3954 tps without the
-- BRIN; a repeat was too noisy to confirm the size of the gain).
ALTER SEQUENCE @extschema@.audit_log_id_seq OWNED BY @extschema@.audit_log.id;
ALTER TABLE @extschema@.audit_log OWNER TO namaskah_auditor;
COMMENT ON TABLE @extschema@.audit_log IS
    'One record per request; append-only, hash-chained per backend (audit_verify checks it)';

CREATE TABLE @extschema@.audit_seals (
    chain_id uuid NOT NULL,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, seq)
);
ALTER TABLE @extschema@.audit_seals OWNER TO namaskah_auditor;

CREATE FUNCTION @extschema@.audit_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit records can be added, never changed or removed.';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON @extschema@.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON @extschema@.audit_seals
    FOR EACH ROW EXECUTE FUNCTION @extschema@.audit_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON @extschema@.audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.audit_refuse_change();

CREATE FUNCTION @extschema@.audit_chain_id()
RETURNS uuid
AS 'MODULE_PATHNAME', 'nk_sql_audit_chain_id'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.audit_hash(prev bytea, fields text[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'nk_sql_audit_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- What a record's hash covers, in order. Times as integer microseconds so
-- the encoding does not depend on DateStyle or TimeZone.
CREATE FUNCTION @extschema@.audit_fields(r @extschema@.audit_log)
RETURNS text[]
LANGUAGE sql STABLE
AS $$
    SELECT ARRAY[r.id::text, r.chain_id::text, r.seq::text,
        (extract(epoch FROM r.logged_at) * 1000000)::bigint::text,
        r.request_id, r.actor, r.method, r.route, r.status::text, r.outcome,
        r.duration_ms::text, r.details::text]
$$;

CREATE FUNCTION @extschema@.audit_genesis(chain_id uuid)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT sha256(convert_to('namaskah-audit-genesis:' || $1::text, 'UTF8')) $$;

-- audit_append: one record at the end of this backend's chain (C,
-- extension/audit.c: the chain's head kept per backend, forgotten on any
-- abort; the same fields and hash as audit_fields / audit_hash, which
-- audit_verify recomputes independently).
CREATE FUNCTION @extschema@.audit_append(request_id text, actor text, method text,
    route text, status int, outcome text, duration_ms int, details jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'nk_sql_audit_append'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.audit_append(text, text, text, text, int, text, int, jsonb)
    OWNER TO namaskah_auditor;

-- audit_seal: remember every chain's current head.
CREATE FUNCTION @extschema@.audit_seal()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH heads AS (
        SELECT DISTINCT ON (a.chain_id) a.chain_id, a.seq, a.hash
        FROM @extschema@.audit_log a ORDER BY a.chain_id, a.seq DESC),
    added AS (
        INSERT INTO @extschema@.audit_seals (chain_id, seq, hash)
        SELECT h.chain_id, h.seq, h.hash FROM heads h
        ON CONFLICT DO NOTHING RETURNING 1)
    SELECT count(*) FROM added
$$;
ALTER FUNCTION @extschema@.audit_seal() OWNER TO namaskah_auditor;

-- audit_verify: checks the records with from_id <= id <= to_id (all by
-- default). ok is false when a record was changed (its hash no longer
-- matches), deleted or reordered (a gap or a broken link in its chain), or
-- when a sealed head is gone or differs; first_bad_id is the lowest id at
-- which that shows. A range check trusts the first record of each chain in
-- the range as its starting point.
CREATE FUNCTION @extschema@.audit_verify(from_id bigint DEFAULT NULL, to_id bigint DEFAULT NULL,
    OUT ok boolean, OUT checked bigint, OUT first_bad_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.audit_log;
    prev @extschema@.audit_log;
    whole boolean := from_id IS NULL AND to_id IS NULL;
    bad boolean;
    seal record;
BEGIN
    checked := 0;
    FOR r IN
        SELECT * FROM @extschema@.audit_log a
        WHERE a.id BETWEEN coalesce(from_id, 0) AND coalesce(to_id, 9223372036854775807)
        ORDER BY a.chain_id, a.seq
    LOOP
        IF prev.chain_id IS DISTINCT FROM r.chain_id THEN
            bad := whole AND (r.seq <> 1
                              OR r.prev_hash <> @extschema@.audit_genesis(r.chain_id));
        ELSE
            bad := r.seq <> prev.seq + 1 OR r.prev_hash <> prev.hash;
        END IF;
        bad := bad OR r.hash <> @extschema@.audit_hash(r.prev_hash, @extschema@.audit_fields(r));
        IF bad THEN
            first_bad_id := least(first_bad_id, r.id);
        END IF;
        checked := checked + 1;
        prev := r;
    END LOOP;
    IF whole THEN
        FOR seal IN
            SELECT s.chain_id, s.seq, s.hash, a.id, a.hash AS actual
            FROM @extschema@.audit_seals s
            LEFT JOIN @extschema@.audit_log a ON a.chain_id = s.chain_id AND a.seq = s.seq
            WHERE a.id IS NULL OR a.hash <> s.hash
        LOOP
            -- the sealed head is gone: blame the last surviving record of its chain
            first_bad_id := least(first_bad_id, coalesce(seal.id,
                (SELECT max(a.id) FROM @extschema@.audit_log a WHERE a.chain_id = seal.chain_id), 0));
        END LOOP;
    END IF;
    ok := first_bad_id IS NULL;
END
$$;
ALTER FUNCTION @extschema@.audit_verify(bigint, bigint) OWNER TO namaskah_auditor;

-- audit_rate_consumption(since): the rate-limit consumption kept in the
-- records logged after since (details "rate_limits", written by
-- handle_request from rate_limit_consumed()), one row per event, for
-- rate_limit_rebuild (part 40). The only read of audit_log the owner role
-- has. Walks the primary key from the newest record back (ids are handed
-- out in time order; a minute of slack covers records that took their id
-- and committed late) and stops there: the cost is the look-back's records,
-- not the log's.
CREATE FUNCTION @extschema@.audit_rate_consumption(since timestamptz,
    OUT record_id bigint, OUT policy text, OUT key text, OUT cost int, OUT t_us bigint)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    e jsonb;
BEGIN
    FOR r IN SELECT a.id, a.logged_at, a.details->'rate_limits' AS events
             FROM @extschema@.audit_log a ORDER BY a.id DESC LOOP
        EXIT WHEN r.logged_at < since - interval '1 minute';
        CONTINUE WHEN r.events IS NULL OR r.logged_at <= since
            OR jsonb_typeof(r.events) <> 'array';
        FOR e IN SELECT x FROM jsonb_array_elements(r.events) AS x LOOP
            record_id := r.id;
            policy := e->>0;
            key := e->>1;
            cost := (e->>2)::int;
            t_us := (e->>3)::bigint;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
ALTER FUNCTION @extschema@.audit_rate_consumption(timestamptz) OWNER TO namaskah_auditor;
REVOKE ALL ON FUNCTION @extschema@.audit_rate_consumption(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.audit_rate_consumption(timestamptz) TO namaskah_owner;

-- Who a request was: the verified user, else a keyed pseudonym of the client
-- address (or its network, before SECRET_KEY is installed). The subject is a
-- validly signed claim, but still request text: sanitized like the rest, so
-- no control character, line separator or escape reaches the audit log.
CREATE FUNCTION @extschema@.audit_actor(subject text, client_addr inet)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF subject IS NOT NULL THEN
        RETURN 'user:' || @extschema@.sanitize_log(subject, 128);
    END IF;
    RETURN @extschema@.client_pseudonym(client_addr);
END
$$;

-- Transport errors that namaskahd answered itself but still reports here, so
-- that every request it answers under /api/ has its audit record: requests
-- it refused (framing, encoding, size, time, method, version) and calls
-- whose own transaction failed or timed out. namaskahd drops any
-- x-namaskah-* header a client sends, so only it can set these; its detail
-- (x-namaskah-transport-detail) is its own static text.
CREATE FUNCTION @extschema@.transport_problem(error text, detail text,
    OUT status int, OUT code text, OUT detail text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT t.status, t.code, coalesce(left($2, 200), t.detail)
    FROM (VALUES
        (1, 'bad_request', 400, 'The request is malformed.'),
        (2, 'invalid_encoding', 400,
            'The request is not valid UTF-8 or contains NUL bytes.'),
        (3, 'request_timeout', 408, 'The request did not arrive in time.'),
        (4, 'payload_too_large', 413, 'The request body is too large.'),
        (5, 'header_fields_too_large', 431,
            'The request head is larger than this server accepts.'),
        (6, 'internal_error', 500,
            'The server could not process the request; quote the request id when reporting it.'),
        (7, 'method_not_implemented', 501, 'This HTTP method is not supported.'),
        (8, 'temporarily_unavailable', 503,
            'The database did not answer in time; try again shortly.'),
        (9, 'http_version_not_supported', 505,
            'Only HTTP/1.0 and HTTP/1.1 are supported.'))
        AS t(rank, code, status, detail)
    WHERE t.code = $1 OR t.rank = 1
    ORDER BY t.code = $1 DESC
    LIMIT 1
$$;

CREATE FUNCTION @extschema@.handle_request(
    method text, path text, query text, request_headers jsonb,
    request_body text, client_addr inet, request_id text,
    OUT status int, OUT headers jsonb, OUT body text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started timestamptz := clock_timestamp();
    transport_error text := request_headers->>'x-namaskah-transport-error';
    problem record;
    subject text;
    consumed jsonb;
    outcome record;
BEGIN
    -- claims of an earlier request in the same transaction must not leak
    PERFORM set_config('request.jwt.claims', '', true);
    IF transport_error IS NOT NULL THEN
        problem := @extschema@.transport_problem(transport_error,
            request_headers->>'x-namaskah-transport-detail');
        -- namaskahd passes the path already sanitized (it was not valid text)
        SELECT * INTO status, headers, body FROM @extschema@.respond_problem(
            problem.status, problem.code, problem.detail,
            left(path, 1024), request_id, 'unmatched',
            CASE WHEN problem.status = 503 THEN '{"Retry-After": "1"}'::jsonb
                 ELSE '{}' END);
    ELSE
        outcome := @extschema@.run_pipeline(method, path, query, request_headers,
            request_body, client_addr, request_id);
        status := (outcome.answer).status;
        headers := (outcome.answer).headers;
        body := (outcome.answer).body;
        subject := outcome.subject;
        headers := headers || @extschema@.cors_headers(request_headers, method, headers);
    END IF;
    -- anything but an explicit 'off' audits (fail closed)
    IF @extschema@.setting('audit.enabled') IS DISTINCT FROM 'off' THEN
        consumed := @extschema@.rate_limit_consumed();
        PERFORM @extschema@.audit_append(request_id,
            @extschema@.audit_actor(subject, client_addr),
            left(@extschema@.sanitize_log(method, 32), 16),
            headers->>'x-namaskah-route', status,
            CASE WHEN status < 400 THEN 'ok'
                 ELSE coalesce(body::jsonb->>'code', 'error') END,
            (extract(epoch FROM clock_timestamp() - started) * 1000)::int,
            -- free text masked in place (emails, phones, tokens, cards):
            -- mask_text is pure C, no table lookup on the hot path
            jsonb_build_object(
                'path', @extschema@.mask_text(@extschema@.sanitize_log(path, 256)),
                'user_agent', @extschema@.mask_text(
                    @extschema@.sanitize_log(request_headers->>'user-agent', 256)))
                || CASE WHEN status = 429
                        THEN jsonb_build_object('policy', body::jsonb->>'policy')
                        ELSE '{}' END
                -- what the request consumed, for rebuilding the rate-limit
                -- state after a crash (keys are pseudonyms)
                || CASE WHEN consumed IS NULL THEN '{}'
                        ELSE jsonb_build_object('rate_limits', consumed) END);
    END IF;
END
$$;
ALTER FUNCTION @extschema@.handle_request(text, text, text, jsonb, text, inet, text)
    OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.handle_request(text, text, text, jsonb, text, inet, text) IS
    'The entry point of namaskahd: one call per HTTP request, returns (status, headers, body)';

-- Security events are derived from the audit records (one per request
-- already), never written per request: security_rollup() folds the records
-- that arrived since its last run into per-type totals (for metrics) and
-- per-actor, per-minute counts (for the admin API). It processes only
-- records older than a few seconds, so a transaction still committing an
-- earlier id is not skipped, and runs in one session at a time.
CREATE TABLE @extschema@.security_event_totals (
    type text NOT NULL,
    reason text NOT NULL,
    total bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (type, reason)
);
CREATE TABLE @extschema@.security_events (
    type text NOT NULL,
    actor text NOT NULL,
    minute timestamptz NOT NULL,
    count bigint NOT NULL,
    reasons jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (type, actor, minute)
);
CREATE INDEX security_events_minute_idx ON @extschema@.security_events (minute);
CREATE TABLE @extschema@.rate_limited_totals (
    policy text PRIMARY KEY,
    total bigint NOT NULL DEFAULT 0
);
ALTER TABLE @extschema@.rate_limited_totals OWNER TO namaskah_auditor;
CREATE TABLE @extschema@.security_rollup_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_id bigint NOT NULL DEFAULT 0
);
INSERT INTO @extschema@.security_rollup_state DEFAULT VALUES;
ALTER TABLE @extschema@.security_event_totals OWNER TO namaskah_auditor;
ALTER TABLE @extschema@.security_events OWNER TO namaskah_auditor;
ALTER TABLE @extschema@.security_rollup_state OWNER TO namaskah_auditor;

-- Which outcomes are security events, and of what type.
CREATE FUNCTION @extschema@.security_event_type(status int, outcome text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
        WHEN $2 = 'account_locked' THEN 'lockout'
        WHEN $1 = 401 THEN 'auth_failure'
        WHEN $1 = 429 THEN 'rate_limited'
        WHEN $1 = 403 THEN 'authorization_denied'
        WHEN $2 = 'invalid_encoding' THEN 'injection_attempt'
        WHEN $1 = 400 THEN 'validation_failure'
        END
$$;

CREATE FUNCTION @extschema@.security_rollup()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start_id bigint;
    end_id bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('namaskah.security_rollup')) THEN
        RETURN 0;   -- another session is rolling up right now
    END IF;
    SELECT last_id INTO start_id FROM @extschema@.security_rollup_state;
    SELECT max(a.id) INTO end_id FROM @extschema@.audit_log a
    WHERE a.id > start_id AND a.logged_at < clock_timestamp()
        - make_interval(secs => @extschema@.setting('security.rollup_lag_seconds')::int);
    IF end_id IS NULL THEN
        RETURN 0;
    END IF;
    WITH events AS (
        SELECT @extschema@.security_event_type(a.status, a.outcome) AS type, a.outcome,
               a.actor, date_trunc('minute', a.logged_at) AS minute
        FROM @extschema@.audit_log a
        WHERE a.id > start_id AND a.id <= end_id),
    typed AS (SELECT * FROM events WHERE type IS NOT NULL),
    totals AS (
        INSERT INTO @extschema@.security_event_totals AS t (type, reason, total)
        SELECT type, outcome, count(*) FROM typed GROUP BY type, outcome
        ON CONFLICT (type, reason) DO UPDATE SET total = t.total + excluded.total),
    limited AS (
        INSERT INTO @extschema@.rate_limited_totals AS t (policy, total)
        SELECT coalesce(a.details->>'policy', 'unknown'), count(*)
        FROM @extschema@.audit_log a
        WHERE a.id > start_id AND a.id <= end_id AND a.status = 429
        GROUP BY 1
        ON CONFLICT (policy) DO UPDATE SET total = t.total + excluded.total)
    INSERT INTO @extschema@.security_events AS e (type, actor, minute, count, reasons)
    SELECT type, actor, minute, sum(n), jsonb_object_agg(outcome, n)
    FROM (SELECT type, actor, minute, outcome, count(*) AS n FROM typed
          GROUP BY type, actor, minute, outcome) g
    GROUP BY type, actor, minute
    ON CONFLICT (type, actor, minute) DO UPDATE SET count = e.count + excluded.count,
        reasons = (SELECT jsonb_object_agg(k, coalesce((e.reasons->>k)::bigint, 0)
                                              + coalesce((excluded.reasons->>k)::bigint, 0))
                   FROM (SELECT jsonb_object_keys(e.reasons || excluded.reasons) AS k) keys);
    UPDATE @extschema@.security_rollup_state SET last_id = end_id;
    RETURN end_id - start_id;
END
$$;
ALTER FUNCTION @extschema@.security_rollup() OWNER TO namaskah_auditor;

GRANT EXECUTE ON FUNCTION @extschema@.audit_append(text, text, text, text, int, text, int, jsonb)
    TO namaskah_owner;

-- GET /internal/metrics: the database's counters for namaskahd's /metrics
-- (several frontends, one truth). Only namaskahd itself calls this path: it
-- forwards nothing outside /api/ and /health/ready from clients. Each scrape
-- also does a bounded share of housekeeping: expired revocations and
-- rate-limit state are deleted a thousand rows at a time.
CREATE FUNCTION @extschema@.internal_metrics(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.security_rollup();
    PERFORM @extschema@.purge_revocations(1000);
    PERFORM @extschema@.rate_limit_purge(1000);
    RETURN jsonb_build_object(
        'auth_failures', coalesce((SELECT jsonb_agg(jsonb_build_object('reason', t.reason, 'total', t.total)
                                                    ORDER BY t.reason)
                                   FROM @extschema@.security_event_totals t
                                   WHERE t.type IN ('auth_failure', 'lockout')), '[]'),
        'rate_limited', coalesce((SELECT jsonb_agg(jsonb_build_object('policy', t.policy, 'total', t.total)
                                                   ORDER BY t.policy)
                                  FROM @extschema@.rate_limited_totals t), '[]'),
        'security_events', coalesce((SELECT jsonb_agg(jsonb_build_object('type', g.type, 'total', g.total)
                                                      ORDER BY g.type)
                                     FROM (SELECT t.type, sum(t.total) AS total
                                           FROM @extschema@.security_event_totals t
                                           GROUP BY t.type) g), '[]'),
        'extension_version', (SELECT extversion FROM pg_extension WHERE extname = 'namaskah'),
        'signing_keys', (SELECT count(*) FROM @extschema@.signing_keys k WHERE k.retired_at IS NULL));
END
$$;
ALTER FUNCTION @extschema@.internal_metrics(jsonb) OWNER TO namaskah_owner;
GRANT SELECT ON @extschema@.security_event_totals, @extschema@.rate_limited_totals,
    @extschema@.security_events TO namaskah_owner;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description)
VALUES ('GET', '/internal/metrics', '@extschema@.internal_metrics(jsonb)', 'public', 'none',
        'Database counters for namaskahd /metrics (never forwarded from clients)');
