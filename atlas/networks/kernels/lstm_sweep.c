/* Forward and backward through time of K LSTM networks (float32), network by network, as
 * vanilla_sweep.c does for vanilla ones: one network's trial in the caches, its four gates'
 * pre-activations side by side in padded rows (4 * hp floats), both products of a step (the
 * input rows' and the state's) into those rows, the gates' elementwise work in one pass, and
 * every parameter's gradient summed inside the backward sweep.
 *
 * PyTorch's gate order (i, f, g, o), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).
 * Layouts (row-major, contiguous but for rows' network stride): rows (K, T*B, C), inputs and a
 * ones column; h0, d_h0 (K, B, 2H), [h, c]; hs, cs, grad_c (K, T, B, H); gates (K, T, B, 4hp),
 * the activations (i, f, g, o) the forward sweep keeps for the backward one, which overwrites
 * them with the pre-activations' gradients; weight_ih (K, 4H, C), both biases as its last
 * column; weight_hh (K, 4H, H); readout (K, O, H), readout_bias (K, O); outputs and grad
 * (K, T, B, O), or grad (K, T, B, H) when readout is NULL.
 */
#include "products.h"

/* Networks [k0, k1): states hs and cells cs (each unless NULL), with a readout the outputs,
 * and where gates is not NULL each step's gate activations. 0, or 2 when out of memory. */
CLONES static int lstm_forward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                     int64_t C, int64_t O, const float *restrict rows,
                                     int64_t rows_stride, const float *restrict h0,
                                     const float *restrict weight_ih,
                                     const float *restrict weight_hh, const float *restrict readout,
                                     const float *restrict readout_bias, float *restrict hs,
                                     float *restrict cs, float *restrict gates,
                                     float *restrict outputs)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES, gp = 4 * hp;
    float *w_in = scratch(C * gp), *w_rec = scratch(H * gp);
    float *h = scratch(B * hp), *c = scratch(B * hp), *step = gates ? NULL : scratch(B * gp);
    int status = (w_in && w_rec && h && c && (gates || step)) ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        pack_gate_weight(weight_ih, k, 4, H, C, hp, w_in);
        pack_gate_weight(weight_hh, k, 4, H, H, hp, w_rec);
        pack(h0 + k * B * 2 * H, B, H, 2 * H, h, hp, hp);
        pack(h0 + k * B * 2 * H + H, B, H, 2 * H, c, hp, hp);
        for (int64_t t = 0; t < T; t++) {
            float *pre = gates ? gates + (k * T + t) * B * gp : step;
            memset(pre, 0, B * gp * sizeof(float));
            product(rows + k * rows_stride + t * B * C, C, 1, C, w_in, gp, pre, gp, B, 4 * nv);
            product(h, hp, 1, H, w_rec, gp, pre, gp, B, 4 * nv);
            for (int64_t b = 0; b < B; b++) {
                vec *restrict p = (vec *)(pre + b * gp), *restrict hb = (vec *)(h + b * hp);
                vec *restrict cb = (vec *)(c + b * hp);
                for (int64_t v = 0; v < nv; v++) {
                    const vec i = sigmoid_vec(p[v]), f = sigmoid_vec(p[nv + v]);
                    const vec g = tanh_vec(p[2 * nv + v]), o = sigmoid_vec(p[3 * nv + v]);
                    const vec cell = f * cb[v] + i * g;
                    cb[v] = cell;
                    hb[v] = o * tanh_vec(cell);
                    p[v] = i;
                    p[nv + v] = f;
                    p[2 * nv + v] = g;
                    p[3 * nv + v] = o;
                }
            }
            write_step(h, k, t, T, B, H, hp, O, readout, readout_bias, hs, outputs);
            if (cs) unpack(c, B, H, hp, cs + (k * T + t) * B * H, H);
        }
    }
    free(w_in);
    free(w_rec);
    free(h);
    free(c);
    free(step);
    return status;
}

