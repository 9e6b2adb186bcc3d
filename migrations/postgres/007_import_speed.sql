-- Imports write impact_events a million rows at a time, and a foreign key costs a trigger
-- call per written row (each a lookup and a row lock on the referenced tenant or program),
-- about as much as the insert itself. The import already checks both: the tenant is the
-- caller's, and a row's program is looked up among that tenant's programs (a stronger
-- check than the program key, which would accept another tenant's program). Tenants and
-- programs are never deleted. evidence_snippets, imported a few rows at a time, keeps its
-- keys.
ALTER TABLE impact_events
    DROP CONSTRAINT IF EXISTS impact_events_tenant_id_fkey,
    DROP CONSTRAINT IF EXISTS impact_events_program_id_fkey;

-- An upload is staged as NDJSON chunks of about 1 MB, compressed on the way in: lz4 does
-- that several times faster than the default pglz, which made Postgres CPU the larger
-- part of staging. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE import_chunks ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: import_chunks.data stays compressed with pglz';
END;
$$;
