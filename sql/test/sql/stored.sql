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
-- Odd sizes, 30 x 130 and 700 x 17, every value different by position (so
-- a float read from the wrong place changes the score): element (r, c) is
-- ((r * 131 + c * 7) % 11 - 5) / 8.
INSERT INTO stored
SELECT 2, array_agg(r ORDER BY i) FROM (
  SELECT i, array_agg(((i * 131 + k * 7) % 11 - 5) / 8.0::real ORDER BY k) AS r
  FROM generate_series(0, 29) i, generate_series(0, 129) k GROUP BY i) s;
INSERT INTO stored
SELECT 3, array_agg(r ORDER BY i) FROM (
  SELECT i, array_agg(((i * 131 + k * 7) % 11 - 5) / 8.0::real ORDER BY k) AS r
  FROM generate_series(0, 699) i, generate_series(0, 16) k GROUP BY i) s;
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
-- Against all-twos (2 x 130): twice the largest row sum, times 2.
SELECT 2 * 2 * max(s) AS expected FROM (
  SELECT i, sum(((i * 131 + k * 7) % 11 - 5) / 8.0) AS s
  FROM generate_series(0, 29) i, generate_series(0, 129) k GROUP BY i) t;
SELECT id, maxsim(array_fill(2::real, ARRAY[2, 130]), embedding) AS streamed FROM stored WHERE id = 2;
-- Against one-hot rows (17 x 17): the largest value of each column, summed.
CREATE TABLE onehot17 AS
SELECT array_agg(r ORDER BY c) AS m FROM (
  SELECT c, array_agg(CASE WHEN k = c THEN 1 ELSE 0 END::real ORDER BY k) AS r
  FROM generate_series(0, 16) c, generate_series(0, 16) k GROUP BY c) s;
SELECT sum(best) AS expected FROM (
  SELECT k, max(((i * 131 + k * 7) % 11 - 5) / 8.0) AS best
  FROM generate_series(0, 699) i, generate_series(0, 16) k GROUP BY k) t;
SELECT id, maxsim(q.m, embedding) AS streamed FROM stored, onehot17 q WHERE id = 3;
SET colpali.stream_toast = off;
SELECT id, maxsim(array_fill(2::real, ARRAY[2, 130]), embedding) AS detoasted FROM stored WHERE id = 2;
SELECT id, maxsim(q.m, embedding) AS detoasted FROM stored, onehot17 q WHERE id = 3;
RESET colpali.stream_toast;
SELECT id, maxsim('{{1,1}}'::real[], embedding) FROM stored WHERE id = 4;

-- Errors through the stored path.
SELECT maxsim(array_fill(1::real, ARRAY[1, 64]), embedding) FROM stored WHERE id = 1;
UPDATE stored SET embedding[500][7] = 'NaN' WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 128]), embedding) FROM stored WHERE id = 1;
UPDATE stored SET embedding[500][7] = 'Infinity' WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 128]), embedding) FROM stored WHERE id = 1;

-- A compressed value (storage MAIN/EXTENDED) is not streamed: the detoasting
-- path scores it, with the same result.
CREATE TABLE compressed (id int, embedding real[]);
ALTER TABLE compressed ALTER COLUMN embedding SET STORAGE EXTENDED;
INSERT INTO compressed SELECT 1, array_fill(0.5::real, ARRAY[1030, 128]);
SELECT pg_column_size(embedding) < 1030 * 128 * 4 AS compressed FROM compressed;
SET client_min_messages = debug2;
SELECT maxsim(array_fill(1::real, ARRAY[2, 128]), embedding) FROM compressed;
RESET client_min_messages;

DROP TABLE stored, onehot, onehot17, compressed;
