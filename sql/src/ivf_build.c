/*
 * Building a colpali_ivf index: two passes over the table. The first keeps
 * a uniform sample of pages (reservoir sampling: only the pages kept are
 * read from TOAST) and clusters 32 of each one's tokens into centroids;
 * the second files every page under the nearest centroid of each of its
 * tokens, a batch of pages at a time, on helper threads as well as the
 * backend (ivf_parallel.c). Pages are then written in one sequence (meta,
 * centroids, each list's postings) and WAL-logged as whole pages.
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "colpali_kernels.h"
#include "ivf.h"

#define SAMPLE_TOKENS_PER_PAGE	32
#define SAMPLE_TOKENS_PER_LIST	64
#define MAX_SAMPLE_TOKENS		(256 * 1024)
#define KMEANS_ITERATIONS		10
#define BUILD_SEED				0x436F6C50616C69ULL
/* Pass 2 files pages a batch at a time, their tokens' nearest centroids
 * found together (ivf_nearest_parallel): about 32 ColPali pages. */
#define BATCH_TOKENS			32768
#define BATCH_PAGES				256

typedef struct Posting
{
	int32		list;
	ItemPointerData tid;
} Posting;

typedef struct BuildState
{
	int			dim;			/* from the first page */
	pg_prng_state prng;
	MemoryContext page_context; /* reset after each page */

	/* pass 1: the reservoir */
	int			slots;			/* capacity in pages */
	int			filled;
	int64		pages_seen;
	float	   *sample;			/* slots * SAMPLE_TOKENS_PER_PAGE * dim */
	int		   *sample_rows;	/* tokens kept per slot */

	/* pass 2: the postings */
	IvfIndexInfo info;
	Posting    *postings;
	Size		posting_count;
	Size		posting_capacity;
	bool	   *seen;
	int32	   *lists;			/* one page's lists, info.lists entries */
	double		indexed;

	/* pass 2: the pages read but not yet filed */
	float	   *batch;			/* batch_capacity * dim floats */
	int32	   *batch_nearest;	/* batch_capacity */
	int			batch_capacity; /* tokens */
	int			batch_tokens;
	int			batch_pages;
	ItemPointerData batch_tids[BATCH_PAGES];
	int			batch_rows[BATCH_PAGES];
} BuildState;

static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool alive, void *opaque)
{
	BuildState *state = (BuildState *) opaque;
	int64		slot;
	MemoryContext old;
	float	   *vectors;
	int			rows;
	int			dim;
	int			keep;

	if (isnull[0])
		return;
	state->pages_seen++;
	if (state->filled < state->slots)
		slot = state->filled;
	else if ((slot = (int64) pg_prng_uint64_range(&state->prng, 0, state->pages_seen - 1)) >= state->slots)
		return;

	old = MemoryContextSwitchTo(state->page_context);
	vectors = ivf_page_vectors(values[0], state->dim, &rows, &dim, "a page");
	MemoryContextSwitchTo(old);
	if (state->sample == NULL)
	{
		state->dim = dim;
		state->sample = palloc_extended(sizeof(float) * (Size) state->slots * SAMPLE_TOKENS_PER_PAGE * dim,
										MCXT_ALLOC_HUGE);
	}
	/* A uniform choice of rows without repeats: a partial Fisher-Yates shuffle. */
	keep = Min(rows, SAMPLE_TOKENS_PER_PAGE);
	{
		int		   *order = MemoryContextAlloc(state->page_context, sizeof(int) * rows);

		for (int i = 0; i < rows; i++)
			order[i] = i;
		for (int i = 0; i < keep; i++)
		{
			int			j = i + (int) pg_prng_uint64_range(&state->prng, 0, rows - 1 - i);
			int			t = order[i];

			order[i] = order[j];
			order[j] = t;
			memcpy(state->sample + ((Size) slot * SAMPLE_TOKENS_PER_PAGE + i) * dim,
				   vectors + (Size) order[i] * dim, sizeof(float) * dim);
		}
	}
	state->sample_rows[slot] = keep;
	if (slot == state->filled)
		state->filled++;
	MemoryContextReset(state->page_context);
}

static void
normalise(float *v, int dim)
{
	double		norm = 0;

	for (int k = 0; k < dim; k++)
		norm += (double) v[k] * v[k];
	if (norm > 0)
	{
		float		scale = (float) (1.0 / sqrt(norm));

		for (int k = 0; k < dim; k++)
			v[k] *= scale;
	}
}

