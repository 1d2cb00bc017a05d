-- colpali 1.3: colpali_ivf, an index that finds candidate pages without
-- reading them all, and the <#> operator it orders by.

\echo Use "ALTER EXTENSION colpali UPDATE TO '1.3'" to load this file. \quit

CREATE FUNCTION maxsim_negative(document multihalfvec, query real[]) RETURNS double precision
    AS 'MODULE_PATHNAME', 'maxsim_negative_half'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 5000;
COMMENT ON FUNCTION maxsim_negative(multihalfvec, real[]) IS
    'Minus maxsim(query, document): the <#> operator, so that ascending order is best first.';

CREATE OPERATOR <#> (
    LEFTARG = multihalfvec,
    RIGHTARG = real[],
    FUNCTION = maxsim_negative
);
COMMENT ON OPERATOR <#> (multihalfvec, real[]) IS
    'Negated MaxSim of the query (right) against the page (left). ORDER BY embedding <#> query LIMIT n uses a colpali_ivf index: the order is then its estimate, to be reranked by maxsim.';

CREATE FUNCTION colpali_ivf_handler(internal) RETURNS index_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION colpali_ivf_handler(internal) IS 'The colpali_ivf index access method.';

CREATE ACCESS METHOD colpali_ivf TYPE INDEX HANDLER colpali_ivf_handler;
COMMENT ON ACCESS METHOD colpali_ivf IS
    'Token-level inverted file over multihalfvec pages: candidates for ORDER BY embedding <#> query by centroid interaction. WITH (lists = N) centroids; colpali.ivf_probes per query token.';

CREATE OPERATOR CLASS multihalfvec_maxsim_ops
    DEFAULT FOR TYPE multihalfvec USING colpali_ivf AS
    OPERATOR 1 <#> (multihalfvec, real[]) FOR ORDER BY float_ops;

CREATE FUNCTION colpali_ivf_lists(index regclass) RETURNS integer
    AS 'MODULE_PATHNAME', 'colpali_ivf_lists'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION colpali_ivf_lists(regclass) IS
    'Centroids of a colpali_ivf index: 0 when it was built over a table without pages (REINDEX it to use it); NULL for an index of another kind.';

CREATE FUNCTION colpali_ivf_candidates(index regclass, query real[], candidates integer)
    RETURNS TABLE (page tid, estimate real)
    AS 'MODULE_PATHNAME', 'colpali_ivf_candidates'
    LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION colpali_ivf_candidates(regclass, real[], integer) IS
    'The first candidates a colpali_ivf index ranks for a query, with its estimate, reading no page: the first stage alone (probes from colpali.ivf_probes).';
