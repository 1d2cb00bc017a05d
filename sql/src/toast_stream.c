/*
 * MaxSim over a document's TOAST chunks, in place.
 *
 * A ColPali page is a 1,030 x 128 real[][]: 527 KB, stored out of line in
 * about 265 TOAST chunks. Detoasting copies every chunk into a new 527 KB
 * buffer before the kernel reads it again; on this workload that copy was
 * the largest single cost of an exact scan. Here the chunks are found with the
 * same ordered index scan the detoaster uses, fetched by us (so that a long
 * scan can read through a small buffer ring, as PostgreSQL's sequential scans
 * do) and handed to the kernel's stream (Sources/ColPaliKernels/stream.c),
 * which stages whole rows in cache and raises each query row's running
 * maximum, so the result equals maxsim over the whole array.
 *
 * The array header opens the first chunk: its shape is checked exactly as
 * the detoasting path checks an array (multivector_check_shape), before any
 * buffer is sized from it. Anything unusual (compressed, a NULL bitmap,
 * missing or out-of-order chunks, a length that disagrees with the shape)
 * is left to the detoaster, which checks and reports it.
 *
 * The prefilters' slices (a page's codes, its first chunks) are read by the
 * same loop, so that a prefilter over every page keeps to the ring as well.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/toast_internals.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "colpali_kernels.h"
#include "multihalfvec.h"
#include "toast_stream.h"

/* The stream is the varlena without its 4-byte length word. */
#define ARRAY_STREAM_HEADER (ARR_OVERHEAD_NONULLS(2) - VARHDRSZ)
#define STREAM_HEADER_MAX Max(ARRAY_STREAM_HEADER, MULTIHALFVEC_STREAM_HEADER)

bool		colpali_stream_toast = true;

/* The document being read: its header as it arrives, then its payload. */
typedef struct DocumentStream
{
	MultiVector query;
	DocumentFormat format;
	const char *func;
	ToastScratch *scratch;
	char		header[STREAM_HEADER_MAX];
	Size		header_bytes;
	Size		header_needed;
	Size		payload_bytes;	/* what the header says must follow */
	bool		usable;			/* false: leave the value to the detoaster */
	int			doc_rows;
	colpali_stream score;
} DocumentStream;

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

/* A buffer of at least `count` elements, grown in the scratch's context. */
static void *
scratch_buffer(ToastScratch *scratch, void **buffer, Size *capacity, Size count, Size element)
{
	if (*capacity < count)
	{
		if (*buffer != NULL)
			pfree(*buffer);
		*buffer = MemoryContextAlloc(scratch->context, element * count);
		*capacity = count;
	}
	return *buffer;
}

/* The query's running maxima and the staging rows, from the scratch. */
static void
stream_buffers(ToastScratch *scratch, MultiVector query, float **row_max, float **staging,
			   int *staging_rows)
{
	*staging_rows = colpali_stream_staging_rows(query.dim);
	*row_max = scratch_buffer(scratch, (void **) &scratch->row_max, &scratch->row_max_capacity,
							  query.rows, sizeof(float));
	*staging = scratch_buffer(scratch, (void **) &scratch->staging, &scratch->staging_capacity,
							  (Size) *staging_rows * query.dim, sizeof(float));
}

void
toast_stream_begin(colpali_stream *stream, ToastScratch *scratch, MultiVector query,
				   DocumentFormat format)
{
	float	   *row_max,
			   *staging;
	int			staging_rows;

	stream_buffers(scratch, query, &row_max, &staging, &staging_rows);
	if (format == DOCUMENT_HALF)
		colpali_stream_begin_half(stream, query.values, query.rows, query.dim, row_max, staging,
								  staging_rows);
	else
		colpali_stream_begin(stream, query.values, query.rows, query.dim, row_max, staging,
							 staging_rows);
}

