/* The activations in vectors: tanh within 1.5 ulp of the exact value for every float32 (checked
 * exhaustively against float64; glibc's vector tanhf is within 1.03), and the logistic
 * function through it, at about 0.7 ns a number on an AVX2 EPYC against libmvec's 0.9-1.3
 * (the activations were a fifth of a training epoch there, in libmvec's calls).
 *
 * tanh |x| = e / (e + 2) with e = expm1(2|x|) = 2^n (1 + p) - 1, p = expm1(r) on
 * |r| <= ln 2 / 2 by a polynomial; below |x| = 0.4, where e + 2 rounds away too much of e,
 * |x| + |x|^3 P(x^2). Both polynomials are minimax fits in float64 rounded to float32
 * (scripts/fit_activations.py). Signs, zeros, infinities and NaN come out as tanhf's.
 * Included by products.h, after LANES and vec.
 */
#ifndef ATLAS_ACTIVATIONS_H
#define ATLAS_ACTIVATIONS_H

#include <stdint.h>

typedef int32_t ivec __attribute__((vector_size(LANES * sizeof(float))));

/* mask ? yes : no, lane by lane (mask lanes all ones or all zeros). */
static inline __attribute__((always_inline)) vec pick(ivec mask, vec yes, vec no)
{
    return (vec)((mask & (ivec)yes) | (~mask & (ivec)no));
}

static inline __attribute__((always_inline)) vec tanh_vec(vec x)
{
    const ivec sign = (ivec){} + (int32_t)0x80000000u;
    const ivec bits = (ivec)x;
    const vec a = (vec)(bits & ~sign);
    /* |x| < 0.4 */
    const vec z = a * a;
    vec m = (vec){} + 0.01874397f;
    m = m * z - 0.05356191f;
    m = m * z + 0.13331214f;
    m = m * z - 0.333333f;
    const vec small = (a * z) * m + a;
    /* |x| >= 0.4, clamped at 9.5 (tanh is 1 in float32 from 9.01); NaN stays NaN */
    const vec y = 2.f * pick(a > 9.5f, (vec){} + 9.5f, a);
    const vec shifted = y * 1.44269504f + 12582912.f; /* n in the low bits */
    const vec n = shifted - 12582912.f;
    const vec r = (y - n * 0.693145752f) - n * 1.42860677e-6f; /* ln 2 in two parts */
    vec q = (vec){} + 0.00019845883f;
    q = q * r + 0.0013940621f;
    q = q * r + 0.00833339f;
    q = q * r + 0.041666362f;
    q = q * r + 0.16666666f;
    q = q * r + 0.5f;
    const vec p = (r * r) * q + r;
    const vec scale = (vec)(((ivec)shifted << 23) + 0x3f800000); /* 2^n */
    const vec e = scale * p + (scale - 1.f);
    const vec magnitude = pick(a >= 0.4f, e / (e + 2.f), small);
    return (vec)((ivec)magnitude | (bits & sign));
}

/* The logistic function as 0.5 tanh(x / 2) + 0.5: through expf (libmvec's) it ran lower on
 * average (mean error -4.8e-10 over [-8, 8]; this way -2.9e-12), which an LSTM's cell, a sum
 * over hundreds of steps, carries along. */
static inline __attribute__((always_inline)) vec sigmoid_vec(vec x)
{
    return 0.5f * tanh_vec(0.5f * x) + 0.5f;
}

#endif
