-- Upgrade path: install 1.0, then ALTER EXTENSION ... UPDATE to 1.1.
DROP EXTENSION colpali;
CREATE EXTENSION colpali VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'colpali';
SELECT count(*) AS v11_functions FROM pg_proc WHERE proname IN ('maxsim_rowmax', 'similarity_matrix');
ALTER EXTENSION colpali UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'colpali';
SELECT maxsim_rowmax('{{1,0},{0,1}}'::real[], '{{1,0},{0,2}}'::real[]);

-- Every function is immutable (or stable), strict where it takes arguments,
-- parallel safe, and commented.
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel, p.procost,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'colpali'
ORDER BY p.proname;

-- 1.1 -> 1.2: multihalfvec.
DROP EXTENSION colpali;
CREATE EXTENSION colpali VERSION '1.1';
ALTER EXTENSION colpali UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'colpali';
SELECT maxsim('{{1,0},{0,1}}'::real[], '{{1,0},{0,2}}'::multihalfvec);
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, p.provolatile, p.proisstrict,
       p.proparallel, p.procost, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'colpali'
WHERE pg_get_function_identity_arguments(p.oid) LIKE '%multihalfvec%' OR p.proname LIKE 'multihalfvec%'
ORDER BY 1, 2;

-- 1.2 -> 1.3: the colpali_ivf index and its <#> operator.
DROP EXTENSION colpali;
CREATE EXTENSION colpali VERSION '1.2';
ALTER EXTENSION colpali UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'colpali';
SELECT amname, amtype FROM pg_am WHERE amname = 'colpali_ivf';
SELECT '{{1,0},{0,2}}'::multihalfvec <#> '{{1,0},{0,1}}'::real[] AS negated_maxsim;
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, p.provolatile, p.proisstrict,
       p.proparallel, p.procost, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'colpali'
WHERE p.proname IN ('maxsim_negative', 'colpali_ivf_handler')
ORDER BY 1, 2;

-- 1.3 -> 1.4: pages in sign planes; the prefilters take a multihalfvec page.
DROP EXTENSION colpali;
CREATE EXTENSION colpali VERSION '1.3';
ALTER EXTENSION colpali UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'colpali';
SELECT maxsim_hamming(binary_quantize('{{1,-1}}'::real[]), '{{0.5,-0.5}}'::multihalfvec, 2) AS hamming,
       maxsim_binary('{{1,-1}}'::real[], '{{0.5,-0.5}}'::multihalfvec) AS binary;
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, p.provolatile, p.proisstrict,
       p.proparallel, p.procost, obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'colpali'
WHERE p.proname IN ('maxsim_hamming', 'maxsim_binary')
ORDER BY 1, 2;
