-- 0007: token pooling at ingest (colpali-ingest --pool-factor, job option
-- pool_factor). A pooled page keeps about rows / pool_factor vectors, each
-- the mean of a cluster of the model's vectors; multivector_rows(embedding)
-- is how many. Its rows are no longer grid patches, so it has no patch grid
-- (patch_grid 0) and no similarity maps. Existing pages were not pooled.
-- One subcommand per statement: Citus takes ADD CONSTRAINT only alone.
ALTER TABLE pages ADD COLUMN pool_factor integer NOT NULL DEFAULT 1;
ALTER TABLE pages ADD CONSTRAINT pages_pool_factor_range CHECK (pool_factor BETWEEN 1 AND 64);
ALTER TABLE pages ADD CONSTRAINT pages_pooled_have_no_grid CHECK (pool_factor = 1 OR patch_grid = 0);
COMMENT ON COLUMN pages.pool_factor IS
    'Hierarchical token pooling factor of the stored vectors (1: not pooled).';