static void
toast_stream_begin_planes(colpali_stream *stream, ToastScratch *scratch, MultiVector query, int rows)
{
	float	   *row_max,
			   *staging;
	int			staging_rows;
	uint8	   *codes = scratch_buffer(scratch, (void **) &scratch->codes, &scratch->codes_capacity,
									   (Size) rows * colpali_code_bytes(query.dim), 1);
	uint8	   *magnitudes = scratch_buffer(scratch, (void **) &scratch->magnitudes,
											&scratch->magnitudes_capacity,
											colpali_planes_magnitude_bytes(query.dim), 1);

	stream_buffers(scratch, query, &row_max, &staging, &staging_rows);
	colpali_stream_begin_planes(stream, query.values, query.rows, query.dim, rows, row_max, staging,
								staging_rows, codes, magnitudes);
}

void
toast_stream_begin_half(colpali_stream *stream, ToastScratch *scratch, MultiVector query,
						int16 layout, int rows)
{
	if (layout == MULTIHALFVEC_PLANES)
		toast_stream_begin_planes(stream, scratch, query, rows);
	else
		toast_stream_begin(stream, scratch, query, DOCUMENT_HALF);
}

/* A multihalfvec header: rows, dim, the layout. */
static void
start_half_payload(DocumentStream *d)
{
	int32		rows;
	int16		dim;
	int16		layout;

	memcpy(&rows, d->header, sizeof rows);
	memcpy(&dim, d->header + sizeof rows, sizeof dim);
	memcpy(&layout, d->header + sizeof rows + sizeof dim, sizeof layout);
	if (layout != MULTIHALFVEC_ROWS && layout != MULTIHALFVEC_PLANES)
	{
		d->usable = false;		/* the detoasting path reports it */
		return;
	}
	multivector_check_shape(rows, dim, d->func, "document");
	d->doc_rows = rows;
	d->payload_bytes = (Size) multihalfvec_payload_bytes(rows, dim, layout);
	multivector_check_same_dim(d->query, (MultiVector) {NULL, rows, dim}, d->func);
	toast_stream_begin_half(&d->score, d->scratch, d->query, layout, rows);
}

/*
 * The complete header: a NULL-free two-dimensional real[] within the limits
 * and of the query's width starts the kernel stream; anything else that is
 * not an error is left to the detoaster.
 */
static void
start_payload(DocumentStream *d)
{
	union
	{
		ArrayType	array;
		char		bytes[ARR_OVERHEAD_NONULLS(2)];
	}			header;
	ArrayType  *array = &header.array;
	int			dim;

	if (d->format == DOCUMENT_HALF)
	{
		start_half_payload(d);
		return;
	}
	memcpy(header.bytes + VARHDRSZ, d->header, ARRAY_STREAM_HEADER);
	if (ARR_NDIM(array) != 2 || ARR_HASNULL(array) || ARR_ELEMTYPE(array) != FLOAT4OID)
	{
		d->usable = false;
		return;
	}
	multivector_check_shape(ARR_DIMS(array)[0], ARR_DIMS(array)[1], d->func, "document");
	d->doc_rows = ARR_DIMS(array)[0];
	dim = ARR_DIMS(array)[1];
	d->payload_bytes = (Size) d->doc_rows * dim * sizeof(float);
	multivector_check_same_dim(d->query, (MultiVector) {NULL, d->doc_rows, dim}, d->func);
	toast_stream_begin(&d->score, d->scratch, d->query, DOCUMENT_REAL_ARRAY);
}

/* One chunk's bytes: header bytes first, then payload to the kernel. */
static void
consume_chunk(DocumentStream *d, const char *data, Size length)
{
	if (d->header_bytes < d->header_needed)
	{
		Size		take = Min(length, d->header_needed - d->header_bytes);

		memcpy(d->header + d->header_bytes, data, take);
		d->header_bytes += take;
		data += take;
		length -= take;
		if (d->header_bytes < d->header_needed)
			return;
		start_payload(d);
		if (!d->usable)
			return;
	}
	if (colpali_stream_feed(&d->score, data, length) != COLPALI_OK)
		d->usable = false;		/* NaN/Inf: the detoasting path names it */
}

#if PG_VERSION_NUM >= 180000

/*
 * The TOAST snapshot interface read_chunks uses changed in PostgreSQL 18;
 * there, pages and slices are read by detoasting.
 */
