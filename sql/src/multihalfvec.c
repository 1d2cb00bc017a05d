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

#include "access/detoast.h"
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
#include "toast_stream.h"

bool		colpali_sign_planes = true;

int64
multihalfvec_payload_bytes(int64 rows, int64 dim, int layout)
{
	if (layout == MULTIHALFVEC_PLANES)
		return (int64) colpali_planes_bytes(rows, (int) dim);
	return rows * dim * (int64) sizeof(uint16);
}

void
multihalfvec_check_header(int64 rows, int64 dim, int64 layout, int64 payload_bytes,
						  const char *func, const char *what)
{
	multivector_check_shape(rows, dim, func, what);
	if ((layout != MULTIHALFVEC_ROWS && layout != MULTIHALFVEC_PLANES) ||
		payload_bytes != multihalfvec_payload_bytes(rows, dim, (int) layout))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: %s is not a valid multihalfvec (" INT64_FORMAT " x " INT64_FORMAT
						" with " INT64_FORMAT " bytes of values)",
						func, what, rows, dim, payload_bytes)));
}

void
multihalfvec_check(const MultiHalfVec *v, const char *func, const char *what)
{
	multihalfvec_check_header(v->rows, v->dim, v->layout,
							  (int64) VARSIZE(v) - (int64) MULTIHALFVEC_HEADER, func, what);
}

const uint16 *
multihalfvec_halves(const MultiHalfVec *v)
{
	uint16	   *halves;

	multihalfvec_check(v, "multihalfvec", "value");
	if (v->layout == MULTIHALFVEC_ROWS)
		return v->values;
	halves = palloc(sizeof(uint16) * (Size) v->rows * v->dim);
	colpali_planes_unpack((const uint8 *) v->values, v->rows, v->dim, halves);
	return halves;
}

/*
 * A new value of rows x dim from finite halves, in the layout new values
 * take (sign planes, unless colpali.sign_planes is off).
 */
static MultiHalfVec *
multihalfvec_make(const uint16 *halves, int rows, int dim, const char *func)
{
	int			layout = colpali_sign_planes ? MULTIHALFVEC_PLANES : MULTIHALFVEC_ROWS;
	Size		bytes = MULTIHALFVEC_HEADER + (Size) multihalfvec_payload_bytes(rows, dim, layout);
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
	result->layout = (int16) layout;
	if (layout == MULTIHALFVEC_PLANES)
		colpali_planes_pack(halves, rows, dim, (uint8 *) result->values);
	else
		memcpy(result->values, halves, sizeof(uint16) * (Size) rows * dim);
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
	uint16	   *halves;
	MultiHalfVec *result;
	ptrdiff_t	bad;

	check_typmod(mv.dim, typmod, func);
	multivector_check_finite(mv, func, "value");
	if ((Size) mv.rows * mv.dim * sizeof(uint16) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a %d x %d multihalfvec is larger than a value may be (1 GB)",
						func, mv.rows, mv.dim)));
	halves = palloc(sizeof(uint16) * (Size) mv.rows * mv.dim);
	bad = colpali_float_to_half(mv.values, (size_t) mv.rows * mv.dim, halves);
	if (bad >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: value %g at row %d, column %d is out of range for half precision",
						func, mv.values[bad], (int) (bad / mv.dim) + 1, (int) (bad % mv.dim) + 1),
				 errhint("multihalfvec holds magnitudes up to 65504; keep such vectors as real[][].")));
	result = multihalfvec_make(halves, mv.rows, mv.dim, func);
	pfree(halves);
	return result;
}

