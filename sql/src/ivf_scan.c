/*
 * Scanning a colpali_ivf index for ORDER BY embedding <#> query. Each query
 * token probes its nearest centroids; the lists it probes are read into
 * memory once, and every page in them is scored by centroid interaction:
 * per token, the best probed centroid the page is filed under, counted as
 * its gain over the token's imputed score (the weakest probed similarity).
 * Pages come back best first. Then rounds with four times the probes follow,
 * each ranking only pages not yet returned, until every list has been read:
 * a scan that a WHERE clause keeps asking for more rows ends up returning
 * every page, so a selective filter never silently comes back short.
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

/* TID -> score of the round, or membership of the set already returned. */
typedef struct TidEntry
{
	uint64		key;
	char		status;
	float		score;
	uint32		ordinal;		/* into the round's token masks */
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

/* One (query token, probed centroid) pair and what it adds to a page. */
typedef struct Probe
{
	int			token;
	int			list;
	float		gain;
} Probe;

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
	Ranked	   *ranked;
	Size		ranked_count;
	Size		next;
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
	state->ranked_count = state->next = 0;
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

static const float *sort_sims;

static int
by_similarity(const void *a, const void *b)
{
	float		x = sort_sims[*(const int *) a],
				y = sort_sims[*(const int *) b];

	if (x != y)
		return x > y ? -1 : 1;
	return *(const int *) a - *(const int *) b;
}

static int
by_gain(const void *a, const void *b)
{
	const Probe *x = a,
			   *y = b;

	if (x->gain != y->gain)
		return x->gain > y->gain ? -1 : 1;
	if (x->token != y->token)
		return x->token - y->token;
	return x->list - y->list;
}

static int
by_score(const void *a, const void *b, void *arg)
{
	const Ranked *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &x->tid, (ItemPointer) &y->tid);
}

/* Every TID filed under `list`, page by page under a share lock. */
static ItemPointerData *
read_list(Relation index, const IvfIndexInfo *info, int list, Size *count)
{
	BlockNumber block;
	OffsetNumber offset;
	Buffer		buffer;
	Page		page;
	Size		capacity = IVF_POSTINGS_PER_PAGE;
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * capacity);

	*count = 0;
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
		if (*count + opaque->count > capacity)
		{
			capacity = Max(capacity * 2, *count + opaque->count);
			tids = repalloc_huge(tids, sizeof(ItemPointerData) * capacity);
		}
		memcpy(tids + *count, IvfPagePostings(page), sizeof(ItemPointerData) * opaque->count);
		*count += opaque->count;
		block = opaque->next;
		UnlockReleaseBuffer(buffer);
	}
	return tids;
}

/* Rank the pages of this round's probed lists that were not returned yet. */
static void
run_round(IndexScanDesc scan)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;
	IvfIndexInfo *info = state->info;
	int			lists = info->lists;
	int			probes = state->probes;
	int			words = (state->nq + 63) / 64;
	MemoryContext old;
	Probe	   *pairs;
	int			pair_count = 0;
	ItemPointerData **list_tids;
	Size	   *list_counts;
	int		   *order;
	tidmap_hash *round;
	uint64	   *masks;
	Size		mask_capacity = 1024;
	uint32		entries = 0;
	tidmap_iterator it;
	TidEntry   *entry;

	MemoryContextReset(state->round_context);
	old = MemoryContextSwitchTo(state->round_context);
	list_tids = palloc0(sizeof(ItemPointerData *) * lists);
	list_counts = palloc0(sizeof(Size) * lists);
	round = tidmap_create(state->round_context, 4096, NULL);
	masks = palloc0(sizeof(uint64) * Max(words, 1) * mask_capacity);

	/* Each token's probed centroids, by gain over its imputed score. */
	pairs = palloc(sizeof(Probe) * (Size) Max(state->nq, 1) * probes);
	order = palloc(sizeof(int) * lists);
	for (int t = 0; t < state->nq; t++)
	{
		const float *sims = state->sims + (Size) t * lists;
		float		imputed;

		for (int c = 0; c < lists; c++)
			order[c] = c;
		sort_sims = sims;
		qsort(order, lists, sizeof(int), by_similarity);
		imputed = sims[order[probes - 1]];
		for (int p = 0; p < probes; p++)
			pairs[pair_count++] = (Probe) {t, order[p], sims[order[p]] - imputed};
	}
	qsort(pairs, pair_count, sizeof(Probe), by_gain);
	if (state->nq == 0)
	{
		/* No query: every list, no scores. */
		pairs = repalloc(pairs, sizeof(Probe) * lists);
		for (int c = 0; c < lists; c++)
			pairs[pair_count++] = (Probe) {-1, c, 0};
	}

	/* Credit each page once per token: its first pair is its best. */
	for (int i = 0; i < pair_count; i++)
	{
		Probe	   *pair = &pairs[i];

		if (list_tids[pair->list] == NULL)
			list_tids[pair->list] = read_list(scan->indexRelation, info, pair->list, &list_counts[pair->list]);
		for (Size j = 0; j < list_counts[pair->list]; j++)
		{
			uint64		key = tid_key(&list_tids[pair->list][j]);
			bool		found;
			uint64	   *mask;

			if (tidmap_lookup(state->returned, key) != NULL)
				continue;
			entry = tidmap_insert(round, key, &found);
			if (!found)
			{
				if (entries == mask_capacity)
				{
					masks = repalloc_huge(masks, sizeof(uint64) * Max(words, 1) * mask_capacity * 2);
					memset(masks + (Size) Max(words, 1) * mask_capacity, 0,
						   sizeof(uint64) * Max(words, 1) * mask_capacity);
					mask_capacity *= 2;
				}
				entry->score = 0;
				entry->ordinal = entries++;
			}
			if (pair->token < 0)
				continue;
			mask = masks + (Size) entry->ordinal * words;
			if (!(mask[pair->token / 64] & (UINT64CONST(1) << (pair->token % 64))))
			{
				mask[pair->token / 64] |= UINT64CONST(1) << (pair->token % 64);
				entry->score += pair->gain;
			}
		}
		CHECK_FOR_INTERRUPTS();
	}

	MemoryContextSwitchTo(old);
	/* The ranking outlives the round's working memory until the next round. */
	old = MemoryContextSwitchTo(state->round_context);
	state->ranked = palloc_extended(sizeof(Ranked) * Max(entries, 1), MCXT_ALLOC_HUGE);
	state->ranked_count = 0;
	tidmap_start_iterate(round, &it);
	while ((entry = tidmap_iterate(round, &it)) != NULL)
	{
		Ranked	   *r = &state->ranked[state->ranked_count++];

		ItemPointerSetBlockNumber(&r->tid, (BlockNumber) (entry->key >> 16));
		ItemPointerSetOffsetNumber(&r->tid, (OffsetNumber) (entry->key & 0xFFFF));
		r->score = entry->score;
	}
	MemoryContextSwitchTo(old);
	qsort_interruptible(state->ranked, state->ranked_count, sizeof(Ranked),
						by_score, NULL);
	state->next = 0;
	state->last_round = probes >= lists || state->nq == 0;
	state->probes = (int) Min((int64) lists, (int64) probes * 4);
}

bool
ivf_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	IvfScanState *state = (IvfScanState *) scan->opaque;

	for (;;)
	{
		if (state->next < state->ranked_count)
		{
			Ranked	   *r = &state->ranked[state->next++];
			bool		found;

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
