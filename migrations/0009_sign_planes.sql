-- 0009: pages keep their sign-bit codes once (colpali 1.4, sign planes).
--
-- embedding_codes repeated the sign bits of embedding: 16 KB beside the
-- 264 KB of a ColPali page, which put storage over 0.28 GB per 1,000 pages.
-- A multihalfvec written by the extension 1.4 holds its codes first, then
-- each value's other 15 bits, and the prefilters read the codes from the
-- page itself (maxsim_hamming(bytea, multihalfvec, integer): a slice of its
-- first TOAST chunks). Existing pages are rewritten into sign planes, with
-- the same values (a -0 becomes +0), the codes column goes, and a
-- colpali_ivf index on the pages is rebuilt by the rewrite.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extension_versions
                   WHERE name = 'colpali' AND version = '1.4') THEN
        RAISE EXCEPTION 'this schema needs the colpali extension 1.4 (sign planes), which this server does not have'
            USING HINT = 'Install the extension of this release on the server (scripts/install-extension.sh), then migrate again.';
    END IF;
END $$;
ALTER EXTENSION colpali UPDATE;

-- The dimension trigger names the column (UPDATE OF embedding), which
-- ALTER COLUMN TYPE refuses; it goes and comes back. On Citus it is
-- already gone. The table is rewritten once.
DO $$
DECLARE
    had_trigger boolean := EXISTS (SELECT 1 FROM pg_trigger
                                   WHERE tgrelid = 'pages'::regclass AND tgname = 'pages_check_dimension');
BEGIN
    IF had_trigger THEN
        DROP TRIGGER pages_check_dimension ON pages;
    END IF;
    ALTER TABLE pages DROP COLUMN embedding_codes;
    ALTER TABLE pages ALTER COLUMN embedding TYPE multihalfvec USING embedding::real[]::multihalfvec;
    IF had_trigger THEN
        CREATE TRIGGER pages_check_dimension BEFORE INSERT OR UPDATE OF embedding ON pages
            FOR EACH ROW EXECUTE FUNCTION pages_check_dimension();
    END IF;
END $$;
COMMENT ON COLUMN pages.embedding IS
    'The page multi-vector (rows x dim) in half precision, its sign-bit codes first: embedding::real[] reads it as real[][], binary_quantize(embedding) gives the codes.';
