/*
 * colpali_ivf: a token-level inverted file over multihalfvec pages, the
 * candidate stage in front of the exact MaxSim rerank (PLAID's centroid
 * interaction, done inside PostgreSQL).
 *
 * Build clusters a sample of the pages' token vectors into `lists`
 * centroids (spherical k-means) and files every page under each centroid
 * nearest to one of its tokens. A query token probes its `colpali.ivf_probes`
 * nearest centroids; a page scores, per query token, the similarity of the
 * best probed centroid it is filed under (the weakest probed similarity when
 * none: the imputed score), summed over tokens. Pages come back best first;
 * after the probed pages, rounds with four times the probes follow until
 * every page has come back, so a selective WHERE clause still finds its rows.
 *
 * Layout (every page but the meta page ends in IvfPageOpaque):
 *   block 0              meta page
 *   blocks 1..k          centroid pages: one IvfCentroid item per centroid,
 *                        centroid j on block 1 + j / per_page, item j % per_page + 1
 *   the rest             posting pages: a packed ItemPointerData array per
 *                        page, chained per centroid from head to tail
 *
 * Centroids never change after build; only a list's head and tail do.
 * Lock order: a centroid page, then posting pages of its lists. Every change
 * after build is WAL-logged with generic WAL records.
 */
#ifndef COLPALI_IVF_H
#define COLPALI_IVF_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "nodes/execnodes.h"
#include "storage/bufpage.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#define IVF_MAGIC			0x436F4956	/* "CoIV" */
#define IVF_VERSION			1
#define IVF_META_BLKNO		0
#define IVF_FIRST_CENTROID_BLKNO 1

#define IVF_DEFAULT_LISTS	1024
#define IVF_MAX_LISTS		65536
/* Helper threads a build or a scan may start beside its backend. */
#define IVF_MAX_HELPERS 16
#define IVF_DEFAULT_PROBES	8

/* Page kinds, in IvfPageOpaque.kind. */
#define IVF_PAGE_META		1
#define IVF_PAGE_CENTROIDS	2
#define IVF_PAGE_POSTINGS	3

typedef struct IvfPageOpaque
{
	BlockNumber next;			/* postings: the list's next page */
	uint16		count;			/* postings: TIDs on this page */
	uint16		kind;			/* IVF_PAGE_* */
} IvfPageOpaque;

#define IvfPageGetOpaque(page) ((IvfPageOpaque *) PageGetSpecialPointer(page))

typedef struct IvfMetaPageData
{
	uint32		magic;
	uint32		version;
	int32		dim;			/* 0 until built over at least one page */
	int32		lists;			/* centroids; 0: built over an empty table */
	int32		centroids_per_page;
} IvfMetaPageData;

#define IvfPageGetMeta(page) ((IvfMetaPageData *) PageGetContents(page))

typedef struct IvfCentroid
{
	BlockNumber head;			/* first posting page, or InvalidBlockNumber */
	BlockNumber tail;			/* page inserts append to */
	float		vector[FLEXIBLE_ARRAY_MEMBER];	/* unit length */
} IvfCentroid;

#define IVF_CENTROID_SIZE(dim) MAXALIGN(offsetof(IvfCentroid, vector) + sizeof(float) * (dim))

/* TIDs a posting page holds. */
#define IVF_POSTINGS_PER_PAGE \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(IvfPageOpaque))) / sizeof(ItemPointerData))
#define IvfPagePostings(page) ((ItemPointerData *) PageGetContents(page))

typedef struct IvfOptions
{
	int32		vl_len_;
	int			lists;
} IvfOptions;

/* The probes of a query token: the GUC colpali.ivf_probes. */
extern int	ivf_probes;
/* colpali.ivf_flat_credits, for tests: off credits every scan's pages in the hash table that very large scans use. */
extern bool ivf_flat_credits;
/* colpali.ivf_credit_chunk_blocks, for tests: heap blocks of the flat array
 * credited at a time; 0 sizes the chunk to stay in the L2 cache. */
extern int	ivf_credit_chunk_blocks;

/* ivf.c */
extern void ivf_init(void);

/* ivf_utils.c: shared by build, insert and scan */
typedef struct IvfIndexInfo
{
	int			dim;
	int			lists;
	int			per_page;
	float	   *centroids;		/* lists * dim, row-major */
	float	   *layout;			/* the centroids as colpali_nearest reads them */
} IvfIndexInfo;

extern IvfIndexInfo *ivf_index_info(Relation index);
extern float *ivf_nearest_layout(const float *centroids, int lists, int dim, MemoryContext context);
extern void ivf_init_page(Page page, uint16 kind);
extern float *ivf_page_vectors(Datum value, int expected_dim, int *rows, int *dim, const char *what);
/* ivf_parallel.c: helper threads an index build or a scan may use,
 * colpali_nearest over `count` tokens shared with them, and a general
 * runner: run(share) for each of `parts` shares (`size` bytes apart), the
 * first on the backend, the others on helpers (which must not palloc, elog
 * or check for interrupts). */
extern int	ivf_build_helpers(void);
extern int	ivf_scan_helpers(void);
extern void ivf_nearest_parallel(const float *tokens, int count, const float *layout, int lists,
								 int dim, int32 *out);
extern void ivf_run_shares(void *(*run) (void *), void *shares, Size size, int parts);

/* The distinct lists of a page whose tokens' nearest centroids are `nearest`,
 * in increasing order (`seen`: lists entries, all false, left so). */
extern int	ivf_lists_of_nearest(const int32 *nearest, int rows, const IvfIndexInfo *info, bool *seen,
								 int32 *lists_out);
extern int	ivf_distinct_lists(const float *vectors, int rows, const IvfIndexInfo *info,
							   int32 *nearest, bool *seen, int32 *lists_out);
extern void ivf_centroid_location(const IvfIndexInfo *info, int list, BlockNumber *block,
								  OffsetNumber *offset);

/* ivf_scratch.c: memory a backend keeps from one scan to the next */
typedef struct IvfTidBuffer
{
	ItemPointerData *tids;
	Size		count;
	Size		capacity;		/* grown by repalloc, in the chunk's context */
} IvfTidBuffer;

#define IVF_SCRATCH_KEPT_BYTES ((Size) 64 * 1024 * 1024)

/* Whether the scan (its id, 0 at first; the context holding it) owns the scratch, taking it if free. */
extern bool ivf_scratch_own(uint64 *scan_id, MemoryContext scan_context);
extern void ivf_scratch_release(uint64 scan_id);
/* An empty TID buffer: the scratch's when owned, else new in CurrentMemoryContext. */
extern IvfTidBuffer ivf_scratch_take_tids(bool owned);
/* Done with the TIDs: the scratch keeps the buffer, unless it grew too large. */
extern void ivf_scratch_return_tids(bool owned, IvfTidBuffer buffer);
/* `bytes` zeroed: the scratch's when owned (until the next call), else new in CurrentMemoryContext. */
extern void *ivf_scratch_zeroed(bool owned, Size bytes);

/* ivf_build.c */
extern IndexBuildResult *ivf_build(Relation heap, Relation index, IndexInfo *indexInfo);
extern void ivf_buildempty(Relation index);

/* ivf_insert.c */
extern bool ivf_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);

/* ivf_scan.c */
extern IndexScanDesc ivf_beginscan(Relation index, int nkeys, int norderbys);
extern void ivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool ivf_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivf_endscan(IndexScanDesc scan);

/* ivf_vacuum.c */
extern IndexBulkDeleteResult *ivf_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *ivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

#endif