/* lstm_forward_share over all K networks, shared out over `threads` threads. */
int lstm_forward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                 const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                 const float *restrict weight_ih, const float *restrict weight_hh,
                 const float *restrict readout, const float *restrict readout_bias,
                 float *restrict hs, float *restrict cs, float *restrict gates,
                 float *restrict outputs)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   lstm_forward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, weight_ih,
                                      weight_hh, readout, readout_bias, hs, cs, gates, outputs))
    return status;
}

/* add (B x H, unpadded) into dst's padded rows. */
static void add_rows(const float *add, int64_t B, int64_t H, int64_t hp, float *dst)
{
    for (int64_t b = 0; b < B; b++)
        for (int64_t u = 0; u < H; u++) dst[b * hp + u] += add[b * H + u];
}

/* Networks [k0, k1), from the forward sweep's states, cells and gates and the outside
 * gradients (grad; grad_c, the cells' own, or NULL): the gradients of weight_ih (K, 4H, C),
 * weight_hh (K, 4H, H), h0 (K, B, 2H) and with a readout of its weight (K, O, H); gates are
 * left holding each step's pre-activation gradients. 0, or 2 when out of memory. */
CLONES static int lstm_backward_share(int64_t k0, int64_t k1, int64_t T, int64_t B, int64_t H,
                                      int64_t C, int64_t O, const float *restrict rows,
                                      int64_t rows_stride, const float *restrict h0,
                                      const float *restrict hs, const float *restrict cs,
                                      float *restrict gates, const float *restrict weight_hh,
                                      const float *restrict readout, const float *restrict grad,
                                      const float *restrict grad_c, float *restrict d_weight_ih,
                                      float *restrict d_weight_hh, float *restrict d_h0,
                                      float *restrict d_readout)
{
    const int64_t nv = (H + LANES - 1) / LANES, hp = nv * LANES, gp = 4 * hp;
    const int64_t per_step = readout ? B * O : B * H;
    float *w = scratch(4 * H * hp), *out_w = scratch((readout ? O : 1) * hp);
    float *carry = scratch(B * hp), *d_c = scratch(B * hp);
    float *h = scratch(B * hp), *h_prev = scratch(B * hp);
    float *c = scratch(B * hp), *c_prev = scratch(B * hp);
    const int64_t n_sums = (C + H) * gp + O * hp; /* sums: weight_ih, weight_hh, readout */
    float *g_in = scratch(n_sums), *g_rec = g_in + C * gp, *g_out = g_rec + H * gp;
    double *totals = double_scratch(n_sums);
    int status = (w && out_w && carry && d_c && h && h_prev && c && c_prev && g_in && totals)
        ? 0 : 2;
    for (int64_t k = k0; k < k1 && !status; k++) {
        const float *h0k = h0 + k * B * 2 * H, *gk = grad + k * T * per_step;
        pack(weight_hh + k * 4 * H * H, 4 * H, H, H, w, hp, hp);
        if (readout) pack(readout + k * O * H, O, H, H, out_w, hp, hp);
        memset(g_in, 0, n_sums * sizeof(float));
        memset(totals, 0, n_sums * sizeof(double));
        memset(carry, 0, B * hp * sizeof(float)); /* trials of no steps: every gradient 0 */
        memset(d_c, 0, B * hp * sizeof(float));
        if (T > 0) {
            outside_gradient(gk, readout ? out_w : NULL, T - 1, B, H, O, hp, carry);
            if (grad_c) add_rows(grad_c + (k * T + T - 1) * B * H, B, H, hp, d_c);
            pack(hs + (k * T + T - 1) * B * H, B, H, H, h, hp, hp);
            pack(cs + (k * T + T - 1) * B * H, B, H, H, c, hp, hp);
        }
        for (int64_t t = T - 1; t >= 0; t--) {
            const float *x = rows + k * rows_stride + t * B * C;
            float *p = gates + (k * T + t) * B * gp;
            if (t) {
                pack(hs + (k * T + t - 1) * B * H, B, H, H, h_prev, hp, hp);
                pack(cs + (k * T + t - 1) * B * H, B, H, H, c_prev, hp, hp);
            } else {
                pack(h0k, B, H, 2 * H, h_prev, hp, hp);
                pack(h0k + H, B, H, 2 * H, c_prev, hp, hp);
            }
            if (readout) /* readout's gradient: sum over trials of g_t^T h_t */
                product(gk + t * B * O, 1, O, B, h, hp, g_out, hp, O, nv);
            for (int64_t b = 0; b < B; b++) {
                vec *restrict pb = (vec *)(p + b * gp), *restrict dcb = (vec *)(d_c + b * hp);
                const vec *restrict dhb = (const vec *)(carry + b * hp);
                const vec *restrict cb = (const vec *)(c + b * hp);
                const vec *restrict cpb = (const vec *)(c_prev + b * hp);
                for (int64_t v = 0; v < nv; v++) {
                    const vec i = pb[v], f = pb[nv + v], g = pb[2 * nv + v], o = pb[3 * nv + v];
                    const vec tc = tanh_vec(cb[v]), dh = dhb[v];
                    const vec dc = dcb[v] + dh * o * (1.f - tc * tc);
                    pb[v] = dc * g * i * (1.f - i);
                    pb[nv + v] = dc * cpb[v] * f * (1.f - f);
                    pb[2 * nv + v] = dc * i * (1.f - g * g);
                    pb[3 * nv + v] = dh * tc * o * (1.f - o);
                    dcb[v] = dc * f;
                }
            }
            /* sums over trials: [x_t, 1]^T d_t and h_{t-1}^T d_t (rows by input) */
            product(x, 1, C, B, p, gp, g_in, gp, C, 4 * nv);
            product(h_prev, 1, hp, B, p, gp, g_rec, gp, H, 4 * nv);
            if (folds_at(t, T)) fold(totals, g_in, n_sums);
            if (t) {
                outside_gradient(gk, readout ? out_w : NULL, t - 1, B, H, O, hp, carry);
                if (grad_c) add_rows(grad_c + (k * T + t - 1) * B * H, B, H, hp, d_c);
            } else {
                memset(carry, 0, B * hp * sizeof(float));
            }
            for (int64_t g = 0; g < 4; g++)
                product(p + g * hp, gp, 1, H, w + g * H * hp, hp, carry, hp, B, nv);
            float *swap = h;
            h = h_prev;
            h_prev = swap;
            swap = c;
            c = c_prev;
            c_prev = swap;
        }
        settle(totals, g_in, n_sums);
        unpack(carry, B, H, hp, d_h0 + k * B * 2 * H, 2 * H);
        unpack(d_c, B, H, hp, d_h0 + k * B * 2 * H + H, 2 * H);
        unpack_gate_weight(g_in, k, 4, H, C, hp, d_weight_ih);
        unpack_gate_weight(g_rec, k, 4, H, H, hp, d_weight_hh);
        if (readout) unpack(g_out, O, H, hp, d_readout + k * O * H, H);
    }
    free(w);
    free(out_w);
    free(carry);
    free(d_c);
    free(h);
    free(h_prev);
    free(c);
    free(c_prev);
    free(g_in);
    free(totals);
    return status;
}

/* lstm_backward_share over all K networks, shared out over `threads` threads. */
int lstm_backward(int threads, int64_t K, int64_t T, int64_t B, int64_t H, int64_t C, int64_t O,
                  const float *restrict rows, int64_t rows_stride, const float *restrict h0,
                  const float *restrict hs, const float *restrict cs, float *restrict gates,
                  const float *restrict weight_hh, const float *restrict readout,
                  const float *restrict grad, const float *restrict grad_c,
                  float *restrict d_weight_ih, float *restrict d_weight_hh, float *restrict d_h0,
                  float *restrict d_readout)
{
    int status = 0;
    FOR_EACH_SHARE(K, status,
                   lstm_backward_share(k0, k1, T, B, H, C, O, rows, rows_stride, h0, hs, cs, gates,
                                       weight_hh, readout, grad, grad_c, d_weight_ih, d_weight_hh,
                                       d_h0, d_readout))
    return status;
}
