-- colpali 1.1 -> 1.2: multihalfvec, multi-vectors stored in half precision.
\echo Use "ALTER EXTENSION colpali UPDATE TO '1.2'" to load this file. \quit

-- A ColPali page in fp16 is half the bytes of real[][]; its MaxSim scores
-- differ from fp32 by about 1e-4 relative (bf16 would be ~8x worse). Text
-- form as real[][]: '{{0.5,-1},{0.25,2}}'. multihalfvec(128) fixes the
-- dimension.
CREATE TYPE multihalfvec;

CREATE FUNCTION multihalfvec_in(cstring, oid, integer) RETURNS multihalfvec
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_out(multihalfvec) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_recv(internal, oid, integer) RETURNS multihalfvec
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_send(multihalfvec) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Pages are TOASTed out of line, uncompressed (EXTERNAL), so maxsim reads
-- them chunk by chunk: compression saves little on embeddings and would
-- force a detoast of every page.
CREATE TYPE multihalfvec (
    INPUT = multihalfvec_in,
    OUTPUT = multihalfvec_out,
    RECEIVE = multihalfvec_recv,
    SEND = multihalfvec_send,
    TYPMOD_IN = multihalfvec_typmod_in,
    TYPMOD_OUT = multihalfvec_typmod_out,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = external
);
COMMENT ON TYPE multihalfvec IS
    'A multi-vector (rows x dim) in IEEE half precision: half the storage of real[][]. Casts from and to real[][]; multihalfvec(dim) fixes the dimension.';

CREATE FUNCTION multihalfvec(multihalfvec, integer, boolean) RETURNS multihalfvec
    AS 'MODULE_PATHNAME', 'multihalfvec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec(real[], integer, boolean) RETURNS multihalfvec
    AS 'MODULE_PATHNAME', 'multihalfvec_from_real_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION multihalfvec_to_real_array(multihalfvec) RETURNS real[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (multihalfvec AS multihalfvec) WITH FUNCTION multihalfvec(multihalfvec, integer, boolean) AS IMPLICIT;
-- Storing a real[][] into a multihalfvec column rounds it (an assignment);
-- reading one as real[][] is exact, so every real[][] function takes it.
CREATE CAST (real[] AS multihalfvec) WITH FUNCTION multihalfvec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (multihalfvec AS real[]) WITH FUNCTION multihalfvec_to_real_array(multihalfvec) AS IMPLICIT;

CREATE FUNCTION maxsim(query real[], document multihalfvec) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim_half'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim(real[], multihalfvec) IS
    'Late-interaction score of a real[][] query against a half-precision document: the sum over query rows of the maximum dot product with any document row. Query first.';

CREATE FUNCTION binary_quantize(multivector multihalfvec) RETURNS bytea
    AS 'MODULE_PATHNAME', 'binary_quantize_half'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 500;
COMMENT ON FUNCTION binary_quantize(multihalfvec) IS
    'Sign-bit codes of every row, as binary_quantize(real[]) gives for the same values.';

CREATE FUNCTION multivector_rows(multivector multihalfvec) RETURNS integer
    AS 'MODULE_PATHNAME', 'multihalfvec_rows'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION multivector_rows(multihalfvec) IS
    'Number of vectors (rows), read from the header alone.';

CREATE FUNCTION multivector_dim(multivector multihalfvec) RETURNS integer
    AS 'MODULE_PATHNAME', 'multihalfvec_dim'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION multivector_dim(multihalfvec) IS
    'Dimension of each vector, read from the header alone.';

COMMENT ON FUNCTION multihalfvec_in(cstring, oid, integer) IS 'Text input: a real[][] literal, rounded to half precision.';
COMMENT ON FUNCTION multihalfvec_out(multihalfvec) IS 'Text output: a real[][] literal of the exact values.';
COMMENT ON FUNCTION multihalfvec_recv(internal, oid, integer) IS 'Binary input: int32 rows, int16 dim, int16 0, then rows * dim binary16 values.';
COMMENT ON FUNCTION multihalfvec_send(multihalfvec) IS 'Binary output: int32 rows, int16 dim, int16 0, then rows * dim binary16 values.';
COMMENT ON FUNCTION multihalfvec_typmod_in(cstring[]) IS 'The dimension modifier of multihalfvec(dim).';
COMMENT ON FUNCTION multihalfvec_typmod_out(integer) IS 'The dimension modifier of multihalfvec(dim).';
COMMENT ON FUNCTION multihalfvec(multihalfvec, integer, boolean) IS 'Checks a value against the dimension of multihalfvec(dim).';
COMMENT ON FUNCTION multihalfvec(real[], integer, boolean) IS 'A real[][] rounded to half precision; ERROR beyond 65504 or for NaN/Inf.';
COMMENT ON FUNCTION multihalfvec_to_real_array(multihalfvec) IS 'The exact values as real[][].';
