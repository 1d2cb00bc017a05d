/*
 * MaxSim over a document's TOAST chunks, in place.
 *
 * A ColPali page is a 1,030 x 128 real[][]: 527 KB, stored out of line in
 * about 265 TOAST chunks. Detoasting copies every chunk into a new 527 KB
 * buffer before the kernel reads it again; on this workload that copy was
 * the largest single cost of an exact scan. Here the chunks are read with the
 * same ordered index scan the detoaster uses, each chunk's floats go into a
 * 64-row staging buffer that stays in cache, and the kernel scores full
 * blocks as they fill. Per query row the running maximum is kept across
 * blocks, so the result equals maxsim over the whole array.
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heaptoast.h"
#include "access/table.h"
#include "access/toast_internals.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "colpali_kernels.h"
#include "toast_stream.h"

#define STAGING_ROWS 64

typedef struct ScoreStream
{
	MultiVector query;
	const char *func;
	/* array header, gathered from the first bytes of the value (after the
	 * length word, which the stream does not carry) */
	union
	{
		ArrayType	array;
		char		bytes[ARR_OVERHEAD_NONULLS(2)];
	}			header;
	int			header_bytes;
	int			doc_rows;
	int			dim;
	/* staging buffer: rows of the document, and a partial row's bytes */
	float	   *staging;
	int			staged_floats;
	char		partial[sizeof(float)];
	int			partial_bytes;
	int			rows_done;
	float	   *row_max;
	float	   *block_max;
	bool		nonfinite;
	bool		unusable;
} ScoreStream;

static void
score_staged_rows(ScoreStream *s)
{
	int			rows = s->staged_floats / s->dim;

	if (rows == 0)
		return;
	if (colpali_maxsim_rowmax(s->query.values, s->query.rows, s->staging, rows, s->dim,
							  s->block_max) != COLPALI_OK)
		s->nonfinite = true;
	for (int i = 0; i < s->query.rows; i++)
		if (s->block_max[i] > s->row_max[i])
			s->row_max[i] = s->block_max[i];
	s->rows_done += rows;
	s->staged_floats = 0;
}

/* The array header: a NULL-free, two-dimensional real[] of the query's width. */
static bool
accept_header(ScoreStream *s)
{
	ArrayType  *array = &s->header.array;

	if (ARR_NDIM(array) != 2 || ARR_HASNULL(array) || ARR_ELEMTYPE(array) != FLOAT4OID)
		return false;
	s->doc_rows = ARR_DIMS(array)[0];
	s->dim = ARR_DIMS(array)[1];
	if (s->doc_rows < 1 || s->dim < 1)
		return false;
	if (s->dim != s->query.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: dimension mismatch: query is %d x %d, document is %d x %d",
						s->func, s->query.rows, s->query.dim, s->doc_rows, s->dim),
				 errhint("Query and document must come from the same model.")));
	s->staging = palloc(sizeof(float) * STAGING_ROWS * s->dim);
	s->block_max = palloc(sizeof(float) * s->query.rows);
	return true;
}

static void
consume(ScoreStream *s, const char *data, int length)
{
	/* The stream is the varlena without its 4-byte length word. */
	const int	header_size = ARR_OVERHEAD_NONULLS(2) - VARHDRSZ;

	while (length > 0 && !s->unusable && !s->nonfinite)
	{
		if (s->header_bytes < header_size)
		{
			int			take = Min(length, header_size - s->header_bytes);

			memcpy(s->header.bytes + VARHDRSZ + s->header_bytes, data, take);
			s->header_bytes += take;
			data += take;
			length -= take;
			if (s->header_bytes == header_size && !accept_header(s))
				s->unusable = true;
			continue;
		}
		/* A float split across two chunks. */
		if (s->partial_bytes > 0)
		{
			int			take = Min(length, (int) sizeof(float) - s->partial_bytes);

			memcpy(s->partial + s->partial_bytes, data, take);
			s->partial_bytes += take;
			data += take;
			length -= take;
			if (s->partial_bytes == sizeof(float))
			{
				memcpy(s->staging + s->staged_floats++, s->partial, sizeof(float));
				s->partial_bytes = 0;
				if (s->staged_floats == STAGING_ROWS * s->dim)
					score_staged_rows(s);
			}
			continue;
		}
		{
			int			room = STAGING_ROWS * s->dim - s->staged_floats;
			int			whole = Min(room, length / (int) sizeof(float));

			if (whole == 0)
			{
				memcpy(s->partial, data, length);
				s->partial_bytes = length;
				return;
			}
			memcpy(s->staging + s->staged_floats, data, whole * sizeof(float));
			s->staged_floats += whole;
			data += whole * sizeof(float);
			length -= whole * sizeof(float);
			if (s->staged_floats == STAGING_ROWS * s->dim)
				score_staged_rows(s);
		}
	}
}

