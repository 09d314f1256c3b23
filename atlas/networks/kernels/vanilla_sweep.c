/* Forward and backward through time of K vanilla networks (float32), network by network.
 *
 * PyTorch's version of this sweep (atlas/networks/fused.py) runs one batched product and one
 * elementwise pass per time step over all K networks: each step streams the whole (K, B, H)
 * state through the caches and pays a dispatch, and a 20-wide product runs far below the
 * core's speed. Here one network's whole trial stays in L1/L2 while it is swept, its state
 * rows are padded to whole vectors, and four trials share each loaded weight row.
 *
 * The backward sweep also sums every parameter's gradient while a step's numbers are in the
 * caches, instead of PyTorch's products over all steps afterwards.
 *
 * Layouts (row-major, contiguous but for rows' network stride, 0 when all networks share
 * the trials): rows (K, T*B, C), each trial-step's inputs and a ones column (C = I + 1);
 * hs, d (K, T, B, H); h0, d_h0 (K, B, H); weight_ih (K, H, C), the bias as its last column;
 * weight_hh (K, H, H), PyTorch's h W^T convention; readout (K, O, H) and readout_bias (K, O);
 * outputs and grad (K, T, B, O), or grad (K, T, B, H), the states' own gradient, when
 * readout is NULL.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
/* One build for every x86-64 CPU: the loader picks the widest version this CPU runs. */
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#if defined(__GLIBC__) && defined(__x86_64__)
/* glibc's libmvec has vector versions of tanhf: declaring them lets the compiler vectorise
 * the activation loop without -ffast-math (which, in a shared library, would switch the
 * whole process to flush denormals). */
__attribute__((simd("notinbranch"))) float tanhf(float);
#endif

#define LANES 8
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
#define MAX_ROWS 4  /* rows of a that share each loaded row of m */
#define MAX_NV 8    /* vectors per padded row kept in registers: up to 64 units */

/* out[r] += sum_j a[r * a_row + j * a_col] m[j] for r < n, j < inner: m's rows and out's rows
 * are nv vectors. Inlined with constant nv and rows (rows of a per loaded row of m), the
 * rows x nv accumulators live in registers. */
static inline __attribute__((always_inline)) void
rows_times(const float *restrict a, int64_t a_row, int64_t a_col, int64_t inner,
           const vec *restrict m, vec *restrict out, int64_t n, int nv, int rows)
{
    int64_t r0 = 0;
    if (nv <= MAX_NV)
        for (; r0 + rows <= n; r0 += rows) {
            vec acc[MAX_ROWS][MAX_NV];
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < nv; v++) acc[r][v] = out[(r0 + r) * nv + v];
            for (int64_t j = 0; j < inner; j++) {
                const vec *mj = m + j * nv;
                for (int r = 0; r < rows; r++) {
                    const float s = a[(r0 + r) * a_row + j * a_col];
                    for (int v = 0; v < nv; v++) acc[r][v] += s * mj[v];
                }
            }
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < nv; v++) out[(r0 + r) * nv + v] = acc[r][v];
        }
    for (; r0 < n; r0++)
        for (int64_t j = 0; j < inner; j++) {
            const float s = a[r0 * a_row + j * a_col];
            for (int v = 0; v < nv; v++) out[r0 * nv + v] += s * m[j * nv + v];
        }
}

/* Rows beyond 3 vectors go 2 at a time without AVX-512: 4 x nv accumulators outgrow AVX2's
 * 16 vector registers (vanilla 50, K = 64, a training step: AVX2 build 57.6 -> 45.0 ms; the
 * AVX-512 build loses 4-10% with 2). */
#define NARROW(n_vectors)                                                         \
    case n_vectors:                                                               \
        if (wide)                                                                 \
            rows_times(a, a_row, a_col, inner, mv, ov, n, n_vectors, MAX_ROWS);   \
        else                                                                      \
            rows_times(a, a_row, a_col, inner, mv, ov, n, n_vectors, 2);          \
        break;

/* rows_times with nv made a constant for each common width, so each gets its own code; one
 * copy per CPU level (not inlined into each caller: that took the build from seconds to a
 * minute, for no measurable speed). */
