/* What every sweep kernel shares: small products on rows padded to whole vectors, packing
 * between PyTorch's layouts and padded ones, and zeroed scratch.
 *
 * A padded row holds a gate's (or a state's) H numbers in nv = ceil(H / LANES) vectors, zeros
 * after its end; a gated cell's rows put its G gates side by side, G * nv vectors. Zeros in
 * the padding stay zeros through every product, so no loop needs a remainder.
 */
#ifndef ATLAS_PRODUCTS_H
#define ATLAS_PRODUCTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
/* One build for every x86-64 CPU: the loader picks the widest version this CPU runs. */
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* The networks [0, K) in one contiguous share per thread, each swept by `call` (which reads
 * k0 and k1) on one of `threads` OpenMP threads (the variable named threads), the statuses
 * ORed into `status`. OpenMP's threads are PyTorch's own: a process loads one libgomp, so the
 * kernels run on the threads torch's operations leave spinning between parallel regions,
 * where threads of their own would compete with those for the cores. Every network is swept
 * by one thread, in the same order at any thread count: results do not depend on it. */
#define FOR_EACH_SHARE(K, status, call)                                                      \
    _Pragma("omp parallel for num_threads(threads) schedule(static, 1) reduction(| : status)") \
    for (int64_t share = 0; share < threads; share++) {                                      \
        const int64_t k0 = (K) * share / threads, k1 = (K) * (share + 1) / threads;          \
        status |= (call);                                                                    \
    }

#define LANES 8
typedef float vec __attribute__((vector_size(LANES * sizeof(float))));
#define MAX_ROWS 4 /* rows of a that share each loaded row of m */
#define MAX_NV 8   /* vectors of an output row kept in registers at once */

#include "activations.h"

/* out[r] += sum_j a[r * a_row + j * a_col] m[j] for the `rows` rows from r0, j < inner: m's
 * rows and out's rows are nv vectors, m_row and out_row vectors apart. Inlined with constant
 * nv and rows (rows of a per loaded row of m), the rows x nv accumulators live in registers. */
