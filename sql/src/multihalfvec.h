/*
 * multihalfvec: a multi-vector stored as IEEE half-precision values, half
 * the bytes of real[][] (a ColPali page: 264 KB instead of 527 KB). A varlena
 * with the shape and layout in a fixed header and the values after it, so a
 * reader knows them from the first bytes of the first TOAST chunk.
 *
 * Two layouts, both always readable:
 * - rows (0, extension 1.2 and 1.3): the halves row-major;
 * - sign planes (1, written since 1.4): the sign-bit codes of every row
 *   first, then each value's other 15 bits (Sources/ColPaliKernels/
 *   sign_planes.c). The prefilter reads the codes as a slice of the stored
 *   value, so pages need no codes column beside them.
 */
#ifndef COLPALI_MULTIHALFVEC_H
#define COLPALI_MULTIHALFVEC_H

#include "postgres.h"

#include "fmgr.h"

#include "multivector.h"

typedef struct MultiHalfVec
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		rows;
	int16		dim;			/* COLPALI_MAX_DIM fits */
	int16		layout;			/* MULTIHALFVEC_ROWS or MULTIHALFVEC_PLANES */
	uint16		values[FLEXIBLE_ARRAY_MEMBER];	/* rows * dim binary16, or planes */
} MultiHalfVec;

#define MULTIHALFVEC_ROWS 0
#define MULTIHALFVEC_PLANES 1

#define MULTIHALFVEC_HEADER offsetof(MultiHalfVec, values)
/* The header as the TOAST stream sees it: without the length word. */
#define MULTIHALFVEC_STREAM_HEADER (MULTIHALFVEC_HEADER - VARHDRSZ)

#define DatumGetMultiHalfVecP(x) ((MultiHalfVec *) PG_DETOAST_DATUM(x))
#define PG_GETARG_MULTIHALFVEC_P(n) DatumGetMultiHalfVecP(PG_GETARG_DATUM(n))

/* colpali.sign_planes: off writes new values in the rows layout (tests). */
extern bool colpali_sign_planes;

/* Payload bytes of a rows x dim value in `layout`. */
extern int64 multihalfvec_payload_bytes(int64 rows, int64 dim, int layout);

/*
 * ERROR unless the header read from a stored or received value describes a
 * multi-vector within the limits, in a known layout, whose size matches
 * `payload_bytes`.
 */
extern void multihalfvec_check_header(int64 rows, int64 dim, int64 layout,
									  int64 payload_bytes, const char *func,
									  const char *what);

/* multihalfvec_check_header of a whole detoasted value. */
extern void multihalfvec_check(const MultiHalfVec *v, const char *func, const char *what);

/* The values as rows x dim halves, whatever the layout: the value's own
 * array, or a palloc'd copy. ERROR where the value is malformed. */
extern const uint16 *multihalfvec_halves(const MultiHalfVec *v);

/*
 * The sign-bit codes (rows x colpali_code_bytes(dim)) of the multihalfvec
 * `datum`, reading no more of a stored page in sign planes than its codes;
 * *rows and *dim set, ERROR where the value is malformed. `dim_hint` is the
 * dimension the caller expects: it lets one slice read do. With `scratch`
 * (the call site's), that slice is read as the exact scan reads chunks,
 * through a ring once the call site has read a quarter of shared buffers,
 * so a prefilter over every page does not push the rest of the cache out.
 */
struct ToastScratch;
extern const uint8 *multihalfvec_codes(Datum datum, int dim_hint, struct ToastScratch *scratch,
									   int *rows, int *dim, const char *func);

#endif
