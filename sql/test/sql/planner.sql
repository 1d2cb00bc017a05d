-- The planner uses maxsim in ORDER BY ... LIMIT, and may run it in parallel.
CREATE TABLE pages (id int PRIMARY KEY, embedding real[] NOT NULL, codes bytea NOT NULL);
ALTER TABLE pages ALTER COLUMN embedding SET STORAGE EXTERNAL;
INSERT INTO pages
SELECT i, e, binary_quantize(e)
FROM generate_series(1, 200) i,
     LATERAL (SELECT array_fill((i % 7 - 3)::real, ARRAY[4, 16]) AS e) s;
ANALYZE pages;

-- Top 3 by exact score: rows with i % 7 = 6 (value 3) against an all-ones query.
SELECT id, maxsim(array_fill(1::real, ARRAY[2, 16]), embedding) AS score
FROM pages ORDER BY maxsim(array_fill(1::real, ARRAY[2, 16]), embedding) DESC, id LIMIT 3;

EXPLAIN (COSTS OFF)
SELECT id FROM pages ORDER BY maxsim('{{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}}'::real[], embedding) DESC LIMIT 10;

-- Under default settings the heap is too small for a parallel scan (its
-- vectors live in TOAST); migration 0002 sets parallel_workers on pages, and
-- then the expensive function runs in workers under PostgreSQL's own settings.
ALTER TABLE pages SET (parallel_workers = 8);
-- PostgreSQL's default (a local cluster asks for one worker fewer than its CPUs).
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT id FROM pages ORDER BY maxsim('{{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}}'::real[], embedding) DESC LIMIT 10;
SELECT id FROM pages ORDER BY maxsim('{{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}}'::real[], embedding) DESC, id LIMIT 3;

-- Two stages: prefilter candidates by codes, then rerank them exactly.
EXPLAIN (COSTS OFF)
WITH candidates AS (
  SELECT id, embedding FROM pages
  ORDER BY maxsim_hamming(binary_quantize('{{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}}'::real[]), codes, 16) DESC
  LIMIT 20)
SELECT id FROM candidates
ORDER BY maxsim('{{1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1}}'::real[], embedding) DESC LIMIT 5;
RESET ALL;

DROP TABLE pages;