/*
 * Spherical k-means (dot-product assignment, unit centroids) over the
 * sampled tokens; `lists` centroids into `centroids`. A centroid left
 * without tokens restarts at a random token.
 */
static void
kmeans(BuildState *state, const float *tokens, int n, int lists, float *centroids)
{
	int			dim = state->dim;
	int32	   *assign = palloc_extended(sizeof(int32) * n, MCXT_ALLOC_HUGE);
	int		   *counts = palloc(sizeof(int) * lists);
	int		   *order = palloc_extended(sizeof(int) * n, MCXT_ALLOC_HUGE);

	/* Start from distinct random tokens. */
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int j = 0; j < lists; j++)
	{
		int			pick = j + (int) pg_prng_uint64_range(&state->prng, 0, n - 1 - j);
		int			t = order[j];

		order[j] = order[pick];
		order[pick] = t;
		memcpy(centroids + (Size) j * dim, tokens + (Size) order[j] * dim, sizeof(float) * dim);
		normalise(centroids + (Size) j * dim, dim);
	}
	for (int iteration = 0; iteration < KMEANS_ITERATIONS; iteration++)
	{
		float	   *layout = ivf_nearest_layout(centroids, lists, dim, CurrentMemoryContext);

		CHECK_FOR_INTERRUPTS();
		ivf_nearest_parallel(tokens, n, layout, lists, dim, assign);
		pfree(layout);
		memset(centroids, 0, sizeof(float) * (Size) lists * dim);
		memset(counts, 0, sizeof(int) * lists);
		for (int i = 0; i < n; i++)
		{
			float	   *c = centroids + (Size) assign[i] * dim;
			const float *x = tokens + (Size) i * dim;

			counts[assign[i]]++;
			for (int k = 0; k < dim; k++)
				c[k] += x[k];
		}
		for (int j = 0; j < lists; j++)
		{
			if (counts[j] == 0)
				memcpy(centroids + (Size) j * dim,
					   tokens + (Size) pg_prng_uint64_range(&state->prng, 0, n - 1) * dim,
					   sizeof(float) * dim);
			normalise(centroids + (Size) j * dim, dim);
		}
	}
	pfree(assign);
	pfree(counts);
	pfree(order);
}

/* Files the batch's pages: their tokens' nearest centroids at once, then
 * each page under its distinct lists. */
static void
flush_batch(BuildState *state)
{
	int			at = 0;

	if (state->batch_pages == 0)
		return;
	ivf_nearest_parallel(state->batch, state->batch_tokens, state->info.layout, state->info.lists,
						 state->dim, state->batch_nearest);
	for (int p = 0; p < state->batch_pages; p++)
	{
		int			count = ivf_lists_of_nearest(state->batch_nearest + at, state->batch_rows[p],
												 &state->info, state->seen, state->lists);

		if (state->posting_count + count > state->posting_capacity)
		{
			state->posting_capacity = Max(state->posting_capacity * 2, state->posting_count + count + 1024);
			state->postings = repalloc_huge(state->postings, sizeof(Posting) * state->posting_capacity);
		}
		for (int i = 0; i < count; i++)
		{
			Posting    *posting = &state->postings[state->posting_count++];

			posting->list = state->lists[i];
			posting->tid = state->batch_tids[p];
		}
		at += state->batch_rows[p];
	}
	state->batch_pages = 0;
	state->batch_tokens = 0;
}

static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool alive, void *opaque)
{
	BuildState *state = (BuildState *) opaque;
	MemoryContext old;
	float	   *vectors;
	int			rows;
	int			dim;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(state->page_context);
	vectors = ivf_page_vectors(values[0], state->dim, &rows, &dim, "a page");
	MemoryContextSwitchTo(old);

	if (state->batch_pages == BATCH_PAGES || state->batch_tokens + rows > state->batch_capacity)
		flush_batch(state);
	if (rows > state->batch_capacity)
	{
		/* A page larger than a batch is a batch of its own. */
		state->batch_capacity = rows;
		state->batch = repalloc_huge(state->batch, sizeof(float) * (Size) rows * dim);
		state->batch_nearest = repalloc(state->batch_nearest, sizeof(int32) * rows);
	}
	memcpy(state->batch + (Size) state->batch_tokens * dim, vectors, sizeof(float) * (Size) rows * dim);
	state->batch_tids[state->batch_pages] = *tid;
	state->batch_rows[state->batch_pages] = rows;
	state->batch_pages++;
	state->batch_tokens += rows;
	state->indexed += 1;
	MemoryContextReset(state->page_context);
}

