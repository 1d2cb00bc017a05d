/*
 * Memory a backend keeps from one colpali_ivf scan to the next: the buffer
 * the probed lists' TIDs are read into and the flat credit array.
 * Allocated afresh for every query, their pages cost a fifth of a
 * 50,000-page first stage in page faults (the kernel zeroing new memory)
 * and copying.
 *
 * One scan owns it at a time; another in the same backend meanwhile (a
 * nested or interleaved scan) allocates its own. Ownership ends with the
 * scan (ivf_scratch_release), or when the memory context holding the scan
 * goes, which is how an error that abandons a scan gives it back. An error
 * while the TIDs were out being read (the buffer may have moved) empties
 * it. Buffers past IVF_SCRATCH_KEPT_BYTES are not kept.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "ivf.h"

static struct
{
	MemoryContext context;		/* under TopMemoryContext; holds the buffers */
	IvfTidBuffer tids;
	bool		reading;		/* tids is out being filled: stale here */
	void	   *credits;
	Size		credits_bytes;
	uint64		owner;			/* the owning scan's id; 0: free */
	uint64		handed_out;
} scratch;

static void
scratch_context_gone(void *arg)
{
	if (scratch.owner != *(uint64 *) arg)
		return;
	scratch.owner = 0;
	if (scratch.reading)
	{
		MemoryContextReset(scratch.context);
		scratch.tids = (IvfTidBuffer) {NULL, 0, 0};
		scratch.credits = NULL;
		scratch.credits_bytes = 0;
		scratch.reading = false;
	}
}

bool
ivf_scratch_own(uint64 *scan_id, MemoryContext scan_context)
{
	if (*scan_id != 0 && scratch.owner == *scan_id)
		return true;
	if (scratch.owner != 0)
		return false;
	if (scratch.context == NULL)
		scratch.context = AllocSetContextCreate(TopMemoryContext, "colpali_ivf scan scratch", ALLOCSET_DEFAULT_SIZES);
	if (*scan_id == 0)
	{
		MemoryContextCallback *callback = MemoryContextAlloc(scan_context, sizeof(MemoryContextCallback) + sizeof(uint64));
		uint64	   *id = (uint64 *) (callback + 1);

		*id = *scan_id = ++scratch.handed_out;
		callback->func = scratch_context_gone;
		callback->arg = id;
		MemoryContextRegisterResetCallback(scan_context, callback);
	}
	scratch.owner = *scan_id;
	return true;
}

void
ivf_scratch_release(uint64 scan_id)
{
	if (scan_id != 0 && scratch.owner == scan_id)
		scratch.owner = 0;
}

IvfTidBuffer
ivf_scratch_take_tids(bool owned)
{
	IvfTidBuffer buffer = scratch.tids;

	if (!owned || buffer.tids == NULL)
		buffer = (IvfTidBuffer) {MemoryContextAllocExtended(owned ? scratch.context : CurrentMemoryContext,
															sizeof(ItemPointerData) * IVF_POSTINGS_PER_PAGE,
															MCXT_ALLOC_HUGE),
								 0, IVF_POSTINGS_PER_PAGE};
	buffer.count = 0;
	if (owned)
		scratch.reading = true;
	return buffer;
}

void
ivf_scratch_return_tids(bool owned, IvfTidBuffer buffer)
{
	if (!owned)
		return;
	if (sizeof(ItemPointerData) * buffer.capacity > IVF_SCRATCH_KEPT_BYTES)
	{
		pfree(buffer.tids);
		buffer = (IvfTidBuffer) {NULL, 0, 0};
	}
	scratch.tids = buffer;
	scratch.reading = false;
}

void *
ivf_scratch_zeroed(bool owned, Size bytes)
{
	if (!owned || bytes > IVF_SCRATCH_KEPT_BYTES)
		return palloc_extended(bytes, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (scratch.credits_bytes < bytes)
	{
		if (scratch.credits != NULL)
			pfree(scratch.credits);
		scratch.credits = NULL;
		scratch.credits_bytes = 0;
		scratch.credits = MemoryContextAllocExtended(scratch.context, bytes, MCXT_ALLOC_HUGE);
		scratch.credits_bytes = bytes;
	}
	memset(scratch.credits, 0, bytes);
	return scratch.credits;
}
