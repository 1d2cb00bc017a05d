-- colpali 1.0 -> 1.1: per-token scores, for explanations and similarity maps.
\echo Use "ALTER EXTENSION colpali UPDATE TO '1.1'" to load this file. \quit

CREATE FUNCTION maxsim_rowmax(query real[], document real[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'maxsim_rowmax'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim_rowmax(real[], real[]) IS
    'Per query row, the maximum dot product with any document row; maxsim is their sum.';

CREATE FUNCTION similarity_matrix(query real[], document real[]) RETURNS real[]
    AS 'MODULE_PATHNAME', 'similarity_matrix'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION similarity_matrix(real[], real[]) IS
    'All dot products: a query rows x document rows real[][]. The rows of image patches, laid on the patch grid, are a similarity map.';

CREATE FUNCTION colpali_kernel() RETURNS text
    AS 'MODULE_PATHNAME', 'colpali_kernel'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION colpali_kernel() IS
    'Instruction set the scoring kernels use on this server: avx512, avx2 or scalar.';
