/*
 * The colpali extension: late-interaction (ColPali / ColBERT) scoring for
 * multi-vectors stored as real[][]. The kernels themselves live in
 * Sources/ColPaliKernels and are shared with the Swift packages.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "colpali_kernels.h"
#include "ivf.h"
#include "multihalfvec.h"
#include "toast_stream.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* colpali.tenant: read by the row-level security policies of the colpali
 * schema (migration 0005), not by this module. Defined here because the
 * module reserves the colpali prefix, so the setting must be a known one. */
static char *colpali_tenant = NULL;

/*
 * Called by the kernels between pieces of a long call: a cancelled or
 * terminated query stops within milliseconds, not after the whole product.
 */
static void
colpali_check_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

void
_PG_init(void)
{
	colpali_set_pause(colpali_check_interrupts);
	DefineCustomBoolVariable("colpali.stream_toast",
							 "Scores stored pages from their TOAST chunks instead of detoasting them.",
							 "Off takes the detoasting path for every page and every prefilter slice: the reference for tests and benchmarks.",
							 &colpali_stream_toast,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("colpali.sign_planes",
							 "Writes new multihalfvec values in sign planes (the codes once, then 15-bit magnitudes).",
							 "Off writes the rows layout of extension 1.2 and 1.3, which every version reads: for tests and for comparing the layouts.",
							 &colpali_sign_planes,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("colpali.tenant",
							   "The tenant whose documents this session may see (row-level security).",
							   "Sessions of roles in colpali_tenant see and write only this tenant's rows; none when unset.",
							   &colpali_tenant,
							   NULL,
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
	ivf_init();
	MarkGUCPrefixReserved("colpali");
}

PG_FUNCTION_INFO_V1(colpali_kernel);
Datum
colpali_kernel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(colpali_kernel_isa()));
}
