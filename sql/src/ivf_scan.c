/*
 * Scanning a colpali_ivf index for ORDER BY embedding <#> query. Each query
 * token probes its nearest centroids; the lists it probes are read into
 * memory once, and every page in them is scored by centroid interaction:
 * per token, the best probed centroid the page is filed under, counted as
 * its gain over the token's imputed score (the weakest probed similarity).
 * Pages come back best first. Then rounds with four times the probes follow,
 * each ranking only pages not yet returned, until every list has been read:
 * a scan that a WHERE clause keeps asking for more rows ends up returning
 * every page, so a selective filter never silently comes back short. The
 * lists' TIDs and the pages' credits live in memory the backend keeps
 * between scans (ivf_scratch.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "colpali_kernels.h"
#include "ivf.h"
#include "multivector.h"

/*
 * What a round knows of one page: its estimate so far and the last query
 * token (1-based) that credited it; 0 when no token has yet,
 * CREDIT_RETURNED in a flat slot whose page an earlier round returned, and
 * CREDIT_TAKEN once the page is in this round's heap.
 */
typedef struct Credit
{
	float		score;
	int32		token;
} Credit;

#define CREDIT_RETURNED (-1)
#define CREDIT_TAKEN (-2)		/* in a heap of this round already */

/*
 * A page of a round without a flat array (one that would be too large, or a
 * scan without a query), or membership of the set already returned.
 */
typedef struct TidEntry
{
	uint64		key;
	char		status;
	Credit		credit;
} TidEntry;

static inline uint64
mix64(uint64 x)
{
	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

#define SH_PREFIX tidmap
#define SH_ELEMENT_TYPE TidEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) ((uint32) mix64(k))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static inline uint64
tid_key(const ItemPointerData *tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) | ItemPointerGetOffsetNumberNoCheck(tid);
}

typedef struct Ranked
{
	ItemPointerData tid;
	float		score;
} Ranked;

/*
 * Where a round keeps its pages: a flat array with one Credit per line
 * pointer, sized from the TIDs the round read (blocks up to the highest, as
 * many slots per block as the highest offset), found by the TID's position;
 * a hash table where that array would be too large.
 */
typedef struct RoundCredits
{
	Credit	   *flat;
	BlockNumber blocks;			/* the flat array covers blocks [0, blocks); 0: none */
	OffsetNumber per_block;		/* slots per block: the highest offset read */
	tidmap_hash *overflow;
	tidmap_hash *returned;		/* skipped; NULL in the first round (empty). In
								 * the flat array they are marked instead. */
} RoundCredits;

/* The flat array's slot for a row, or NULL outside the array. */
static inline Credit *
flat_slot(const RoundCredits *round, BlockNumber block, OffsetNumber offset)
{
	if (block < round->blocks && offset >= FirstOffsetNumber && offset <= round->per_block)
		return &round->flat[(Size) block * round->per_block + offset - 1];
	return NULL;
}

typedef struct IvfScanState
{
	MemoryContext round_context;
	IvfIndexInfo *info;
	float	   *query;			/* nq * dim */
	int			nq;				/* 0: no query (NULL): every page, unranked */
	float	   *sims;			/* nq * lists */
	int			probes;			/* this round's probes per token */
	bool		last_round;		/* every list has been read */
	tidmap_hash *returned;
	RoundCredits credits;		/* this round's, in round_context or the scratch */
	uint64		scratch_id;		/* 0 until the scan first owns the scratch memory */
	bool		unranked;		/* credited pages of the round are not in a heap yet */
	Ranked	   *ranked;			/* a heap: the best at [0] */
	Size		ranked_count;
} IvfScanState;

IndexScanDesc
ivf_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	IvfScanState *state = palloc0(sizeof(IvfScanState));

	state->round_context = AllocSetContextCreate(CurrentMemoryContext, "colpali_ivf scan round",
												 ALLOCSET_DEFAULT_SIZES);
	state->info = ivf_index_info(index);
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	scan->opaque = state;
	return scan;
}

