-- 0006: page vectors in half precision (multihalfvec, colpali 1.2).
--
-- A ColPali page is 264 KB instead of 527 KB, and an exact scan reads half
-- the TOAST chunks. MaxSim scores move by about 1e-4 relative
-- (bench/half_precision_error.py); the sign-bit codes are those of the
-- stored values. Existing pages are converted in place; values beyond the
-- half range (|x| > 65504, never a normalised embedding) stop the migration
-- with an error naming them, and nothing changes.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extension_versions
                   WHERE name = 'colpali' AND version = '1.2') THEN
        RAISE EXCEPTION 'this schema needs the colpali extension 1.2 (multihalfvec), which this server does not have'
            USING HINT = 'Install the extension of this release on the server (scripts/install-extension.sh), then migrate again.';
    END IF;
END $$;
ALTER EXTENSION colpali UPDATE;

-- One block, so what it learns first decides the rest: what refers to the
-- column's type goes and comes back after, and the table is rewritten once
-- (the vectors narrowed, the codes recomputed). On Citus (`colpali
-- distribute`) the dimension trigger is already gone, trigger DDL and SET
-- STORAGE are refused on distributed tables, and ADD CONSTRAINT must stand
-- alone in its ALTER TABLE.
DO $$
DECLARE
    had_trigger boolean := EXISTS (SELECT 1 FROM pg_trigger
                                   WHERE tgrelid = 'pages'::regclass AND tgname = 'pages_check_dimension');
    distributed boolean := false;
    c record;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''pages''::regclass)'
            INTO distributed;
    END IF;
    IF had_trigger THEN
        DROP TRIGGER pages_check_dimension ON pages;
    END IF;
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'pages'::regclass AND contype = 'c'
               AND pg_get_constraintdef(oid) LIKE '%embedding%'
    LOOP
        EXECUTE format('ALTER TABLE pages DROP CONSTRAINT %I', c.conname);
    END LOOP;

    ALTER TABLE pages
        DROP COLUMN embedding_codes,
        ALTER COLUMN embedding TYPE multihalfvec USING embedding::multihalfvec,
        ADD COLUMN embedding_codes bytea GENERATED ALWAYS AS (binary_quantize(embedding)) STORED;
    ALTER TABLE pages ADD CONSTRAINT pages_patch_grid_fits CHECK (patch_grid * patch_grid <= multivector_rows(embedding));
    -- The vectors take multihalfvec's own storage, EXTERNAL (uncompressed,
    -- out of line). The codes are random bits to a compressor: EXTERNAL
    -- too, except on Citus (there pglz tries each value once, finds nothing
    -- and stores it as it is).
    IF NOT distributed THEN
        ALTER TABLE pages ALTER COLUMN embedding_codes SET STORAGE EXTERNAL;
    END IF;
    IF had_trigger THEN
        CREATE TRIGGER pages_check_dimension BEFORE INSERT OR UPDATE OF embedding ON pages
            FOR EACH ROW EXECUTE FUNCTION pages_check_dimension();
    END IF;
END $$;
COMMENT ON COLUMN pages.embedding IS
    'The page multi-vector (rows x dim) in half precision; embedding::real[] reads it as real[][].';