static inline __attribute__((always_inline)) void
block_times(const float *restrict a, int64_t a_row, int64_t a_col, int64_t inner,
            const vec *restrict m, int64_t m_row, vec *restrict out, int64_t out_row,
            int64_t r0, int nv, int rows)
{
    vec acc[MAX_ROWS][MAX_NV];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = out[(r0 + r) * out_row + v];
    for (int64_t j = 0; j < inner; j++) {
        const vec *mj = m + j * m_row;
        for (int r = 0; r < rows; r++) {
            const float s = a[(r0 + r) * a_row + j * a_col];
            for (int v = 0; v < nv; v++) acc[r][v] += s * mj[v];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) out[(r0 + r) * out_row + v] = acc[r][v];
}

/* block_times over rows [0, n): blocks of `rows`, then the rest one row at a time, still in
 * registers (the gradients' products have as few rows as inputs or outputs: a loop adding into
 * memory there took a tenth of a vanilla backward sweep). */
static inline __attribute__((always_inline)) void
rows_times(const float *restrict a, int64_t a_row, int64_t a_col, int64_t inner,
           const vec *restrict m, int64_t m_row, vec *restrict out, int64_t out_row, int64_t n,
           int nv, int rows)
{
    int64_t r0 = 0;
    for (; r0 + rows <= n; r0 += rows)
        block_times(a, a_row, a_col, inner, m, m_row, out, out_row, r0, nv, rows);
    for (; r0 < n; r0++) block_times(a, a_row, a_col, inner, m, m_row, out, out_row, r0, nv, 1);
}

/* Rows beyond 3 vectors go 2 at a time without AVX-512: 4 x nv accumulators outgrow AVX2's
 * 16 vector registers (vanilla 50, K = 64, a training step: AVX2 build 57.6 -> 45.0 ms; the
 * AVX-512 build loses 4-10% with 2). */
#define NARROW(n_vectors)                                                                  \
    case n_vectors:                                                                        \
        if (wide)                                                                          \
            rows_times(a, a_row, a_col, inner, mv, m_row, ov, out_row, n, n_vectors,       \
                       MAX_ROWS);                                                          \
        else                                                                               \
            rows_times(a, a_row, a_col, inner, mv, m_row, ov, out_row, n, n_vectors, 2);   \
        break;

/* rows_times with nv (at most MAX_NV) made a constant for each width, so each gets its own
 * code; one copy per CPU level (not inlined into each caller: that took the build from
 * seconds to a minute, for no measurable speed). */
CLONES __attribute__((noinline)) static void
narrow_product(const float *a, int64_t a_row, int64_t a_col, int64_t inner, const vec *mv,
               int64_t m_row, vec *ov, int64_t out_row, int64_t n, int64_t nv)
{
#if defined(__x86_64__)
    const int wide = __builtin_cpu_supports("avx512f");
#else
    const int wide = 0;
#endif
    switch (nv) {
    case 1: rows_times(a, a_row, a_col, inner, mv, m_row, ov, out_row, n, 1, MAX_ROWS); break;
    case 2: rows_times(a, a_row, a_col, inner, mv, m_row, ov, out_row, n, 2, MAX_ROWS); break;
    case 3: rows_times(a, a_row, a_col, inner, mv, m_row, ov, out_row, n, 3, MAX_ROWS); break;
    NARROW(4)
    NARROW(5)
    NARROW(6)
    NARROW(7)
    NARROW(8)
    }
}

/* out (n rows, out_row floats apart) += a m, where row r of a is a[r * a_row + j * a_col]
 * (j < inner) and m has inner rows m_row floats apart; out's and m's rows are nv vectors.
 * Wider rows go in column bands of at most MAX_NV vectors, as even as they divide. */
static void product(const float *a, int64_t a_row, int64_t a_col, int64_t inner, const float *m,
                    int64_t m_row, float *out, int64_t out_row, int64_t n, int64_t nv)
{
    const int64_t bands = (nv + MAX_NV - 1) / MAX_NV;
    for (int64_t b = 0, v0 = 0; b < bands; b++) {
        const int64_t v1 = nv * (b + 1) / bands;
        narrow_product(a, a_row, a_col, inner, (const vec *)m + v0, m_row / LANES,
                       (vec *)out + v0, out_row / LANES, n, v1 - v0);
        v0 = v1;
    }
}

/* rows x cols at src (rows src_row floats apart) into rows dst_row floats apart at dst, zeros
 * up to `padded` in each row. */
static inline void pack(const float *restrict src, int64_t rows, int64_t cols, int64_t src_row,
                        float *restrict dst, int64_t dst_row, int64_t padded)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < padded; c++)
            dst[r * dst_row + c] = c < cols ? src[r * src_row + c] : 0.f;
}

/* The matrix src (rows x cols) transposed into cols rows dst_row floats apart: dst's other
 * floats are left as they are (zero in scratch). */
static void pack_transposed(const float *src, int64_t rows, int64_t cols, float *dst,
                            int64_t dst_row)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * dst_row + r] = src[r * cols + c];
}

/* The first cols floats of rows src_row apart, into rows dst_row floats apart. */
static inline void unpack(const float *restrict src, int64_t rows, int64_t cols, int64_t src_row,
                          float *restrict dst, int64_t dst_row)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[r * dst_row + c] = src[r * src_row + c];
}

/* The rows src (rows x cols used, src_row floats apart) transposed into dst (cols x rows). */
static void unpack_transposed(const float *src, int64_t rows, int64_t cols, int64_t src_row,
                              float *dst)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * src_row + c];
}

/* floats zeroed and aligned for vectors; NULL when out of memory. */
static float *scratch(int64_t floats)
{
    const size_t bytes = (size_t)((floats * (int64_t)sizeof(float) + 63) / 64 * 64);
    float *buffer = aligned_alloc(64, bytes ? bytes : 64);
    if (buffer) memset(buffer, 0, bytes);
    return buffer;
}

