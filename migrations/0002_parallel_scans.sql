-- 0002: let the planner scan pages in parallel.
--
-- A pages row is small in the heap (its vectors live in TOAST), so by heap
-- size alone Postgres would never plan parallel workers for it, while each
-- row costs a full MaxSim. This is a cap, not a demand: the planner still
-- uses at most max_parallel_workers_per_gather, and only when the scoring
-- functions' costs make a parallel plan cheaper.
ALTER TABLE pages SET (parallel_workers = 8);
