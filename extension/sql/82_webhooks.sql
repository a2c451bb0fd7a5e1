-- namaskah install script, part 82: the signed inbound-SMS webhook.
--
--   POST /api/webhooks/sms   auth 'webhook' (no bearer token): the provider
--                            signs each call; docs/webhooks.md is the contract.
--
-- Signature: X-Namaskah-Signature: v1=<hex HMAC-SHA256(key, ts "." raw body)>
-- with X-Namaskah-Timestamp: ts (Unix seconds) and key =
-- namaskah.derive_key('webhook') (from SECRET_KEY). Checks, in order: both
-- headers present (else 401 webhook_signature_missing), a matching signature
-- (401 webhook_signature_invalid), the timestamp within
-- webhook.tolerance_seconds of now (401 webhook_timestamp_stale), the body
-- (400 validation_failed), the message id never seen (401 webhook_replayed).
-- Then the code (4-8 digits) in the text completes the pending verification
-- of the number it was sent to; expired or cancelled ones stay as they are.
--
-- The key never leaves namaskah_owner: the endpoint (namaskah_api) calls
-- webhook_authenticate, which says yes or raises. Locking: one row of
-- webhook_messages (the message id) and one verification row, lock_timeout 2s.

-- Message ids already accepted. A row is kept past the timestamp tolerance
-- on both sides: after that a replay is refused as stale anyway.
CREATE TABLE @extschema@.webhook_messages (
    message_id text PRIMARY KEY CHECK (message_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    received_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    outcome text
);
ALTER TABLE @extschema@.webhook_messages OWNER TO namaskah_owner;
CREATE INDEX webhook_messages_expires_at ON @extschema@.webhook_messages (expires_at);
COMMENT ON TABLE @extschema@.webhook_messages IS
    'Inbound webhook message ids (replay protection), purged after expires_at';

-- webhook_signature(timestamp, body): the header value a provider sends,
-- 'v1=' || hex. For operators and tests (signing a sandbox SMS by hand);
-- granted to no one.
CREATE FUNCTION @extschema@.webhook_signature(ts text, body text)
RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'v1=' || encode(@extschema@.mask_hmac_sha256(
        @extschema@.derive_key('webhook'), convert_to($1 || '.' || $2, 'UTF8')), 'hex')
$$;
ALTER FUNCTION @extschema@.webhook_signature(text, text) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.webhook_signature(text, text) IS
    'v1=<hex HMAC-SHA256(derive_key(''webhook''), ts || ''.'' || body)> (operators, tests)';

-- webhook_authenticate(headers, raw_body): returns when the request carries a
-- valid, fresh signature; raises a 401 problem otherwise. headers has
-- lower-case names.
CREATE FUNCTION @extschema@.webhook_authenticate(headers jsonb, raw_body text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ts text := headers->>'x-namaskah-timestamp';
    given text := headers->>'x-namaskah-signature';
    expected bytea;
    candidate text;
    tolerance int := @extschema@.setting('webhook.tolerance_seconds')::int;
    matched boolean := false;
BEGIN
    IF ts IS NULL OR given IS NULL OR raw_body IS NULL THEN
        PERFORM @extschema@.raise_problem(401, 'webhook_signature_missing',
            'Webhook calls must be signed (X-Namaskah-Timestamp and X-Namaskah-Signature).');
    END IF;
    IF ts !~ '^[0-9]{1,12}$' OR length(given) > 1024 THEN
        PERFORM @extschema@.raise_problem(401, 'webhook_signature_invalid',
            'The webhook signature is not valid.');
    END IF;
    -- Compare digests of the hex strings, not the strings: the time taken
    -- says nothing about how many leading characters were right.
    expected := sha256(convert_to(substr(@extschema@.webhook_signature(ts, raw_body), 4), 'UTF8'));
    -- Several comma-separated v1= values are allowed (key rotation on the
    -- provider's side); one match is enough.
    FOREACH candidate IN ARRAY string_to_array(given, ',') LOOP
        candidate := btrim(candidate, ' ');
        IF candidate ~ '^v1=[0-9a-fA-F]{64}$'
           AND sha256(convert_to(lower(substr(candidate, 4)), 'UTF8')) = expected THEN
            matched := true;
        END IF;
    END LOOP;
    IF NOT matched THEN
        PERFORM @extschema@.raise_problem(401, 'webhook_signature_invalid',
            'The webhook signature is not valid.');
    END IF;
    IF abs(extract(epoch FROM now()) - ts::bigint) > tolerance THEN
        PERFORM @extschema@.raise_problem(401, 'webhook_timestamp_stale',
            'The webhook timestamp is too far from the current time.');
    END IF;
END
$$;
ALTER FUNCTION @extschema@.webhook_authenticate(jsonb, text) OWNER TO namaskah_owner;

-- receive_sms(message_id, to_number, body_text): records the message id
-- (401 webhook_replayed when seen before) and completes the pending
-- verification of to_number with the code found in the text. Returns
-- {"status": "accepted", "result": completed | no_pending_verification |
-- expired | no_code}. Only for an authenticated webhook call.
CREATE FUNCTION @extschema@.receive_sms(message_id text, to_number text, body_text text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    tolerance int := @extschema@.setting('webhook.tolerance_seconds')::int;
    found_code text;
    target @extschema@.verifications;
    result text;
BEGIN
    DELETE FROM @extschema@.webhook_messages m WHERE m.expires_at < now();
    INSERT INTO @extschema@.webhook_messages AS m (message_id, expires_at)
    VALUES ($1, now() + make_interval(secs => 2 * tolerance + 60))
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        PERFORM @extschema@.raise_problem(401, 'webhook_replayed',
            'This webhook message was already received.');
    END IF;

    -- The first run of 4 to 8 digits that is not part of a longer number.
    found_code := (regexp_match(body_text, '(?:^|[^0-9])([0-9]{4,8})(?:[^0-9]|$)'))[1];
    SELECT * INTO target FROM @extschema@.verifications v
    WHERE v.phone_number = $2 AND v.status = 'pending'
    FOR UPDATE;
    IF NOT FOUND THEN
        result := 'no_pending_verification';
    ELSIF target.expires_at <= now() THEN
        UPDATE @extschema@.verifications v SET status = 'expired' WHERE v.id = target.id;
        result := 'expired';
    ELSIF found_code IS NULL THEN
        result := 'no_code';
    ELSE
        UPDATE @extschema@.verifications v
        SET status = 'completed', code = found_code, completed_at = now()
        WHERE v.id = target.id;
        result := 'completed';
    END IF;
    UPDATE @extschema@.webhook_messages m SET outcome = result WHERE m.message_id = $1;
    RETURN jsonb_build_object('status', 'accepted', 'result', result);
END
$$;
ALTER FUNCTION @extschema@.receive_sms(text, text, text) OWNER TO namaskah_owner;

GRANT EXECUTE ON FUNCTION @extschema@.webhook_authenticate(jsonb, text),
    @extschema@.receive_sms(text, text, text) TO namaskah_api;

CREATE FUNCTION api.webhooks_sms(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    b jsonb := req->'body';
BEGIN
    -- Authenticity first: nothing of an unsigned body is looked at.
    PERFORM @extschema@.webhook_authenticate(req->'headers', req->>'raw_body');
    PERFORM @extschema@.validate_request(req, '{
        "message_id": {"type": "string", "required": true, "max_length": 128,
                       "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "to": {"type": "string", "required": true, "format": "e164"},
        "from": {"type": "string", "max_length": 32},
        "text": {"type": "string", "required": true, "max_length": 1600, "multiline": true}}');
    RETURN @extschema@.receive_sms(b->>'message_id', b->>'to', b->>'text');
END
$$;
ALTER FUNCTION api.webhooks_sms(jsonb) OWNER TO namaskah_api;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description) VALUES
    ('POST', '/api/webhooks/sms', 'api.webhooks_sms(jsonb)', 'webhook', NULL,
     'Inbound SMS from a provider, signed with HMAC-SHA256 (docs/webhooks.md)');