void
ivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;
	IvfIndexInfo *info = state->info;

	if (info->lists == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("colpali_ivf index \"%s\" has no centroids: it was built over a table without pages",
						RelationGetRelationName(scan->indexRelation)),
				 errhint("REINDEX INDEX %s once the table has pages.",
						 RelationGetRelationName(scan->indexRelation))));
	if (state->query != NULL)
		pfree(state->query);
	if (state->sims != NULL)
		pfree(state->sims);
	if (state->returned != NULL)
		tidmap_destroy(state->returned);
	MemoryContextReset(state->round_context);
	state->query = NULL;
	state->sims = NULL;
	state->nq = 0;
	state->ranked = NULL;
	state->ranked_count = 0;
	state->unranked = false;
	state->last_round = false;
	state->probes = Min(ivf_probes, info->lists);
	state->returned = tidmap_create(CurrentMemoryContext, 1024, NULL);

	if (norderbys > 0 && !(orderbys[0].sk_flags & SK_ISNULL))
	{
		ArrayType  *array = DatumGetArrayTypeP(orderbys[0].sk_argument);
		MultiVector query = multivector_from_array(array, "colpali_ivf", "query");

		multivector_check_finite(query, "colpali_ivf", "query");
		if (query.dim != info->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("colpali_ivf: query has dimension %d, the index %d", query.dim, info->dim)));
		state->nq = query.rows;
		state->query = palloc(sizeof(float) * (Size) query.rows * query.dim);
		memcpy(state->query, query.values, sizeof(float) * (Size) query.rows * query.dim);
		state->sims = palloc(sizeof(float) * (Size) query.rows * info->lists);
		colpali_similarity(state->query, state->nq, info->centroids, info->lists, info->dim, state->sims);
	}
	if (norderbys > 0)
		memcpy(scan->orderByData, orderbys, sizeof(ScanKeyData) * norderbys);
}

/* Centroid a before centroid b for a token: more similar, then the lower index. */
static inline bool
more_similar(const float *sims, int a, int b)
{
	return sims[a] > sims[b] || (sims[a] == sims[b] && a < b);
}

/* Restores a heap whose root is its least similar centroid. */
static void
least_similar_sift_down(const float *sims, int *heap, int count, int at)
{
	for (;;)
	{
		int			left = 2 * at + 1,
					least = at,
					swap;

		if (left < count && more_similar(sims, heap[least], heap[left]))
			least = left;
		if (left + 1 < count && more_similar(sims, heap[least], heap[left + 1]))
			least = left + 1;
		if (least == at)
			return;
		swap = heap[at];
		heap[at] = heap[least];
		heap[least] = swap;
		at = least;
	}
}

/*
 * A token's `probes` most similar centroids, most similar first, into out:
 * a bounded heap over the lists (a full sort per token cost more than the
 * postings it picks at small probe counts).
 */
static void
top_lists(const float *sims, int lists, int probes, int *out)
{
	for (int c = 0; c < probes; c++)
		out[c] = c;
	for (int at = probes / 2; at-- > 0;)
		least_similar_sift_down(sims, out, probes, at);
	for (int c = probes; c < lists; c++)
		if (more_similar(sims, c, out[0]))
		{
			out[0] = c;
			least_similar_sift_down(sims, out, probes, 0);
		}
	/* Heap sort: the least similar left goes to the end each time. */
	for (int n = probes; n > 1; n--)
	{
		int			least = out[0];

		out[0] = out[n - 1];
		out[n - 1] = least;
		least_similar_sift_down(sims, out, n - 1, 0);
	}
}