static int
compare_postings(const void *a, const void *b, void *arg)
{
	const Posting *x = a,
			   *y = b;

	if (x->list != y->list)
		return (x->list > y->list) - (x->list < y->list);
	return ItemPointerCompare((ItemPointer) &x->tid, (ItemPointer) &y->tid);
}

/* A new page at the end of the index: block `expected`, locked. */
static Buffer
new_page(Relation index, ForkNumber fork, BlockNumber expected, uint16 kind)
{
	Buffer		buffer = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);

	if (BufferGetBlockNumber(buffer) != expected)
		elog(ERROR, "colpali_ivf build: new page is block %u, expected %u",
			 BufferGetBlockNumber(buffer), expected);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	ivf_init_page(BufferGetPage(buffer), kind);
	return buffer;
}

static void
finish_page(Buffer buffer)
{
	MarkBufferDirty(buffer);
	UnlockReleaseBuffer(buffer);
}

static void
write_meta(Relation index, ForkNumber fork, int dim, int lists, int per_page)
{
	Buffer		buffer = new_page(index, fork, IVF_META_BLKNO, IVF_PAGE_META);
	Page		page = BufferGetPage(buffer);
	IvfMetaPageData *meta = IvfPageGetMeta(page);

	meta->magic = IVF_MAGIC;
	meta->version = IVF_VERSION;
	meta->dim = dim;
	meta->lists = lists;
	meta->centroids_per_page = per_page;
	((PageHeader) page)->pd_lower = (char *) meta + sizeof(IvfMetaPageData) - (char *) page;
	if (fork == INIT_FORKNUM)
		log_newpage_buffer(buffer, true);
	finish_page(buffer);
}

static int
centroids_per_page(int dim)
{
	return (int) ((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IvfPageOpaque))) /
				  (IVF_CENTROID_SIZE(dim) + sizeof(ItemIdData)));
}

