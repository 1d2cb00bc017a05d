/*
 * What build, insert and scan share: the centroids (read once per relcache
 * entry: they never change after build), page set-up, a page's vectors as
 * floats, and the lists a page is filed under.
 */
#include "postgres.h"

#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "colpali_kernels.h"
#include "ivf.h"
#include "multihalfvec.h"

void
ivf_init_page(Page page, uint16 kind)
{
	IvfPageOpaque *opaque;

	PageInit(page, BLCKSZ, sizeof(IvfPageOpaque));
	opaque = IvfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->count = 0;
	opaque->kind = kind;
}

static void
ivf_check_page(Relation index, Page page, BlockNumber block, uint16 kind)
{
	if (PageIsNew(page) || IvfPageGetOpaque(page)->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("colpali_ivf index \"%s\": block %u is not the page it should be",
						RelationGetRelationName(index), block),
				 errhint("REINDEX the index.")));
}

/*
 * The index's shape and centroids, cached on the relation. The centroid
 * vectors never change after build, and REINDEX gives the index a new
 * relcache entry, so the cache cannot go stale.
 */
IvfIndexInfo *
ivf_index_info(Relation index)
{
	IvfIndexInfo *info = (IvfIndexInfo *) index->rd_amcache;
	Buffer		buffer;
	IvfMetaPageData *meta;

	if (info != NULL)
		return info;
	info = MemoryContextAllocZero(index->rd_indexcxt, sizeof(IvfIndexInfo));
	buffer = ReadBuffer(index, IVF_META_BLKNO);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	ivf_check_page(index, BufferGetPage(buffer), IVF_META_BLKNO, IVF_PAGE_META);
	meta = IvfPageGetMeta(BufferGetPage(buffer));
	if (meta->magic != IVF_MAGIC || meta->version != IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("colpali_ivf index \"%s\" has version %u; this module reads version %d",
						RelationGetRelationName(index), meta->version, IVF_VERSION),
				 errhint("REINDEX the index.")));
	info->dim = meta->dim;
	info->lists = meta->lists;
	info->per_page = meta->centroids_per_page;
	UnlockReleaseBuffer(buffer);

	if (info->lists > 0)
	{
		info->centroids = MemoryContextAlloc(index->rd_indexcxt,
											 sizeof(float) * (Size) info->lists * info->dim);
		for (int list = 0; list < info->lists;)
		{
			BlockNumber block = IVF_FIRST_CENTROID_BLKNO + list / info->per_page;
			Page		page;

			buffer = ReadBuffer(index, block);
			LockBuffer(buffer, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buffer);
			ivf_check_page(index, page, block, IVF_PAGE_CENTROIDS);
			for (OffsetNumber off = FirstOffsetNumber;
				 off <= PageGetMaxOffsetNumber(page) && list < info->lists; off++, list++)
			{
				IvfCentroid *centroid = (IvfCentroid *) PageGetItem(page, PageGetItemId(page, off));

				memcpy(info->centroids + (Size) list * info->dim, centroid->vector,
					   sizeof(float) * info->dim);
			}
			UnlockReleaseBuffer(buffer);
		}
	}
	if (info->lists > 0)
		info->layout = ivf_nearest_layout(info->centroids, info->lists, info->dim, index->rd_indexcxt);
	index->rd_amcache = info;
	return info;
}

float *
ivf_nearest_layout(const float *centroids, int lists, int dim, MemoryContext context)
{
	float	   *layout = MemoryContextAllocExtended(context,
													sizeof(float) * colpali_nearest_layout_floats(lists, dim),
													MCXT_ALLOC_HUGE);

	colpali_nearest_layout(centroids, lists, dim, layout);
	return layout;
}

void
ivf_centroid_location(const IvfIndexInfo *info, int list, BlockNumber *block,
					  OffsetNumber *offset)
{
	*block = IVF_FIRST_CENTROID_BLKNO + list / info->per_page;
	*offset = FirstOffsetNumber + list % info->per_page;
}

/*
 * A stored page's vectors, widened to floats (palloc'd; *rows and *dim set). ERROR
 * when the value is malformed or its dimension is not `expected_dim` (any
 * dimension when 0).
 */
float *
ivf_page_vectors(Datum value, int expected_dim, int *rows, int *dim, const char *what)
{
	MultiHalfVec *doc = DatumGetMultiHalfVecP(value);
	const uint16 *halves;
	Size		count;
	float	   *vectors;
	ptrdiff_t	bad;

	multihalfvec_check(doc, "colpali_ivf", what);
	if (expected_dim > 0 && doc->dim != expected_dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("colpali_ivf: %s has dimension %d, the index %d", what, doc->dim, expected_dim),
				 errhint("Pages of one index share one dimension: use multihalfvec(%d) for the column.",
						 expected_dim)));
	count = (Size) doc->rows * doc->dim;
	halves = multihalfvec_halves(doc);
	bad = colpali_find_nonfinite_half(halves, count);
	if (bad >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("colpali_ivf: %s contains NaN or an infinite value at row %d, column %d",
						what, (int) (bad / doc->dim) + 1, (int) (bad % doc->dim) + 1)));
	vectors = palloc(sizeof(float) * count);
	colpali_half_to_float(halves, count, vectors);
	if (halves != doc->values)
		pfree((void *) halves);
	*rows = doc->rows;
	*dim = doc->dim;
	if ((Pointer) doc != DatumGetPointer(value))
		pfree(doc);
	return vectors;
}

static int
compare_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * The lists a page of `rows` vectors is filed under: the distinct nearest
 * centroids of its rows, in increasing order, into lists_out (room for
 * min(rows, lists)). `nearest` has room for `rows`; `seen` for info->lists,
 * all false on entry and on return.
 */
int
ivf_distinct_lists(const float *vectors, int rows, const IvfIndexInfo *info,
				   int32 *nearest, bool *seen, int32 *lists_out)
{
	colpali_nearest(vectors, rows, info->layout, info->lists, info->dim, nearest);
	return ivf_lists_of_nearest(nearest, rows, info, seen, lists_out);
}

int
ivf_lists_of_nearest(const int32 *nearest, int rows, const IvfIndexInfo *info, bool *seen,
					 int32 *lists_out)
{
	int			count = 0;

	for (int i = 0; i < rows; i++)
		if (!seen[nearest[i]])
		{
			seen[nearest[i]] = true;
			lists_out[count++] = nearest[i];
		}
	for (int i = 0; i < count; i++)
		seen[lists_out[i]] = false;
	/* Increasing order: inserts lock centroid pages in block order. */
	qsort(lists_out, count, sizeof(int32), compare_int32);
	return count;
}
