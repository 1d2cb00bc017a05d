/*
 * The shapes every caller accepts, and the pause hook that lets a host cut
 * long kernel calls short (see colpali_kernels.h).
 */
#include "kernels_internal.h"

/* Per thread: threads a host starts for kernel work (the extension's index
 * build helpers) run without one, and never call into the host. */
_Thread_local colpali_pause_fn colpali_pause_hook = NULL;

void colpali_set_pause(colpali_pause_fn pause)
{
    colpali_pause_hook = pause;
}

int colpali_check_shape(int64_t rows, int64_t dim)
{
    if (rows < 1 || dim < 1)
        return COLPALI_SHAPE_EMPTY;
    if (dim > COLPALI_MAX_DIM)
        return COLPALI_SHAPE_TOO_WIDE;
    if (rows > COLPALI_MAX_ROWS)
        return COLPALI_SHAPE_TOO_MANY_ROWS;
    return COLPALI_SHAPE_OK;
}
