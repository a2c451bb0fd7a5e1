-- namaskah install script, part 70: endpoints and their routes.
--
-- An endpoint is a function api.<name>(req jsonb) RETURNS jsonb owned by
-- namaskah_api and SECURITY DEFINER, so it runs as that least-privileged role
-- (row-level security applies) whoever calls the pipeline. req carries
-- method, path, route, params, query, body, client_addr, request_id, user_id
-- and role; the function returns the response body, may choose the status
-- with namaskah.set_response_status() and fails with namaskah.raise_problem().

-- GET /api/version (public): the API and extension versions.
CREATE FUNCTION api.version(req jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    PERFORM @extschema@.validate_request(req);
    -- one version, from namaskah.control: the API is the extension's
    SELECT jsonb_build_object('api_version', e.extversion, 'extension_version', e.extversion)
    INTO result
    FROM pg_extension e WHERE e.extname = 'namaskah';
    RETURN result;
END
$$;
ALTER FUNCTION api.version(jsonb) OWNER TO namaskah_api;

INSERT INTO @extschema@.routes (method, path_template, target, auth, rate_limit_policy, description) VALUES
    ('GET', '/health/ready', '@extschema@.ready(jsonb)', 'public', 'none',
     'Readiness: extension version and signing keys present'),
    ('GET', '/api/version', 'api.version(jsonb)', 'public', NULL,
     'API and extension versions');
