/*
 * Inserting a page into a colpali_ivf index: its TID is appended to the
 * tail of each list it is filed under. The centroid page (which holds the
 * list's tail) is locked first, so appends to one list are serialized and a
 * full tail is replaced by a new page atomically, in one WAL record.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

#include "ivf.h"

static void
append_tid(Page page, ItemPointer tid)
{
	IvfPageOpaque *opaque = IvfPageGetOpaque(page);
	ItemPointerData *tids = IvfPagePostings(page);

	tids[opaque->count++] = *tid;
	((PageHeader) page)->pd_lower = (char *) (tids + opaque->count) - (char *) page;
}

static IvfCentroid *
centroid_item(Page page, OffsetNumber offset)
{
	return (IvfCentroid *) PageGetItem(page, PageGetItemId(page, offset));
}

static void
append_posting(Relation index, const IvfIndexInfo *info, int list, ItemPointer tid)
{
	BlockNumber centroid_block;
	OffsetNumber offset;
	Buffer		centroid_buffer;
	Buffer		tail_buffer = InvalidBuffer;
	Buffer		new_buffer;
	BlockNumber tail;
	GenericXLogState *xlog;
	Page		page;

	ivf_centroid_location(info, list, &centroid_block, &offset);
	centroid_buffer = ReadBuffer(index, centroid_block);
	LockBuffer(centroid_buffer, BUFFER_LOCK_EXCLUSIVE);
	tail = centroid_item(BufferGetPage(centroid_buffer), offset)->tail;

	if (BlockNumberIsValid(tail))
	{
		tail_buffer = ReadBuffer(index, tail);
		LockBuffer(tail_buffer, BUFFER_LOCK_EXCLUSIVE);
		if (IvfPageGetOpaque(BufferGetPage(tail_buffer))->count < IVF_POSTINGS_PER_PAGE)
		{
			xlog = GenericXLogStart(index);
			append_tid(GenericXLogRegisterBuffer(xlog, tail_buffer, 0), tid);
			GenericXLogFinish(xlog);
			UnlockReleaseBuffer(tail_buffer);
			UnlockReleaseBuffer(centroid_buffer);
			return;
		}
	}

	/* The list is empty or its tail is full: a new tail page. */
	LockRelationForExtension(index, ExclusiveLock);
	new_buffer = ReadBuffer(index, P_NEW);
	LockBuffer(new_buffer, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);

	xlog = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(xlog, new_buffer, GENERIC_XLOG_FULL_IMAGE);
	ivf_init_page(page, IVF_PAGE_POSTINGS);
	append_tid(page, tid);
	if (BufferIsValid(tail_buffer))
		IvfPageGetOpaque(GenericXLogRegisterBuffer(xlog, tail_buffer, 0))->next =
			BufferGetBlockNumber(new_buffer);
	{
		IvfCentroid *centroid = centroid_item(GenericXLogRegisterBuffer(xlog, centroid_buffer, 0), offset);

		if (!BlockNumberIsValid(centroid->head))
			centroid->head = BufferGetBlockNumber(new_buffer);
		centroid->tail = BufferGetBlockNumber(new_buffer);
	}
	GenericXLogFinish(xlog);
	UnlockReleaseBuffer(new_buffer);
	if (BufferIsValid(tail_buffer))
		UnlockReleaseBuffer(tail_buffer);
	UnlockReleaseBuffer(centroid_buffer);
}

bool
ivf_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	IvfIndexInfo *info = ivf_index_info(index);
	MemoryContext context;
	MemoryContext old;
	float	   *vectors;
	int			rows;
	int			dim;
	int32	   *nearest;
	bool	   *seen;
	int32	   *lists;
	int			count;

	/* Built over an empty table: no centroids to file under. The planner
	 * never uses such an index; REINDEX trains it on the rows by then. */
	if (isnull[0] || info->lists == 0)
		return false;
	context = AllocSetContextCreate(CurrentMemoryContext, "colpali_ivf insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	vectors = ivf_page_vectors(values[0], info->dim, &rows, &dim, "the page");
	nearest = palloc(sizeof(int32) * rows);
	seen = palloc0(sizeof(bool) * info->lists);
	lists = palloc(sizeof(int32) * Min(rows, info->lists));
	count = ivf_distinct_lists(vectors, rows, info, nearest, seen, lists);
	for (int i = 0; i < count; i++)
		append_posting(index, info, lists[i], heap_tid);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
	return false;
}
