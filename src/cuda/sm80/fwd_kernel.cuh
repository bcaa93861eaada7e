// sm_80 flash forward (FlashAttention-2 class, mma.sync).
//
// A CTA owns FwdTuning::kRows query rows of one (batch, KV head): the rows of all query heads
// of the GQA group, position-major (row r is position r / group of head kv_head * group +
// r % group), so the group shares every K/V tile. Each warp owns 16 rows. Per step of kCols
// keys: S = Q K^T (K from shared memory), the online softmax in registers, then O += P V with
// P re-used from the score registers as the A operand. K and V stream through one shared
// buffer each with cp.async: V_j loads during S_j, K_{j+1} during the softmax and P V_j.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "cuda/common/params.h"
#include "cuda/common/store.cuh"
#include "cuda/common/tile.cuh"
#include "cuda/ptx/ldmatrix.cuh"
#include "cuda/ptx/math.cuh"
#include "cuda/ptx/mma.cuh"
#include "cuda/sm80/tuning.h"

namespace flashattn::cuda::sm80 {

template <int kD>
constexpr int fwd_smem_bytes() {
    using Tn = FwdTuning<kD>;
    return (Tn::kRows + 2 * Tn::kCols) * pitch<kD>() * 2;
}

// S[16 x kCols] += Q[16 x kD] K^T for this warp: Q rows from sQ (this warp's 16), keys from sK.
template <typename T, int kD, int kCols>
__device__ __forceinline__ void scores(float (&s)[kCols / 8][4], const T* sQ, const T* sK,
                                       int lane) {
    constexpr int P = pitch<kD>();
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
        uint32_t a[4];
        ptx::ldmatrix_x4(a, sQ + (lane % 16) * P + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int nn = 0; nn < kCols / 16; ++nn) {
            uint32_t b[4];
            ptx::ldmatrix_x4(b, sK + (nn * 16 + lane % 8 + (lane / 16) * 8) * P + kk * 16 +
                                    ((lane / 8) % 2) * 8);
            ptx::mma_16816<T>(s[2 * nn], a, b);
            ptx::mma_16816<T>(s[2 * nn + 1], a, b + 2);
        }
    }
}

