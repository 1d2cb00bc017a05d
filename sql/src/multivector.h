/*
 * A multi-vector is a Postgres real[] holding a two-dimensional array:
 * rows x dim, no NULLs. This header is the one place that checks and unpacks
 * one for the SQL functions.
 */
#ifndef COLPALI_MULTIVECTOR_H
#define COLPALI_MULTIVECTOR_H

#include "postgres.h"

#include "utils/array.h"

typedef struct MultiVector
{
	const float *values;		/* rows * dim floats, row-major */
	int			rows;
	int			dim;
} MultiVector;

/*
 * Unpack an already detoasted real[]; raise a clear ERROR naming `func` and
 * `what` ("query", "document", ...) when it is not a non-empty 2-D array
 * without NULLs. Values are not scanned here: see multivector_check_finite.
 */
extern MultiVector multivector_from_array(ArrayType *array, const char *func,
										  const char *what);

/*
 * ERROR unless rows x dim is within the kernels' limits (COLPALI_MAX_ROWS x
 * COLPALI_MAX_DIM). Every path that reads a multi-vector's shape, in memory
 * or from a TOAST stream, checks it here, so the paths report alike.
 */
extern void multivector_check_shape(int64 rows, int64 dim, const char *func,
									const char *what);

/* ERROR when any value is NaN or infinite, naming the row and column. */
extern void multivector_check_finite(MultiVector mv, const char *func,
									 const char *what);

/* ERROR when the dimensions of query and document differ. */
extern void multivector_check_same_dim(MultiVector query, MultiVector doc,
									   const char *func);

/* A new real[] of rows x cols (2-D) or of rows (1-D when cols == 0). */
extern ArrayType *multivector_make_array(const float *values, int rows, int cols);

#endif
