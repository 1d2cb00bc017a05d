/*
 * colpali_ivf's handler: what the access method can do, its options, its
 * cost, and the ordering operator it serves (multihalfvec <#> real[][],
 * the negated MaxSim, so ascending order is best first).
 */
#include "postgres.h"

#include <float.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "ivf.h"

int			ivf_probes = IVF_DEFAULT_PROBES;
bool		ivf_flat_credits = true;
int			ivf_credit_chunk_blocks = 0;
static relopt_kind ivf_relopt_kind;

void
ivf_init(void)
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "lists",
					  "Centroids the page tokens are clustered into",
					  IVF_DEFAULT_LISTS, 1, IVF_MAX_LISTS, AccessExclusiveLock);
	DefineCustomIntVariable("colpali.ivf_probes",
							"Centroids each query token probes in a colpali_ivf index scan.",
							"More probes find more of the exact top pages and read more of the index.",
							&ivf_probes,
							IVF_DEFAULT_PROBES, 1, IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("colpali.ivf_flat_credits",
							 "Credits scanned pages in an array indexed by row position (off: a hash table only).",
							 "For testing: scans whose array would be too large, and scans without a query, use the hash table; off makes every scan use it.",
							 &ivf_flat_credits,
							 true,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomIntVariable("colpali.ivf_credit_chunk_blocks",
							"Heap blocks whose pages a colpali_ivf scan credits at a time (0: as many as stay in the L2 cache).",
							"For testing: the ranking is the same whatever the chunk; 1 makes a small table take many chunks.",
							&ivf_credit_chunk_blocks,
							0, 0, INT_MAX,
							PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
}

static bytea *
ivf_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt table[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(IvfOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivf_relopt_kind,
									  sizeof(IvfOptions), table, lengthof(table));
}

/*
 * The number of centroids the meta page records (0 for an unbuilt index),
 * or -1 when the index is not a colpali_ivf index.
 */
static int
ivf_stored_lists(Oid indexoid)
{
	Relation	index = index_open(indexoid, AccessShareLock);
	int			lists = -1;

	if (index->rd_rel->relam == get_index_am_oid("colpali_ivf", false))
		lists = ivf_index_info(index)->lists;
	index_close(index, AccessShareLock);
	return lists;
}

/*
 * colpali_ivf_lists(index): NULL for an index of another kind, so that a
 * catalog query may call it on every index of a table in any order.
 */
PG_FUNCTION_INFO_V1(colpali_ivf_lists);
Datum
colpali_ivf_lists(PG_FUNCTION_ARGS)
{
	int			lists = ivf_stored_lists(PG_GETARG_OID(0));

	if (lists < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(lists);
}

/*
 * The scan ranks every page it reads before returning the first, so its
 * startup cost is its whole cost: the share of the index the probes read.
 * Only an ORDER BY <#> can use it, and an index built over an empty table
 * (no centroids) never is: the planner falls back to the exact scan.
 */
static void
ivf_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	int			lists;
	double		share;

	if (path->indexorderbys == NIL ||
		(lists = ivf_stored_lists(path->indexinfo->indexoid)) <= 0)
	{
		*indexStartupCost = DBL_MAX;
		*indexTotalCost = DBL_MAX;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}
	/* A question of about 20 tokens probes up to 20 * probes lists. */
	share = Min(1.0, 20.0 * ivf_probes / lists);
	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = path->indexinfo->tuples * share;
	genericcostestimate(root, path, loop_count, &costs);
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/*
 * amvalidate (SELECT amvalidate(opclass oid)): an operator class of
 * colpali_ivf indexes multihalfvec and has exactly one member, strategy 1,
 * an ordering operator (multihalfvec, real[]) returning float8, and no
 * support functions. Each problem is reported at INFO, as PostgreSQL's own
 * access methods do, and the answer is false.
 */
/* By the type's own name, so a schema off the search_path does not matter. */
static bool
is_multihalfvec(Oid type)
{
	HeapTuple	tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	bool		result;

	if (!HeapTupleIsValid(tuple))
		return false;
	result = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tuple))->typname), "multihalfvec") == 0;
	ReleaseSysCache(tuple);
	return result;
}

static bool
ivf_validate(Oid opclassoid)
{
	bool		valid = true;
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	Oid			family;
	char	   *classname;
	char	   *typename;
	CatCList   *operators;
	CatCList   *procedures;
	bool		has_order = false;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	family = classform->opcfamily;
	classname = pstrdup(NameStr(classform->opcname));
	typename = format_type_be(classform->opcintype);
	if (!is_multihalfvec(classform->opcintype))
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method colpali_ivf is for type %s",
						classname, typename),
				 errdetail("colpali_ivf indexes multihalfvec columns only.")));
		valid = false;
	}

	operators = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(family));
	for (int i = 0; i < operators->n_members; i++)
	{
		Form_pg_amop member = (Form_pg_amop) GETSTRUCT(&operators->members[i]->tuple);

		if (member->amopstrategy != 1 || member->amoppurpose != AMOP_ORDER ||
			!is_multihalfvec(member->amoplefttype) ||
			member->amoprighttype != FLOAT4ARRAYOID ||
			get_op_rettype(member->amopopr) != FLOAT8OID)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator class \"%s\" of access method colpali_ivf has an unsupported operator %s as strategy %d",
							classname, format_operator(member->amopopr), member->amopstrategy),
					 errdetail("Only strategy 1, ORDER BY multihalfvec <#> real[] returning double precision, is supported.")));
			valid = false;
		}
		else
			has_order = true;
	}
	if (!has_order)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method colpali_ivf has no ordering operator",
						classname)));
		valid = false;
	}
	ReleaseCatCacheList(operators);

	procedures = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(family));
	if (procedures->n_members > 0)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method colpali_ivf has support functions",
						classname),
				 errdetail("colpali_ivf uses none.")));
		valid = false;
	}
	ReleaseCatCacheList(procedures);
	ReleaseSysCache(classtup);
	return valid;
}

PG_FUNCTION_INFO_V1(colpali_ivf_handler);
Datum
colpali_ivf_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = ivf_build;
	am->ambuildempty = ivf_buildempty;
	am->aminsert = ivf_insert;
	am->ambulkdelete = ivf_bulkdelete;
	am->amvacuumcleanup = ivf_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = ivf_costestimate;
	am->amoptions = ivf_options;
	am->amproperty = NULL;
	am->ambuildphasename = NULL;
	am->amvalidate = ivf_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = ivf_beginscan;
	am->amrescan = ivf_rescan;
	am->amgettuple = ivf_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = ivf_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/*
 * multihalfvec <#> real[][]: minus maxsim(query, document), so that ORDER BY
 * ... ASC (the only order an index scan yields) is best first. Without the
 * index it is exact; through it, the order is the index's estimate.
 */
PG_FUNCTION_INFO_V1(maxsim_negative_half);
Datum
maxsim_negative_half(PG_FUNCTION_ARGS)
{
	extern Datum maxsim_half(PG_FUNCTION_ARGS);
	LOCAL_FCINFO(inner, 2);
	Datum		score;

	/* Same call site, arguments swapped: maxsim keeps its scratch in our flinfo. */
	InitFunctionCallInfoData(*inner, fcinfo->flinfo, 2, fcinfo->fncollation, NULL, NULL);
	inner->args[0].value = PG_GETARG_DATUM(1);
	inner->args[0].isnull = false;
	inner->args[1].value = PG_GETARG_DATUM(0);
	inner->args[1].isnull = false;
	score = maxsim_half(inner);
	PG_RETURN_FLOAT8(-(double) DatumGetFloat4(score));
}