CLONES __attribute__((noinline)) static void
product(const float *a, int64_t a_row, int64_t a_col, int64_t inner, const float *m,
        float *out, int64_t n, int64_t nv)
{
    const vec *mv = (const vec *)m;
    vec *ov = (vec *)out;
#if defined(__x86_64__)
    const int wide = __builtin_cpu_supports("avx512f");
#else
    const int wide = 0;
#endif
    switch (nv) {
    case 1: rows_times(a, a_row, a_col, inner, mv, ov, n, 1, MAX_ROWS); break;
    case 2: rows_times(a, a_row, a_col, inner, mv, ov, n, 2, MAX_ROWS); break;
    case 3: rows_times(a, a_row, a_col, inner, mv, ov, n, 3, MAX_ROWS); break;
    NARROW(4)
    NARROW(5)
    NARROW(6)
    NARROW(7)
    NARROW(8)
    default: rows_times(a, a_row, a_col, inner, mv, ov, n, (int)nv, 1); break;
    }
}

/* rows x cols at src into rows of `padded` floats at dst, zeros after each row's end. */
static inline void pack(const float *restrict src, int64_t rows, int64_t cols,
                        float *restrict dst, int64_t padded)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < padded; c++) dst[r * padded + c] = c < cols ? src[r * cols + c] : 0.f;
}

/* The matrix src (rows x cols) transposed into cols padded rows. */
static void pack_transposed(const float *src, int64_t rows, int64_t cols, float *dst,
                            int64_t padded)
{
    memset(dst, 0, cols * padded * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * padded + r] = src[r * cols + c];
}

static inline void unpack(const float *restrict src, int64_t rows, int64_t cols, int64_t padded,
                          float *restrict dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = src[r * padded + c];
}

/* The padded rows src (rows x padded) transposed into dst (cols x rows). */
static void unpack_transposed(const float *src, int64_t rows, int64_t cols, int64_t padded,
                              float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * padded + c];
}

static float *scratch(int64_t floats)
{
    float *buffer = aligned_alloc(64, (size_t)((floats * (int64_t)sizeof(float) + 63) / 64 * 64));
    if (buffer) memset(buffer, 0, (size_t)floats * sizeof(float));
    return buffer;
}

/* Networks [k0, k1): the states hs, h_t = tanh([x_t, 1] weight_ih^T + h_{t-1} weight_hh^T),
 * and with a readout the outputs h_t readout^T + readout_bias. 0, or 2 when out of memory. */
CLONES int vanilla_forward(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H, int64_t C,
                           int64_t O, const float *restrict rows, int64_t rows_stride,
                           const float *restrict h0, const float *restrict weight_ih,
                           const float *restrict weight_hh, const float *restrict readout,
                           const float *restrict readout_bias, float *restrict hs,
                           float *restrict outputs)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    float *w_in = scratch(C * hp), *w_rec = scratch(H * hp);
    float *prev = scratch(B * hp), *cur = scratch(B * hp);
    int status = (w_in && w_rec && prev && cur) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack_transposed(weight_ih + k * H * C, H, C, w_in, hp);
        pack_transposed(weight_hh + k * H * H, H, H, w_rec, hp);
        pack(h0 + k * B * H, B, H, prev, hp);
        for (int64_t t = 0; t < T; t++) {
            memset(cur, 0, B * hp * sizeof(float));
            product(rows + k * rows_stride + t * B * C, C, 1, C, w_in, cur, B, nv);
            product(prev, hp, 1, H, w_rec, cur, B, nv);
            for (int64_t i = 0; i < B * hp; i++) cur[i] = tanhf(cur[i]);
            unpack(cur, B, H, hp, hs + (k * T + t) * B * H);
            if (readout) {
                const float *wo = readout + k * O * H, *bo = readout_bias + k * O;
                float *out = outputs + (k * T + t) * B * O;
                for (int64_t b = 0; b < B; b++)
                    for (int64_t o = 0; o < O; o++) {
                        float sum = bo[o];
                        for (int64_t i = 0; i < H; i++) sum += cur[b * hp + i] * wo[o * H + i];
                        out[b * O + o] = sum;
                    }
            }
            float *swap = prev;
            prev = cur;
            cur = swap;
        }
    }
    free(w_in);
    free(w_rec);
    free(prev);
    free(cur);
    return status;
}

