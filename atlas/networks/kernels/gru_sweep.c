/* Forward and backward through time of K GRU networks (float32), network by network, as
 * vanilla_sweep.c and lstm_sweep.c do: the three gates' pre-activations side by side in padded
 * rows (3 * hp floats), the n gate's recurrent part W_hn h + b_hn in rows of its own (it is
 * multiplied by r), the elementwise work in one pass, every parameter's gradient summed inside
 * the backward sweep.
 *
 * PyTorch's gate order (r, z, n): r = s(x_r + h W_hr), z = s(x_z + h W_hz),
 * n = tanh(x_n + r (h W_hn + b_hn)), h_t = n + z (h_{t-1} - n), the biases of r and z and b_in
 * in the input rows' product.
 * Layouts (row-major, contiguous but for rows' network stride): rows (K, T*B, C), inputs and a
 * ones column; h0, d_h0 (K, B, H); hs (K, T, B, H); gates (K, T, B, 3hp), the activations
 * (r, z, n), and hn (K, T, B, hp), h W_hn + b_hn, which the forward sweep keeps and the
 * backward one overwrites with gradients (gates: the input side's, (r, z, n); hn: the n gate's
 * recurrent side); weight_ih (K, 3H, C), its last column the biases; weight_hh (K, 3H, H);
 * bias_hn, d_bias_hn (K, H); readout (K, O, H), readout_bias (K, O); outputs and grad
 * (K, T, B, O), or grad (K, T, B, H) when readout is NULL.
 */
#include "products.h"

/* Networks [k0, k1): the states hs (unless NULL), with a readout the outputs, and where gates
 * is not NULL each step's gates and hn. 0, or 2 when out of memory. */
CLONES static int gru_forward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                    int64_t C, int64_t O, const float *restrict rows,
                                    int64_t rows_stride, const float *restrict h0,
                                    const float *restrict weight_ih,
                                    const float *restrict weight_hh, const float *restrict bias_hn,
                                    const float *restrict readout,
                                    const float *restrict readout_bias, float *restrict hs,
                                    float *restrict gates, float *restrict hn,
                                    float *restrict outputs)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES, gp = 3 * hp;
    float *w_in = scratch(C * gp), *w_rec = scratch(H * gp), *h = scratch(B * hp);
    float *step = gates ? NULL : scratch(B * gp), *step_hn = gates ? NULL : scratch(B * hp);
    int status = (w_in && w_rec && h && (gates || (step && step_hn))) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack_gate_weight(weight_ih, k, 3, H, C, hp, w_in);
        pack_gate_weight(weight_hh, k, 3, H, H, hp, w_rec);
        pack(h0 + k * B * H, B, H, H, h, hp, hp);
        for (int64_t t = 0; t < T; t++) {
            float *pre = gates ? gates + (k * T + t) * B * gp : step;
            float *rec = gates ? hn + (k * T + t) * B * hp : step_hn;
            memset(pre, 0, B * gp * sizeof(float));
            pack(bias_hn + k * H, B, H, 0, rec, hp, hp);
            product(rows + k * rows_stride + t * B * C, C, 1, C, w_in, gp, pre, gp, B, 3 * nv);
            product(h, hp, 1, H, w_rec, gp, pre, gp, B, 2 * nv);
            product(h, hp, 1, H, w_rec + 2 * hp, gp, rec, hp, B, nv);
            for (int64_t b = 0; b < B; b++) {
                vec *restrict p = (vec *)(pre + b * gp), *restrict hb = (vec *)(h + b * hp);
                const vec *restrict rb = (const vec *)(rec + b * hp);
                for (int64_t v = 0; v < nv; v++) {
                    const vec r = sigmoid_vec(p[v]), z = sigmoid_vec(p[nv + v]);
                    const vec n = tanh_vec(p[2 * nv + v] + r * rb[v]);
                    hb[v] = n + z * (hb[v] - n);
                    p[v] = r;
                    p[nv + v] = z;
                    p[2 * nv + v] = n;
                }
            }
            write_step(h, k, t, T, B, H, hp, O, readout, readout_bias, hs, outputs);
        }
    }
    free(w_in);
    free(w_rec);
    free(h);
    free(step);
    free(step_hn);
    return status;
}

/* gru_forward_share over all K networks, shared out over `threads` threads. */
int gru_forward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                const float *restrict weight_ih, const float *restrict weight_hh,
                const float *restrict bias_hn, const float *restrict readout,
                const float *restrict readout_bias, float *restrict hs, float *restrict gates,
                float *restrict hn, float *restrict outputs)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   gru_forward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, weight_ih,
                                     weight_hh, bias_hn, readout, readout_bias, hs, gates, hn,
                                     outputs))
    return status;
}

/* Networks [k0, k1), from the forward sweep's states, gates and hn and the outside gradient:
 * the gradients of weight_ih (K, 3H, C), weight_hh (K, 3H, H), b_hn (K, H), h0 (K, B, H) and
 * with a readout of its weight (K, O, H). 0, or 2 when out of memory. */
