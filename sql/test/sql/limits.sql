-- Hostile input: sizes beyond the limits (65,536 rows x 16,384 columns) are
-- an ERROR on every path, before anything is allocated from them, and long
-- calls stop when the query is cancelled.

-- The crash of the hardening issue, as a role with nothing but TEMP: a stored
-- 1 x 33,554,432 document once overflowed the stream's staging size.
CREATE ROLE regress_hostile;
SET ROLE regress_hostile;
CREATE TEMP TABLE tt (e real[]);
ALTER TABLE tt ALTER COLUMN e SET STORAGE EXTERNAL;
INSERT INTO tt SELECT array_fill(0.5::real, ARRAY[1, 33554432]);
SELECT maxsim(array_fill(0.5::real, ARRAY[1, 33554432]), e) FROM tt;
SELECT maxsim(array_fill(0.5::real, ARRAY[1, 128]), e) FROM tt;
SET colpali.stream_toast = off;
SELECT maxsim(array_fill(0.5::real, ARRAY[1, 128]), e) FROM tt;
RESET colpali.stream_toast;
DROP TABLE tt;
RESET ROLE;
DROP ROLE regress_hostile;

-- Just past each limit, streamed and detoasted: the same ERROR.
CREATE TABLE wide (id int PRIMARY KEY, e real[]);
ALTER TABLE wide ALTER COLUMN e SET STORAGE EXTERNAL;
INSERT INTO wide SELECT 1, array_fill(0.25::real, ARRAY[1, 16385]);
INSERT INTO wide SELECT 2, array_fill(0.25::real, ARRAY[65537, 1]);
INSERT INTO wide SELECT 3, array_fill(0.25::real, ARRAY[2, 16384]);
SELECT id, pg_column_size(e) > 2000 AS out_of_line FROM wide ORDER BY id;
SELECT maxsim(array_fill(1::real, ARRAY[1, 16385]), e) FROM wide WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 16]), e) FROM wide WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 1]), e) FROM wide WHERE id = 2;
SET colpali.stream_toast = off;
SELECT maxsim(array_fill(1::real, ARRAY[1, 16]), e) FROM wide WHERE id = 1;
SELECT maxsim(array_fill(1::real, ARRAY[1, 1]), e) FROM wide WHERE id = 2;
RESET colpali.stream_toast;
-- At the limit is fine, either way.
SELECT maxsim(array_fill(1::real, ARRAY[1, 16384]), e) FROM wide WHERE id = 3;
SET colpali.stream_toast = off;
SELECT maxsim(array_fill(1::real, ARRAY[1, 16384]), e) FROM wide WHERE id = 3;
RESET colpali.stream_toast;
DROP TABLE wide;
-- Every function checks its arguments' shapes.
SELECT binary_quantize(array_fill(1::real, ARRAY[1, 16385]));
SELECT maxsim_rowmax(array_fill(1::real, ARRAY[65537, 1]), '{{1}}');
SELECT similarity_matrix('{{1}}', array_fill(1::real, ARRAY[65537, 1]));
SELECT multivector_rows(array_fill(1::real, ARRAY[1, 16385]));
SELECT maxsim_binary(array_fill(1::real, ARRAY[1, 16385]), '\x00'::bytea);

-- Codes: the dimension is bounded (INT_MAX once overflowed dim + 1), rows
-- too, and codes with bits set past the dimension are not codes of it.
SELECT maxsim_hamming('\xff'::bytea, '\x00'::bytea, 2147483647);
SELECT maxsim_hamming('\xff'::bytea, '\x00'::bytea, 16385);
SELECT maxsim_hamming('\xff'::bytea, '\x00'::bytea, 1);
SELECT maxsim_hamming('\x80'::bytea, '\x00'::bytea, 1);
SELECT maxsim_hamming('\x80'::bytea, '\x40'::bytea, 2);
SELECT maxsim_hamming('\x8000c0'::bytea, '\x00'::bytea, 1);
SELECT maxsim_hamming('\x00'::bytea, decode(repeat('00', 65537), 'hex'), 8);
SELECT maxsim_binary('{{1,-1,1}}'::real[], '\xa1'::bytea);
-- A dimension that does not match the codes' row size.
SELECT maxsim_hamming(binary_quantize(array_fill(1::real, ARRAY[2, 128])),
                      binary_quantize(array_fill(1::real, ARRAY[2, 128])), 120);

-- Finite values whose products overflow: an ERROR everywhere, never Infinity.
SELECT maxsim('{{3e38,3e38}}'::real[], '{{3e38,3e38}}'::real[]);
SELECT maxsim_rowmax('{{3e38,3e38}}'::real[], '{{3e38,3e38}}'::real[]);
SELECT similarity_matrix('{{3e38,3e38}}'::real[], '{{3e38,3e38}}'::real[]);
SELECT maxsim_binary('{{3e38,3e38}}'::real[], '\xc0'::bytea);
SELECT maxsim_binary(array_fill(3e38::real, ARRAY[4, 2]), '\xc0'::bytea);

-- Cancellation: each call would run for seconds; with a 100 ms statement
-- timeout it must stop well within one second of it.
CREATE FUNCTION pg_temp.stops_quickly(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    BEGIN
        EXECUTE statement;
    EXCEPTION WHEN query_canceled THEN
        RETURN CASE WHEN clock_timestamp() - started < interval '1.2 s'
                    THEN 'cancelled in time' ELSE 'cancelled late' END;
    END;
    RETURN 'ran to the end';
END $$;
SET statement_timeout = '100ms';
SELECT pg_temp.stops_quickly(
  'SELECT similarity_matrix(array_fill(0.5::real, ARRAY[4000, 1024]), array_fill(0.5::real, ARRAY[4000, 1024]))');
SELECT pg_temp.stops_quickly(
  'SELECT maxsim(array_fill(0.5::real, ARRAY[16000, 512]), array_fill(0.5::real, ARRAY[16000, 512]))');
SELECT pg_temp.stops_quickly(
  'SELECT maxsim_rowmax(array_fill(0.5::real, ARRAY[16000, 512]), array_fill(0.5::real, ARRAY[16000, 512]))');
SELECT pg_temp.stops_quickly(
  'SELECT maxsim_hamming(decode(repeat(''0f'', 1048576), ''hex''), decode(repeat(''f0'', 1048576), ''hex''), 128)');
SELECT pg_temp.stops_quickly(
  'SELECT maxsim_binary(array_fill(0.5::real, ARRAY[65536, 128]), decode(repeat(''f0'', 1048576), ''hex''))');
SELECT pg_temp.stops_quickly(
  'SELECT maxsim_hamming(decode(repeat(''0f'', 524288), ''hex''), decode(repeat(''f0'', 524288), ''hex''), 64)');
RESET statement_timeout;
