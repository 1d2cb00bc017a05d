/*
 * multihalfvec: a multi-vector stored as IEEE half-precision values, half
 * the bytes of real[][] (a ColPali page: 264 KB instead of 527 KB). A varlena
 * with the shape in a fixed header and the values row-major after it, so a
 * reader knows the shape from the first bytes of the first TOAST chunk.
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
	int16		unused;			/* zero: room for a future flag */
	uint16		values[FLEXIBLE_ARRAY_MEMBER];	/* rows * dim binary16 */
} MultiHalfVec;

#define MULTIHALFVEC_HEADER offsetof(MultiHalfVec, values)
/* The header as the TOAST stream sees it: without the length word. */
#define MULTIHALFVEC_STREAM_HEADER (MULTIHALFVEC_HEADER - VARHDRSZ)

#define DatumGetMultiHalfVecP(x) ((MultiHalfVec *) PG_DETOAST_DATUM(x))
#define PG_GETARG_MULTIHALFVEC_P(n) DatumGetMultiHalfVecP(PG_GETARG_DATUM(n))

/*
 * ERROR unless the header read from a stored or received value describes a
 * multi-vector within the limits whose size matches `payload_bytes`.
 */
extern void multihalfvec_check_header(int64 rows, int64 dim, int64 unused,
									  int64 payload_bytes, const char *func,
									  const char *what);

#endif