/* The states' gradient from outside at step t, written into carry (B padded rows). */
static inline __attribute__((always_inline)) void
outside_gradient(const float *grad, const float *readout, int64_t t, int64_t B, int64_t H,
                 int64_t O, int64_t nv, float *carry)
{
    const int64_t hp = nv * LANES;
    if (!readout) {
        pack(grad + t * B * H, B, H, carry, hp);
        return;
    }
    memset(carry, 0, B * hp * sizeof(float));
    product(grad + t * B * O, O, 1, O, readout, carry, B, nv);
}

/* Networks [k0, k1), from the states hs and the outside gradient: the gradients of
 * weight_ih (K, H, C), weight_hh (K, H, H), h0 (K, B, H), and with a readout of its weight
 * (K, O, H); where d is not NULL, each step's pre-activation gradient. 0, or 2 when out of
 * memory. */
CLONES int vanilla_backward(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H, int64_t C,
                            int64_t O, const float *restrict rows, int64_t rows_stride,
                            const float *restrict h0, const float *restrict hs,
                            const float *restrict weight_hh, const float *restrict readout,
                            const float *restrict grad, float *restrict d_weight_ih,
                            float *restrict d_weight_hh, float *restrict d_h0,
                            float *restrict d_readout, float *restrict d)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    const int64_t per_step = readout ? B * O : B * H;
    float *w = scratch(H * hp), *out_w = scratch((readout ? O : 1) * hp);
    float *carry = scratch(B * hp), *dp = scratch(B * hp);
    float *h = scratch(B * hp), *h_prev = scratch(B * hp);
    float *g_in = scratch(C * hp), *g_rec = scratch(H * hp), *g_out = scratch(O * hp);
    int status = (w && out_w && carry && dp && h && h_prev && g_in && g_rec && g_out) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack(weight_hh + k * H * H, H, H, w, hp);
        if (readout) pack(readout + k * O * H, O, H, out_w, hp);
        memset(g_in, 0, C * hp * sizeof(float));
        memset(g_rec, 0, H * hp * sizeof(float));
        memset(g_out, 0, O * hp * sizeof(float));
        const float *gk = grad + k * T * per_step;
        memset(carry, 0, B * hp * sizeof(float)); /* trials of no steps: every gradient 0 */
        if (T > 0) {
            outside_gradient(gk, readout ? out_w : NULL, T - 1, B, H, O, nv, carry);
            pack(hs + (k * T + T - 1) * B * H, B, H, h, hp);
        }
        for (int64_t t = T - 1; t >= 0; t--) {
            const float *x = rows + k * rows_stride + t * B * C;
            pack(t ? hs + (k * T + t - 1) * B * H : h0 + k * B * H, B, H, h_prev, hp);
            if (readout) /* readout's gradient: sum over trials of g_t^T h_t */
                product(gk + t * B * O, 1, O, B, h, g_out, O, nv);
            for (int64_t i = 0; i < B * hp; i++) dp[i] = carry[i] * (1.f - h[i] * h[i]);
            if (d) unpack(dp, B, H, hp, d + (k * T + t) * B * H);
            /* sums over trials: [x_t, 1]^T d_t and h_{t-1}^T d_t, transposed (rows by input) */
            product(x, 1, C, B, dp, g_in, C, nv);
            product(h_prev, 1, hp, B, dp, g_rec, H, nv);
            if (t)
                outside_gradient(gk, readout ? out_w : NULL, t - 1, B, H, O, nv, carry);
            else
                memset(carry, 0, B * hp * sizeof(float));
            product(dp, hp, 1, H, w, carry, B, nv);
            float *swap = h;
            h = h_prev;
            h_prev = swap;
        }
        unpack(carry, B, H, hp, d_h0 + k * B * H);
        unpack_transposed(g_in, C, H, hp, d_weight_ih + k * H * C);
        unpack_transposed(g_rec, H, H, hp, d_weight_hh + k * H * H);
        if (readout) unpack(g_out, O, H, hp, d_readout + k * O * H);
    }
    free(w);
    free(out_w);
    free(carry);
    free(dp);
    free(h);
    free(h_prev);
    free(g_in);
    free(g_rec);
    free(g_out);
    return status;
}