/* Meta page, centroid pages and posting pages, in block order. */
static void
write_index(Relation index, BuildState *state)
{
	IvfIndexInfo *info = &state->info;
	Size		item_size = IVF_CENTROID_SIZE(info->dim);
	int			centroid_pages = (info->lists + info->per_page - 1) / info->per_page;
	BlockNumber next_block = IVF_FIRST_CENTROID_BLKNO + centroid_pages;
	Size	   *starts = palloc(sizeof(Size) * (info->lists + 1));
	IvfCentroid *item = palloc0(item_size);
	Size		at = 0;

	/* Where each list's postings start in the sorted array. */
	for (int list = 0; list <= info->lists; list++)
	{
		while (at < state->posting_count && state->postings[at].list < list)
			at++;
		starts[list] = at;
	}

	write_meta(index, MAIN_FORKNUM, info->dim, info->lists, info->per_page);
	for (int p = 0; p < centroid_pages; p++)
	{
		Buffer		buffer = new_page(index, MAIN_FORKNUM, IVF_FIRST_CENTROID_BLKNO + p, IVF_PAGE_CENTROIDS);
		Page		page = BufferGetPage(buffer);

		for (int list = p * info->per_page; list < Min(info->lists, (p + 1) * info->per_page); list++)
		{
			Size		n = starts[list + 1] - starts[list];
			BlockNumber pages = (BlockNumber) ((n + IVF_POSTINGS_PER_PAGE - 1) / IVF_POSTINGS_PER_PAGE);

			item->head = pages > 0 ? next_block : InvalidBlockNumber;
			item->tail = pages > 0 ? next_block + pages - 1 : InvalidBlockNumber;
			next_block += pages;
			memcpy(item->vector, info->centroids + (Size) list * info->dim, sizeof(float) * info->dim);
			if (PageAddItem(page, (Item) item, item_size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
				elog(ERROR, "colpali_ivf build: centroid %d does not fit its page", list);
		}
		finish_page(buffer);
	}
	next_block = IVF_FIRST_CENTROID_BLKNO + centroid_pages;
	for (int list = 0; list < info->lists; list++)
	{
		for (Size from = starts[list]; from < starts[list + 1]; from += IVF_POSTINGS_PER_PAGE)
		{
			Size		n = Min(IVF_POSTINGS_PER_PAGE, starts[list + 1] - from);
			Buffer		buffer = new_page(index, MAIN_FORKNUM, next_block, IVF_PAGE_POSTINGS);
			Page		page = BufferGetPage(buffer);
			IvfPageOpaque *opaque = IvfPageGetOpaque(page);
			ItemPointerData *tids = IvfPagePostings(page);

			CHECK_FOR_INTERRUPTS();
			for (Size i = 0; i < n; i++)
				tids[i] = state->postings[from + i].tid;
			opaque->count = (uint16) n;
			opaque->next = from + n < starts[list + 1] ? next_block + 1 : InvalidBlockNumber;
			((PageHeader) page)->pd_lower = (char *) (tids + n) - (char *) page;
			finish_page(buffer);
			next_block++;
		}
	}
	pfree(starts);
	pfree(item);
}

IndexBuildResult *
ivf_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IvfOptions *options = (IvfOptions *) index->rd_options;
	int			lists_wanted = options != NULL ? options->lists : IVF_DEFAULT_LISTS;
	BuildState *state = palloc0(sizeof(BuildState));
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	double		heap_tuples;
	int			tokens = 0;
	float	   *packed;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "colpali_ivf index \"%s\" already contains data", RelationGetRelationName(index));
	pg_prng_seed(&state->prng, BUILD_SEED);
	state->page_context = AllocSetContextCreate(CurrentMemoryContext, "colpali_ivf build page",
												ALLOCSET_DEFAULT_SIZES);
	state->slots = Max(1, Min((Size) lists_wanted * SAMPLE_TOKENS_PER_LIST, MAX_SAMPLE_TOKENS) /
					   SAMPLE_TOKENS_PER_PAGE);
	state->sample_rows = palloc0(sizeof(int) * state->slots);
	heap_tuples = table_index_build_scan(heap, index, indexInfo, true, true, sample_callback, state, NULL);

	/* The sampled tokens, packed. */
	for (int s = 0; s < state->filled; s++)
		tokens += state->sample_rows[s];
	packed = tokens > 0 ? palloc_extended(sizeof(float) * (Size) tokens * state->dim, MCXT_ALLOC_HUGE) : NULL;
	tokens = 0;
	for (int s = 0; s < state->filled; s++)
	{
		memcpy(packed + (Size) tokens * state->dim,
			   state->sample + (Size) s * SAMPLE_TOKENS_PER_PAGE * state->dim,
			   sizeof(float) * state->sample_rows[s] * state->dim);
		tokens += state->sample_rows[s];
	}

	state->info.dim = state->dim;
	state->info.lists = Min(lists_wanted, tokens);
	state->info.per_page = state->dim > 0 ? centroids_per_page(state->dim) : 1;
	if (state->info.lists > 0)
	{
		state->info.centroids = palloc_extended(sizeof(float) * (Size) state->info.lists * state->dim,
												MCXT_ALLOC_HUGE);
		kmeans(state, packed, tokens, state->info.lists, state->info.centroids);
		state->info.layout = ivf_nearest_layout(state->info.centroids, state->info.lists, state->dim,
												CurrentMemoryContext);
		state->seen = palloc0(sizeof(bool) * state->info.lists);
		state->lists = palloc(sizeof(int32) * state->info.lists);
		state->posting_capacity = 1024;
		state->postings = palloc(sizeof(Posting) * state->posting_capacity);
		state->batch_capacity = BATCH_TOKENS;
		state->batch = palloc(sizeof(float) * (Size) BATCH_TOKENS * state->dim);
		state->batch_nearest = palloc(sizeof(int32) * BATCH_TOKENS);
		table_index_build_scan(heap, index, indexInfo, true, true, assign_callback, state, NULL);
		flush_batch(state);
		qsort_interruptible(state->postings, state->posting_count, sizeof(Posting), compare_postings, NULL);
	}
	write_index(index, state);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	result->heap_tuples = heap_tuples;
	result->index_tuples = state->indexed;
	MemoryContextDelete(state->page_context);
	return result;
}

/* An unlogged table's index after a crash: the meta page of an unbuilt index. */
void
ivf_buildempty(Relation index)
{
	write_meta(index, INIT_FORKNUM, 0, 0, 1);
}
