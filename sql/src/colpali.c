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
#include "toast_stream.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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
							 "Off takes the detoasting path for every page: the reference for tests and benchmarks.",
							 &colpali_stream_toast,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("colpali");
}

PG_FUNCTION_INFO_V1(colpali_kernel);
Datum
colpali_kernel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(colpali_kernel_isa()));
}
