/*
 * MaxSim over a document's TOAST chunks, in place.
 *
 * A ColPali page is a 1,030 x 128 real[][]: 527 KB, stored out of line in
 * about 265 TOAST chunks. Detoasting copies every chunk into a new 527 KB
 * buffer before the kernel reads it again; on this workload that copy was
 * the largest single cost of an exact scan. Here the chunks are read with the
 * same ordered index scan the detoaster uses, each chunk's floats go into a
 * 64-row staging buffer that stays in cache, and the kernel scores full
 * blocks as they fill, raising each query row's running maximum, so the
 * result equals maxsim over the whole array.
 *
 * Chunk sizes are multiples of 4 bytes (TOAST_MAX_CHUNK_SIZE is a MAXALIGNed
 * size less 12 bytes) and the array header before the floats is 28 bytes, so
 * no float straddles two chunks; a value where one would is left to the
 * detoaster.
 */
#include "postgres.h"

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

/* The stream is the varlena without its 4-byte length word. */
#define STREAM_HEADER_BYTES (ARR_OVERHEAD_NONULLS(2) - VARHDRSZ)

bool		colpali_stream_toast = true;

typedef struct ScoreStream
{
	MultiVector query;
	const char *func;
	int			doc_rows;
	int			dim;
	float	   *staging;
	int			staged_floats;
	int			rows_done;
	float	   *row_max;
	bool		nonfinite;
} ScoreStream;

ToastScratch *
toast_scratch(FmgrInfo *flinfo)
{
	if (flinfo->fn_extra == NULL)
	{
		ToastScratch *scratch = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(ToastScratch));

		scratch->context = flinfo->fn_mcxt;
		flinfo->fn_extra = scratch;
	}
	return (ToastScratch *) flinfo->fn_extra;
}

/* A buffer of at least `count` floats, grown in the scratch's context. */
static float *
scratch_floats(ToastScratch *scratch, float **buffer, int *capacity, int count)
{
	if (*capacity < count)
	{
		if (*buffer != NULL)
			pfree(*buffer);
		*buffer = MemoryContextAlloc(scratch->context, sizeof(float) * count);
		*capacity = count;
	}
	return *buffer;
}

static void
score_staged_rows(ScoreStream *s)
{
	int			rows = s->staged_floats / s->dim;

	if (rows == 0)
		return;
	if (colpali_maxsim_rowmax_update(s->query.values, s->query.rows, s->staging, rows, s->dim,
									 s->row_max) != COLPALI_OK)
		s->nonfinite = true;
	s->rows_done += rows;
	s->staged_floats = 0;
}

/*
 * The array header at the start of the first chunk: a NULL-free,
 * two-dimensional real[] of the query's width, or false.
 */
static bool
accept_header(ScoreStream *s, const char *data, int length, ToastScratch *scratch)
{
	union
	{
		ArrayType	array;
		char		bytes[ARR_OVERHEAD_NONULLS(2)];
	}			header;
	ArrayType  *array = &header.array;

	if (length < STREAM_HEADER_BYTES)
		return false;
	memcpy(header.bytes + VARHDRSZ, data, STREAM_HEADER_BYTES);
	if (ARR_NDIM(array) != 2 || ARR_HASNULL(array) || ARR_ELEMTYPE(array) != FLOAT4OID)
		return false;
	s->doc_rows = ARR_DIMS(array)[0];
	s->dim = ARR_DIMS(array)[1];
	if (s->doc_rows < 1 || s->dim < 1)
		return false;
	multivector_check_same_dim(s->query, (MultiVector) {NULL, s->doc_rows, s->dim}, s->func);
	s->staging = scratch_floats(scratch, &scratch->staging, &scratch->staging_capacity,
								STAGING_ROWS * s->dim);
	return true;
}

/*
 * A chunk's floats into the staging buffer, scoring each full block. The
 * bytes are copied as bytes: a chunk with a short varlena header is not
 * float-aligned.
 */
static void
consume_floats(ScoreStream *s, const char *values, int count)
{
	while (count > 0 && !s->nonfinite)
	{
		int			take = Min(count, STAGING_ROWS * s->dim - s->staged_floats);

		memcpy(s->staging + s->staged_floats, values, take * sizeof(float));
		s->staged_floats += take;
		values += take * sizeof(float);
		count -= take;
		if (s->staged_floats == STAGING_ROWS * s->dim)
			score_staged_rows(s);
	}
}

ToastStreamResult
maxsim_from_toast(Datum datum, MultiVector query, const char *func, ToastScratch *scratch,
				  float *score)
{
#if PG_VERSION_NUM >= 180000
	/* The TOAST snapshot interface used below changed in PostgreSQL 18. */
	return TOAST_STREAM_NOT_APPLICABLE;
#else
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
	bool		usable = true;

	if (!colpali_stream_toast || !VARATT_IS_EXTERNAL_ONDISK(attr))
		return TOAST_STREAM_NOT_APPLICABLE;
	VARATT_EXTERNAL_GET_POINTER(pointer, attr);
	if (VARATT_EXTERNAL_IS_COMPRESSED(pointer))
		return TOAST_STREAM_NOT_APPLICABLE;

	memset(&stream, 0, sizeof(stream));
	stream.query = query;
	stream.func = func;
	stream.row_max = scratch_floats(scratch, &scratch->row_max, &scratch->row_max_capacity, query.rows);
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
		const char *data = VARDATA_ANY(chunk);
		int			length = VARSIZE_ANY_EXHDR(chunk);

		/* Anything out of the ordinary: let the detoaster check and report it. */
		usable = chunk_number == expected_chunk && length % sizeof(float) == 0 &&
			!(VARATT_IS_EXTENDED(chunk) && !VARATT_IS_SHORT(chunk));
		if (usable && chunk_number == 0)
		{
			usable = accept_header(&stream, data, length, scratch);
			data += STREAM_HEADER_BYTES;
			length -= STREAM_HEADER_BYTES;
		}
		if (!usable)
			break;
		consume_floats(&stream, data, length / sizeof(float));
		bytes += VARSIZE_ANY_EXHDR(chunk);
		expected_chunk++;
		if (stream.nonfinite)
			break;
	}
	systable_endscan_ordered(scan);
	toast_close_indexes(toastidxs, num_indexes, AccessShareLock);
	table_close(toastrel, AccessShareLock);

	if (!usable || stream.nonfinite || expected_chunk == 0)
		return TOAST_STREAM_NOT_APPLICABLE;
	score_staged_rows(&stream);
	if (stream.nonfinite || bytes != (Size) VARATT_EXTERNAL_GET_EXTSIZE(pointer) ||
		stream.rows_done != stream.doc_rows ||
		colpali_maxsim_total(stream.row_max, query.rows, score) != COLPALI_OK)
		return TOAST_STREAM_NOT_APPLICABLE;
	elog(DEBUG2, "%s: scored a %d x %d document from %d TOAST chunks", func, stream.doc_rows,
		 stream.dim, expected_chunk);
	return TOAST_STREAM_SCORED;
#endif
}
