/*
 * Scoring a document multi-vector straight from its TOAST chunks.
 */
#ifndef COLPALI_TOAST_STREAM_H
#define COLPALI_TOAST_STREAM_H

#include "postgres.h"

#include "multivector.h"

typedef enum ToastStreamResult
{
	TOAST_STREAM_SCORED,		/* *score holds the MaxSim */
	TOAST_STREAM_NOT_APPLICABLE /* not stored externally uncompressed, not a
								 * NULL-free 2-D real[], or a value the kernel
								 * flagged: detoast and take the normal path,
								 * which also reports any error precisely */
} ToastStreamResult;

/*
 * MaxSim of `query` against the document `datum` without detoasting it: the
 * value's TOAST chunks are read in order and fed to the kernel through a
 * small cache-resident staging buffer, instead of first being copied into one
 * freshly allocated 0.5 MB array (half the cost of a detoast, measured).
 * Raises the usual ERROR on a dimension mismatch.
 */
extern ToastStreamResult maxsim_from_toast(Datum datum, MultiVector query, const char *func, float *score);

#endif
