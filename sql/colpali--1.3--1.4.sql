-- colpali 1.4: multihalfvec values keep their sign-bit codes once, first
-- (sign planes), and the prefilters read them from the page itself.
--
-- New values are written in sign planes: the codes of every row, then each
-- value's other 15 bits; a 1,030 x 128 page is the size of its halves alone.
-- Values written before (the rows layout) are read as they are. The
-- prefilters take a multihalfvec page and read only its codes, a slice of
-- the stored value, so a table needs no codes column beside its pages.

\echo Use "ALTER EXTENSION colpali UPDATE TO '1.4'" to load this file. \quit

CREATE FUNCTION maxsim_hamming(query_codes bytea, document multihalfvec, dim integer) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim_hamming_half'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 250;
COMMENT ON FUNCTION maxsim_hamming(bytea, multihalfvec, integer) IS
    'maxsim_hamming against the page''s own sign-bit codes, read as a slice of the stored page (its first TOAST chunks) where it is in sign planes.';

CREATE FUNCTION maxsim_binary(query real[], document multihalfvec) RETURNS real
    AS 'MODULE_PATHNAME', 'maxsim_binary_half'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim_binary(real[], multihalfvec) IS
    'maxsim_binary against the page''s own sign-bit codes, read as a slice of the stored page where it is in sign planes.';

COMMENT ON TYPE multihalfvec IS
    'A multi-vector (rows x dim) in IEEE half precision, stored with its sign-bit codes first (sign planes) so that the prefilters read only those; text form as real[][]; typmod is the dimension.';
