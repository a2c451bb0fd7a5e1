-- namaskah 2.3.0 -> 2.4.0, part 1 of 3 (the Makefile builds
-- namaskah--2.3.0--2.4.0.sql from: this file, the complete 2.4.0 install
-- script, 2.3.0--2.4.0.post.sql with restore_held.sql and 2.3.0--2.4.0.end.sql). See docs/MIGRATION.md.
--
-- Moves the 2.3.0 tables out of the way into schema namaskah_v23 (indexes
-- and constraints travel with them, so no name collides with 2.4.0's) and
-- drops the 2.3.0 functions; the install script then creates every 2.4.0
-- object exactly as a fresh CREATE EXTENSION does, and part 3 moves the rows.

\echo Use "ALTER EXTENSION namaskah UPDATE TO '2.4.0'" to load this file. \quit

CREATE SCHEMA namaskah_v23;
ALTER TABLE @extschema@.users SET SCHEMA namaskah_v23;
ALTER TABLE @extschema@.verifications SET SCHEMA namaskah_v23;
DROP FUNCTION @extschema@.check_password(text, text);
DROP FUNCTION @extschema@.create_user(text, text, text);
DROP FUNCTION @extschema@.legacy_password_hash(text);

