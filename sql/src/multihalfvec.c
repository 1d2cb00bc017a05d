/*
 * The multihalfvec type: input and output, casts from and to real[][], the
 * dimension typmod, and the shape functions.
 *
 * Its text form is that of real[][] ('{{0.5,-1},{...}}'), so anything that
 * prints or parses multi-vectors handles both. Values are rounded to the
 * nearest half (ties to even); magnitudes beyond 65504 are an ERROR, never
 * an Infinity in a stored page.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "colpali_kernels.h"
#include "multihalfvec.h"

void
multihalfvec_check_header(int64 rows, int64 dim, int64 unused, int64 payload_bytes,
						  const char *func, const char *what)
{
	multivector_check_shape(rows, dim, func, what);
	if (unused != 0 || payload_bytes != rows * dim * (int64) sizeof(uint16))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: %s is not a valid multihalfvec (" INT64_FORMAT " x " INT64_FORMAT
						" with " INT64_FORMAT " bytes of values)",
						func, what, rows, dim, payload_bytes)));
}

/* A new value of rows x dim, values uninitialised. */
static MultiHalfVec *
multihalfvec_allocate(int rows, int dim, const char *func)
{
	Size		bytes = MULTIHALFVEC_HEADER + (Size) rows * dim * sizeof(uint16);
	MultiHalfVec *result;

	if (bytes > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a %d x %d multihalfvec is larger than a value may be (1 GB)",
						func, rows, dim)));
	result = palloc(bytes);
	SET_VARSIZE(result, bytes);
	result->rows = rows;
	result->dim = (int16) dim;
	result->unused = 0;
	return result;
}

/* ERROR unless the value fits a column of this typmod (a dimension or -1). */
static void
check_typmod(int dim, int32 typmod, const char *func)
{
	if (typmod >= 0 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: expected dimension %d, got %d", func, typmod, dim)));
}

/* The multihalfvec nearest to a real[][]: every value rounded to half. */
static MultiHalfVec *
multihalfvec_from_floats(MultiVector mv, int32 typmod, const char *func)
{
	MultiHalfVec *result;
	ptrdiff_t	bad;

	check_typmod(mv.dim, typmod, func);
	multivector_check_finite(mv, func, "value");
	result = multihalfvec_allocate(mv.rows, mv.dim, func);
	bad = colpali_float_to_half(mv.values, (size_t) mv.rows * mv.dim, result->values);
	if (bad >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: value %g at row %d, column %d is out of range for half precision",
						func, mv.values[bad], (int) (bad / mv.dim) + 1, (int) (bad % mv.dim) + 1),
				 errhint("multihalfvec holds magnitudes up to 65504; keep such vectors as real[][].")));
	return result;
}

/* The values widened to float, in a new palloc'd buffer. */
static float *
multihalfvec_floats(const MultiHalfVec *v)
{
	Size		count = (Size) v->rows * v->dim;
	float	   *out = palloc(count * sizeof(float));

	colpali_half_to_float(v->values, count, out);
	return out;
}

PG_FUNCTION_INFO_V1(multihalfvec_in);
Datum
multihalfvec_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	/* The text of a real[][]: parsed, with its errors, by array_in itself. */
	ArrayType  *array = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, text, FLOAT4OID, -1));

	PG_RETURN_POINTER(multihalfvec_from_floats(multivector_from_array(array, "multihalfvec", "value"),
											   typmod, "multihalfvec"));
}

PG_FUNCTION_INFO_V1(multihalfvec_out);
Datum
multihalfvec_out(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);
	float	   *values = multihalfvec_floats(v);
	StringInfoData out;
	char		number[FLOAT_SHORTEST_DECIMAL_LEN];

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	for (int r = 0; r < v->rows; r++)
	{
		appendStringInfoString(&out, r == 0 ? "{" : ",{");
		for (int c = 0; c < v->dim; c++)
		{
			/* Shortest text that reads back as the same float, hence the same half. */
			float_to_shortest_decimal_buf(values[(Size) r * v->dim + c], number);
			if (c > 0)
				appendStringInfoChar(&out, ',');
			appendStringInfoString(&out, number);
		}
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoChar(&out, '}');
	PG_RETURN_CSTRING(out.data);
}

