/*
 * VACUUM of a colpali_ivf index: every posting page drops the TIDs of
 * removed rows, compacting in place. Pages stay in their lists even when
 * emptied (inserts only append at a list's tail); REINDEX reclaims them.
 * Scans copy a page's TIDs under a share lock, so a page is never seen
 * half compacted.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

#include "ivf.h"

IndexBulkDeleteResult *
ivf_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	BlockNumber blocks = RelationGetNumberOfBlocks(index);

	/* A posting page holds at most this many TIDs. */
	bool	   *dead = palloc(BLCKSZ / sizeof(ItemPointerData) * sizeof(bool));

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->estimated_count = true;
	for (BlockNumber block = IVF_FIRST_CENTROID_BLKNO; block < blocks; block++)
	{
		Buffer		buffer = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, info->strategy);
		Page		page;
		IvfPageOpaque *opaque;
		ItemPointerData *tids;
		int			kept = 0;

		vacuum_delay_point();
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buffer);
		opaque = IvfPageGetOpaque(page);
		if (PageIsNew(page) || opaque->kind != IVF_PAGE_POSTINGS)
		{
			UnlockReleaseBuffer(buffer);
			continue;
		}
		/* Ask about each TID once (the callback is a lookup in the set of
		 * dead TIDs), then compact the page by the answers. */
		tids = IvfPagePostings(page);
		for (int i = 0; i < opaque->count; i++)
		{
			dead[i] = callback(&tids[i], callback_state);
			if (!dead[i])
				kept++;
		}
		if (kept < opaque->count)
		{
			GenericXLogState *xlog = GenericXLogStart(index);
			Page		copy = GenericXLogRegisterBuffer(xlog, buffer, 0);
			IvfPageOpaque *copy_opaque = IvfPageGetOpaque(copy);
			ItemPointerData *copy_tids = IvfPagePostings(copy);
			int			at = 0;

			for (int i = 0; i < copy_opaque->count; i++)
				if (!dead[i])
					copy_tids[at++] = copy_tids[i];
			stats->tuples_removed += copy_opaque->count - at;
			copy_opaque->count = (uint16) at;
			((PageHeader) copy)->pd_lower = (char *) (copy_tids + at) - (char *) copy;
			GenericXLogFinish(xlog);
		}
		UnlockReleaseBuffer(buffer);
	}
	pfree(dead);
	/* Pages, not postings (a page is in one list per centroid it has). */
	stats->num_index_tuples = info->num_heap_tuples;
	stats->num_pages = blocks;
	return stats;
}

IndexBulkDeleteResult *
ivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->estimated_count = true;
		stats->num_index_tuples = info->num_heap_tuples;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
