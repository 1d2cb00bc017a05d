-- colpali_ivf: candidates for ORDER BY embedding <#> query without reading
-- every page, reranked exactly by maxsim; complete under filters, kept up to
-- date by inserts and VACUUM, rebuilt by REINDEX.
-- Standalone (installcheck REGRESS=this file, as scripts/mutate.sh runs it)
-- or after the others: the same output either way.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS colpali;
RESET client_min_messages;
SET extra_float_digits = 0;

-- Deterministic unit rows: a page's rows are ivf_row(page * 100 + j).
CREATE FUNCTION ivf_row(seed int) RETURNS real[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg((v / sqrt(sum_sq))::real ORDER BY k) FROM (
        SELECT k, v, sum(v * v) OVER () AS sum_sq FROM (
            SELECT k, x - floor(x) - 0.5 AS v
            FROM generate_series(1, 8) k,
                 LATERAL (SELECT sin(seed * 12.9898 + k * 78.233) * 43758.5453 AS x) r) s) t
$$;
CREATE FUNCTION ivf_page(page int, rows int) RETURNS real[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(ivf_row(page * 100 + j) ORDER BY j) FROM generate_series(1, rows) j
$$;
-- The question: three rows of page 42, as they are. STABLE, so plans show
-- a call, not the values (their last digits differ between machines).
CREATE FUNCTION ivf_question() RETURNS real[] LANGUAGE sql STABLE AS $$
    SELECT array_agg(ivf_row(4200 + j) ORDER BY j) FROM generate_series(2, 4) j
$$;

-- The first `n` candidates of `index` for the question now, against those
-- saved in a table before: how many, and how many differ in page or estimate.
CREATE FUNCTION ivf_differing(saved regclass, index regclass, n int)
RETURNS TABLE (candidates bigint, differing bigint) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT count(*), count(*) FILTER (WHERE (s.page, s.estimate) IS DISTINCT FROM (c.page, c.estimate))
         FROM (SELECT *, row_number() OVER () AS n FROM %s) s
         FULL JOIN (SELECT *, row_number() OVER () AS n FROM colpali_ivf_candidates(%L, ivf_question(), %s)) c USING (n)',
        saved, index, n);
END $$;

CREATE TABLE ivf_pages (id int PRIMARY KEY, embedding multihalfvec(8));
INSERT INTO ivf_pages SELECT i, ivf_page(i, 4) FROM generate_series(1, 300) i;

-- Built over an empty table: no centroids, so the planner keeps the exact scan.
CREATE TABLE ivf_empty (id int, embedding multihalfvec);
CREATE INDEX ivf_empty_index ON ivf_empty USING colpali_ivf (embedding);
INSERT INTO ivf_empty SELECT id, embedding FROM ivf_pages WHERE id <= 3;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_empty ORDER BY embedding <#> ivf_question() LIMIT 1;
RESET enable_seqscan;
SELECT colpali_ivf_lists('ivf_empty_index');
REINDEX INDEX ivf_empty_index;
SELECT colpali_ivf_lists('ivf_empty_index');
SELECT colpali_ivf_lists('ivf_pages_pkey') IS NULL AS other_kind;
SELECT colpali_ivf_lists('ivf_pages');
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_empty ORDER BY embedding <#> ivf_question() LIMIT 1;
RESET enable_seqscan;

-- Options.
CREATE INDEX ON ivf_pages USING colpali_ivf (embedding) WITH (lists = 0);
CREATE INDEX ON ivf_pages USING colpali_ivf (embedding) WITH (lists = 65537);
CREATE INDEX ON ivf_pages USING colpali_ivf (id);
CREATE INDEX ivf_index ON ivf_pages USING colpali_ivf (embedding) WITH (lists = 32);

-- ORDER BY <#> LIMIT uses the index; maxsim alone does not.
EXPLAIN (COSTS OFF) SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question() LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_pages WHERE embedding <#> ivf_question() < 0;

-- Candidates then the exact rerank find the page the question came from.
SELECT id, round(maxsim(ivf_question(), embedding)::numeric, 2) AS score FROM (
    SELECT id, embedding FROM ivf_pages ORDER BY embedding <#> ivf_question() LIMIT 10) candidates
ORDER BY maxsim(ivf_question(), embedding) DESC LIMIT 1;
-- The first stage alone: the index's ranking, no page read.
SELECT count(*) AS candidates, count(DISTINCT page) AS distinct_pages,
       bool_and(estimate IS NOT NULL) AS estimated
FROM colpali_ivf_candidates('ivf_index', ivf_question(), 10);
SELECT id FROM ivf_pages WHERE ctid IN (SELECT page FROM colpali_ivf_candidates('ivf_index', ivf_question(), 10))
ORDER BY maxsim(ivf_question(), embedding) DESC LIMIT 1;
-- The estimate credits a page once per question token, with the best probed
-- centroid it is filed under. With one token and every list probed, each
-- page gets one list's gain over the weakest: at most as many values as lists.
SET colpali.ivf_probes = 32;
SELECT count(*) AS candidates, count(DISTINCT estimate) <= 32 AS one_gain_per_token,
       min(estimate) >= 0 AS never_below_imputed
FROM colpali_ivf_candidates('ivf_index', ARRAY[ivf_row(4202)], 1000);
RESET colpali.ivf_probes;
-- A scan whose flat array would be too large credits pages in a hash
-- table instead; that path ranks exactly as the array does.
CREATE TEMP TABLE ivf_flat AS SELECT * FROM colpali_ivf_candidates('ivf_index', ivf_question(), 1000);
SET colpali.ivf_flat_credits = off;
SELECT * FROM ivf_differing('ivf_flat', 'ivf_index', 1000);
RESET colpali.ivf_flat_credits;
SELECT * FROM colpali_ivf_candidates('ivf_index', ivf_question(), -1);
SELECT * FROM colpali_ivf_candidates('ivf_pages_pkey', ivf_question(), 1);
-- The exact order without the index agrees.
SET enable_indexscan = off;
SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question() LIMIT 1;
RESET enable_indexscan;

-- An unlimited scan returns every page once, however many rounds it takes.
SET enable_seqscan = off;
SET enable_sort = off;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_pages
FROM (SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question()) every_page;
-- A selective filter still gets all its rows (one probe per token at first).
SET colpali.ivf_probes = 1;
SELECT count(*) AS filtered FROM (
    SELECT id FROM ivf_pages WHERE id % 60 = 7 ORDER BY embedding <#> ivf_question() LIMIT 10) f;
RESET colpali.ivf_probes;

-- A page inserted after the build is found: page 42 again, under a new id.
DELETE FROM ivf_pages WHERE id = 42;
INSERT INTO ivf_pages SELECT 1000, ivf_page(42, 4);
SELECT id FROM (SELECT id, embedding FROM ivf_pages ORDER BY embedding <#> ivf_question() LIMIT 10) candidates
ORDER BY maxsim(ivf_question(), embedding) DESC LIMIT 1;
INSERT INTO ivf_pages SELECT 42, ivf_page(42, 4);
-- Deleted pages are gone after VACUUM, and the rest are all still there.
DELETE FROM ivf_pages WHERE id = 1000 OR id % 3 = 0;
VACUUM ivf_pages;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_pages, bool_and(id % 3 <> 0) AS none_deleted
FROM (SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question()) every_page;
-- Inserts that fill new posting pages, then REINDEX.
INSERT INTO ivf_pages SELECT i, ivf_page(i, 4) FROM generate_series(2000, 2600) i;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_pages
FROM (SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question()) every_page;
-- Those rows went into space VACUUM freed, so lists are out of heap block
-- order: a scan asked to credit a block at a time (as large tables' scans
-- credit a range of blocks at a time) credits them all at once instead, and
-- ranks as the hash table does.
CREATE TEMP TABLE ivf_unordered AS SELECT * FROM colpali_ivf_candidates('ivf_index', ivf_question(), 1000);
SET colpali.ivf_credit_chunk_blocks = 1;
SELECT * FROM ivf_differing('ivf_unordered', 'ivf_index', 1000);
SET colpali.ivf_flat_credits = off;
SELECT * FROM ivf_differing('ivf_unordered', 'ivf_index', 1000);
RESET colpali.ivf_flat_credits;
RESET colpali.ivf_credit_chunk_blocks;
REINDEX INDEX ivf_index;
SELECT count(*) AS returned, count(DISTINCT id) AS distinct_pages
FROM (SELECT id FROM ivf_pages ORDER BY embedding <#> ivf_question()) every_page;
RESET enable_sort;
RESET enable_seqscan;

-- Bad input: a clear error, nothing changed.
SELECT id FROM ivf_pages ORDER BY embedding <#> '{{1,2,3}}'::real[] LIMIT 1;
SELECT id FROM ivf_pages ORDER BY embedding <#> '{{1,NaN,0,0,0,0,0,0}}'::real[] LIMIT 1;
INSERT INTO ivf_pages VALUES (5000, '{{1,2,3}}');
CREATE TABLE ivf_mixed (embedding multihalfvec);
INSERT INTO ivf_mixed VALUES ('{{1,2}}'), ('{{1,2,3}}');
CREATE INDEX ON ivf_mixed USING colpali_ivf (embedding);

-- An unlogged table's index.
CREATE UNLOGGED TABLE ivf_unlogged AS SELECT * FROM ivf_pages WHERE id < 50;
CREATE INDEX ON ivf_unlogged USING colpali_ivf (embedding) WITH (lists = 16);
SET enable_seqscan = off;
SET enable_sort = off;
SELECT count(DISTINCT id) AS distinct_pages FROM (SELECT id FROM ivf_unlogged ORDER BY embedding <#> ivf_question()) every_page;
RESET enable_sort;
RESET enable_seqscan;

-- amvalidate: the extension's operator class is valid; one for another
-- type, or serving another strategy, is not, and says why.
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'multihalfvec_maxsim_ops';
CREATE OPERATOR CLASS ivf_wrong_type_ops FOR TYPE real[] USING colpali_ivf AS
    OPERATOR 1 <#> (multihalfvec, real[]) FOR ORDER BY float_ops;
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'ivf_wrong_type_ops';
DROP OPERATOR FAMILY ivf_wrong_type_ops USING colpali_ivf;
CREATE OPERATOR CLASS ivf_search_ops FOR TYPE multihalfvec USING colpali_ivf AS
    OPERATOR 2 <#> (multihalfvec, real[]) FOR ORDER BY float_ops;
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'ivf_search_ops';
DROP OPERATOR FAMILY ivf_search_ops USING colpali_ivf;

-- More pages than a round puts in order at once (1,024), and than it keeps
-- while choosing those (4,096): the others follow, still best first.
CREATE TABLE ivf_many AS SELECT i AS id, ivf_page(i, 2)::multihalfvec(8) AS embedding FROM generate_series(1, 5000) i;
CREATE INDEX ivf_many_index ON ivf_many USING colpali_ivf (embedding) WITH (lists = 4);
SET colpali.ivf_probes = 4;
SELECT count(*) AS candidates, count(DISTINCT page) AS distinct_pages, bool_and(estimate <= previous) AS best_first
FROM (SELECT page, estimate, lag(estimate, 1, 'Infinity') OVER () AS previous
      FROM colpali_ivf_candidates('ivf_many_index', ivf_question(), 6000)) c;
-- The first 1,024 are the best 1,024 of all: the same set as the exact
-- order of every page's estimate.
SELECT count(*) AS in_both FROM
    (SELECT page FROM colpali_ivf_candidates('ivf_many_index', ivf_question(), 1024)) first
    JOIN (SELECT page FROM colpali_ivf_candidates('ivf_many_index', ivf_question(), 6000)
          ORDER BY estimate DESC, page LIMIT 1024) best USING (page);
-- Crediting one heap block at a time, as a large table's scan credits a
-- range of blocks at a time to keep the credits in cache, ranks exactly as
-- crediting every block at once.
CREATE TEMP TABLE ivf_whole AS SELECT * FROM colpali_ivf_candidates('ivf_many_index', ivf_question(), 6000);
SET colpali.ivf_credit_chunk_blocks = 1;
SELECT (SELECT count(DISTINCT (page::text::point)[0]) FROM ivf_whole) > 10 AS many_blocks;
SELECT * FROM ivf_differing('ivf_whole', 'ivf_many_index', 6000);
-- Those chunks are shared with helper threads where the CPUs and
-- max_parallel_workers_per_gather allow; without them, the same.
SET max_parallel_workers_per_gather = 0;
SELECT * FROM ivf_differing('ivf_whole', 'ivf_many_index', 6000);
RESET max_parallel_workers_per_gather;
RESET colpali.ivf_credit_chunk_blocks;
-- Two scans interleaved in one backend (cursors): each keeps its own
-- credits. The first takes 1,000 pages, the second one, then the first the
-- rest (from the credits its round left unranked): the same pages in the
-- same order as alone.
CREATE TEMP TABLE ivf_fetched (scan text, n int, id int);
SET enable_seqscan = off;
SET enable_sort = off;
DO $$
DECLARE
    a refcursor;
    b refcursor;
    page int;
    n int := 0;
BEGIN
    OPEN a FOR SELECT id FROM ivf_many ORDER BY embedding <#> ivf_question();
    OPEN b FOR SELECT id FROM ivf_many ORDER BY embedding <#> ivf_page(7, 3);
    LOOP
        FETCH a INTO page;
        EXIT WHEN NOT FOUND;
        n := n + 1;
        INSERT INTO ivf_fetched VALUES ('interleaved', n, page);
        IF n = 1000 THEN
            FETCH b INTO page;
        END IF;
    END LOOP;
    n := 0;
    FOR page IN SELECT id FROM ivf_many ORDER BY embedding <#> ivf_question() LOOP
        n := n + 1;
        INSERT INTO ivf_fetched VALUES ('alone', n, page);
    END LOOP;
END $$;
RESET enable_sort;
RESET enable_seqscan;
SELECT count(*) AS pages, count(*) FILTER (WHERE i.id IS DISTINCT FROM a.id) AS differing
FROM (SELECT * FROM ivf_fetched WHERE scan = 'interleaved') i
FULL JOIN (SELECT * FROM ivf_fetched WHERE scan = 'alone') a USING (n);
-- A scan that ends in an error leaves the next one working. (Whether the
-- error gave the kept memory back is not visible from SQL: a scan that
-- finds it taken allocates its own and answers the same.)
SET enable_seqscan = off;
SELECT id FROM ivf_many WHERE 1 / (id - 10) > -2 ORDER BY embedding <#> ivf_question() LIMIT 5000;
SELECT count(*) AS pages FROM (SELECT id FROM ivf_many ORDER BY embedding <#> ivf_question() LIMIT 2000) p;
RESET enable_seqscan;
RESET colpali.ivf_probes;
-- The last round reads every list, each token's weakest too: a one-token
-- question over two lists returns every page.
CREATE INDEX ivf_many_two ON ivf_many USING colpali_ivf (embedding) WITH (lists = 2);
SET colpali.ivf_probes = 2;
SELECT count(DISTINCT page) AS distinct_pages
FROM colpali_ivf_candidates('ivf_many_two', (ivf_question())[1:1][1:8], 6000);
RESET colpali.ivf_probes;

-- Built with helper threads (max_parallel_maintenance_workers, as the CPUs
-- allow) or by the backend alone, an index is the same: every page, each
-- with the same estimate. A page of more tokens than a batch (32,768) is a
-- batch of its own.
INSERT INTO ivf_many
SELECT 5001, array_agg(ARRAY[sin(j * 1.1), cos(j * 1.3), sin(j * 1.7), cos(j * 1.9),
                             sin(j * 2.3), cos(j * 2.9), sin(j * 3.1), cos(j * 3.7)]::real[] ORDER BY j)::multihalfvec(8)
FROM generate_series(1, 40000) j;
SET max_parallel_maintenance_workers = 0;
CREATE INDEX ivf_many_alone ON ivf_many USING colpali_ivf (embedding) WITH (lists = 4);
RESET max_parallel_maintenance_workers;
CREATE INDEX ivf_many_shared ON ivf_many USING colpali_ivf (embedding) WITH (lists = 4);
SET colpali.ivf_probes = 4;
SELECT count(*) AS pages, count(*) FILTER (WHERE a.estimate = b.estimate) AS same_estimate
FROM colpali_ivf_candidates('ivf_many_alone', ivf_question(), 6000) a
FULL JOIN colpali_ivf_candidates('ivf_many_shared', ivf_question(), 6000) b USING (page);
SELECT pg_relation_size('ivf_many_alone') = pg_relation_size('ivf_many_shared') AS same_size;
RESET colpali.ivf_probes;

DROP TABLE ivf_pages, ivf_empty, ivf_mixed, ivf_unlogged, ivf_many;
DROP FUNCTION ivf_differing(regclass, regclass, int), ivf_question(), ivf_page(int, int), ivf_row(int);