/* The parameters' gradients are sums over T * B trial-steps: summed in float32 one step after
 * another, a trained network's gradient (a small difference of large terms) came out 5x
 * further from float64 than PyTorch's (LSTM 20, weight_ih: 2.8e-3 of its scale against
 * 5e-4). So a few steps are summed in float32 and then folded into totals in double. */
#define FOLD_EVERY 8

static double *double_scratch(int64_t n)
{
    double *buffer = calloc((size_t)(n ? n : 1), sizeof(double));
    return buffer;
}

/* total += part (n numbers), part = 0. */
static void fold(double *restrict total, float *restrict part, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        total[i] += part[i];
        part[i] = 0.f;
    }
}

/* out = total (n numbers), in float32. */
static void settle(const double *restrict total, float *restrict out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) out[i] = (float)total[i];
}

/* Whether the backward sweep, at step t (counting down from T - 1), folds its partial sums. */
static inline int folds_at(int64_t t, int64_t T) { return t == 0 || (T - t) % FOLD_EVERY == 0; }

/* Network k's step t: its states h (B padded rows, hp floats apart) into hs (K, T, B, H) unless
 * hs is NULL (a pass for the outputs alone), and, with a readout (K, O, H) and its bias (K, O),
 * its outputs into outputs (K, T, B, O). Inlined: compiled inside each CPU level's clone, the
 * readout's sums keep that level's (fused) multiply-adds, and so their rounding. */
static inline __attribute__((always_inline)) void
write_step(const float *h, int64_t k, int64_t t, int64_t T, int64_t B, int64_t H, int64_t hp,
           int64_t O, const float *readout, const float *readout_bias, float *hs, float *outputs)
{
    if (hs) unpack(h, B, H, hp, hs + (k * T + t) * B * H, H);
    if (!readout) return;
    const float *w = readout + k * O * H, *bias = readout_bias + k * O;
    float *out = outputs + (k * T + t) * B * O;
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < O; o++) {
            float sum = bias[o];
            for (int64_t i = 0; i < H; i++) sum += h[b * hp + i] * w[o * H + i];
            out[b * O + o] = sum;
        }
}

/* Network k's weight (K, G*H, cols), PyTorch's gate blocks of H rows, transposed into cols
 * rows of G padded gate blocks (G * hp floats): the layout the products read. */
static void pack_gate_weight(const float *weight, int64_t k, int64_t G, int64_t H, int64_t cols,
                             int64_t hp, float *dst)
{
    for (int64_t g = 0; g < G; g++)
        pack_transposed(weight + (k * G + g) * H * cols, H, cols, dst + g * hp, G * hp);
}

/* pack_gate_weight's inverse, for a gradient: cols rows of G padded gate blocks into network
 * k's (G*H, cols) of weight. */
static void unpack_gate_weight(const float *src, int64_t k, int64_t G, int64_t H, int64_t cols,
                               int64_t hp, float *weight)
{
    for (int64_t g = 0; g < G; g++)
        unpack_transposed(src + g * hp, cols, H, G * hp, weight + (k * G + g) * H * cols);
}

/* The states' gradient from outside at step t into carry (B padded rows of hp floats): the
 * outputs' gradient grad (T, B, O) through the padded readout (O rows of hp), or without one
 * grad (T, B, H), the states' own. */
static void outside_gradient(const float *grad, const float *readout, int64_t t, int64_t B,
                             int64_t H, int64_t O, int64_t hp, float *carry)
{
    if (!readout) {
        pack(grad + t * B * H, B, H, H, carry, hp, hp);
        return;
    }
    memset(carry, 0, B * hp * sizeof(float));
    product(grad + t * B * O, O, 1, O, readout, hp, carry, hp, B, hp / LANES);
}

#endif
