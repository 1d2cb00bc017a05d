-- multihalfvec: multi-vectors in half precision, half the bytes of real[][],
-- scored by the same kernels with the same results as their values widened.
-- Standalone (installcheck REGRESS=this file, as scripts/mutate.sh runs it)
-- or after the others: the same output either way.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS colpali;
ALTER EXTENSION colpali UPDATE;
RESET client_min_messages;

-- Text form is real[][]'s; values round to the nearest half (0.1 is not one).
SELECT '{{0.5,-1},{0.25,2}}'::multihalfvec;
SELECT '{{0.1,65504,65519,-0.000000059604645,0.00000003}}'::multihalfvec;
-- Text output reads back as the same value.
SELECT '{{0.1,0.2,0.3}}'::multihalfvec::text::multihalfvec::real[] = '{{0.1,0.2,0.3}}'::multihalfvec::real[] AS round_trips;

-- Errors: beyond the half range, non-finite values, NULLs, wrong shapes.
SELECT '{{65520}}'::multihalfvec;
SELECT '{{1,2},{3,-70000}}'::multihalfvec;
SELECT '{{1,NaN}}'::multihalfvec;
SELECT '{{Infinity}}'::multihalfvec;
SELECT '{{1,NULL}}'::multihalfvec;
SELECT '{1,2}'::multihalfvec;
SELECT '{}'::multihalfvec;
SELECT 'not an array'::multihalfvec;
SELECT ARRAY[[1e6]]::real[]::multihalfvec;

-- The dimension as a type modifier.
SELECT '{{1,2}}'::multihalfvec(2);
SELECT '{{1,2}}'::multihalfvec(3);
SELECT '{{1,2}}'::multihalfvec(0);
SELECT '{{1,2}}'::multihalfvec(2, 3);
CREATE TABLE fixed (e multihalfvec(2));
INSERT INTO fixed VALUES ('{{1,2}}'), (ARRAY[[3,4],[5,6]]::real[]);
INSERT INTO fixed VALUES (ARRAY[[1,2,3]]::real[]);
SELECT e, multivector_rows(e) AS rows, multivector_dim(e) AS dim FROM fixed ORDER BY 2;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'fixed'::regclass AND attname = 'e';

-- A real[][] is stored by assignment; reading one back as real[][] is exact.
SELECT pg_typeof(e::real[]), e::real[] FROM fixed ORDER BY multivector_rows(e);
SELECT maxsim('{{1,0}}'::real[], '{{0.5,0.5}}'::real[]::multihalfvec);

-- Scores: the same as real[][] holding the same (widened) values.
SELECT maxsim('{{1,0},{0,1}}'::real[], '{{1,0},{0.5,0.5},{0,2}}'::multihalfvec);
SELECT maxsim('{{1,0.1},{0,1}}'::real[], '{{0.1,0.7},{0.3,0.2}}'::multihalfvec)
     = maxsim('{{1,0.1},{0,1}}'::real[], '{{0.1,0.7},{0.3,0.2}}'::multihalfvec::real[]) AS same_as_widened;
SELECT maxsim('{{1,0}}'::real[], '{{1,0,0}}'::multihalfvec);
SELECT maxsim('{{1,NaN}}'::real[], '{{1,0}}'::multihalfvec);
-- Every real[][] function takes a multihalfvec through the exact cast.
SELECT maxsim_rowmax('{{1,0},{0,1}}'::real[], '{{1,0},{0,2}}'::multihalfvec);
SELECT binary_quantize('{{0.5,-0.5,0,-0,0.00000006}}'::multihalfvec) AS codes,
       binary_quantize('{{0.5,-0.5,0,-0,0.00000006}}'::multihalfvec::real[]) AS codes_of_widened;
-- Which maxsim a call resolves to: the exact match, for either document type.
SELECT pg_typeof(maxsim('{{1}}', '{{1}}'::multihalfvec)), pg_typeof(maxsim('{{1}}'::real[], '{{1}}'::real[]));