/* Best first: the higher estimate, then the lower TID (repeatable). */
static inline bool
ranked_before(const Ranked *a, const Ranked *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

static void
sift_down(Ranked *heap, Size count, Size at)
{
	for (;;)
	{
		Size		left = 2 * at + 1,
					best = at;
		Ranked		swap;

		if (left < count && ranked_before(&heap[left], &heap[best]))
			best = left;
		if (left + 1 < count && ranked_before(&heap[left + 1], &heap[best]))
			best = left + 1;
		if (best == at)
			return;
		swap = heap[at];
		heap[at] = heap[best];
		heap[best] = swap;
		at = best;
	}
}

static void
heapify(Ranked *heap, Size count)
{
	for (Size at = count / 2; at-- > 0;)
		sift_down(heap, count, at);
}

/* Pages a round puts in order first. */
#define IVF_FIRST_RANKED 1024

/* Moves the k best of items[0, n) to the front, in no order (quickselect). */
static void
select_best(Ranked *items, Size n, Size k)
{
	Size		lo = 0,
				hi = n;

	/*
	 * Everything before lo ranks before everything from lo on, likewise
	 * before hi, and lo <= k <= hi: done when k meets either.
	 */
	while (lo < k && k < hi && hi - lo > 1)
	{
		Size		store = lo;
		Ranked		pivot,
					swap;

		swap = items[lo + (hi - lo) / 2];
		items[lo + (hi - lo) / 2] = items[hi - 1];
		items[hi - 1] = swap;
		pivot = items[hi - 1];
		for (Size i = lo; i < hi - 1; i++)
			if (ranked_before(&items[i], &pivot))
			{
				swap = items[i];
				items[i] = items[store];
				items[store++] = swap;
			}
		items[hi - 1] = items[store];
		items[store] = pivot;
		/* [lo, store) before the pivot at store, (store, hi) after it. */
		if (store >= k)
			hi = store;
		else
			lo = store + 1;
	}
}

/*
 * What the TIDs read tell of the flat array a round needs: its extent, and
 * whether every list is in heap block order, as built (rows inserted into
 * space VACUUM freed break it), which chunked crediting needs. Gathered
 * while each index page's postings are in cache: a pass over all of them
 * afterwards went to memory for each.
 */
typedef struct ReadExtent
{
	BlockNumber max_block;
	OffsetNumber max_offset;
	bool		in_block_order;
} ReadExtent;

/* Appends every TID filed under `list` to buffer, page by page under a share lock. */
static void
read_list(Relation index, const IvfIndexInfo *info, int list, IvfTidBuffer *buffer_out, ReadExtent *extent)
{
	/* In locals, not *extent: its offsets may alias the TIDs' halves. */
	BlockNumber previous = 0,
				max_block = extent->max_block;
	OffsetNumber max_offset = extent->max_offset;
	uint32		descents = 0;

	BlockNumber block;
	OffsetNumber offset;
	Buffer		buffer;
	Page		page;

	ivf_centroid_location(info, list, &block, &offset);
	buffer = ReadBuffer(index, block);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	block = ((IvfCentroid *) PageGetItem(page, PageGetItemId(page, offset)))->head;
	UnlockReleaseBuffer(buffer);

	while (BlockNumberIsValid(block))
	{
		IvfPageOpaque *opaque;

		CHECK_FOR_INTERRUPTS();
		buffer = ReadBuffer(index, block);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		opaque = IvfPageGetOpaque(page);
		if (opaque->kind != IVF_PAGE_POSTINGS)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("colpali_ivf index \"%s\": block %u in list %d is not a posting page",
							RelationGetRelationName(index), block, list),
					 errhint("REINDEX the index.")));
		if (buffer_out->count + opaque->count > buffer_out->capacity)
		{
			buffer_out->capacity = Max(buffer_out->capacity * 2, buffer_out->count + opaque->count);
			buffer_out->tids = repalloc_huge(buffer_out->tids, sizeof(ItemPointerData) * buffer_out->capacity);
		}
		memcpy(buffer_out->tids + buffer_out->count, IvfPagePostings(page), sizeof(ItemPointerData) * opaque->count);
		for (int j = 0; j < opaque->count; j++)
		{
			const ItemPointerData *tid = &buffer_out->tids[buffer_out->count + j];
			BlockNumber heap_block = ItemPointerGetBlockNumberNoCheck(tid);

			max_block = Max(max_block, heap_block);
			max_offset = Max(max_offset, ItemPointerGetOffsetNumberNoCheck(tid));
			descents |= heap_block < previous;	/* branch-free: every TID read passes here */
			previous = heap_block;
		}
		buffer_out->count += opaque->count;
		block = opaque->next;
		UnlockReleaseBuffer(buffer);
	}
	extent->max_block = max_block;
	extent->max_offset = max_offset;
	extent->in_block_order &= descents == 0;
}

/*
 * Credits every page filed under one list with `gain` for `token`, unless
 * that token already credited it: a token's lists are visited most similar
 * first, so the first is its best. This loop is where a scan spends its time.
 */
static void
credit_list(RoundCredits *round, const ItemPointerData *tids, Size count, int32 token, float gain)
{
	for (Size j = 0; j < count; j++)
	{
		const ItemPointerData *tid = &tids[j];
		Credit	   *credit = flat_slot(round, ItemPointerGetBlockNumberNoCheck(tid),
										   ItemPointerGetOffsetNumberNoCheck(tid));

		if (credit != NULL)
		{
			if (credit->token == CREDIT_RETURNED)
				continue;
		}
		else
		{
			bool		found;
			TidEntry   *entry;

			if (round->returned != NULL && tidmap_lookup(round->returned, tid_key(tid)) != NULL)
				continue;
			entry = tidmap_insert(round->overflow, tid_key(tid), &found);

			if (!found)
				entry->credit = (Credit) {0, 0};
			credit = &entry->credit;
		}
		if (credit->token != token)
		{
			credit->token = token;
			credit->score += gain;
		}
	}
}

