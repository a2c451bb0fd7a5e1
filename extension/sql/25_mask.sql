-- namaskah install script, part 25: data masking (C in mask.c, logic in
-- core/nk_mask.c). Output shapes with examples: docs/masking.md.

-- Keys whose values mask_jsonb always masks, matched case-insensitively
-- (stored in lower case). Operators add or remove rows to tune it.
CREATE TABLE @extschema@.sensitive_keys (
    key text PRIMARY KEY CHECK (key = lower(key) AND length(key) BETWEEN 1 AND 200)
);
ALTER TABLE @extschema@.sensitive_keys OWNER TO namaskah_owner;
COMMENT ON TABLE @extschema@.sensitive_keys IS
    'JSON keys (lower case) whose values mask_jsonb masks, at any depth';

INSERT INTO @extschema@.sensitive_keys (key) VALUES
    ('password'), ('passwd'), ('pwd'), ('new_password'), ('old_password'),
    ('secret'), ('client_secret'), ('secret_key'), ('private_key'),
    ('token'), ('access_token'), ('refresh_token'), ('id_token'), ('jwt'),
    ('authorization'), ('cookie'), ('set-cookie'), ('session'),
    ('api_key'), ('apikey'), ('x-api-key'),
    ('phone'), ('phone_number'), ('msisdn'), ('mobile'),
    ('email'), ('email_address'),
    ('card'), ('card_number'), ('pan'), ('cvv'), ('cvc'),
    ('pin'), ('otp'), ('code'), ('verification_code'), ('ssn');

CREATE FUNCTION @extschema@.mask_email(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_email(text) IS
    'john.doe@example.com -> j***@e***.com; not an address -> ***';

CREATE FUNCTION @extschema@.mask_phone(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_phone'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_phone(text) IS
    '+1 (415) 555-2671 -> +*********71 (last two digits kept); not a phone -> ***';

CREATE FUNCTION @extschema@.mask_card(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_card'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_card(text) IS
    '4111 1111 1111 1111 -> **** **** **** 1111 (Luhn-valid 12-19 digits only); else ***';

CREATE FUNCTION @extschema@.mask_token(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_token'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_token(text) IS
    'Bearer/Basic/Token/ApiKey scheme kept; credential -> first 4 *** last 4 (24+ characters) or ***';

CREATE FUNCTION @extschema@.mask_partial(value text, keep_start integer,
                                         keep_end integer, fill text DEFAULT '*')
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_partial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_partial(text, integer, integer, text) IS
    'Keeps keep_start and keep_end characters, fill for each one between; all fill when nothing would be hidden';

-- mask_text(value): free text with every email, phone, JWT, bearer
-- credential and Luhn-valid card number inside masked in place.
CREATE FUNCTION @extschema@.mask_text(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'nk_sql_mask_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mask_text(text) IS
    'Free text with embedded emails, phones, JWTs, bearer credentials and card numbers masked';

CREATE FUNCTION @extschema@.mask_ip(addr inet)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.network(pg_catalog.set_masklen($1,
        LEAST(pg_catalog.masklen($1),
              CASE WHEN pg_catalog.family($1) = 4 THEN 24
                   -- an IPv4-mapped IPv6 address keeps its IPv4 /24
                   WHEN $1 OPERATOR(pg_catalog.<<=) '::ffff:0.0.0.0/96'::inet THEN 120
                   ELSE 48 END)))::text
$$;
COMMENT ON FUNCTION @extschema@.mask_ip(inet) IS
    'The network of an address: IPv4 /24 (203.0.113.0/24), IPv6 /48 (2001:db8:85a3::/48), IPv4-mapped /120';

-- mask_jsonb_keys(doc, keys): the walk itself, with an explicit key list.
CREATE FUNCTION @extschema@.mask_jsonb_keys(doc jsonb, keys text[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'nk_sql_mask_jsonb_keys'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER FUNCTION @extschema@.mask_jsonb_keys(jsonb, text[]) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.mask_jsonb_keys(jsonb, text[]) IS
    'mask_jsonb with the given lower-case sensitive keys instead of the sensitive_keys table';

-- mask_jsonb(doc): any document, values under the keys of sensitive_keys
-- masked (whole subtrees), emails/phones/JWTs/cards in other strings masked
-- in place. SECURITY DEFINER only to read sensitive_keys.
CREATE FUNCTION @extschema@.mask_jsonb(doc jsonb)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.mask_jsonb_keys($1,
        ARRAY(SELECT k.key FROM @extschema@.sensitive_keys k))
$$;
ALTER FUNCTION @extschema@.mask_jsonb(jsonb) OWNER TO namaskah_owner;
COMMENT ON FUNCTION @extschema@.mask_jsonb(jsonb) IS
    'Document with sensitive keys'' values and embedded personal data masked';

GRANT EXECUTE ON FUNCTION
    @extschema@.mask_email(text),
    @extschema@.mask_phone(text),
    @extschema@.mask_card(text),
    @extschema@.mask_token(text),
    @extschema@.mask_partial(text, integer, integer, text),
    @extschema@.mask_text(text),
    @extschema@.mask_ip(inet),
    @extschema@.mask_jsonb_keys(jsonb, text[]),
    @extschema@.mask_jsonb(jsonb)
TO namaskah_api;
