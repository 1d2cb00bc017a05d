/*
 * Bodies of the elementwise kernels, written as plain loops the compiler
 * vectorises. elementwise.c includes this file once per instruction set
 * with KERNEL_ATTR / KERNEL_NAME set, and picks a version at run time.
 * Reductions keep 16 explicit partial sums so they vectorise without
 * -ffast-math.
 */

#define LANES 16

/* exp(x) for x in [-87, 88], Cephes' polynomial: about 1 ulp. */
KERNEL_ATTR static inline float KERNEL_NAME(exp_approx)(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = __builtin_fmaf(n, -0.693359375f, x);
    r = __builtin_fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = __builtin_fmaf(p, r, 1.3981999507e-3f);
    p = __builtin_fmaf(p, r, 8.3334519073e-3f);
    p = __builtin_fmaf(p, r, 4.1665795894e-2f);
    p = __builtin_fmaf(p, r, 1.6666665459e-1f);
    p = __builtin_fmaf(p, r, 5.0000001201e-1f);
    p = __builtin_fmaf(p, r * r, r) + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, 4);
    return p * scale;
}

/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3). */
KERNEL_ATTR static inline float KERNEL_NAME(gelu_tanh_one)(float x)
{
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + KERNEL_NAME(exp_approx)(-2.0f * u));
}

KERNEL_ATTR static void KERNEL_NAME(gelu_tanh)(float *x, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++)
        x[i] = KERNEL_NAME(gelu_tanh_one)(x[i]);
}

KERNEL_ATTR static void KERNEL_NAME(geglu)(float *gate, const float *up, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++)
        gate[i] = KERNEL_NAME(gelu_tanh_one)(gate[i]) * up[i];
}

KERNEL_ATTR static void KERNEL_NAME(add)(float *y, const float *x, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++)
        y[i] += x[i];
}

KERNEL_ATTR static float KERNEL_NAME(row_sum)(const float *x, int dim)
{
    float lanes[LANES] = {0};
    int i = 0;
    for (; i + LANES <= dim; i += LANES)
        for (int l = 0; l < LANES; l++)
            lanes[l] += x[i + l];
    float sum = 0;
    for (int l = 0; l < LANES; l++)
        sum += lanes[l];
    for (; i < dim; i++)
        sum += x[i];
    return sum;
}

KERNEL_ATTR static float KERNEL_NAME(row_squares_around)(const float *x, int dim, float center)
{
    float lanes[LANES] = {0};
    int i = 0;
    for (; i + LANES <= dim; i += LANES)
        for (int l = 0; l < LANES; l++) {
            const float d = x[i + l] - center;
            lanes[l] += d * d;
        }
    float sum = 0;
    for (int l = 0; l < LANES; l++)
        sum += lanes[l];
    for (; i < dim; i++)
        sum += (x[i] - center) * (x[i] - center);
    return sum;
}

KERNEL_ATTR static void KERNEL_NAME(layer_norm)(const float *x, float *out, int dim, const float *weight,
                                                const float *bias, float eps, int row_begin, int row_end)
{
    for (int r = row_begin; r < row_end; r++) {
        const float *row = x + (size_t)r * dim;
        float *dst = out + (size_t)r * dim;
        const float mean = KERNEL_NAME(row_sum)(row, dim) / (float)dim;
        const float variance = KERNEL_NAME(row_squares_around)(row, dim, mean) / (float)dim;
        const float inv = 1.0f / __builtin_sqrtf(variance + eps);
        for (int i = 0; i < dim; i++)
            dst[i] = (row[i] - mean) * inv * weight[i] + bias[i];
    }
}

KERNEL_ATTR static void KERNEL_NAME(rms_norm)(const float *x, float *out, int dim, const float *weight, float eps,
                                              int row_begin, int row_end)
{
    for (int r = row_begin; r < row_end; r++) {
        const float *row = x + (size_t)r * dim;
        float *dst = out + (size_t)r * dim;
        const float mean_square = KERNEL_NAME(row_squares_around)(row, dim, 0.0f) / (float)dim;
        const float inv = 1.0f / __builtin_sqrtf(mean_square + eps);
        for (int i = 0; i < dim; i++)
            dst[i] = (row[i] * inv) * (1.0f + weight[i]);
    }
}

KERNEL_ATTR static void KERNEL_NAME(softmax_rows)(float *x, int ld, int cols, float scale, int row_begin,
                                                  int row_end)
{
    for (int r = row_begin; r < row_end; r++) {
        float *row = x + (size_t)r * ld;
        float lanes[LANES];
        for (int l = 0; l < LANES; l++)
            lanes[l] = -__builtin_inff();
        int i = 0;
        for (; i + LANES <= cols; i += LANES)
            for (int l = 0; l < LANES; l++) {
                const float v = row[i + l] * scale;
                lanes[l] = v > lanes[l] ? v : lanes[l];
            }
        float max = -__builtin_inff();
        for (int l = 0; l < LANES; l++)
            max = lanes[l] > max ? lanes[l] : max;
        for (; i < cols; i++)
            max = row[i] * scale > max ? row[i] * scale : max;
        for (int j = 0; j < cols; j++)
            row[j] = KERNEL_NAME(exp_approx)(row[j] * scale - max);
        const float inv = 1.0f / KERNEL_NAME(row_sum)(row, cols);
        for (int j = 0; j < cols; j++)
            row[j] *= inv;
    }
}

KERNEL_ATTR static void KERNEL_NAME(l2_normalize_rows)(float *x, int dim, int row_begin, int row_end)
{
    for (int r = row_begin; r < row_end; r++) {
        float *row = x + (size_t)r * dim;
        const float norm = __builtin_sqrtf(KERNEL_NAME(row_squares_around)(row, dim, 0.0f));
        for (int i = 0; i < dim; i++)
            row[i] = row[i] / norm;
    }
}

#undef LANES