/* Binary form: int32 rows, int16 dim, int16 zero, then rows * dim uint16. */
PG_FUNCTION_INFO_V1(multihalfvec_recv);
Datum
multihalfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		rows = (int32) pq_getmsgint(buf, 4);
	int32		dim = (int32) pq_getmsgint(buf, 2);
	int32		unused = (int32) pq_getmsgint(buf, 2);
	MultiHalfVec *result;
	Size		count;

	multihalfvec_check_header(rows, dim, unused, (int64) (buf->len - buf->cursor),
							  "multihalfvec_recv", "value");
	check_typmod(dim, typmod, "multihalfvec_recv");
	result = multihalfvec_allocate(rows, dim, "multihalfvec_recv");
	count = (Size) rows * dim;
	for (Size i = 0; i < count; i++)
		result->values[i] = (uint16) pq_getmsgint(buf, 2);
	if (colpali_find_nonfinite_half(result->values, count) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("multihalfvec_recv: value contains NaN or an infinite value")));
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(multihalfvec_send);
Datum
multihalfvec_send(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);
	Size		count = (Size) v->rows * v->dim;
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->rows);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (Size i = 0; i < count; i++)
		pq_sendint16(&buf, v->values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* multihalfvec(128): the dimension. */
PG_FUNCTION_INFO_V1(multihalfvec_typmod_in);
Datum
multihalfvec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *modifiers = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *values;
	int			count;

	values = ArrayGetIntegerTypmods(modifiers, &count);
	if (count != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("multihalfvec takes one modifier, the dimension")));
	if (values[0] < 1 || values[0] > COLPALI_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("multihalfvec dimension must be between 1 and %d", COLPALI_MAX_DIM)));
	PG_RETURN_INT32(values[0]);
}

PG_FUNCTION_INFO_V1(multihalfvec_typmod_out);
Datum
multihalfvec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod >= 0 ? psprintf("(%d)", typmod) : pstrdup(""));
}

/* Coercion to a column's typmod: the dimension must match. */
PG_FUNCTION_INFO_V1(multihalfvec_coerce);
Datum
multihalfvec_coerce(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);

	check_typmod(v->dim, PG_GETARG_INT32(1), "multihalfvec");
	PG_RETURN_POINTER(v);
}

PG_FUNCTION_INFO_V1(multihalfvec_from_real_array);
Datum
multihalfvec_from_real_array(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);

	PG_RETURN_POINTER(multihalfvec_from_floats(multivector_from_array(array, "multihalfvec", "value"),
											   PG_GETARG_INT32(1), "multihalfvec"));
}

PG_FUNCTION_INFO_V1(multihalfvec_to_real_array);
Datum
multihalfvec_to_real_array(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);

	PG_RETURN_ARRAYTYPE_P(multivector_make_array(multihalfvec_floats(v), v->rows, v->dim));
}

/* The shape from the header alone: a stored page's first TOAST chunk. */
static MultiHalfVec *
multihalfvec_header(FunctionCallInfo fcinfo)
{
	return (MultiHalfVec *) PG_DETOAST_DATUM_SLICE(PG_GETARG_DATUM(0), 0, MULTIHALFVEC_STREAM_HEADER);
}

PG_FUNCTION_INFO_V1(multihalfvec_rows);
Datum
multihalfvec_rows(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(multihalfvec_header(fcinfo)->rows);
}

PG_FUNCTION_INFO_V1(multihalfvec_dim);
Datum
multihalfvec_dim(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(multihalfvec_header(fcinfo)->dim);
}

PG_FUNCTION_INFO_V1(binary_quantize_half);
Datum
binary_quantize_half(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);
	Size		bytes = (Size) v->rows * colpali_code_bytes(v->dim);
	bytea	   *result = palloc(VARHDRSZ + bytes);

	SET_VARSIZE(result, VARHDRSZ + bytes);
	colpali_binary_quantize_half(v->values, v->rows, v->dim, (uint8 *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}