/*
 * Marks the pages earlier rounds returned in the flat array, once per round:
 * looking each posting up in the returned set cost a hash probe per
 * (posting, token).
 */
static void
mark_returned(RoundCredits *round)
{
	tidmap_iterator iterator;
	TidEntry   *entry;

	tidmap_start_iterate(round->returned, &iterator);
	while ((entry = tidmap_iterate(round->returned, &iterator)) != NULL)
	{
		Credit	   *credit = flat_slot(round, (BlockNumber) (entry->key >> 16), (OffsetNumber) (entry->key & 0xFFFF));

		if (credit != NULL)
			credit->token = CREDIT_RETURNED;
	}
}

/*
 * Pages collected from a round's credits: every one offered, or only the
 * best `keep` (then `items` holds up to 4 x keep, cut back to the best keep
 * whenever it fills, and pages that rank after the worst of those are
 * turned away with one comparison, a branch that is nearly always taken,
 * where quickselect over every page a round touched branched unpredictably
 * on each of them.)
 */
typedef struct Collected
{
	Ranked	   *items;
	Size		count;
	Size		capacity;
	Size		keep;			/* 0: every page */
	bool		bounded;		/* `worst` is set: items holds the best keep so far */
	Ranked		worst;
} Collected;

static inline void
offer(Collected *c, BlockNumber block, OffsetNumber offset, float score)
{
	Ranked		item;

	ItemPointerSet(&item.tid, block, offset);
	item.score = score;
	if (c->bounded && !ranked_before(&item, &c->worst))
		return;
	if (c->count == c->capacity)
	{
		c->capacity *= 2;
		c->items = repalloc_huge(c->items, sizeof(Ranked) * c->capacity);
	}
	c->items[c->count++] = item;
	if (c->keep > 0 && c->count == c->capacity)
	{
		select_best(c->items, c->count, c->keep);
		c->count = c->keep;
		c->worst = c->items[0];
		for (Size i = 1; i < c->keep; i++)
			if (ranked_before(&c->worst, &c->items[i]))
				c->worst = c->items[i];
		c->bounded = true;
	}
}

/*
 * The round's credited pages that are in no heap yet, into items (allocated
 * here, in the current memory context): all of them when keep is 0, else
 * the best `keep`, which are then marked taken.
 */
static Ranked *
collect_credited(RoundCredits *round, Size keep, Size *count)
{
	Collected	c = {.keep = keep, .capacity = keep > 0 ? 4 * keep : 1024};
	tidmap_iterator iterator;
	TidEntry   *entry;

	c.items = palloc_extended(sizeof(Ranked) * c.capacity, MCXT_ALLOC_HUGE);
	for (BlockNumber block = 0; block < round->blocks; block++)
	{
		const Credit *slots = round->flat + (Size) block * round->per_block;

		for (OffsetNumber offset = FirstOffsetNumber; offset <= round->per_block; offset++)
			if (slots[offset - 1].token > 0)
				offer(&c, block, offset, slots[offset - 1].score);
	}
	tidmap_start_iterate(round->overflow, &iterator);
	while ((entry = tidmap_iterate(round->overflow, &iterator)) != NULL)
		if (entry->credit.token > 0)
			offer(&c, (BlockNumber) (entry->key >> 16), (OffsetNumber) (entry->key & 0xFFFF), entry->credit.score);
	if (keep > 0 && c.count > keep)
	{
		select_best(c.items, c.count, keep);
		c.count = keep;
	}
	*count = c.count;
	if (keep > 0)
		for (Size i = 0; i < c.count; i++)
		{
			const ItemPointerData *tid = &c.items[i].tid;
			Credit	   *credit = flat_slot(round, ItemPointerGetBlockNumberNoCheck(tid),
										   ItemPointerGetOffsetNumberNoCheck(tid));

			if (credit == NULL)
				credit = &tidmap_lookup(round->overflow, tid_key(tid))->credit;
			credit->token = CREDIT_TAKEN;
		}
	return c.items;
}

