/*
 * Nearest centroids on more than one core, for index builds, and a scan's
 * crediting shared the same way (ivf_scan.c).
 *
 * A colpali_ivf build spends nearly all its time filing tokens under their
 * nearest centroid (colpali_nearest: 1,030 x lists x dim multiply-adds a
 * page), pure arithmetic on memory the backend already owns. PostgreSQL 15
 * has no parallel build for index access methods other than btree, so the
 * backend shares this step with helper threads of its own, as many as
 * max_parallel_maintenance_workers allows and the CPUs can run beside it.
 *
 * The helpers run the kernel alone: no palloc, no elog, every signal
 * blocked (the backend's handlers stay on its own thread). The kernels'
 * pause hook, which checks for interrupts, belongs to the thread that set it
 * (Sources/ColPaliKernels/limits.c), so helpers never call it; the backend
 * holds interrupts off while they run, since an ERROR must not unwind memory
 * a helper still writes, and checks between blocks of work instead. A
 * helper that cannot be started leaves its share to the backend.
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "miscadmin.h"
#include "optimizer/cost.h"

#include "colpali_kernels.h"
#include "ivf.h"

/* Tokens per parallel step: about 0.4 s of one core at 1,024 lists. */
#define STEP_TOKENS 32768

typedef struct NearestShare
{
	const float *tokens;
	int			count;
	const float *layout;
	int			lists;
	int			dim;
	int32	   *out;
} NearestShare;

static void *
nearest_share(void *arg)
{
	NearestShare *share = (NearestShare *) arg;

	colpali_nearest(share->tokens, share->count, share->layout, share->lists, share->dim, share->out);
	return NULL;
}

/* Helpers within `allowed`, IVF_MAX_HELPERS and the CPUs beside the backend. */
static int
helpers_within(int allowed)
{
	long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return Max(0, Min(Min(allowed, IVF_MAX_HELPERS), (int) cpus - 1));
}

int
ivf_build_helpers(void)
{
	return helpers_within(max_parallel_maintenance_workers);
}

/* A scan's: as many as max_parallel_workers_per_gather allows a query. */
int
ivf_scan_helpers(void)
{
	return helpers_within(max_parallel_workers_per_gather);
}

void
ivf_run_shares(void *(*run) (void *), void *shares, Size size, int parts)
{
	pthread_t	threads[IVF_MAX_HELPERS];
	bool		started[IVF_MAX_HELPERS];
	sigset_t	all,
				previous;
	int			helpers = Min(parts - 1, IVF_MAX_HELPERS);
	char	   *share = (char *) shares;

	Assert(parts == helpers + 1);
	/* The kernels choose their instruction set on first use: here, not racing in the helpers. */
	(void) colpali_kernel_isa();
	HOLD_INTERRUPTS();
	/* Threads inherit the mask: they start with every signal blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &previous);
	for (int h = 0; h < helpers; h++)
		started[h] = pthread_create(&threads[h], NULL, run, share + (h + 1) * size) == 0;
	pthread_sigmask(SIG_SETMASK, &previous, NULL);
	run(share);
	for (int h = 0; h < helpers; h++)
	{
		if (started[h])
			pthread_join(threads[h], NULL);
		else
			run(share + (h + 1) * size);
	}
	RESUME_INTERRUPTS();
}

/* One step: `count` tokens split between the backend and `helpers` threads. */
static void
nearest_step(const float *tokens, int count, const float *layout, int lists, int dim, int32 *out,
			 int helpers)
{
	NearestShare shares[IVF_MAX_HELPERS + 1];
	int			parts = helpers + 1;

	for (int p = 0; p < parts; p++)
	{
		int			from = (int) ((int64) count * p / parts);
		int			to = (int) ((int64) count * (p + 1) / parts);

		shares[p] = (NearestShare) {tokens + (Size) from * dim, to - from, layout, lists, dim, out + from};
	}
	ivf_run_shares(nearest_share, shares, sizeof(NearestShare), parts);
}

void
ivf_nearest_parallel(const float *tokens, int count, const float *layout, int lists, int dim,
					 int32 *out)
{
	int			helpers = ivf_build_helpers();

	for (int from = 0; from < count; from += STEP_TOKENS)
	{
		int			n = Min(STEP_TOKENS, count - from);

		CHECK_FOR_INTERRUPTS();
		if (helpers == 0)
			colpali_nearest(tokens + (Size) from * dim, n, layout, lists, dim, out + from);
		else
			nearest_step(tokens + (Size) from * dim, n, layout, lists, dim, out + from, helpers);
	}
	CHECK_FOR_INTERRUPTS();
}