-- Stored out of line: a 1,030 x 128 page scored from its TOAST chunks, the
-- same page detoasted, and its widened real[][] give the same score.
CREATE TABLE stored_half (id int PRIMARY KEY, embedding multihalfvec);
INSERT INTO stored_half
SELECT 1, array_agg(r ORDER BY i)::multihalfvec FROM (
  SELECT i, array_agg((((i * 131 + k * 7) % 11 - 5) / 8.0)::real ORDER BY k) AS r
  FROM generate_series(0, 1029) i, generate_series(0, 127) k GROUP BY i) s;
-- Odd sizes: rows straddle chunk boundaries.
INSERT INTO stored_half
SELECT 2, array_agg(r ORDER BY i)::multihalfvec FROM (
  SELECT i, array_agg((((i * 37 + k * 11) % 13 - 6) / 16.0)::real ORDER BY k) AS r
  FROM generate_series(0, 1300) i, generate_series(0, 17) k GROUP BY i) s;
SELECT id, pg_column_size(embedding) AS stored_bytes, multivector_rows(embedding) AS rows,
       multivector_dim(embedding) AS dim, attstorage
FROM stored_half, pg_attribute WHERE attrelid = 'stored_half'::regclass AND attname = 'embedding' ORDER BY id;
CREATE TABLE queries AS
SELECT 128 AS dim, array_agg(r ORDER BY i) AS q FROM (
  SELECT i, array_agg((((i * 17 + k * 3) % 7 - 3) / 4.0)::real ORDER BY k) AS r
  FROM generate_series(0, 19) i, generate_series(0, 127) k GROUP BY i) s
UNION ALL
SELECT 18, array_agg(r ORDER BY i) FROM (
  SELECT i, array_agg((((i * 17 + k * 3) % 7 - 3) / 4.0)::real ORDER BY k) AS r
  FROM generate_series(0, 4) i, generate_series(0, 17) k GROUP BY i) s;
CREATE TABLE streamed AS
SELECT id, maxsim(q, embedding) AS score FROM stored_half JOIN queries ON dim = multivector_dim(embedding);
SET colpali.stream_toast = off;
CREATE TABLE detoasted AS
SELECT id, maxsim(q, embedding) AS score FROM stored_half JOIN queries ON dim = multivector_dim(embedding);
RESET colpali.stream_toast;
SELECT s.id, s.score, s.score = d.score AS streamed_equals_detoasted,
       s.score = maxsim(q, embedding::real[]) AS equals_widened_real_array
FROM streamed s JOIN detoasted d USING (id) JOIN stored_half h USING (id)
JOIN queries ON dim = multivector_dim(embedding) ORDER BY id;
-- The streamed path really streams (DEBUG2 names the chunks).
SET client_min_messages = debug2;
SELECT maxsim(q, embedding) > 0 FROM stored_half JOIN queries ON dim = multivector_dim(embedding) WHERE id = 2;
RESET client_min_messages;
-- A dimension mismatch is the same ERROR on both paths.
SELECT maxsim('{{1,2}}'::real[], embedding) FROM stored_half WHERE id = 1;
SET colpali.stream_toast = off;
SELECT maxsim('{{1,2}}'::real[], embedding) FROM stored_half WHERE id = 1;
RESET colpali.stream_toast;

-- Binary I/O: a COPY in binary format carries every value exactly (psql
-- writes the file under the regression results).
CREATE TEMP TABLE copied (LIKE stored_half);
\copy stored_half TO 'test/results/multihalfvec.bin' WITH (FORMAT binary)
\copy copied FROM 'test/results/multihalfvec.bin' WITH (FORMAT binary)
SELECT count(*) AS copied, bool_and(c.embedding::real[] = s.embedding::real[]) AS identical
FROM copied c JOIN stored_half s USING (id);