/*
 * Credit by gain over each token's imputed score (its weakest probe's):
 * every token's first `credited_probes` lists, over their postings [from,
 * until) (from NULL: from the first), token after token. The one order of
 * crediting, whole or a range of blocks at a time, so that each page sees
 * the same credits in the same order and the ranking is the same.
 */
static void
credit_tokens(RoundCredits *round, const IvfScanState *state, const int *probed, int credited_probes,
			  ItemPointerData *const *list_tids, const Size *from, const Size *until, bool check_interrupts)
{
	int			lists = state->info->lists;
	int			probes = state->probes;

	for (int t = 0; t < state->nq; t++)
	{
		const int  *mine = probed + (Size) t * probes;
		const float *sims = state->sims + (Size) t * lists;

		for (int p = 0; p < credited_probes; p++)
		{
			int			list = mine[p];
			Size		start = from != NULL ? from[list] : 0;

			credit_list(round, list_tids[list] + start, until[list] - start, t + 1,
						sims[list] - sims[mine[probes - 1]]);
			if (check_interrupts)
				CHECK_FOR_INTERRUPTS();
		}
	}
}

/*
 * Credits of a flat array handled at a time: 32 Ki slots, 256 KB, which stay
 * in L2 while every token's lists pass over them. Crediting the whole array
 * token by token went to memory for nearly every posting once the array
 * outgrew the cache (8 MB at a million pages: most of a first stage's time).
 */
#define CREDIT_CHUNK_SLOTS (32 * 1024)