ToastStreamResult
maxsim_from_toast(Datum datum, DocumentFormat format, MultiVector query, const char *func,
				  ToastScratch *scratch, float *score)
{
	return TOAST_STREAM_NOT_APPLICABLE;
}

struct varlena *
toast_read_slice(Datum datum, Size length, ToastScratch *scratch)
{
	return NULL;
}

#else

/*
 * The buffer ring for this call site's reads, once they have read more than
 * a quarter of shared buffers: the rule PostgreSQL's own sequential scans
 * follow, so that an exact scan of every page does not push the rest of the
 * cache out. A rerank of a few dozen candidates stays below it and keeps its
 * pages cached for the next query.
 */
static BufferAccessStrategy
scan_strategy(ToastScratch *scratch)
{
	if (scratch->blocks_read <= (uint64) NBuffers / 4)
		return NULL;
	if (scratch->strategy == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(scratch->context);

		scratch->strategy = GetAccessStrategy(BAS_BULKREAD);
		MemoryContextSwitchTo(old);
	}
	return scratch->strategy;
}

/* What is done with each chunk's bytes; false stops the reading. */
typedef bool (*ChunkConsumer) (void *context, const char *data, Size length);

/*
 * Reads the chunks of the uncompressed on-disk value `pointer` in order and
 * hands each to `consume` until it stops or they end. The chunks are found
 * with the same ordered index scan the detoaster uses; the heap fetch is
 * ours, so that it can go through the call site's ring. False where a chunk
 * is missing, out of order or stored unusually (the detoaster reports those).
 */
static bool
read_chunks(const struct varatt_external *pointer, ToastScratch *scratch, ChunkConsumer consume,
			void *context, int32 *chunks_read)
{
	Relation	toastrel;
	Relation   *toastidxs;
	int			num_indexes;
	int			valid_index;
	ScanKeyData key;
	SnapshotData toast_snapshot;
	BufferAccessStrategy strategy;
	IndexScanDesc scan;
	ItemPointer tid;
	Buffer		buffer = InvalidBuffer;
	int32		expected_chunk = 0;
	bool		in_order = true;

	toastrel = table_open(pointer->va_toastrelid, AccessShareLock);
	valid_index = toast_open_indexes(toastrel, AccessShareLock, &toastidxs, &num_indexes);
	ScanKeyInit(&key, (AttrNumber) 1, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(pointer->va_valueid));
	init_toast_snapshot(&toast_snapshot);
	strategy = scan_strategy(scratch);
	scan = index_beginscan(toastrel, toastidxs[valid_index], &toast_snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		HeapTupleData tuple;
		ItemPointerData found_tid = *tid;
		bool		all_dead;
		bool		found;
		bool		isnull;
		int32		chunk_number;
		Pointer		chunk;

		CHECK_FOR_INTERRUPTS();
		if (!BufferIsValid(buffer) || BufferGetBlockNumber(buffer) != ItemPointerGetBlockNumber(tid))
		{
			if (BufferIsValid(buffer))
				ReleaseBuffer(buffer);
			buffer = ReadBufferExtended(toastrel, MAIN_FORKNUM, ItemPointerGetBlockNumber(tid),
										RBM_NORMAL, strategy);
			scratch->blocks_read++;
		}
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		found = heap_hot_search_buffer(&found_tid, toastrel, buffer, &toast_snapshot, &tuple,
									   &all_dead, true);
		/* The pin keeps the tuple in place once the lock is gone. */
		LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
		if (!found)
			continue;
		chunk_number = DatumGetInt32(heap_getattr(&tuple, 2, RelationGetDescr(toastrel), &isnull));
		chunk = DatumGetPointer(heap_getattr(&tuple, 3, RelationGetDescr(toastrel), &isnull));
		/* Anything out of the ordinary: let the detoaster check and report it. */
		if (chunk_number != expected_chunk || (VARATT_IS_EXTENDED(chunk) && !VARATT_IS_SHORT(chunk)))
		{
			in_order = false;
			break;
		}
		expected_chunk++;
		if (!consume(context, VARDATA_ANY(chunk), VARSIZE_ANY_EXHDR(chunk)))
			break;
	}
	if (BufferIsValid(buffer))
		ReleaseBuffer(buffer);
	index_endscan(scan);
	toast_close_indexes(toastidxs, num_indexes, AccessShareLock);
	table_close(toastrel, AccessShareLock);
	*chunks_read = expected_chunk;
	return in_order;
}