-- Sign planes (extension 1.4): new values keep their sign-bit codes first,
-- once, then each value's other 15 bits. The same pages written in the rows
-- layout of 1.2 and 1.3 (colpali.sign_planes off) read the same everywhere.
SET colpali.sign_planes = off;
CREATE TABLE rows_layout AS SELECT id, embedding::real[]::multihalfvec AS embedding FROM stored_half;
RESET colpali.sign_planes;
ALTER TABLE rows_layout ALTER COLUMN embedding SET STORAGE EXTERNAL;
-- A 1,030 x 128 page is the size of its halves alone (dim 18 pads its codes).
SELECT id, pg_column_size(h.embedding) AS planes_bytes, pg_column_size(r.embedding) AS rows_bytes
FROM stored_half h JOIN rows_layout r USING (id) ORDER BY id;
CREATE VIEW layouts_agree AS
SELECT id, maxsim(q, h.embedding) = s.score AND maxsim(q, r.embedding) = s.score AS same_score,
       h.embedding::text = r.embedding::text AS same_text,
       binary_quantize(h.embedding) = binary_quantize(h.embedding::real[])
         AND binary_quantize(r.embedding) = binary_quantize(h.embedding::real[]) AS same_codes,
       maxsim_hamming(binary_quantize(q), h.embedding, dim)
             = maxsim_hamming(binary_quantize(q), binary_quantize(h.embedding::real[]), dim)
         AND maxsim_hamming(binary_quantize(q), r.embedding, dim)
             = maxsim_hamming(binary_quantize(q), binary_quantize(h.embedding::real[]), dim) AS same_hamming,
       maxsim_binary(q, h.embedding) = maxsim_binary(q, binary_quantize(h.embedding::real[]))
         AND maxsim_binary(q, r.embedding) = maxsim_binary(q, binary_quantize(h.embedding::real[])) AS same_binary
FROM stored_half h JOIN rows_layout r USING (id) JOIN streamed s USING (id)
JOIN queries ON dim = multivector_dim(h.embedding);
SELECT * FROM layouts_agree ORDER BY id;
SET colpali.stream_toast = off;
SELECT * FROM layouts_agree ORDER BY id;
RESET colpali.stream_toast;
-- The prefilters read a stored page's codes alone, from its first chunks as
-- the exact scan reads them (DEBUG2 names the slice);
-- a page in the rows layout, whose header the slice shows, is then read whole.
SET client_min_messages = debug2;
SELECT maxsim_hamming(binary_quantize(q), embedding, dim) > 0 AS planes
FROM stored_half JOIN queries ON dim = multivector_dim(embedding) WHERE id = 1;
SELECT maxsim_binary(q, embedding) > 0 AS rows_layout
FROM rows_layout JOIN queries ON dim = multivector_dim(embedding) WHERE id = 1;
RESET client_min_messages;
-- In memory too; a -0 comes back +0 in sign planes (the rows layout keeps it).
SELECT maxsim_hamming(binary_quantize('{{1,-1}}'::real[]), '{{0.5,-0.5},{-1,1}}'::multihalfvec, 2) AS hamming,
       maxsim_binary('{{1,-1}}'::real[], '{{0.5,-0.5},{-1,1}}'::multihalfvec) AS binary,
       '{{-0,0,-0.5,0.00000006}}'::multihalfvec AS planes;
SET colpali.sign_planes = off;
SELECT '{{-0,0,-0.5,0.00000006}}'::multihalfvec AS rows_layout;
RESET colpali.sign_planes;
-- Codes of another dimension than the page's: an ERROR, stored or not.
SELECT maxsim_hamming(binary_quantize('{{1,2}}'::real[]), embedding, 2) FROM stored_half WHERE id = 1;
SELECT maxsim_hamming(binary_quantize('{{1,2}}'::real[]), '{{1,2,3}}'::multihalfvec, 2);
SELECT maxsim_binary('{{1,2}}'::real[], embedding) FROM stored_half WHERE id = 1;
