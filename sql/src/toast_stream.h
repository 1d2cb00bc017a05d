/*
 * Scoring a document multi-vector straight from its TOAST chunks.
 */
#ifndef COLPALI_TOAST_STREAM_H
#define COLPALI_TOAST_STREAM_H

#include "postgres.h"

#include "colpali_kernels.h"

#include "multivector.h"

/* What a stored document is: its header and its values differ. */
typedef enum DocumentFormat
{
	DOCUMENT_REAL_ARRAY,		/* real[][]: an array header, then floats */
	DOCUMENT_HALF				/* multihalfvec: rows and dim, then halves */
} DocumentFormat;

/* colpali.stream_toast: off scores every stored page, and reads every
 * prefilter's slice, through a detoast (the reference path, for tests and
 * benchmarks). */
extern bool colpali_stream_toast;

typedef enum ToastStreamResult
{
	TOAST_STREAM_SCORED,		/* *score holds the MaxSim */
	TOAST_STREAM_NOT_APPLICABLE /* not stored externally uncompressed, not a
								 * NULL-free 2-D real[], or a value the kernel
								 * flagged: detoast and take the normal path,
								 * which also reports any error precisely */
} ToastStreamResult;

/*
 * Buffers reused across the rows of one scan (kept in the function's
 * fn_extra), so scoring a row allocates nothing.
 */
typedef struct ToastScratch
{
	MemoryContext context;
	float	   *staging;
	Size		staging_capacity;	/* floats */
	float	   *row_max;
	Size		row_max_capacity;	/* floats */
	uint8	   *codes;			/* a page's codes, in sign planes */
	Size		codes_capacity;
	uint8	   *magnitudes;		/* a row split between chunks, in sign planes */
	Size		magnitudes_capacity;
	char	   *slice;			/* the last slice read (toast_read_slice) */
	Size		slice_capacity;
	uint64		blocks_read;	/* TOAST blocks this call site has read */
	struct BufferAccessStrategyData *strategy;	/* its ring, once past a
												 * quarter of shared buffers */
} ToastScratch;

/* The scratch of this call site, created on first use. */
extern ToastScratch *toast_scratch(FmgrInfo *flinfo);

/*
 * Starts `stream` on a document of rows x dim in `format`, with buffers from
 * `scratch`. The one setup of the kernel stream for both paths, so a page
 * scored from its chunks and the same page detoasted are scored alike.
 */
extern void toast_stream_begin(colpali_stream *stream, ToastScratch *scratch, MultiVector query,
							   DocumentFormat format);

/* The same for a multihalfvec of `rows` rows in `layout` (rows or sign planes). */
extern void toast_stream_begin_half(colpali_stream *stream, ToastScratch *scratch,
									MultiVector query, int16 layout, int rows);

/*
 * MaxSim of `query` against the document `datum` without detoasting it: the
 * value's TOAST chunks are read in order and fed to the kernel's stream
 * (colpali_stream_*) through a small cache-resident staging buffer, instead
 * of first being copied into one freshly allocated 0.5 MB array. Raises the
 * same ERRORs as the detoasting path for a shape beyond the limits or a
 * dimension mismatch.
 */
extern ToastStreamResult maxsim_from_toast(Datum datum, DocumentFormat format, MultiVector query,
										   const char *func, ToastScratch *scratch, float *score);

/*
 * The first `length` bytes of the uncompressed on-disk value `datum`, as a
 * varlena, read from its first chunks the way the stream reads them:
 * through this call site's ring once it has read a lot, which a detoasted
 * slice never does. The result lives in `scratch` until the next slice.
 * NULL where the value is not such, or its chunks are unusual: the caller
 * then detoasts, which reports any fault.
 */
extern struct varlena *toast_read_slice(Datum datum, Size length, ToastScratch *scratch);

#endif