CLONES static int gru_backward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                     int64_t C, int64_t O, const float *restrict rows,
                                     int64_t rows_stride, const float *restrict h0,
                                     const float *restrict hs, float *restrict gates,
                                     float *restrict hn, const float *restrict weight_hh,
                                     const float *restrict readout, const float *restrict grad,
                                     float *restrict d_weight_ih, float *restrict d_weight_hh,
                                     float *restrict d_bias_hn, float *restrict d_h0,
                                     float *restrict d_readout)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES, gp = 3 * hp;
    const int64_t per_step = readout ? B * O : B * H;
    float *w = scratch(3 * H * hp), *out_w = scratch((readout ? O : 1) * hp);
    float *carry = scratch(B * hp), *next = scratch(B * hp), *outside = scratch(B * hp);
    float *h = scratch(B * hp), *h_prev = scratch(B * hp);
    /* the gradients' sums: weight_ih, weight_hh, readout, b_hn */
    const int64_t n_sums = (C + H) * gp + (O + 1) * hp;
    float *g_in = scratch(n_sums), *g_rec = g_in + C * gp, *g_out = g_rec + H * gp;
    float *g_hn = g_out + O * hp;
    double *totals = double_scratch(n_sums);
    int status = (w && out_w && carry && next && outside && h && h_prev && g_in && totals)
        ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        const float *gk = grad + k * T * per_step;
        pack(weight_hh + k * 3 * H * H, 3 * H, H, H, w, hp, hp);
        if (readout) pack(readout + k * O * H, O, H, H, out_w, hp, hp);
        memset(g_in, 0, n_sums * sizeof(float));
        memset(totals, 0, n_sums * sizeof(double));
        memset(carry, 0, B * hp * sizeof(float)); /* trials of no steps: every gradient 0 */
        if (T > 0) {
            outside_gradient(gk, readout ? out_w : NULL, T - 1, B, H, O, hp, carry);
            pack(hs + (k * T + T - 1) * B * H, B, H, H, h, hp, hp);
        }
        for (int64_t t = T - 1; t >= 0; t--) {
            const float *x = rows + k * rows_stride + t * B * C;
            float *p = gates + (k * T + t) * B * gp, *rec = hn + (k * T + t) * B * hp;
            pack(t ? hs + (k * T + t - 1) * B * H : h0 + k * B * H, B, H, H, h_prev, hp, hp);
            if (readout) /* readout's gradient: sum over trials of g_t^T h_t */
                product(gk + t * B * O, 1, O, B, h, hp, g_out, hp, O, nv);
            for (int64_t b = 0; b < B; b++) {
                float *restrict pb = p + b * gp, *restrict rb = rec + b * hp;
                float *restrict nb = next + b * hp;
                const float *restrict dhb = carry + b * hp, *restrict hpb = h_prev + b * hp;
                for (int64_t u = 0; u < hp; u++) {
                    const float r = pb[u], z = pb[hp + u], n = pb[2 * hp + u], dh = dhb[u];
                    const float dn = dh * (1.f - z) * (1.f - n * n);
                    pb[u] = dn * rb[u] * r * (1.f - r);
                    pb[hp + u] = dh * (hpb[u] - n) * z * (1.f - z);
                    pb[2 * hp + u] = dn;
                    rb[u] = dn * r;
                    nb[u] = dh * z;
                }
            }
            for (int64_t b = 0; b < B; b++)
                for (int64_t u = 0; u < hp; u++) g_hn[u] += rec[b * hp + u];
            /* sums over trials: [x_t, 1]^T d_t and h_{t-1}^T d_t (rows by input) */
            product(x, 1, C, B, p, gp, g_in, gp, C, 3 * nv);
            product(h_prev, 1, hp, B, p, gp, g_rec, gp, H, 2 * nv);
            product(h_prev, 1, hp, B, rec, hp, g_rec + 2 * hp, gp, H, nv);
            if (folds_at(t, T)) fold(totals, g_in, n_sums);
            if (t) {
                outside_gradient(gk, readout ? out_w : NULL, t - 1, B, H, O, hp, outside);
                for (int64_t i = 0; i < B * hp; i++) next[i] += outside[i];
            }
            for (int64_t g = 0; g < 2; g++)
                product(p + g * hp, gp, 1, H, w + g * H * hp, hp, next, hp, B, nv);
            product(rec, hp, 1, H, w + 2 * H * hp, hp, next, hp, B, nv);
            float *swap = carry;
            carry = next;
            next = swap;
            swap = h;
            h = h_prev;
            h_prev = swap;
        }
        settle(totals, g_in, n_sums);
        unpack(carry, B, H, hp, d_h0 + k * B * H, H);
        unpack_gate_weight(g_in, k, 3, H, C, hp, d_weight_ih);
        unpack_gate_weight(g_rec, k, 3, H, H, hp, d_weight_hh);
        unpack(g_hn, 1, H, hp, d_bias_hn + k * H, H);
        if (readout) unpack(g_out, O, H, hp, d_readout + k * O * H, H);
    }
    free(w);
    free(out_w);
    free(carry);
    free(next);
    free(outside);
    free(h);
    free(h_prev);
    free(g_in);
    free(totals);
    return status;
}

/* gru_backward_share over all K networks, shared out over `threads` threads. */
int gru_backward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                 const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                 const float *restrict hs, float *restrict gates, float *restrict hn,
                 const float *restrict weight_hh, const float *restrict readout,
                 const float *restrict grad, float *restrict d_weight_ih,
                 float *restrict d_weight_hh, float *restrict d_bias_hn, float *restrict d_h0,
                 float *restrict d_readout)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   gru_backward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, hs, gates, hn,
                                      weight_hh, readout, grad, d_weight_ih, d_weight_hh, d_bias_hn,
                                      d_h0, d_readout))
    return status;
}
