-- Stored (TOASTed) documents are scored from their chunks: same results and
-- errors as for in-memory arrays.
CREATE TABLE stored (id int PRIMARY KEY, embedding real[]);
ALTER TABLE stored ALTER COLUMN embedding SET STORAGE EXTERNAL;

-- 1,030 x 128 like a ColPali page: rows straddle chunk boundaries. Row i has
-- value (i % 97 - 48) / 100 at column i % 128, zero elsewhere.
INSERT INTO stored
SELECT 1, array_agg(r ORDER BY i) FROM (
  SELECT i, array_agg(CASE WHEN k = i % 128 THEN (i % 97 - 48) / 100.0 ELSE 0 END::real ORDER BY k) AS r
  FROM generate_series(0, 1029) i, generate_series(0, 127) k GROUP BY i) s;
-- Odd sizes: 30 x 130 and 700 x 17.
INSERT INTO stored SELECT 2, array_fill(0.5::real, ARRAY[30, 130]);
INSERT INTO stored SELECT 3, array_fill(-0.25::real, ARRAY[700, 17]);
-- Small enough to stay inline.
INSERT INTO stored SELECT 4, '{{1,2},{3,4}}'::real[];

SELECT id, pg_column_size(embedding) > 2000 AS out_of_line FROM stored ORDER BY id;

-- A query that sees where every float landed: row c is one-hot at column c,
-- so its best match is the largest value stored in column c. Expected from
-- plain SQL over the generator, and from the detoasting path.
CREATE TABLE onehot AS
SELECT array_agg(r ORDER BY c) AS m FROM (
  SELECT c, array_agg(CASE WHEN k = c THEN 1 ELSE 0 END::real ORDER BY k) AS r
  FROM generate_series(0, 127) c, generate_series(0, 127) k GROUP BY c) s;
SELECT round(sum(best)::numeric, 3) AS expected FROM (
  SELECT i % 128 AS c, max((i % 97 - 48) / 100.0) AS best FROM generate_series(0, 1029) i GROUP BY 1) s;
SET client_min_messages = debug2;
SELECT round(maxsim(q.m, s.embedding)::numeric, 3) AS streamed FROM stored s, onehot q WHERE s.id = 1;
RESET client_min_messages;
SET colpali.stream_toast = off;
SELECT round(maxsim(q.m, s.embedding)::numeric, 3) AS detoasted FROM stored s, onehot q WHERE s.id = 1;
RESET colpali.stream_toast;
SELECT id, maxsim(array_fill(2::real, ARRAY[2, 130]), embedding) FROM stored WHERE id = 2;
SELECT id, maxsim(array_fill(1::real, ARRAY[5, 17]), embedding) FROM stored WHERE id = 3;
SELECT id, maxsim('{{1,1}}'::real[], embedding) FROM stored WHERE id = 4;

-- Errors through the stored path.
SELECT maxsim(array_fill(1::real, ARRAY[1, 64]), embedding) FROM stored WHERE id = 1;
UPDATE stored SET embedding[500][7] = 'NaN' WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 128]), embedding) FROM stored WHERE id = 1;
UPDATE stored SET embedding[500][7] = 'Infinity' WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 128]), embedding) FROM stored WHERE id = 1;

DROP TABLE stored, onehot;
