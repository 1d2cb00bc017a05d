/*
 * The bf16 GEMM on AMX-BF16 tiles (tdpbf16ps), A in bf16: the tiling of
 * gemm_amx_tiles.inc on the hardware instructions.
 *
 * The tiling is tested everywhere on the C model of the instructions
 * (gemm_amx_emulated.c, after Intel's documented semantics) and, where the
 * CPU has AMX, on the hardware by the same tests (first run on a Xeon, cpu
 * family 6 model 207, in November 2026). The intrinsics below map one to
 * one onto the model's operations.
 */
#include <stdlib.h>

#include "gemm_internal.h"

#if COLPALI_MATH_X86
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux (5.16+) hands the 8 KiB tile-data state to a process only on
 * request; a tile instruction before it faults. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int colpali_amx_usable(void)
{
    static int usable = -1;
    if (usable < 0) {
        unsigned int eax, ebx, ecx, edx;
        /* CPUID.(EAX=7, ECX=0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE. */
        const int cpu = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx & (1u << 22)) && (edx & (1u << 24));
        /* Refused on kernels without AMX support or where a seccomp policy
         * or the hypervisor withholds the state: the other kernels run. */
        usable = cpu && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }
    return usable;
}

#define AMX_ATTR __attribute__((target("amx-tile,amx-bf16")))
#define AMX_KERNEL colpali_gemm_amx
#define TILE_CONFIGURE(config) _tile_loadconfig(config)
#define TILE_RELEASE() _tile_release()
#define TILE_LOAD(t, base, stride) _tile_loadd(t, base, stride)
#define TILE_STREAM_LOAD(t, base, stride) _tile_stream_loadd(t, base, stride)
#define TILE_STORE(t, base, stride) _tile_stored(t, base, stride)
#define TILE_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#include "gemm_amx_tiles.inc"
#endif
