-- Exact MaxSim: sum over query rows of the best dot product with any document row.
CREATE EXTENSION colpali;

-- Row 1 best matches doc row 1 (1), row 2 best matches doc row 3 (2): 3.
SELECT maxsim('{{1,0},{0,1}}'::real[], '{{1,0},{0.5,0.5},{0,2}}'::real[]);

-- Query first: the score is not symmetric (2 one way, 1 the other).
SELECT maxsim('{{1,0},{0,1}}'::real[], '{{1,1}}'::real[]) AS query_two_rows,
       maxsim('{{1,1}}'::real[], '{{1,0},{0,1}}'::real[]) AS query_one_row;

-- Negative best scores count as they are.
SELECT maxsim('{{-1,-1}}'::real[], '{{1,1},{2,2}}'::real[]);

-- One row on each side is a plain dot product.
SELECT maxsim('{{1,2,3}}'::real[], '{{4,5,6}}'::real[]);

-- Dimensions that are not a multiple of the SIMD width, and ragged row counts.
SELECT maxsim(array_fill(1::real, ARRAY[3, 17]), array_fill(2::real, ARRAY[5, 17]));
SELECT maxsim(array_fill(0.5::real, ARRAY[7, 1]), array_fill(-2::real, ARRAY[9, 1]));
SELECT maxsim(array_fill(0.25::real, ARRAY[5, 1000]), array_fill(0.5::real, ARRAY[2048, 1000]));

-- ColPali shape: 20 x 128 query, 1,030 x 128 page. Row i of the page is a
-- one-hot at column i % 128, scaled by i / 1030; query row r is a one-hot at
-- column r. Best for row r is the largest i with i % 128 = r.
WITH q AS (
  SELECT array_agg(r ORDER BY i) AS m FROM (
    SELECT i, array_agg(CASE WHEN k = i THEN 1 ELSE 0 END::real ORDER BY k) AS r
    FROM generate_series(0, 19) i, generate_series(0, 127) k GROUP BY i) s),
d AS (
  SELECT array_agg(r ORDER BY i) AS m FROM (
    SELECT i, array_agg(CASE WHEN k = i % 128 THEN i / 1030.0 ELSE 0 END::real ORDER BY k) AS r
    FROM generate_series(0, 1029) i, generate_series(0, 127) k GROUP BY i) s)
SELECT round(maxsim(q.m, d.m)::numeric, 4) AS score,
       round((SELECT sum(((1029 - ((1029 - r) % 128)) / 1030.0)) FROM generate_series(0, 19) r), 4) AS expected,
       multivector_rows(d.m) AS page_rows, multivector_dim(d.m) AS page_dim
FROM q, d;

-- Array lower bounds other than 1 do not matter.
SELECT maxsim('[0:1][5:6]={{1,0},{0,1}}'::real[], '{{1,0},{0,2}}'::real[]);

-- Helpers.
SELECT multivector_rows('{{1,2,3},{4,5,6}}'::real[]), multivector_dim('{{1,2,3},{4,5,6}}'::real[]);

-- Per-token maxima and the full similarity matrix (for similarity maps).
SELECT maxsim_rowmax('{{1,0},{0,1}}'::real[], '{{1,0},{0.5,0.5},{0,2}}'::real[]);
SELECT similarity_matrix('{{1,0},{0,1}}'::real[], '{{1,0},{0.5,0.5},{0,2}}'::real[]);
SELECT (SELECT sum(x) FROM unnest(maxsim_rowmax(q, d)) x) = maxsim(q, d) AS rowmax_sums_to_maxsim
FROM (VALUES ('{{1,-2,3},{0.5,0.5,0.5}}'::real[], '{{1,1,1},{-1,0,2},{3,0,0}}'::real[])) v(q, d);

-- NULL in, NULL out.
SELECT maxsim(NULL, '{{1}}'::real[]) IS NULL AS null_query,
       maxsim('{{1}}'::real[], NULL) IS NULL AS null_document,
       multivector_rows(NULL::real[]) IS NULL AS null_rows;

-- The kernel in use is one of the known ones.
SELECT colpali_kernel() IN ('avx512', 'avx2', 'scalar') AS known_kernel;
