-- colpali 1.0: exact MaxSim and the binary-code prefilters.
\echo Use "CREATE EXTENSION colpali" to load this file. \quit

-- Costs are in units of cpu_operator_cost. A ColPali page is a 1,030 x 128
-- multi-vector: one maxsim against a 20-row query is about 2.6 million
-- multiply-adds, tens of microseconds, so the planner must treat it as
-- expensive (this is what makes it choose parallel scans); the prefilters cost
-- a few percent of that.

CREATE FUNCTION maxsim(query real[], document real[]) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim(real[], real[]) IS
    'Late-interaction score of two multi-vectors (rows x dim real[][]): the sum over query rows of the maximum dot product with any document row. Query first.';

CREATE FUNCTION binary_quantize(multivector real[]) RETURNS bytea
    AS 'MODULE_PATHNAME', 'binary_quantize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 500;
COMMENT ON FUNCTION binary_quantize(real[]) IS
    'Sign-bit codes of every row (bit = 1 when x > 0), rows packed one after another, each padded to whole bytes, most significant bit first (pgvector''s bit order).';

CREATE FUNCTION maxsim_hamming(query_codes bytea, document_codes bytea, dim integer) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim_hamming'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 250;
COMMENT ON FUNCTION maxsim_hamming(bytea, bytea, integer) IS
    'Symmetric binary MaxSim: sum over query rows of (dim - 2 * the minimum Hamming distance to any document row), i.e. MaxSim of the +-1 sign vectors. The default prefilter.';

CREATE FUNCTION maxsim_binary(query real[], document_codes bytea) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim_binary'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim_binary(real[], bytea) IS
    'Asymmetric binary MaxSim: float query rows against +-1 document bits; sum over query rows of the maximum over document rows.';

CREATE FUNCTION multivector_rows(multivector real[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'multivector_rows'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION multivector_rows(real[]) IS
    'Number of vectors (rows) in a multi-vector.';

CREATE FUNCTION multivector_dim(multivector real[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'multivector_dim'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION multivector_dim(real[]) IS
    'Dimension of each vector of a multi-vector.';