/* Position of the first TID at or past heap block `end` in tids[from, count), in block order. */
static Size
first_at_block(const ItemPointerData *tids, Size from, Size count, BlockNumber end)
{
	Size		low = from,
				high = count;

	while (low < high)
	{
		Size		mid = low + (high - low) / 2;

		if (ItemPointerGetBlockNumberNoCheck(&tids[mid]) < end)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/*
 * A share of the crediting, a range of heap blocks at a time. Every list
 * read is in heap block order (the caller checks), so each chunk's postings
 * are one run of each list; within a chunk the tokens and their lists go in
 * the same order as without chunks, so each page sees the same credits in
 * the same order and the ranking is the same. Shares cover disjoint blocks,
 * so they write disjoint credits and may run on helper threads: those never
 * leave the flat array (the caller checks that it holds every TID read),
 * allocate nothing and check for no interrupts.
 */
typedef struct CreditShare
{
	RoundCredits *round;
	const IvfScanState *state;
	const int  *probed;
	int			credited_probes;
	ItemPointerData *const *list_tids;
	const Size *list_counts;
	BlockNumber first;			/* heap blocks [first, end) */
	BlockNumber end;
	BlockNumber chunk;
	Size	   *from;			/* per list: this share's position, and the end of its chunk */
	Size	   *until;
	bool		on_backend;		/* alone on the backend: may check for interrupts */
} CreditShare;

static void *
credit_share(void *arg)
{
	CreditShare *share = (CreditShare *) arg;
	int			lists = share->state->info->lists;

	for (int list = 0; list < lists; list++)
		if (share->list_tids[list] != NULL)
			share->from[list] = first_at_block(share->list_tids[list], 0, share->list_counts[list], share->first);
	for (BlockNumber first = share->first; first < share->end;)
	{
		BlockNumber end = first + Min(share->chunk, share->end - first);

		for (int list = 0; list < lists; list++)
			if (share->list_tids[list] != NULL)
				share->until[list] = first_at_block(share->list_tids[list], share->from[list],
													share->list_counts[list], end);
		credit_tokens(share->round, share->state, share->probed, share->credited_probes, share->list_tids,
					  share->from, share->until, false);
		memcpy(share->from, share->until, sizeof(Size) * lists);
		first = end;
		if (share->on_backend)
			CHECK_FOR_INTERRUPTS();
	}
	return NULL;
}

/* Shares of this many chunks at least: below that, a thread costs more than it saves. */
#define CHUNKS_PER_SHARE 8

static void
credit_in_chunks(RoundCredits *round, const IvfScanState *state, const int *probed, int credited_probes,
				 ItemPointerData *const *list_tids, const Size *list_counts)
{
	CreditShare shares[IVF_MAX_HELPERS + 1];
	int			lists = state->info->lists;
	BlockNumber chunk = ivf_credit_chunk_blocks > 0 ? (BlockNumber) ivf_credit_chunk_blocks
		: Max(1, CREDIT_CHUNK_SLOTS / round->per_block);
	BlockNumber chunks = (round->blocks + chunk - 1) / chunk;
	int			parts = (int) Min((BlockNumber) ivf_scan_helpers() + 1, Max(1, chunks / CHUNKS_PER_SHARE));

	for (int p = 0; p < parts; p++)
		shares[p] = (CreditShare) {
			round, state, probed, credited_probes, list_tids, list_counts,
			.first = (BlockNumber) ((uint64) chunks * p / parts) * chunk,
			.end = Min(round->blocks, (BlockNumber) ((uint64) chunks * (p + 1) / parts) * chunk),
			.chunk = chunk,
			.from = palloc(sizeof(Size) * lists),
			.until = palloc(sizeof(Size) * lists),
			.on_backend = parts == 1,
		};
	if (parts == 1)
		credit_share(&shares[0]);
	else
		ivf_run_shares(credit_share, shares, sizeof(CreditShare), parts);
	for (int p = 0; p < parts; p++)
	{
		pfree(shares[p].from);
		pfree(shares[p].until);
	}
}

/* Rank the pages of this round's probed lists that were not returned yet. */
static void
run_round(IndexScanDesc scan)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;
	IvfIndexInfo *info = state->info;
	int			lists = info->lists;
	int			probes = state->probes;
	MemoryContext old;
	ItemPointerData **list_tids;
	Size	   *list_counts;
	Size	   *list_starts;
	IvfTidBuffer read;
	bool		owned;
	int		   *probed;
	RoundCredits *round = &state->credits;
	ReadExtent	extent = {0, 0, true};
	Size		flat_count;

	/*
	 * A token's weakest probe is its imputed score: its pages gain nothing
	 * over pages in no probed list. Before the last round, which must return
	 * every page, that list is not read; pages only there wait for a later
	 * round, as unprobed pages do. With one probe it is all there is.
	 */
	bool		skip_weakest = probes > 1 && probes < lists;

	MemoryContextReset(state->round_context);
	old = MemoryContextSwitchTo(state->round_context);

	list_tids = palloc0(sizeof(ItemPointerData *) * lists);
	list_counts = palloc0(sizeof(Size) * lists);
	list_starts = palloc0(sizeof(Size) * lists);
	/* In the context that holds the scan state: it goes when the scan does. */
	owned = state->nq > 0 && ivf_scratch_own(&state->scratch_id, GetMemoryChunkContext(state));
	read = ivf_scratch_take_tids(owned);
	round->overflow = tidmap_create(state->round_context, 256, NULL);
	round->returned = state->returned->members > 0 ? state->returned : NULL;
	round->blocks = 0;
	round->per_block = 0;
	flat_count = 0;
	round->flat = NULL;

	if (state->nq == 0)
	{
		/* No query: every list, no scores, one list in memory at a time (the hash table alone: a rare scan). */
		for (int c = 0; c < lists; c++)
		{
			read.count = 0;
			read_list(scan->indexRelation, info, c, &read, &extent);
			credit_list(round, read.tids, read.count, 1, 0);
			CHECK_FOR_INTERRUPTS();
		}
	}
	else
	{
		/*
		 * Each token's probed lists, most similar first, all read before any
		 * page is credited so that the flat array fits the TIDs there are.
		 */
		probed = palloc(sizeof(int) * state->nq * probes);
		for (int t = 0; t < state->nq; t++)
			top_lists(state->sims + (Size) t * lists, lists, probes, probed + (Size) t * probes);
		for (Size i = 0; i < (Size) state->nq * probes; i++)
		{
			int			list = probed[i];

			if (list_starts[list] != 0 || (skip_weakest && i % probes == (Size) probes - 1))
				continue;
			list_starts[list] = read.count + 1;	/* 1-based: 0 is "not read" */
			read_list(scan->indexRelation, info, list, &read, &extent);
			list_counts[list] = read.count - (list_starts[list] - 1);
		}
		/* The buffer may have moved as it grew: pointers only now. */
		for (int list = 0; list < lists; list++)
			if (list_starts[list] != 0)
				list_tids[list] = read.tids + list_starts[list] - 1;
		round->per_block = Min(extent.max_offset, MaxHeapTuplesPerPage);
		round->blocks = extent.max_offset > 0 && ivf_flat_credits ? extent.max_block + 1 : 0;
		if ((Size) round->blocks * round->per_block > (Size) 32 * 1024 * 1024)
			round->blocks = 0;	/* over 256 MB of credits: the hash table alone */
		flat_count = (Size) round->blocks * round->per_block;
		if (flat_count > 0)
		{
			round->flat = ivf_scratch_zeroed(owned, sizeof(Credit) * flat_count);
			if (round->returned != NULL)
				mark_returned(round);
		}

		if (flat_count > 0 && extent.in_block_order && extent.max_offset <= MaxHeapTuplesPerPage)
			credit_in_chunks(round, state, probed, probes - (skip_weakest ? 1 : 0), list_tids, list_counts);
		else
			credit_tokens(round, state, probed, probes - (skip_weakest ? 1 : 0), list_tids, NULL,
						  list_counts, true);
	}

	/* The TIDs are spent: the scratch keeps their buffer for the next round or scan. */
	ivf_scratch_return_tids(owned, read);

	/*
	 * A heap of the best IVF_FIRST_RANKED only (a LIMIT takes few); the
	 * others stay in the credits until a scan asks for more.
	 */
	state->ranked = collect_credited(round, IVF_FIRST_RANKED, &state->ranked_count);
	state->unranked = state->ranked_count == IVF_FIRST_RANKED;
	heapify(state->ranked, state->ranked_count);
	MemoryContextSwitchTo(old);
	state->last_round = probes >= lists || state->nq == 0;
	state->probes = (int) Min((int64) lists, (int64) probes * 4);
}

bool
ivf_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;

	for (;;)
	{
		if (state->ranked_count > 0)
		{
			Ranked		best = state->ranked[0];
			Ranked	   *r = &best;
			bool		found;

			state->ranked[0] = state->ranked[--state->ranked_count];
			sift_down(state->ranked, state->ranked_count, 0);
			if (!state->last_round)
				tidmap_insert(state->returned, tid_key(&r->tid), &found);
			scan->xs_heaptid = r->tid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			if (scan->numberOfOrderBys > 0)
			{
				scan->xs_orderbyvals[0] = Float8GetDatum(-(double) r->score);
				scan->xs_orderbynulls[0] = false;
			}
			return true;
		}
		if (state->unranked)
		{
			MemoryContext old = MemoryContextSwitchTo(state->round_context);

			state->ranked = collect_credited(&state->credits, 0, &state->ranked_count);
			state->unranked = false;
			heapify(state->ranked, state->ranked_count);
			MemoryContextSwitchTo(old);
			continue;
		}
		if (state->ranked != NULL && state->last_round)
			return false;
		run_round(scan);
	}
}

