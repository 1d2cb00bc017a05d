/*
 * Checking and unpacking real[][] arguments. Every SQL function goes through
 * here, so the error messages are the same everywhere.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"

#include "colpali_kernels.h"
#include "multivector.h"

MultiVector
multivector_from_array(ArrayType *array, const char *func, const char *what)
{
	MultiVector mv;
	int			ndim = ARR_NDIM(array);

	if (ARR_ELEMTYPE(array) != FLOAT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: %s must be a real[] array", func, what)));
	if (ndim == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: %s is empty", func, what),
				 errhint("A multi-vector is a non-empty two-dimensional array: rows x dim.")));
	if (ndim != 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s: %s must be a two-dimensional array (rows x dim), got %d dimension%s",
						func, what, ndim, ndim == 1 ? "" : "s"),
				 ndim == 1 ?
				 errhint("Wrap a single vector as ARRAY[[...]] to make it one row.") : 0));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s: %s contains NULL elements", func, what)));

	multivector_check_shape(ARR_DIMS(array)[0], ARR_DIMS(array)[1], func, what);
	mv.rows = ARR_DIMS(array)[0];
	mv.dim = ARR_DIMS(array)[1];
	mv.values = (const float *) ARR_DATA_PTR(array);
	return mv;
}

void
multivector_check_shape(int64 rows, int64 dim, const char *func, const char *what)
{
	switch (colpali_check_shape(rows, dim))
	{
		case COLPALI_SHAPE_OK:
			return;
		case COLPALI_SHAPE_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s: %s is empty (" INT64_FORMAT " x " INT64_FORMAT ")",
							func, what, rows, dim)));
			break;
		case COLPALI_SHAPE_TOO_WIDE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s: %s has " INT64_FORMAT " columns, more than the maximum of %d",
							func, what, dim, COLPALI_MAX_DIM),
					 errhint("Multi-vectors are at most %d rows x %d columns.",
							 COLPALI_MAX_ROWS, COLPALI_MAX_DIM)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s: %s has " INT64_FORMAT " rows, more than the maximum of %d",
							func, what, rows, COLPALI_MAX_ROWS),
					 errhint("Multi-vectors are at most %d rows x %d columns.",
							 COLPALI_MAX_ROWS, COLPALI_MAX_DIM)));
	}
}

void
multivector_check_finite(MultiVector mv, const char *func, const char *what)
{
	ptrdiff_t	bad = colpali_find_nonfinite(mv.values, (size_t) mv.rows * mv.dim);

	if (bad >= 0)
	{
		float		value = mv.values[bad];

		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: %s contains %s at row %d, column %d (of %d x %d)",
						func, what, isnan(value) ? "NaN" : "an infinite value",
						(int) (bad / mv.dim) + 1, (int) (bad % mv.dim) + 1,
						mv.rows, mv.dim)));
	}
}

void
multivector_check_same_dim(MultiVector query, MultiVector doc, const char *func)
{
	if (query.dim != doc.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: dimension mismatch: query is %d x %d, document is %d x %d",
						func, query.rows, query.dim, doc.rows, doc.dim),
				 errhint("Query and document must come from the same model.")));
}

ArrayType *
multivector_make_array(const float *values, int rows, int cols)
{
	int			ndim = cols > 0 ? 2 : 1;
	int			dims[2] = {rows, cols};
	int			lbs[2] = {1, 1};
	Size		count = (Size) rows * (cols > 0 ? cols : 1);
	Size		nbytes = ARR_OVERHEAD_NONULLS(ndim) + count * sizeof(float);
	ArrayType  *result = (ArrayType *) palloc0(nbytes);

	SET_VARSIZE(result, nbytes);
	result->ndim = ndim;
	result->dataoffset = 0;
	result->elemtype = FLOAT4OID;
	memcpy(ARR_DIMS(result), dims, ndim * sizeof(int));
	memcpy(ARR_LBOUND(result), lbs, ndim * sizeof(int));
	memcpy(ARR_DATA_PTR(result), values, count * sizeof(float));
	return result;
}