/* The values widened to float, in a new palloc'd buffer. */
static float *
multihalfvec_floats(const MultiHalfVec *v)
{
	Size		count = (Size) v->rows * v->dim;
	float	   *out;

	/* A stored value is read no further than its own bytes, whatever it says. */
	multihalfvec_check(v, "multihalfvec", "value");
	out = palloc(count * sizeof(float));
	if (v->layout == MULTIHALFVEC_PLANES)
		colpali_planes_rows_to_float((const uint8 *) v->values,
									 (const uint8 *) v->values + (Size) v->rows * colpali_code_bytes(v->dim),
									 v->rows, v->dim, out);
	else
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

/*
 * Binary form: int32 rows, int16 dim, int16 zero, then rows * dim uint16,
 * whatever the stored layout: clients see halves.
 */
PG_FUNCTION_INFO_V1(multihalfvec_recv);
Datum
multihalfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		rows = (int32) pq_getmsgint(buf, 4);
	int32		dim = (int32) pq_getmsgint(buf, 2);
	int32		layout = (int32) pq_getmsgint(buf, 2);
	MultiHalfVec *result;
	uint16	   *halves;
	Size		count;

	/* The wire carries halves row by row only. */
	multihalfvec_check_header(rows, dim, layout == MULTIHALFVEC_ROWS ? layout : -1,
							  (int64) (buf->len - buf->cursor), "multihalfvec_recv", "value");
	check_typmod(dim, typmod, "multihalfvec_recv");
	count = (Size) rows * dim;
	halves = palloc(sizeof(uint16) * count);
	for (Size i = 0; i < count; i++)
		halves[i] = (uint16) pq_getmsgint(buf, 2);
	if (colpali_find_nonfinite_half(halves, count) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("multihalfvec_recv: value contains NaN or an infinite value")));
	result = multihalfvec_make(halves, rows, dim, "multihalfvec_recv");
	pfree(halves);
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(multihalfvec_send);
Datum
multihalfvec_send(PG_FUNCTION_ARGS)
{
	MultiHalfVec *v = PG_GETARG_MULTIHALFVEC_P(0);
	Size		count = (Size) v->rows * v->dim;
	const uint16 *halves = multihalfvec_halves(v);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->rows);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, 0);
	for (Size i = 0; i < count; i++)
		pq_sendint16(&buf, halves[i]);
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
	int			rows,
				dim;
	const uint8 *codes = multihalfvec_codes(PG_GETARG_DATUM(0), 0, NULL, &rows, &dim, "binary_quantize");
	Size		bytes = (Size) rows * colpali_code_bytes(dim);
	bytea	   *result = palloc(VARHDRSZ + bytes);

	SET_VARSIZE(result, VARHDRSZ + bytes);
	memcpy(VARDATA(result), codes, bytes);
	PG_RETURN_BYTEA_P(result);
}

/* The codes of a whole value in memory: in place in sign planes, made from
 * the halves in the rows layout. */
static const uint8 *
codes_of_value(const MultiHalfVec *v)
{
	uint8	   *codes;

	if (v->layout == MULTIHALFVEC_PLANES)
		return (const uint8 *) v->values;
	codes = palloc((Size) v->rows * colpali_code_bytes(v->dim));
	colpali_binary_quantize_half(v->values, v->rows, v->dim, codes);
	return codes;
}

const uint8 *
multihalfvec_codes(Datum datum, int dim_hint, ToastScratch *scratch, int *rows, int *dim,
				   const char *func)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(datum);
	MultiHalfVec *v;

	/*
	 * A page stored out of line, uncompressed: when its size is that of a
	 * page in sign planes of the expected dimension, the codes are the first
	 * rows x code bytes after the header, one slice read (its first few
	 * TOAST chunks). The header then confirms it; anything else is read whole.
	 */
	if (dim_hint > 0 && VARATT_IS_EXTERNAL_ONDISK(attr))
	{
		struct varatt_external pointer;
		int64		payload;
		int64		row_bytes = (int64) colpali_planes_bytes(1, dim_hint);

		VARATT_EXTERNAL_GET_POINTER(pointer, attr);
		payload = (int64) VARATT_EXTERNAL_GET_EXTSIZE(pointer) - MULTIHALFVEC_STREAM_HEADER;
		if (!VARATT_EXTERNAL_IS_COMPRESSED(pointer) && payload > 0 && payload % row_bytes == 0)
		{
			int64		expected_rows = payload / row_bytes;
			int64		slice = MULTIHALFVEC_STREAM_HEADER +
				expected_rows * (int64) colpali_code_bytes(dim_hint);

			v = scratch != NULL ? (MultiHalfVec *) toast_read_slice(datum, (Size) slice, scratch) : NULL;
			if (v == NULL)
				v = (MultiHalfVec *) PG_DETOAST_DATUM_SLICE(datum, 0, slice);
			if (v->layout == MULTIHALFVEC_PLANES && v->dim == dim_hint && v->rows == expected_rows &&
				VARSIZE(v) == VARHDRSZ + slice)
			{
				multivector_check_shape(v->rows, v->dim, func, "document");
				elog(DEBUG2, "%s: read the codes of a %d x %d page, " INT64_FORMAT " of its " INT64_FORMAT " bytes",
					 func, v->rows, v->dim, slice, payload + MULTIHALFVEC_STREAM_HEADER);
				*rows = v->rows;
				*dim = v->dim;
				return (const uint8 *) v->values;
			}
		}
	}
	v = DatumGetMultiHalfVecP(datum);
	multihalfvec_check(v, func, "document");
	*rows = v->rows;
	*dim = v->dim;
	return codes_of_value(v);
}
