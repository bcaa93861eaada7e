// The forward pass's per-tile math, shared by the sm_80 and sm_90 kernels. Score and output
// tiles are held in the mma C layout (mma.cuh; wgmma accumulators have the same per-thread
// layout): float[n-tiles][4], elements 0, 1 in fragment row g and 2, 3 in row g + 8, columns
// 8 nt + 2 (lane % 4) + e. A row's values are spread over the 4 lanes of a quad.
#pragma once

#include <cmath>

#include "cuda/common/params.h"
#include "cuda/common/store.cuh"
#include "cuda/ptx/math.cuh"

namespace flashattn::cuda {

// log2 units: the running max is raised only past this margin (probabilities <= 2^8 fit
// f16 and bf16 with their full relative precision).
constexpr float kRescaleSlack = 8.0f;

// A forward's scales: the softmax scale's magnitude in log2 units, whether it is negative
// (the caller negates the score tile before masking), and the output's factor. The f32 path's
// per-tensor scales divide out of both: Q's and K's from the scores, V's from the output.
struct FwdScales {
    float scale_log2, out;
    bool negative;
};

__device__ __forceinline__ FwdScales fwd_scales(const FwdParams& p) {
    FwdScales f{fabsf(p.softmax_scale) * static_cast<float>(M_LOG2E), 1.0f,
                p.softmax_scale < 0.0f};
    if (p.tensor_scales != nullptr) {
        f.scale_log2 /= p.tensor_scales[kScaleQ] * p.tensor_scales[kScaleK];
        f.out = 1.0f / p.tensor_scales[kScaleV];
    }
    return f;
}

template <int kN8>
__device__ __forceinline__ void scale_tile(float (&s)[kN8][4], float scale) {
#pragma unroll
    for (int nt = 0; nt < kN8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[nt][e] *= scale;
}

// Applies the causal and sequence-end masks to a score tile whose first column is key j0:
// column j of the fragment row at query position pos survives when j < seqlen_k and
// j <= pos + causal_offset.
template <int kN8>
__device__ __forceinline__ void mask_tile(float (&s)[kN8][4], int j0, int pos_a, int pos_b,
                                          const AttnParams& p, int lane) {
    const int lim_a = p.causal ? min(p.seqlen_k, pos_a + p.causal_offset + 1) : p.seqlen_k;
    const int lim_b = p.causal ? min(p.seqlen_k, pos_b + p.causal_offset + 1) : p.seqlen_k;
#pragma unroll
    for (int nt = 0; nt < kN8; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const int col = j0 + nt * 8 + 2 * (lane % 4) + e;
            if (col >= lim_a) s[nt][e] = -INFINITY;
            if (col >= lim_b) s[nt][2 + e] = -INFINITY;
        }
    }
}

// One online-softmax step on a tile of raw (masked) scores: with scale >= 0 in log2 units,
// s becomes the unnormalized probabilities exp2(scale s - m), m (running max, scaled) and l
// (this thread's partial row sums) are updated, and alpha is the factor O must be multiplied
// by. Returns whether any row of this thread needs that (alpha != 1). The scale is folded
// into one FFMA per score; a negative softmax scale is handled by the caller negating the
// tile (negate_tile) and passing its magnitude.
//
// The running max (the base of the exponentials) only moves when a tile raises it by more
// than kRescaleSlack, so most tiles skip rescaling O; probabilities stay below
// 2^kRescaleSlack, and O and l share the base, so the result is unchanged.
template <int kN8>
__device__ __forceinline__ bool online_softmax(float (&s)[kN8][4], float scale, float (&m)[2],
                                               float (&l)[2], float (&alpha)[2]) {
    bool rescale = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        // The row max as a tree (depth log2(2 kN8), not a chain of 2 kN8 dependent maxes):
        // the softmax is latency-bound, the exponentials wait for this.
        float t[kN8];
#pragma unroll
        for (int nt = 0; nt < kN8; ++nt) t[nt] = fmaxf(s[nt][2 * h], s[nt][2 * h + 1]);
#pragma unroll
        for (int w = 1; w < kN8; w *= 2)
#pragma unroll
            for (int nt = 0; nt + w < kN8; nt += 2 * w) t[nt] = fmaxf(t[nt], t[nt + w]);
        const float mx = ptx::quad_max(t[0]) * scale;
        alpha[h] = 1.0f;
        if (mx > m[h] + kRescaleSlack) {
            // -inf (nothing seen yet) gives alpha 0 on an all-zero O.
            alpha[h] = ptx::exp2_approx(m[h] - mx);
            m[h] = mx;
            rescale = true;
        }
        // A row that has seen only masked keys keeps max -inf; subtracting 0 instead keeps
        // exp2(-inf - max) = 0 rather than NaN.
        const float base = m[h] == -INFINITY ? 0.0f : m[h];
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kN8; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float x = ptx::exp2_approx(fmaf(s[nt][2 * h + e], scale, -base));
                s[nt][2 * h + e] = x;
                sum += x;
            }
        }
        l[h] = l[h] * alpha[h] + sum;  // per-thread partial; quad-summed at the end
    }
    return rescale;
}

// softmax(c s) = softmax(|c| (-s)): a negative softmax scale negates the raw scores.
template <int kN8>
__device__ __forceinline__ void negate_tile(float (&s)[kN8][4]) {
#pragma unroll
    for (int nt = 0; nt < kN8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[nt][e] = -s[nt][e];
}

template <int kN8>
__device__ __forceinline__ void rescale_rows(float (&o)[kN8][4], const float (&alpha)[2]) {
#pragma unroll
    for (int dn = 0; dn < kN8; ++dn) {
        o[dn][0] *= alpha[0];
        o[dn][1] *= alpha[0];
        o[dn][2] *= alpha[1];
        o[dn][3] *= alpha[1];
    }
}

// Stores fragment row h (0: row g, 1: row g + 8) of the output tile, times inv, at dst:
// this thread's column pairs below head_dim.
template <int kN8, typename OutT>
__device__ __forceinline__ void store_row(const float (&o)[kN8][4], int h, float inv, OutT* dst,
                                          int head_dim, int lane) {
#pragma unroll
    for (int dn = 0; dn < kN8; ++dn) {
        const int col = dn * 8 + 2 * (lane % 4);
        if (col < head_dim) store2(dst + col, o[dn][2 * h] * inv, o[dn][2 * h + 1] * inv);
    }
}

// The natural-log LSE of a row from its max (log2 units) and full sum (0 or >= 1); -inf for
// a row that saw no key.
__device__ __forceinline__ float row_lse(float m, float lsum) {
    return lsum > 0.0f ? (m + ptx::log2_approx(lsum)) * static_cast<float>(M_LN2) : -INFINITY;
}

}  // namespace flashattn::cuda