ToastStreamResult
maxsim_from_toast(Datum datum, MultiVector query, const char *func, float *score)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(datum);
	struct varatt_external pointer;
	ScoreStream stream;
	Relation	toastrel;
	Relation   *toastidxs;
	int			num_indexes;
	int			valid_index;
	ScanKeyData key;
	SnapshotData toast_snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	int32		expected_chunk = 0;
	Size		bytes = 0;

#if PG_VERSION_NUM >= 180000
	/* The TOAST internals used below changed in PostgreSQL 18. */
	return TOAST_STREAM_NOT_APPLICABLE;
#endif
	if (!VARATT_IS_EXTERNAL_ONDISK(attr))
		return TOAST_STREAM_NOT_APPLICABLE;
	VARATT_EXTERNAL_GET_POINTER(pointer, attr);
	if (VARATT_EXTERNAL_IS_COMPRESSED(pointer))
		return TOAST_STREAM_NOT_APPLICABLE;

	memset(&stream, 0, sizeof(stream));
	stream.query = query;
	stream.func = func;
	stream.row_max = palloc(sizeof(float) * query.rows);
	for (int i = 0; i < query.rows; i++)
		stream.row_max[i] = -get_float4_infinity();

	/* The chunks in order, by the same index scan the detoaster uses. */
	toastrel = table_open(pointer.va_toastrelid, AccessShareLock);
	valid_index = toast_open_indexes(toastrel, AccessShareLock, &toastidxs, &num_indexes);
	ScanKeyInit(&key, (AttrNumber) 1, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(pointer.va_valueid));
	init_toast_snapshot(&toast_snapshot);
	scan = systable_beginscan_ordered(toastrel, toastidxs[valid_index], &toast_snapshot, 1, &key);
	while ((tuple = systable_getnext_ordered(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		int32		chunk_number = DatumGetInt32(fastgetattr(tuple, 2, RelationGetDescr(toastrel), &isnull));
		Pointer		chunk = DatumGetPointer(fastgetattr(tuple, 3, RelationGetDescr(toastrel), &isnull));

		if (chunk_number != expected_chunk || (VARATT_IS_EXTENDED(chunk) && !VARATT_IS_SHORT(chunk)))
		{
			/* Out of the ordinary: let the detoaster check and report it. */
			stream.unusable = true;
			break;
		}
		consume(&stream, VARDATA_ANY(chunk), VARSIZE_ANY_EXHDR(chunk));
		bytes += VARSIZE_ANY_EXHDR(chunk);
		expected_chunk++;
		if (stream.unusable || stream.nonfinite)
			break;
	}
	systable_endscan_ordered(scan);
	toast_close_indexes(toastidxs, num_indexes, AccessShareLock);
	table_close(toastrel, AccessShareLock);

	if (!stream.unusable && !stream.nonfinite)
		score_staged_rows(&stream);
	if (stream.unusable || stream.nonfinite || stream.partial_bytes != 0 ||
		bytes != (Size) VARATT_EXTERNAL_GET_EXTSIZE(pointer) || stream.rows_done != stream.doc_rows)
		return TOAST_STREAM_NOT_APPLICABLE;

	{
		double		total = 0;

		for (int i = 0; i < query.rows; i++)
			total += stream.row_max[i];
		*score = (float) total;
	}
	if (isinf(*score))
		return TOAST_STREAM_NOT_APPLICABLE;
	return TOAST_STREAM_SCORED;
}
