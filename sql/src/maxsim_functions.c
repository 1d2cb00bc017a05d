/*
 * Exact late-interaction scoring in SQL: maxsim and its per-token companions.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "colpali_kernels.h"
#include "multihalfvec.h"
#include "multivector.h"
#include "toast_stream.h"

/* Finite inputs whose products or sums do not fit a real: an ERROR in every
 * function, never an Infinity in a result. */
static void
report_overflow(const char *func)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s: score overflows real (values too large)", func)));
}

/*
 * The kernel reports NaN/Inf in the document without a separate pass over its
 * values; on that rare path, re-scan to name the culprit, or report overflow.
 */
static void
report_nonfinite_document(MultiVector doc, const char *func)
{
	multivector_check_finite(doc, func, "document");
	report_overflow(func);
}

PG_FUNCTION_INFO_V1(maxsim);
Datum
maxsim(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	MultiVector query = multivector_from_array(qa, "maxsim", "query");
	ArrayType  *da;
	MultiVector doc;
	float		score;

	multivector_check_finite(query, "maxsim", "query");

	/* A stored page is scored from its TOAST chunks, never detoasted. */
	if (maxsim_from_toast(PG_GETARG_DATUM(1), DOCUMENT_REAL_ARRAY, query, "maxsim",
						  toast_scratch(fcinfo->flinfo), &score) == TOAST_STREAM_SCORED)
		PG_RETURN_FLOAT4(score);

	/* Otherwise the argument is detoasted exactly once, here. */
	da = PG_GETARG_ARRAYTYPE_P(1);
	doc = multivector_from_array(da, "maxsim", "document");
	multivector_check_same_dim(query, doc, "maxsim");
	if (colpali_maxsim(query.values, query.rows, doc.values, doc.rows, doc.dim,
					   &score) != COLPALI_OK)
		report_nonfinite_document(doc, "maxsim");

	PG_FREE_IF_COPY(qa, 0);
	PG_FREE_IF_COPY(da, 1);
	PG_RETURN_FLOAT4(score);
}

/*
 * maxsim(real[][], multihalfvec): a 16-bit page, stored or in memory, is
 * scored through the kernel stream either way, block by block widened into
 * cache-resident floats; the two paths share the stream's setup, so they
 * agree to the bit.
 */
PG_FUNCTION_INFO_V1(maxsim_half);
Datum
maxsim_half(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	MultiVector query = multivector_from_array(qa, "maxsim", "query");
	ToastScratch *scratch = toast_scratch(fcinfo->flinfo);
	MultiHalfVec *doc;
	colpali_stream stream;
	Size		count;
	float		score;
	int			status;

	multivector_check_finite(query, "maxsim", "query");
	if (maxsim_from_toast(PG_GETARG_DATUM(1), DOCUMENT_HALF, query, "maxsim", scratch,
						  &score) == TOAST_STREAM_SCORED)
		PG_RETURN_FLOAT4(score);

	doc = PG_GETARG_MULTIHALFVEC_P(1);
	multihalfvec_check(doc, "maxsim", "document");
	count = (Size) doc->rows * doc->dim;
	multivector_check_same_dim(query, (MultiVector) {NULL, doc->rows, doc->dim}, "maxsim");
	toast_stream_begin_half(&stream, scratch, query, doc->layout, doc->rows);
	colpali_stream_feed(&stream, doc->values, (Size) VARSIZE(doc) - MULTIHALFVEC_HEADER);
	status = colpali_stream_finish(&stream, doc->rows, &score);
	if (status != COLPALI_OK)
	{
		ptrdiff_t	bad = colpali_find_nonfinite_half(multihalfvec_halves(doc), count);

		if (bad >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("maxsim: document contains NaN or an infinite value at row %d, column %d (of %d x %d)",
							(int) (bad / doc->dim) + 1, (int) (bad % doc->dim) + 1, doc->rows, doc->dim)));
		report_overflow("maxsim");
	}
	PG_FREE_IF_COPY(qa, 0);
	PG_RETURN_FLOAT4(score);
}

PG_FUNCTION_INFO_V1(maxsim_rowmax);
Datum
maxsim_rowmax(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *da = PG_GETARG_ARRAYTYPE_P(1);
	MultiVector query = multivector_from_array(qa, "maxsim_rowmax", "query");
	MultiVector doc = multivector_from_array(da, "maxsim_rowmax", "document");
	float	   *row_max;

	multivector_check_same_dim(query, doc, "maxsim_rowmax");
	multivector_check_finite(query, "maxsim_rowmax", "query");
	row_max = palloc(sizeof(float) * query.rows);
	if (colpali_maxsim_rowmax(query.values, query.rows, doc.values, doc.rows,
							  doc.dim, row_max) != COLPALI_OK)
		report_nonfinite_document(doc, "maxsim_rowmax");
	PG_RETURN_ARRAYTYPE_P(multivector_make_array(row_max, query.rows, 0));
}

PG_FUNCTION_INFO_V1(similarity_matrix);
Datum
similarity_matrix(PG_FUNCTION_ARGS)
{
	ArrayType  *qa = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *da = PG_GETARG_ARRAYTYPE_P(1);
	MultiVector query = multivector_from_array(qa, "similarity_matrix", "query");
	MultiVector doc = multivector_from_array(da, "similarity_matrix", "document");
	Size		cells = (Size) query.rows * doc.rows;
	float	   *out;

	multivector_check_same_dim(query, doc, "similarity_matrix");
	multivector_check_finite(query, "similarity_matrix", "query");
	multivector_check_finite(doc, "similarity_matrix", "document");
	/* The result is an array: at most MaxArraySize elements (and bytes). */
	if (cells > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("similarity_matrix: a %d x %d result is too large (at most %d cells)",
						query.rows, doc.rows, (int) MaxArraySize)));
	out = palloc(cells * sizeof(float));
	colpali_similarity(query.values, query.rows, doc.values, doc.rows, doc.dim, out);
	if (colpali_find_nonfinite(out, cells) >= 0)
		report_overflow("similarity_matrix");
	PG_RETURN_ARRAYTYPE_P(multivector_make_array(out, query.rows, doc.rows));
}

PG_FUNCTION_INFO_V1(multivector_rows);
Datum
multivector_rows(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);

	PG_RETURN_INT32(multivector_from_array(a, "multivector_rows", "argument").rows);
}

PG_FUNCTION_INFO_V1(multivector_dim);
Datum
multivector_dim(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);

	PG_RETURN_INT32(multivector_from_array(a, "multivector_dim", "argument").dim);
}
