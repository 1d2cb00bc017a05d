-- Bad input: each is an ERROR that names the problem and the sizes.

-- Not two-dimensional.
SELECT maxsim('{1,2,3}'::real[], '{{1,2,3}}'::real[]);
SELECT maxsim('{{1,2,3}}'::real[], '{{{1,2,3}}}'::real[]);
-- Empty.
SELECT maxsim('{}'::real[], '{{1}}'::real[]);
SELECT maxsim('{{1}}'::real[], '{}'::real[]);
-- NULL elements.
SELECT maxsim('{{1,NULL}}'::real[], '{{1,2}}'::real[]);
SELECT maxsim('{{1,2}}'::real[], '{{1,2},{NULL,4}}'::real[]);
-- Dimension mismatch.
SELECT maxsim('{{1,2,3}}'::real[], '{{1,2},{3,4}}'::real[]);
-- NaN and infinities.
SELECT maxsim('{{1,NaN}}'::real[], '{{1,2}}'::real[]);
SELECT maxsim('{{1,2}}'::real[], '{{1,2},{3,Infinity}}'::real[]);
SELECT maxsim('{{1,2}}'::real[], '{{1,2},{-Infinity,4}}'::real[]);
SELECT maxsim('{{1,2}}'::real[], '{{NaN,2}}'::real[]);
SELECT binary_quantize('{{1,NaN}}'::real[]);
-- Finite values whose products overflow.
SELECT maxsim('{{3e38,3e38}}'::real[], '{{3e38,3e38}}'::real[]);
-- Codes that are not a whole number of rows, empty codes, bad dim.
SELECT maxsim_hamming('\x0102'::bytea, '\x010203'::bytea, 16);
SELECT maxsim_hamming(''::bytea, '\x01'::bytea, 8);
SELECT maxsim_hamming('\x01'::bytea, '\x01'::bytea, 0);
SELECT maxsim_binary('{{1,2,3,4,5,6,7,8,9}}'::real[], '\x010203'::bytea);
-- The helpers check their argument too.
SELECT multivector_dim('{1,2}'::real[]);
SELECT similarity_matrix('{{1,2}}'::real[], '{{1,2,3}}'::real[]);
-- The per-token functions check like maxsim does.
SELECT maxsim_rowmax('{1,2}'::real[], '{{1,2}}'::real[]);
SELECT maxsim_rowmax('{{1,2}}'::real[], '{{1,2,3}}'::real[]);
SELECT maxsim_rowmax('{{1,NaN}}'::real[], '{{1,2}}'::real[]);
SELECT maxsim_rowmax('{{1,2}}'::real[], '{{1,2},{Infinity,1}}'::real[]);
SELECT maxsim_rowmax('{{1,2}}'::real[], '{{1,NULL}}'::real[]);
SELECT similarity_matrix('{{1,2}}'::real[], '{{1,-Infinity}}'::real[]);
-- binary_quantize: infinities and NULLs are refused, not given a sign.
SELECT binary_quantize('{{1,Infinity}}'::real[]);
SELECT binary_quantize('{{-Infinity,1}}'::real[]);
SELECT binary_quantize('{{1,NULL}}'::real[]);
SELECT binary_quantize('{}'::real[]);