/* A page's chunk into the kernel stream, its bytes counted. */
typedef struct StreamConsumer
{
	DocumentStream *stream;
	Size		bytes;
} StreamConsumer;

static bool
consume_into_stream(void *context, const char *data, Size length)
{
	StreamConsumer *consumer = context;

	consume_chunk(consumer->stream, data, length);
	consumer->bytes += length;
	return consumer->stream->usable;
}

ToastStreamResult
maxsim_from_toast(Datum datum, DocumentFormat format, MultiVector query, const char *func,
				  ToastScratch *scratch, float *score)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(datum);
	struct varatt_external pointer;
	DocumentStream stream;
	StreamConsumer consumer = {&stream, 0};
	int32		chunks;

	if (!colpali_stream_toast || !VARATT_IS_EXTERNAL_ONDISK(attr))
		return TOAST_STREAM_NOT_APPLICABLE;
	VARATT_EXTERNAL_GET_POINTER(pointer, attr);
	if (VARATT_EXTERNAL_IS_COMPRESSED(pointer))
		return TOAST_STREAM_NOT_APPLICABLE;

	memset(&stream, 0, sizeof(stream));
	stream.query = query;
	stream.format = format;
	stream.header_needed = format == DOCUMENT_HALF ? MULTIHALFVEC_STREAM_HEADER : ARRAY_STREAM_HEADER;
	stream.func = func;
	stream.scratch = scratch;
	stream.usable = true;

	if (!read_chunks(&pointer, scratch, consume_into_stream, &consumer, &chunks) ||
		!stream.usable || stream.header_bytes < stream.header_needed ||
		consumer.bytes != (Size) VARATT_EXTERNAL_GET_EXTSIZE(pointer) ||
		consumer.bytes != stream.header_needed + stream.payload_bytes ||
		colpali_stream_finish(&stream.score, stream.doc_rows, score) != COLPALI_OK)
		return TOAST_STREAM_NOT_APPLICABLE;
	elog(DEBUG2, "%s: scored a %d x %d document from %d TOAST chunks", func, stream.doc_rows,
		 stream.score.dim, chunks);
	return TOAST_STREAM_SCORED;
}

/* A slice's chunks, copied until it is whole. */
typedef struct SliceConsumer
{
	char	   *out;
	Size		wanted;
	Size		have;
} SliceConsumer;

static bool
consume_into_slice(void *context, const char *data, Size length)
{
	SliceConsumer *slice = context;
	Size		take = Min(length, slice->wanted - slice->have);

	memcpy(slice->out + slice->have, data, take);
	slice->have += take;
	return slice->have < slice->wanted;
}

struct varlena *
toast_read_slice(Datum datum, Size length, ToastScratch *scratch)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(datum);
	struct varatt_external pointer;
	struct varlena *result;
	SliceConsumer slice;
	int32		chunks;

	if (!colpali_stream_toast || !VARATT_IS_EXTERNAL_ONDISK(attr))
		return NULL;
	VARATT_EXTERNAL_GET_POINTER(pointer, attr);
	if (VARATT_EXTERNAL_IS_COMPRESSED(pointer) || length == 0 ||
		length > (Size) VARATT_EXTERNAL_GET_EXTSIZE(pointer))
		return NULL;
	result = scratch_buffer(scratch, (void **) &scratch->slice, &scratch->slice_capacity,
							VARHDRSZ + length, 1);
	slice.out = VARDATA(result);
	slice.wanted = length;
	slice.have = 0;
	if (!read_chunks(&pointer, scratch, consume_into_slice, &slice, &chunks) || slice.have != length)
		return NULL;
	SET_VARSIZE(result, VARHDRSZ + length);
	elog(DEBUG2, "read the first %zu bytes of a stored value from its first %d TOAST chunks", length, chunks);
	return result;
}

#endif