void
ivf_endscan(IndexScanDesc scan)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;

	MemoryContextDelete(state->round_context);
	if (state->returned != NULL)
		tidmap_destroy(state->returned);
	ivf_scratch_release(state->scratch_id);
	pfree(state);
	scan->opaque = NULL;
}

/*
 * colpali_ivf_candidates(index, query, n): the first n TIDs the index ranks
 * for the query, with its estimate, without reading any page: the first
 * stage alone, for benchmarks and for seeing what the index does. Probes
 * come from colpali.ivf_probes, as in a scan.
 */
PG_FUNCTION_INFO_V1(colpali_ivf_candidates);
Datum
colpali_ivf_candidates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			indexoid = PG_GETARG_OID(0);
	int32		wanted = PG_GETARG_INT32(2);
	Relation	index;
	IndexScanDesc scan;
	ScanKeyData orderby;

	if (wanted < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("colpali_ivf_candidates: the number of candidates is %d, it must be 0 or more", wanted)));
	InitMaterializedSRF(fcinfo, 0);

	index = index_open(indexoid, AccessShareLock);
	if (index->rd_rel->relam != get_index_am_oid("colpali_ivf", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a colpali_ivf index", RelationGetRelationName(index))));
	scan = ivf_beginscan(index, 0, 1);
	MemSet(&orderby, 0, sizeof(orderby));
	orderby.sk_argument = PG_GETARG_DATUM(1);
	ivf_rescan(scan, NULL, 0, &orderby, 1);
	for (int32 i = 0; i < wanted && ivf_gettuple(scan, ForwardScanDirection); i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = PointerGetDatum(&scan->xs_heaptid);
		values[1] = Float4GetDatum((float4) -DatumGetFloat8(scan->xs_orderbyvals[0]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	ivf_endscan(scan);
	IndexScanEnd(scan);
	index_close(index, AccessShareLock);
	return (Datum) 0;
}
