-- namaskah install script, part 20: text safety — log sanitizing, JSON
-- and HTML escaping, input validators (C in sanitize.c, logic in
-- core/nk_sanitize.c, core/nk_json.c, core/nk_validate.c).

-- sanitize_log(value, max_bytes): value made safe for one log line. CR, LF,
-- other C0/C1 controls, DEL, ESC, U+2028/U+2029 and backslash become visible
-- escapes; invalid bytes become \xNN; at most max_bytes bytes (15 .. 64 MB),
-- cut on a character boundary and marked '...[truncated]'.
CREATE FUNCTION @extschema@.sanitize_log(value text, max_bytes integer DEFAULT 1024)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_sanitize_log'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sanitize_log(text, integer) IS
    'Text made safe for a log line: controls, line separators and escapes made visible, length capped';

-- json_escape(value): the body of a JSON string literal (no quotes) that is
-- also inert in HTML: < > & ' are written as \u003c \u003e \u0026 \u0027.
CREATE FUNCTION @extschema@.json_escape(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_json_escape'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.json_escape(text) IS
    'JSON string body (no quotes), escaping < > & '' and U+2028/9 as well';

-- html_escape(value): & < > " ' as &amp; &lt; &gt; &quot; &#39;.
CREATE FUNCTION @extschema@.html_escape(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_html_escape'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.html_escape(text) IS
    'Text safe in HTML element content and quoted attributes';

CREATE FUNCTION @extschema@.is_valid_email(value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_is_valid_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_email(text) IS
    'Pragmatic email check: ASCII, one @, local part 1-64 of [A-Za-z0-9._%+-], domain labels, at most 254 bytes';

CREATE FUNCTION @extschema@.is_valid_e164(value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_is_valid_e164'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_e164(text) IS
    'E.164 phone number: + then 8 to 15 digits, the first not 0';

CREATE FUNCTION @extschema@.is_valid_uuid(value text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_is_valid_uuid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_uuid(text) IS
    'Canonical 8-4-4-4-12 hexadecimal UUID, any case and version';

CREATE FUNCTION @extschema@.is_printable_text(value text, max_chars integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'nk_sql_is_printable_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_printable_text(text, integer) IS
    'No C0/C1 controls, DEL, U+2028/9 or bidi overrides, and at most max_chars characters';

GRANT EXECUTE ON FUNCTION
    @extschema@.sanitize_log(text, integer),
    @extschema@.json_escape(text),
    @extschema@.html_escape(text),
    @extschema@.is_valid_email(text),
    @extschema@.is_valid_e164(text),
    @extschema@.is_valid_uuid(text),
    @extschema@.is_printable_text(text, integer)
TO namaskah_api;
