/*
 * peak_gflops.c: the compute ceiling of each matrix instruction this CPU
 * has, so bench/model_speed.sh can say how close the GEMMs come to it.
 * Register-only loops (no memory traffic), one per thread, all threads at
 * once; prints one JSON line per instruction:
 *   {"instruction": "...", "threads": N, "gflops": X}
 * Instructions, each measured only where the CPU (and, for AMX, Linux) allows:
 *   fp32-fma-ymm   vfmadd231ps ymm    8 lanes x 2 FLOP    (the avx2 kernel)
 *   fp32-fma-zmm   vfmadd231ps zmm   16 lanes x 2 FLOP
 *   vdpbf16ps-zmm  vdpbf16ps zmm     16 lanes x 4 FLOP    (the avx512bf16 kernel)
 *   amx-tdpbf16ps  tdpbf16ps       16 x 16 x 32 x 2 FLOP  (the amx kernel)
 * Build: cc -O2 -pthread -o peak_gflops bench/peak_gflops.c
 * Run:   peak_gflops [threads] [seconds per instruction]
 */
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ITERATIONS 1000000L

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each returns the FLOP it did in about `seconds`; the sink keeps results live. */
static volatile float sink;

/* Twelve independent chains: enough to cover FMA latency x pipes on the
 * cores seen (4-5 cycles x 2). */
#define CHAINS(init, op, reduce)                                                                                   \
    init;                                                                                                          \
    long rounds = 0;                                                                                               \
    const double end = now() + seconds;                                                                            \
    do {                                                                                                           \
        for (long i = 0; i < ITERATIONS / 100; i++) {                                                              \
            op(0); op(1); op(2); op(3); op(4); op(5); op(6); op(7); op(8); op(9); op(10); op(11);                  \
        }                                                                                                          \
        rounds++;                                                                                                  \
    } while (now() < end);                                                                                         \
    reduce;

__attribute__((target("avx2,fma"))) static double fma_ymm(double seconds)
{
#define OP(i) acc[i] = _mm256_fmadd_ps(acc[i], x, y)
    CHAINS(__m256 acc[12]; const __m256 x = _mm256_set1_ps(0.999f); const __m256 y = _mm256_set1_ps(1e-6f);
           for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i),
           OP,
           for (int i = 1; i < 12; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]); sink = _mm256_cvtss_f32(acc[0]))
#undef OP
    return (double)rounds * (ITERATIONS / 100) * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) static double fma_zmm(double seconds)
{
#define OP(i) acc[i] = _mm512_fmadd_ps(acc[i], x, y)
    CHAINS(__m512 acc[12]; const __m512 x = _mm512_set1_ps(0.999f); const __m512 y = _mm512_set1_ps(1e-6f);
           for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i),
           OP,
           for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]); sink = _mm512_reduce_add_ps(acc[0]))
#undef OP
    return (double)rounds * (ITERATIONS / 100) * 12 * 16 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_zmm(double seconds)
{
#define OP(i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y)
    CHAINS(__m512 acc[12]; const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80);
           const __m512bh y = (__m512bh)_mm512_set1_epi32(0x33003300);
           for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i),
           OP,
           for (int i = 1; i < 12; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]); sink = _mm512_reduce_add_ps(acc[0]))
#undef OP
    return (double)rounds * (ITERATIONS / 100) * 12 * 16 * 4;
}

/* Four accumulator tiles from two A and two B tiles, as a 2 x 2 blocked GEMM
 * would; the tiles hold zeros (the rate does not depend on values). */
__attribute__((target("amx-tile,amx-bf16"))) static double amx_tdp(double seconds)
{
    struct {
        uint8_t palette, start;
        uint8_t reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } config;
    memset(&config, 0, sizeof(config));
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.rows[t] = 16;
        config.colsb[t] = 64;
    }
    _tile_loadconfig(&config);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);
    long rounds = 0;
    const double end = now() + seconds;
    do {
        for (long i = 0; i < ITERATIONS / 100; i++) {
            _tile_dpbf16ps(0, 4, 6); _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6); _tile_dpbf16ps(3, 5, 7);
        }
        rounds++;
    } while (now() < end);
    float out[16 * 16];
    _tile_stored(0, out, 64);
    sink = out[0];
    _tile_release();
    return (double)rounds * (ITERATIONS / 100) * 4 * 16 * 16 * 32 * 2;
}

static int amx_usable(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(edx & (1u << 22)) || !(edx & (1u << 24)))
        return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

typedef struct {
    double (*loop)(double);
    double seconds, flop, elapsed;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    const double started = now();
    j->flop = j->loop(j->seconds);
    j->elapsed = now() - started;
    return NULL;
}

static void measure(const char *name, double (*loop)(double), int threads, double seconds)
{
    pthread_t ids[256];
    job jobs[256];
    double total = 0;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){loop, seconds, 0, 0};
        pthread_create(&ids[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        total += jobs[t].flop / jobs[t].elapsed;
    }
    printf("{\"instruction\": \"%s\", \"threads\": %d, \"gflops\": %.1f}\n", name, threads, total / 1e9);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    const double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || threads > 256 || seconds <= 0) {
        fprintf(stderr, "usage: peak_gflops [threads 1-256] [seconds > 0]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        measure("fp32-fma-ymm", fma_ymm, threads, seconds);
    if (__builtin_cpu_supports("avx512f"))
        measure("fp32-fma-zmm", fma_zmm, threads, seconds);
    if (__builtin_cpu_supports("avx512bf16"))
        measure("vdpbf16ps-zmm", dpbf16_zmm, threads, seconds);
    if (amx_usable())
        measure("amx-tdpbf16ps", amx_tdp, threads, seconds);
    return 0;
}
