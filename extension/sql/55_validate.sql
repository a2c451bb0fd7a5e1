-- namaskah install script, part 55: request-body validation.
--
-- Each endpoint declares the body it accepts as a small schema:
--   {"email": {"type": "string", "required": true, "max_length": 254, "format": "email"}, ...}
-- types: string, integer, boolean; formats: email, e164, uuid, text (printable,
-- no control characters); "pattern" (a regular expression) and "enum" (a
-- list of allowed strings) and "multiline" (true: line breaks and tabs
-- allowed, other control characters still refused) for strings; "minimum"/"maximum" for integers. Fields not declared are refused ("unexpected"), so
-- mass assignment (a "role" in a registration) cannot happen. The result is
-- the list of errors [{"field", "code"}] — values are never echoed.

CREATE FUNCTION @extschema@.body_errors(body jsonb, schema jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    errors jsonb := '[]';
    field text;
    rule jsonb;
    value jsonb;
    code text;
BEGIN
    IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
        RETURN '[{"field": "", "code": "object_required"}]';
    END IF;
    FOR field IN SELECT k FROM jsonb_object_keys(body) AS k ORDER BY k LOOP
        IF NOT schema ? field THEN
            errors := errors || jsonb_build_object('field', left(@extschema@.sanitize_log(field, 64), 64),
                                                   'code', 'unexpected');
        END IF;
    END LOOP;
    FOR field, rule IN SELECT key, r FROM jsonb_each(schema) AS s(key, r) ORDER BY key LOOP
        value := body->field;
        code := NULL;
        IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
            IF (rule->>'required')::boolean THEN code := 'required'; END IF;
        ELSIF rule->>'type' = 'string' THEN
            IF jsonb_typeof(value) <> 'string' THEN
                code := 'type';
            ELSIF char_length(value #>> '{}') < coalesce((rule->>'min_length')::int, 0) THEN
                code := 'too_short';
            ELSIF char_length(value #>> '{}') > coalesce((rule->>'max_length')::int, 1000) THEN
                code := 'too_long';
            ELSIF NOT @extschema@.is_printable_text(CASE WHEN (rule->>'multiline')::boolean
                    THEN translate(value #>> '{}', E'\n\r\t', '   ') ELSE value #>> '{}' END,
                    100000) THEN
                code := 'invalid_characters';
            ELSIF rule->>'format' = 'email' AND NOT @extschema@.is_valid_email(value #>> '{}') THEN
                code := 'format';
            ELSIF rule->>'format' = 'e164' AND NOT @extschema@.is_valid_e164(value #>> '{}') THEN
                code := 'format';
            ELSIF rule->>'format' = 'uuid' AND NOT @extschema@.is_valid_uuid(value #>> '{}') THEN
                code := 'format';
            ELSIF rule ? 'pattern' AND (value #>> '{}') !~ (rule->>'pattern') THEN
                code := 'pattern';
            ELSIF rule ? 'enum' AND NOT (rule->'enum') ? (value #>> '{}') THEN
                code := 'enum';
            END IF;
        ELSIF rule->>'type' = 'integer' THEN
            IF jsonb_typeof(value) <> 'number' OR (value #>> '{}') !~ '^-?[0-9]{1,15}$' THEN
                code := 'type';
            ELSIF (value #>> '{}')::bigint < coalesce((rule->>'minimum')::bigint, -999999999999999)
               OR (value #>> '{}')::bigint > coalesce((rule->>'maximum')::bigint, 999999999999999) THEN
                code := 'out_of_range';
            END IF;
        ELSIF rule->>'type' = 'boolean' THEN
            IF jsonb_typeof(value) <> 'boolean' THEN code := 'type'; END IF;
        END IF;
        IF code IS NOT NULL THEN
            errors := errors || jsonb_build_object('field', field, 'code', code);
        END IF;
    END LOOP;
    RETURN errors;
END
$$;

-- For endpoints: 400 validation_failed with the errors, or nothing.
CREATE FUNCTION @extschema@.validate_body(body jsonb, schema jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    errors jsonb := @extschema@.body_errors(body, schema);
BEGIN
    IF jsonb_array_length(errors) > 0 THEN
        PERFORM @extschema@.raise_problem(400, 'validation_failed',
            'The request body is invalid.', jsonb_build_object('errors', errors));
    END IF;
END
$$;

-- validate_empty_body(body): for endpoints that take no input: no body (or
-- JSON null), or an empty object; anything else is 400 validation_failed
-- naming each unexpected member.
CREATE FUNCTION @extschema@.validate_empty_body(body jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF coalesce(jsonb_typeof(body), 'null') <> 'null' THEN
        PERFORM @extschema@.validate_body(body, '{}');
    END IF;
END
$$;

-- For endpoints: the same schema language for the decoded query string
-- (namaskah.parse_query: every value a string). Integer parameters are
-- accepted as decimal digits; anything else is a 'type' error. 400
-- invalid_query with the errors, or nothing.
CREATE FUNCTION @extschema@.validate_query(query jsonb, schema jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    typed jsonb := '{}';
    field text;
    value jsonb;
    errors jsonb;
BEGIN
    FOR field, value IN SELECT key, v FROM jsonb_each(coalesce(query, '{}')) AS q(key, v) LOOP
        IF schema->field->>'type' = 'integer' AND jsonb_typeof(value) = 'string'
           AND (value #>> '{}') ~ '^-?[0-9]{1,15}$' THEN
            value := to_jsonb((value #>> '{}')::bigint);
        END IF;
        typed := typed || jsonb_build_object(field, value);
    END LOOP;
    errors := @extschema@.body_errors(typed, schema);
    IF jsonb_array_length(errors) > 0 THEN
        PERFORM @extschema@.raise_problem(400, 'invalid_query',
            'The query parameters are invalid.', jsonb_build_object('errors', errors));
    END IF;
END
$$;

-- validate_request(req, body_schema, query_schema): what every endpoint
-- calls first, so that each one refuses what it does not take in the same
-- way. A NULL schema means none accepted: any query parameter is 400
-- invalid_query, any body but none, JSON null or {} is 400
-- validation_failed; otherwise validate_query / validate_body.
CREATE FUNCTION @extschema@.validate_request(req jsonb,
    body_schema jsonb DEFAULT NULL, query_schema jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF query_schema IS NOT NULL THEN
        PERFORM @extschema@.validate_query(req->'query', query_schema);
    ELSIF coalesce(req->'query', '{}') <> '{}' THEN
        PERFORM @extschema@.validate_query(req->'query', '{}');
    END IF;
    IF body_schema IS NOT NULL THEN
        PERFORM @extschema@.validate_body(req->'body', body_schema);
    ELSIF coalesce(req->'body', 'null') NOT IN ('null', '{}') THEN
        PERFORM @extschema@.validate_empty_body(req->'body');
    END IF;
END
$$;

GRANT EXECUTE ON FUNCTION @extschema@.body_errors(jsonb, jsonb),
    @extschema@.validate_request(jsonb, jsonb, jsonb),
    @extschema@.validate_body(jsonb, jsonb),
    @extschema@.validate_empty_body(jsonb),
    @extschema@.validate_query(jsonb, jsonb) TO namaskah_api;
