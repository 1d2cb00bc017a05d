/*
 * Binary codes in SQL: sign-bit quantisation and the two prefilter scores,
 * against codes in a bytea or against a stored multihalfvec page, whose
 * codes are read as a slice of it (multihalfvec_codes).
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/array.h"

#include "colpali_kernels.h"
#include "multihalfvec.h"
#include "toast_stream.h"
#include "multivector.h"

/*
 * The number of rows in codes of `dim`-wide vectors, or an ERROR: not a
 * whole number of rows, beyond the row limit, or padding bits set (codes
 * of another width, or not made by binary_quantize).
 */
static int
code_rows(bytea *codes, int dim, const char *func, const char *what)
{
	Size		len = VARSIZE_ANY_EXHDR(codes);
	Size		row_bytes = colpali_code_bytes(dim);
	Size		rows;
	ptrdiff_t	bad;

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: %s codes are empty", func, what)));
	if (len % row_bytes != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: %s codes are %zu bytes, not a whole number of %zu-byte rows (dim %d)",
						func, what, (size_t) len, (size_t) row_bytes, dim)));
	rows = len / row_bytes;
	multivector_check_shape((int64) rows, dim, func, what);
	bad = colpali_codes_bad_padding((const uint8 *) VARDATA_ANY(codes), rows, dim);
	if (bad >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: %s codes have bits set beyond dim %d in row %d",
						func, what, dim, (int) bad + 1),
				 errhint("Codes come from binary_quantize of vectors of that dimension.")));
	return (int) rows;
}

static void
check_dim(int dim, const char *func)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: dim must be at least 1, got %d", func, dim)));
	if (dim > COLPALI_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: dim %d is more than the maximum of %d", func, dim, COLPALI_MAX_DIM)));
}

/* A score that does not fit a real is an ERROR, as in maxsim. */
static float4
finite_score(float score, const char *func)
{
	if (!isfinite(score))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: score overflows real (values too large)", func)));
	return score;
}

PG_FUNCTION_INFO_V1(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	MultiVector mv = multivector_from_array(a, "binary_quantize", "argument");
	Size		nbytes = colpali_code_bytes(mv.dim) * (Size) mv.rows;
	bytea	   *result;

	multivector_check_finite(mv, "binary_quantize", "argument");
	result = (bytea *) palloc(VARHDRSZ + nbytes);
	SET_VARSIZE(result, VARHDRSZ + nbytes);
	colpali_binary_quantize(mv.values, mv.rows, mv.dim, (uint8_t *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(maxsim_hamming);
Datum
maxsim_hamming(PG_FUNCTION_ARGS)
{
	bytea	   *qc = PG_GETARG_BYTEA_PP(0);
	bytea	   *dc = PG_GETARG_BYTEA_PP(1);
	int			dim = PG_GETARG_INT32(2);
	int			nq,
				nd;

	check_dim(dim, "maxsim_hamming");
	nq = code_rows(qc, dim, "maxsim_hamming", "query");
	nd = code_rows(dc, dim, "maxsim_hamming", "document");
	PG_RETURN_FLOAT4(colpali_maxsim_hamming((const uint8_t *) VARDATA_ANY(qc), nq,
											(const uint8_t *) VARDATA_ANY(dc), nd, dim));
}

/* maxsim_hamming(bytea, multihalfvec, integer): the page's own codes. */
PG_FUNCTION_INFO_V1(maxsim_hamming_half);
Datum
maxsim_hamming_half(PG_FUNCTION_ARGS)
{
	bytea	   *qc = PG_GETARG_BYTEA_PP(0);
	int			dim = PG_GETARG_INT32(2);
	int			nq,
				nd,
				doc_dim;
	const uint8 *dc;

	check_dim(dim, "maxsim_hamming");
	nq = code_rows(qc, dim, "maxsim_hamming", "query");
	dc = multihalfvec_codes(PG_GETARG_DATUM(1), dim, toast_scratch(fcinfo->flinfo), &nd, &doc_dim,
							"maxsim_hamming");
	if (doc_dim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("maxsim_hamming: document has dimension %d, the query codes %d", doc_dim, dim)));
	PG_RETURN_FLOAT4(colpali_maxsim_hamming((const uint8_t *) VARDATA_ANY(qc), nq, dc, nd, dim));
}

/* The asymmetric score of `query` against nd rows of codes. */
static float4
binary_score(MultiVector query, const uint8 *codes, int nd)
{
	/* At most 2 MB at the largest dim; the kernels never allocate. */
	float	   *table = palloc(sizeof(float) * colpali_binary_table_floats(query.dim));
	float		score = colpali_maxsim_binary(query.values, query.rows, codes, nd, query.dim, table);

	pfree(table);
	return finite_score(score, "maxsim_binary");
}

PG_FUNCTION_INFO_V1(maxsim_binary);
Datum
maxsim_binary(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	bytea	   *dc = PG_GETARG_BYTEA_PP(1);
	MultiVector query = multivector_from_array(qa, "maxsim_binary", "query");
	int			nd;

	multivector_check_finite(query, "maxsim_binary", "query");
	nd = code_rows(dc, query.dim, "maxsim_binary", "document");
	PG_RETURN_FLOAT4(binary_score(query, (const uint8_t *) VARDATA_ANY(dc), nd));
}

/* maxsim_binary(real[][], multihalfvec): the page's own codes. */
PG_FUNCTION_INFO_V1(maxsim_binary_half);
Datum
maxsim_binary_half(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	MultiVector query = multivector_from_array(qa, "maxsim_binary", "query");
	int			nd,
				doc_dim;
	const uint8 *dc;

	multivector_check_finite(query, "maxsim_binary", "query");
	dc = multihalfvec_codes(PG_GETARG_DATUM(1), query.dim, toast_scratch(fcinfo->flinfo), &nd,
							&doc_dim, "maxsim_binary");
	multivector_check_same_dim(query, (MultiVector) {NULL, nd, doc_dim}, "maxsim_binary");
	PG_RETURN_FLOAT4(binary_score(query, dc, nd));
}