// acc[16 x kN] += A[16 x kK] V where A is given as score-layout registers (kK / 8 n-tiles of
// the C layout, converted to T) and V is a [kK][pitch] tile; columns [n0, n0 + kN) of V.
template <typename T, int kD, int kK, int kN>
__device__ __forceinline__ void scores_times_tile(float (&acc)[kN / 8][4],
                                                  const float (&p)[kK / 8][4], const T* sV,
                                                  int n0, int lane) {
    constexpr int P = pitch<kD>();
#pragma unroll
    for (int kk = 0; kk < kK / 16; ++kk) {
        const uint32_t a[4] = {ptx::pack2<T>(p[2 * kk][0], p[2 * kk][1]),
                               ptx::pack2<T>(p[2 * kk][2], p[2 * kk][3]),
                               ptx::pack2<T>(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                               ptx::pack2<T>(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
        for (int dn = 0; dn < kN / 16; ++dn) {
            uint32_t b[4];
            ptx::ldmatrix_x4_trans(b, sV + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * P + n0 +
                                          dn * 16 + (lane / 16) * 8);
            ptx::mma_16816<T>(acc[2 * dn], a, b);
            ptx::mma_16816<T>(acc[2 * dn + 1], a, b + 2);
        }
    }
}

template <int kCols>
__device__ __forceinline__ void scale_tile(float (&s)[kCols / 8][4], float scale) {
#pragma unroll
    for (int nt = 0; nt < kCols / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[nt][e] *= scale;
}

// Applies the causal and sequence-end masks to a score tile: column j0 + c of fragment row
// with query position pos survives when c < seqlen_k and c <= pos + causal_offset.
template <int kCols>
__device__ __forceinline__ void mask_tile(float (&s)[kCols / 8][4], int j0, int pos_a, int pos_b,
                                          const AttnParams& p, int lane) {
    const int lim_a = p.causal ? min(p.seqlen_k, pos_a + p.causal_offset + 1) : p.seqlen_k;
    const int lim_b = p.causal ? min(p.seqlen_k, pos_b + p.causal_offset + 1) : p.seqlen_k;
#pragma unroll
    for (int nt = 0; nt < kCols / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const int col = j0 + nt * 8 + 2 * (lane % 4) + e;
            if (col >= lim_a) s[nt][e] = -INFINITY;
            if (col >= lim_b) s[nt][2 + e] = -INFINITY;
        }
    }
}

template <typename T, typename OutT, int kD>
__global__ void __launch_bounds__(FwdTuning<kD>::kWarps * 32)
    fwd_kernel(const FwdParams p) {
    using Tn = FwdTuning<kD>;
    constexpr int kRows = Tn::kRows, kCols = Tn::kCols, kThreads = Tn::kWarps * 32;
    constexpr int P = pitch<kD>();
    extern __shared__ __align__(16) unsigned char smem[];
    T* sQ = reinterpret_cast<T*>(smem);
    T* sK = sQ + kRows * P;
    T* sV = sK + kCols * P;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int block = gridDim.x - 1 - blockIdx.x;  // causal: the longest blocks start first
    const int hk = blockIdx.y, b = blockIdx.z;
    const int r0 = block * kRows;
    const T* q = static_cast<const T*>(p.q.ptr);
    const T* k = static_cast<const T*>(p.k.ptr);
    const T* v = static_cast<const T*>(p.v.ptr);

    load_tile_async<kRows, kD, kThreads>(sQ, q, p.head_dim, [&](int r, int64_t* off) {
        const int row = r0 + r;
        if (row >= p.rows) return false;
        *off = b * p.q.batch + (row / p.group) * p.q.seq + (hk * p.group + row % p.group) * p.q.head;
        return true;
    });
    auto kv_rows = [&](int j0, const TensorArg& t) {
        return [&, j0](int r, int64_t* off) {
            if (j0 + r >= p.seqlen_k) return false;
            *off = b * t.batch + int64_t(j0 + r) * t.seq + hk * t.head;
            return true;
        };
    };

    // Keys this block sees: all, or up to the causal limit of its last row.
    const int last_row = min(r0 + kRows, p.rows) - 1;
    const int kv_end =
        p.causal ? min(p.seqlen_k, last_row / p.group + p.causal_offset + 1) : p.seqlen_k;
    const int tiles = kv_end > 0 ? (kv_end + kCols - 1) / kCols : 0;
    if (tiles > 0) load_tile_async<kCols, kD, kThreads>(sK, k, p.head_dim, kv_rows(0, p.k));
    ptx::cp_async_commit();

    float scale_log2 = p.softmax_scale * static_cast<float>(M_LOG2E);
    float out_scale = 1.0f;
    if (p.tensor_scales != nullptr) {
        scale_log2 /= p.tensor_scales[kScaleQ] * p.tensor_scales[kScaleK];
        out_scale = 1.0f / p.tensor_scales[kScaleV];
    }

    // This thread's two fragment rows (g and g + 8 of the warp's 16) and their positions.
    const int row_a = r0 + warp * 16 + lane / 4, row_b = row_a + 8;
    const int pos_a = row_a / p.group, pos_b = row_b / p.group;
    const int first_pos = r0 / p.group;

    float o[kD / 8][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const T* sQw = sQ + warp * 16 * P;

    for (int t = 0; t < tiles; ++t) {
        const int j0 = t * kCols;
        ptx::cp_async_wait<0>();
        __syncthreads();  // K_t landed for all; every warp is done with V_{t-1}
        load_tile_async<kCols, kD, kThreads>(sV, v, p.head_dim, kv_rows(j0, p.v));
        ptx::cp_async_commit();

        float s[kCols / 8][4] = {};
        scores<T, kD, kCols>(s, sQw, sK, lane);
        __syncthreads();  // every warp is done with K_t
        if (t + 1 < tiles) load_tile_async<kCols, kD, kThreads>(sK, k, p.head_dim, kv_rows(j0 + kCols, p.k));
        ptx::cp_async_commit();

        scale_tile<kCols>(s, scale_log2);  // before masking: the scale may be negative
        if (j0 + kCols > p.seqlen_k || (p.causal && j0 + kCols - 1 > first_pos + p.causal_offset))
            mask_tile<kCols>(s, j0, pos_a, pos_b, p, lane);

        // Online softmax: rows a (elements 0, 1) and b (2, 3) of each n-tile.
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = m[h];
#pragma unroll
            for (int nt = 0; nt < kCols / 8; ++nt)
                mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
            mx = ptx::quad_max(mx);
            // A row that has seen only masked keys keeps max -inf; subtracting 0 instead keeps
            // exp2(-inf - max) = 0 rather than NaN.
            const float base = mx == -INFINITY ? 0.0f : mx;
            const float alpha = ptx::exp2_approx(m[h] - base);
            float sum = 0.0f;
#pragma unroll
            for (int nt = 0; nt < kCols / 8; ++nt) {
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const float x = ptx::exp2_approx(s[nt][2 * h + e] - base);
                    s[nt][2 * h + e] = x;
                    sum += x;
                }
            }
            l[h] = l[h] * alpha + sum;  // per-thread partial; quad-summed at the end
            m[h] = mx;
#pragma unroll
            for (int dn = 0; dn < kD / 8; ++dn) {
                o[dn][2 * h] *= alpha;
                o[dn][2 * h + 1] *= alpha;
            }
        }

        ptx::cp_async_wait<1>();
        __syncthreads();  // V_t landed (K_{t+1} may still be in flight)
        scores_times_tile<T, kD, kCols, kD>(o, s, sV, 0, lane);
    }

    // Epilogue: normalize, store this thread's pairs of columns, and the LSE.
    OutT* out = static_cast<OutT*>(p.out);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = h == 0 ? row_a : row_b;
        const float lsum = ptx::quad_sum(l[h]);
        if (row >= p.rows) continue;
        const int pos = row / p.group, head = hk * p.group + row % p.group;
        const float inv = lsum > 0.0f ? out_scale / lsum : 0.0f;
        if (out != nullptr) {
            OutT* dst = out + b * p.out_batch + int64_t(pos) * p.out_seq + int64_t(head) * p.out_head;
#pragma unroll
            for (int dn = 0; dn < kD / 8; ++dn) {
                const int col = dn * 8 + 2 * (lane % 4);
                if (col < p.head_dim) store2(dst + col, o[dn][2 * h] * inv, o[dn][2 * h + 1] * inv);
            }
        }
        if (p.lse != nullptr && lane % 4 == 0) {
            p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + pos] =
                lsum > 0.0f ? (m[h] + log2f(lsum)) * static_cast<float>(M_LN2) : -INFINITY;
        }
    }
}

}  // namespace flashattn::cuda::sm80
