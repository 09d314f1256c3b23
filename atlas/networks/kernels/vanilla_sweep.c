/* Forward and backward through time of K vanilla networks (float32), network by network.
 *
 * PyTorch's version of this sweep (atlas/networks/fused.py) runs one batched product and one
 * elementwise pass per time step over all K networks: each step streams the whole (K, B, H)
 * state through the caches and pays a dispatch, and a 20-wide product runs far below the
 * core's speed. Here one network's whole trial stays in L1/L2 while it is swept, its state
 * rows are padded to whole vectors, and four trials share each loaded weight row.
 *
 * Layouts (row-major, contiguous): xs, hs, d (K, T, B, H); h0, d_h0 (K, B, H); weight_hh
 * (K, H, H), PyTorch's h W^T convention; grad (K, T, B, O) with readout (K, O, H), or the
 * states' own gradient (K, T, B, H) when readout is NULL.
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
#define ROWS 4      /* trials that share each loaded row of the matrix */
#define MAX_NV 8    /* vectors per padded row kept in registers: up to 64 units */

/* out[b] += sum_j a[b * a_stride + j] m[j] for b < n, j < inner: m's rows and out's rows are
 * nv vectors. Inlined with a constant nv, the accumulators live in registers. */
static inline __attribute__((always_inline)) void
rows_times(const float *restrict a, int64_t a_stride, int64_t inner, const vec *restrict m,
           vec *restrict out, int64_t n, int nv)
{
    int64_t b = 0;
    if (nv <= MAX_NV)
        for (; b + ROWS <= n; b += ROWS) {
            vec acc[ROWS][MAX_NV];
            for (int r = 0; r < ROWS; r++)
                for (int v = 0; v < nv; v++) acc[r][v] = out[(b + r) * nv + v];
            for (int64_t j = 0; j < inner; j++) {
                const vec *mj = m + j * nv;
                for (int r = 0; r < ROWS; r++) {
                    const float s = a[(b + r) * a_stride + j];
                    for (int v = 0; v < nv; v++) acc[r][v] += s * mj[v];
                }
            }
            for (int r = 0; r < ROWS; r++)
                for (int v = 0; v < nv; v++) out[(b + r) * nv + v] = acc[r][v];
        }
    for (; b < n; b++)
        for (int64_t j = 0; j < inner; j++) {
            const float s = a[b * a_stride + j];
            for (int v = 0; v < nv; v++) out[b * nv + v] += s * m[j * nv + v];
        }
}

/* rows_times with nv made a constant for each common width, so each gets its own code. */
static inline __attribute__((always_inline)) void
rows_times_nv(const float *a, int64_t a_stride, int64_t inner, const float *m, float *out,
              int64_t n, int64_t nv)
{
    const vec *mv = (const vec *)m;
    vec *ov = (vec *)out;
    switch (nv) {
    case 1: rows_times(a, a_stride, inner, mv, ov, n, 1); break;
    case 2: rows_times(a, a_stride, inner, mv, ov, n, 2); break;
    case 3: rows_times(a, a_stride, inner, mv, ov, n, 3); break;
    case 4: rows_times(a, a_stride, inner, mv, ov, n, 4); break;
    case 5: rows_times(a, a_stride, inner, mv, ov, n, 5); break;
    case 6: rows_times(a, a_stride, inner, mv, ov, n, 6); break;
    case 7: rows_times(a, a_stride, inner, mv, ov, n, 7); break;
    case 8: rows_times(a, a_stride, inner, mv, ov, n, 8); break;
    default: rows_times(a, a_stride, inner, mv, ov, n, (int)nv); break;
    }
}

/* rows x cols at src into rows of `padded` floats at dst, zeros after each row's end. */
static void pack(const float *src, int64_t rows, int64_t cols, float *dst, int64_t padded)
{
    for (int64_t r = 0; r < rows; r++) {
        memcpy(dst + r * padded, src + r * cols, cols * sizeof(float));
        memset(dst + r * padded + cols, 0, (padded - cols) * sizeof(float));
    }
}

/* The square matrix src (n x n) transposed into padded rows. */
static void pack_transposed(const float *src, int64_t n, float *dst, int64_t padded)
{
    memset(dst, 0, n * padded * sizeof(float));
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < n; c++) dst[c * padded + r] = src[r * n + c];
}

static void unpack(const float *src, int64_t rows, int64_t cols, int64_t padded, float *dst)
{
    for (int64_t r = 0; r < rows; r++) memcpy(dst + r * cols, src + r * padded, cols * sizeof(float));
}

static float *scratch(int64_t floats)
{
    return aligned_alloc(64, (size_t)((floats * (int64_t)sizeof(float) + 63) / 64 * 64));
}

/* Networks [k0, k1): xs holds each step's input projection (bias included) on entry and the
 * states h_t = tanh(xs_t + h_{t-1} W^T) on return. 0, or 2 when out of memory. */
CLONES int vanilla_forward(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                           float *restrict xs, const float *restrict h0,
                           const float *restrict weight_hh)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    float *w_t = scratch(H * hp), *prev = scratch(B * hp), *cur = scratch(B * hp);
    int status = (w_t && prev && cur) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack_transposed(weight_hh + k * H * H, H, w_t, hp);
        pack(h0 + k * B * H, B, H, prev, hp);
        for (int64_t t = 0; t < T; t++) {
            float *x = xs + (k * T + t) * B * H;
            pack(x, B, H, cur, hp);
            rows_times_nv(prev, hp, H, w_t, cur, B, nv);
            for (int64_t i = 0; i < B * hp; i++) cur[i] = tanhf(cur[i]);
            unpack(cur, B, H, hp, x);
            float *swap = prev;
            prev = cur;
            cur = swap;
        }
    }
    free(w_t);
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
    rows_times_nv(grad + t * B * O, O, O, readout, carry, B, nv);
}

/* Networks [k0, k1): d_t, the gradient at each step's pre-activation, and d_h0, from the
 * states hs and the outside gradient. 0, or 2 when out of memory. */
CLONES int vanilla_backward(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H, int64_t O,
                            const float *restrict hs, const float *restrict grad,
                            const float *restrict readout, const float *restrict weight_hh,
                            float *restrict d, float *restrict d_h0)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    const int64_t per_step = readout ? B * O : B * H;
    float *w = scratch(H * hp), *out_w = scratch((readout ? O : 1) * hp);
    float *carry = scratch(B * hp), *dp = scratch(B * hp), *h = scratch(B * hp);
    int status = (w && out_w && carry && dp && h) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack(weight_hh + k * H * H, H, H, w, hp);
        if (readout) pack(readout + k * O * H, O, H, out_w, hp);
        const float *gk = grad + k * T * per_step;
        outside_gradient(gk, readout ? out_w : NULL, T - 1, B, H, O, nv, carry);
        for (int64_t t = T - 1; t >= 0; t--) {
            pack(hs + (k * T + t) * B * H, B, H, h, hp);
            for (int64_t i = 0; i < B * hp; i++) dp[i] = carry[i] * (1.f - h[i] * h[i]);
            unpack(dp, B, H, hp, d + (k * T + t) * B * H);
            if (t)
                outside_gradient(gk, readout ? out_w : NULL, t - 1, B, H, O, nv, carry);
            else
                memset(carry, 0, B * hp * sizeof(float));
            rows_times_nv(dp, hp, H, w, carry, B, nv);
        }
        unpack(carry, B, H, hp, d_h0 + k * B * H);
    }
    free(w);
    free(out_w);
    free(carry);
    free(dp);
    free(h);
    return status;
}
