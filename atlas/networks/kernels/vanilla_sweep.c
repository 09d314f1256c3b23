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
#include "products.h"

/* Networks [k0, k1): the states hs, h_t = tanh([x_t, 1] weight_ih^T + h_{t-1} weight_hh^T),
 * unless hs is NULL, and with a readout the outputs h_t readout^T + readout_bias. 0, or 2 when out of memory. */
CLONES static int vanilla_forward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                        int64_t C, int64_t O, const float *restrict rows,
                                        int64_t rows_stride, const float *restrict h0,
                                        const float *restrict weight_ih,
                                        const float *restrict weight_hh,
                                        const float *restrict readout,
                                        const float *restrict readout_bias, float *restrict hs,
                                        float *restrict outputs)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    float *w_in = scratch(C * hp), *w_rec = scratch(H * hp);
    float *prev = scratch(B * hp), *cur = scratch(B * hp);
    int status = (w_in && w_rec && prev && cur) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack_gate_weight(weight_ih, k, 1, H, C, hp, w_in);
        pack_gate_weight(weight_hh, k, 1, H, H, hp, w_rec);
        pack(h0 + k * B * H, B, H, H, prev, hp, hp);
        for (int64_t t = 0; t < T; t++) {
            memset(cur, 0, B * hp * sizeof(float));
            product(rows + k * rows_stride + t * B * C, C, 1, C, w_in, hp, cur, hp, B, nv);
            product(prev, hp, 1, H, w_rec, hp, cur, hp, B, nv);
            for (int64_t v = 0; v < B * nv; v++) ((vec *)cur)[v] = tanh_vec(((vec *)cur)[v]);
            write_step(cur, k, t, T, B, H, hp, O, readout, readout_bias, hs, outputs);
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

/* vanilla_forward_share over all K networks, shared out over `threads` threads. */
int vanilla_forward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                    const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                    const float *restrict weight_ih, const float *restrict weight_hh,
                    const float *restrict readout, const float *restrict readout_bias,
                    float *restrict hs, float *restrict outputs)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   vanilla_forward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, weight_ih,
                                         weight_hh, readout, readout_bias, hs, outputs))
    return status;
}

/* Networks [k0, k1), from the states hs and the outside gradient: the gradients of
 * weight_ih (K, H, C), weight_hh (K, H, H), h0 (K, B, H), and with a readout of its weight
 * (K, O, H); where d is not NULL, each step's pre-activation gradient. 0, or 2 when out of
 * memory. */
CLONES static int vanilla_backward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                         int64_t C, int64_t O, const float *restrict rows,
                                         int64_t rows_stride, const float *restrict h0,
                                         const float *restrict hs, const float *restrict weight_hh,
                                         const float *restrict readout, const float *restrict grad,
                                         float *restrict d_weight_ih, float *restrict d_weight_hh,
                                         float *restrict d_h0, float *restrict d_readout,
                                         float *restrict d)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES;
    const int64_t per_step = readout ? B * O : B * H;
    float *w = scratch(H * hp), *out_w = scratch((readout ? O : 1) * hp);
    float *carry = scratch(B * hp), *dp = scratch(B * hp);
    float *h = scratch(B * hp), *h_prev = scratch(B * hp);
    /* the gradients' sums: weight_ih, weight_hh, readout */
    const int64_t n_sums = (C + H + O) * hp;
    float *g_in = scratch(n_sums), *g_rec = g_in + C * hp, *g_out = g_rec + H * hp;
    double *totals = double_scratch(n_sums);
    int status = (w && out_w && carry && dp && h && h_prev && g_in && totals) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack(weight_hh + k * H * H, H, H, H, w, hp, hp);
        if (readout) pack(readout + k * O * H, O, H, H, out_w, hp, hp);
        memset(g_in, 0, n_sums * sizeof(float));
        memset(totals, 0, n_sums * sizeof(double));
        const float *gk = grad + k * T * per_step;
        memset(carry, 0, B * hp * sizeof(float)); /* trials of no steps: every gradient 0 */
        if (T > 0) {
            outside_gradient(gk, readout ? out_w : NULL, T - 1, B, H, O, hp, carry);
            pack(hs + (k * T + T - 1) * B * H, B, H, H, h, hp, hp);
        }
        for (int64_t t = T - 1; t >= 0; t--) {
            const float *x = rows + k * rows_stride + t * B * C;
            pack(t ? hs + (k * T + t - 1) * B * H : h0 + k * B * H, B, H, H, h_prev, hp, hp);
            if (readout) /* readout's gradient: sum over trials of g_t^T h_t */
                product(gk + t * B * O, 1, O, B, h, hp, g_out, hp, O, nv);
            for (int64_t i = 0; i < B * hp; i++) dp[i] = carry[i] * (1.f - h[i] * h[i]);
            if (d) unpack(dp, B, H, hp, d + (k * T + t) * B * H, H);
            /* sums over trials: [x_t, 1]^T d_t and h_{t-1}^T d_t, transposed (rows by input) */
            product(x, 1, C, B, dp, hp, g_in, hp, C, nv);
            product(h_prev, 1, hp, B, dp, hp, g_rec, hp, H, nv);
            if (folds_at(t, T)) fold(totals, g_in, n_sums);
            if (t)
                outside_gradient(gk, readout ? out_w : NULL, t - 1, B, H, O, hp, carry);
            else
                memset(carry, 0, B * hp * sizeof(float));
            product(dp, hp, 1, H, w, hp, carry, hp, B, nv);
            float *swap = h;
            h = h_prev;
            h_prev = swap;
        }
        settle(totals, g_in, n_sums);
        unpack(carry, B, H, hp, d_h0 + k * B * H, H);
        unpack_gate_weight(g_in, k, 1, H, C, hp, d_weight_ih);
        unpack_gate_weight(g_rec, k, 1, H, H, hp, d_weight_hh);
        if (readout) unpack(g_out, O, H, hp, d_readout + k * O * H, H);
    }
    free(w);
    free(out_w);
    free(carry);
    free(dp);
    free(h);
    free(h_prev);
    free(g_in);
    free(totals);
    return status;
}

/* vanilla_backward_share over all K networks, shared out over `threads` threads. */
int vanilla_backward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                     const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                     const float *restrict hs, const float *restrict weight_hh,
                     const float *restrict readout, const float *restrict grad,
                     float *restrict d_weight_ih, float *restrict d_weight_hh, float *restrict d_h0,
                     float *restrict d_readout, float *restrict d)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   vanilla_backward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, hs,
                                          weight_hh, readout, grad, d_weight_ih, d_weight_hh, d_h0,
                                          d_readout, d))
    return status;
}

/* tanh_vec (activations.h), the activation every sweep inlines, on n floats (whole vectors),
 * at this CPU's level: for its tests. */
CLONES static void tanh_share(int64_t n, const float *x, float *out)
{
    for (int64_t v = 0; v < n / LANES; v++) ((vec *)out)[v] = tanh_vec(((const vec *)x)[v]);
}

void vanilla_tanh(int64_t n, const float *x, float *out) { tanh_share(n, x, out); }
