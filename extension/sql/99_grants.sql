-- namaskah install script, part 99: least privilege.
--
-- Functions are executable by PUBLIC by default; nothing of ours is. Each
-- part grants what a role needs explicitly (endpoints -> namaskah_api); the
-- frontend role gets exactly one function.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA api FROM PUBLIC;

GRANT EXECUTE ON FUNCTION @extschema@.setting(text) TO namaskah_api;

-- The pipeline runs as namaskah_owner (handle_request is SECURITY DEFINER):
-- it may call every function of the extension and every endpoint.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA @extschema@ TO namaskah_owner;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO namaskah_owner;

-- namaskahd's login role: the entry function and nothing else.
GRANT EXECUTE ON FUNCTION @extschema@.handle_request(text, text, text, jsonb, text, inet, text)
    TO namaskah_frontend;

-- What every endpoint may use.
GRANT EXECUTE ON FUNCTION @extschema@.raise_problem(int, text, text, jsonb),
    @extschema@.set_response_status(int),
    @extschema@.problem_keeping_effects(int, text, text) TO namaskah_api;

-- The audit log's owner computes hashes and chain ids in its definer
-- functions (audit_append, audit_verify, security_rollup).
GRANT EXECUTE ON FUNCTION @extschema@.audit_chain_id(), @extschema@.audit_hash(bytea, text[]),
    @extschema@.audit_fields(@extschema@.audit_log), @extschema@.audit_genesis(uuid),
    @extschema@.security_event_type(int, text), @extschema@.setting(text),
    @extschema@.cursor_encode(text),
    -- partitions and archives (65_audit.sql)
    @extschema@.audit_partition_name(date), @extschema@.audit_refuse_change(),
    @extschema@.audit_archived_heads(),
    @extschema@.audit_archive_chain(@extschema@.audit_log, @extschema@.audit_log, bigint),
    @extschema@.audit_archive_refuse(text, bigint, text), @extschema@.json_time(timestamptz),
    @extschema@.sanitize_log(text, int)
    TO namaskah_auditor;
-- Archiving is for a superuser (scripts/archive_audit), not for the pipeline;
-- the pipeline keeps audit_partitions_maintain (metrics scrapes call it).
REVOKE EXECUTE ON FUNCTION @extschema@.audit_archive_drop(text, jsonb, text),
    @extschema@.audit_archive_seal(text), @extschema@.audit_partitions_ensure(timestamptz, timestamptz),
    @extschema@.audit_partitions(), @extschema@.audit_verify_continuation(jsonb),
    @extschema@.audit_partitions_release()
    FROM namaskah_owner;
