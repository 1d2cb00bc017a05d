/*
 * Server-side functions of the million-page benchmark, loaded from a shared
 * library the benchmark builds (not part of the colpali extension):
 *
 *   colpali_bench_page(page bigint) -> multihalfvec
 *       full-size synthetic page `page`, the value an expression index
 *       (CREATE INDEX ... USING colpali_ivf (colpali_bench_page(id))) files;
 *   colpali_bench_query(number integer, pages bigint) -> real[]
 *       query `number` (20 x 128), aimed at a page among `pages`.
 *
 * The pages are never stored: the table holds their numbers.
 */
#include "postgres.h"

#include <immintrin.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/memutils.h"

#include "multihalfvec.h"
#include "synthetic_page.h"

PG_MODULE_MAGIC;

#define SEED 42

static float *topics;

static const float *
corpus_topics(void)
{
	if (topics == NULL)
	{
		float	   *made = MemoryContextAlloc(TopMemoryContext, sizeof(float) * SYNTH_TOPICS * SYNTH_DIM);

		synth_topics(SEED, made);
		topics = made;
	}
	return topics;
}

static void
check_page(int64 page)
{
	if (page < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("synthetic page numbers start at 0, not " INT64_FORMAT, page)));
}

PG_FUNCTION_INFO_V1(colpali_bench_page);
Datum
colpali_bench_page(PG_FUNCTION_ARGS)
{
	int64		page = PG_GETARG_INT64(0);
	Size		count = (Size) SYNTH_ROWS * SYNTH_DIM;
	float	   *rows;
	MultiHalfVec *result;

	check_page(page);
	rows = palloc(sizeof(float) * count);
	synth_page(corpus_topics(), SEED, page, rows);
	result = palloc(MULTIHALFVEC_HEADER + sizeof(uint16) * count);
	SET_VARSIZE(result, MULTIHALFVEC_HEADER + sizeof(uint16) * count);
	result->rows = SYNTH_ROWS;
	result->dim = SYNTH_DIM;
	result->layout = MULTIHALFVEC_ROWS;
	/* Unit rows: every value is in half's range. */
	for (Size i = 0; i < count; i += 8)
		_mm_storeu_si128((__m128i *) (result->values + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(rows + i), _MM_FROUND_TO_NEAREST_INT));
	pfree(rows);
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(colpali_bench_query);
Datum
colpali_bench_query(PG_FUNCTION_ARGS)
{
	int32		number = PG_GETARG_INT32(0);
	int64		pages = PG_GETARG_INT64(1);
	float	   *page = palloc(sizeof(float) * SYNTH_ROWS * SYNTH_DIM);
	float		query[SYNTH_QUERY_ROWS * SYNTH_DIM];
	Datum	   *elements = palloc(sizeof(Datum) * SYNTH_QUERY_ROWS * SYNTH_DIM);
	int			dims[2] = {SYNTH_QUERY_ROWS, SYNTH_DIM};
	int			lbs[2] = {1, 1};

	if (number < 0 || pages < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query numbers start at 0 and a corpus has at least one page")));
	synth_page(corpus_topics(), SEED, synth_query_target(SEED, number, pages), page);
	synth_query(page, SEED, number, query);
	for (int i = 0; i < SYNTH_QUERY_ROWS * SYNTH_DIM; i++)
		elements[i] = Float4GetDatum(query[i]);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elements, NULL, 2, dims, lbs, FLOAT4OID,
											 sizeof(float4), true, TYPALIGN_INT));
}
