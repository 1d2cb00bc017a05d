-- Sign-bit codes and the binary prefilter scores.

-- Bit = 1 when x > 0; most significant bit first; rows padded to whole bytes.
-- Row 1: 1 -1 0 2 0.5 -3 0 1 | 1  -> 10011001 1(0000000) -> \x99 \x80
-- Row 2: all negative              -> \x00 \x00
SELECT binary_quantize('{{1,-1,0,2,0.5,-3,0,1,1},{-1,-1,-1,-1,-1,-1,-1,-1,-1}}'::real[]);

-- Same bit order as pgvector's bit type: 16 values -> 2 bytes.
SELECT binary_quantize('{{1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1}}'::real[]);

-- Symmetric: per query row, dim - 2 * min Hamming distance, summed.
-- Identical single rows of dim 9: 9.
SELECT maxsim_hamming(binary_quantize('{{1,-1,1,-1,1,-1,1,-1,1}}'::real[]),
                      binary_quantize('{{1,-1,1,-1,1,-1,1,-1,1}}'::real[]), 9);
-- Opposite rows: -9; with a second, closer document row (1 bit off): 7.
SELECT maxsim_hamming(binary_quantize('{{1,-1,1,-1,1,-1,1,-1,1}}'::real[]),
                      binary_quantize('{{-1,1,-1,1,-1,1,-1,1,-1}}'::real[]), 9) AS opposite,
       maxsim_hamming(binary_quantize('{{1,-1,1,-1,1,-1,1,-1,1}}'::real[]),
                      binary_quantize('{{-1,1,-1,1,-1,1,-1,1,-1},{1,-1,1,-1,1,-1,1,-1,-1}}'::real[]), 9) AS one_bit_off;

-- 128 dimensions (the vectorised path): query row = doc row 2 exactly: 128;
-- a second query row opposite to every doc row: 128 - 256 = -128; sum 0.
WITH rows AS (
  SELECT array_fill(1::real, ARRAY[1, 128]) AS plus,
         array_fill(-1::real, ARRAY[1, 128]) AS minus)
SELECT maxsim_hamming(binary_quantize(plus), binary_quantize(minus || plus || minus || minus || minus), 128) AS exact_match,
       maxsim_hamming(binary_quantize(plus || minus), binary_quantize(plus || plus || plus || plus || plus), 128) AS plus_and_minus
FROM rows;

-- Asymmetric: float query against +-1 document bits.
-- q = (0.5, -1, 2); doc rows +,+,+ -> 1.5 ; -,-,+ -> 2.5 : best 2.5.
SELECT maxsim_binary('{{0.5,-1,2}}'::real[], binary_quantize('{{1,1,1},{-1,-1,1}}'::real[]));
-- Equals exact maxsim against the sign vectors.
SELECT maxsim_binary(q, binary_quantize(d)) = maxsim(q, '{{1,1,1},{-1,-1,1}}'::real[]) AS equals_sign_maxsim
FROM (VALUES ('{{0.5,-1,2},{1,1,-1}}'::real[], '{{3,2,1},{-0.5,-7,4}}'::real[])) v(q, d);

-- NULLs.
SELECT binary_quantize(NULL::real[]) IS NULL AS quantize_null,
       maxsim_hamming(NULL, '\x00'::bytea, 8) IS NULL AS hamming_null,
       maxsim_binary('{{1}}'::real[], NULL::bytea) IS NULL AS binary_null;
