-- 0004: bring the colpali extension to the version installed on the server.
--
-- CREATE EXTENSION IF NOT EXISTS (0001) leaves a database created with an
-- older extension at that version: its new functions (maxsim_rowmax,
-- similarity_matrix, colpali_kernel in 1.1) would be missing. Updating is a
-- no-op when the database is already at the installed default version.
ALTER EXTENSION colpali UPDATE;
