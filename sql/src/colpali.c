/*
 * The colpali extension: late-interaction (ColPali / ColBERT) scoring for
 * multi-vectors stored as real[][]. The kernels themselves live in
 * Sources/ColPaliKernels and are shared with the Swift packages.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "colpali_kernels.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(colpali_kernel);
Datum
colpali_kernel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(colpali_kernel_isa()));
}
