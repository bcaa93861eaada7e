// sm_80 flash forward (FlashAttention-2 class, mma.sync).
//
// A CTA owns FwdTuning::kRows query rows of one (batch, KV head): the rows of all query heads
// of the GQA group, position-major (row r is position r / group of head kv_head * group +
// r % group), so the group shares every K/V tile. Each warp owns 16 * kMTiles rows. Per step
// of kCols keys: S = Q K^T (K from shared memory), the online softmax in registers, then O += P V with
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

// log2 units: the running max is raised only past this margin (probabilities <= 2^8 fit
// f16 and bf16 with their full relative precision).
constexpr float kRescaleSlack = 8.0f;

template <int kD>
constexpr int fwd_smem_bytes() {
    using Tn = FwdTuning<kD>;
    return (Tn::kRows + 2 * Tn::kCols) * pitch<kD>() * 2;
}

// S[kM m-tiles of 16 x kCols] += Q K^T for this warp: its 16 * kM query rows start at sQ,
// keys from sK. Each K fragment loaded from shared memory feeds kM mma.
template <typename T, int kD, int kM, int kCols>
__device__ __forceinline__ void scores(float (&s)[kM][kCols / 8][4], const T* sQ, const T* sK,
                                       int lane) {
    constexpr int P = pitch<kD>();
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
        uint32_t a[kM][4];
#pragma unroll
        for (int mi = 0; mi < kM; ++mi)
            ptx::ldmatrix_x4(a[mi], sQ + (mi * 16 + lane % 16) * P + kk * 16 + (lane / 16) * 8);
#pragma unroll
        for (int nn = 0; nn < kCols / 16; ++nn) {
            uint32_t b[4];
            ptx::ldmatrix_x4(b, sK + (nn * 16 + lane % 8 + (lane / 16) * 8) * P + kk * 16 +
                                    ((lane / 8) % 2) * 8);
#pragma unroll
            for (int mi = 0; mi < kM; ++mi) {
                ptx::mma_16816<T>(s[mi][2 * nn], a[mi], b);
                ptx::mma_16816<T>(s[mi][2 * nn + 1], a[mi], b + 2);
            }
        }
    }
}

// acc[kM][16 x kN] += A V where A[kM][16 x kK] is given as score-layout registers (converted
// to T on the fly) and V is a [kK][pitch] tile, of which columns [n0, n0 + kN) are used.
template <typename T, int kD, int kM, int kK, int kN>
__device__ __forceinline__ void scores_times_tile(float (&acc)[kM][kN / 8][4],
                                                  const float (&p)[kM][kK / 8][4], const T* sV,
                                                  int n0, int lane) {
    constexpr int P = pitch<kD>();
#pragma unroll
    for (int kk = 0; kk < kK / 16; ++kk) {
        uint32_t a[kM][4];
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
            a[mi][0] = ptx::pack2<T>(p[mi][2 * kk][0], p[mi][2 * kk][1]);
            a[mi][1] = ptx::pack2<T>(p[mi][2 * kk][2], p[mi][2 * kk][3]);
            a[mi][2] = ptx::pack2<T>(p[mi][2 * kk + 1][0], p[mi][2 * kk + 1][1]);
            a[mi][3] = ptx::pack2<T>(p[mi][2 * kk + 1][2], p[mi][2 * kk + 1][3]);
        }
#pragma unroll
        for (int dn = 0; dn < kN / 16; ++dn) {
            uint32_t b[4];
            ptx::ldmatrix_x4_trans(b, sV + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * P + n0 +
                                          dn * 16 + (lane / 16) * 8);
#pragma unroll
            for (int mi = 0; mi < kM; ++mi) {
                ptx::mma_16816<T>(acc[mi][2 * dn], a[mi], b);
                ptx::mma_16816<T>(acc[mi][2 * dn + 1], a[mi], b + 2);
            }
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
    constexpr int kRows = Tn::kRows, kCols = Tn::kCols, kM = Tn::kMTiles;
    constexpr int kThreads = Tn::kWarps * 32, P = pitch<kD>();
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
        *off = b * p.q.batch + int64_t(row / p.group) * p.q.seq +
               int64_t(hk * p.group + row % p.group) * p.q.head;
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

    // This thread's fragment rows: g and g + 8 of each of the warp's m-tiles.
    const int warp_row = r0 + warp * 16 * kM + lane / 4;
    const int first_pos = r0 / p.group;

    float o[kM][kD / 8][4] = {};
    float m[kM][2], l[kM][2];
#pragma unroll
    for (int mi = 0; mi < kM; ++mi) m[mi][0] = m[mi][1] = -INFINITY, l[mi][0] = l[mi][1] = 0.0f;
    const T* sQw = sQ + warp * 16 * kM * P;

    for (int t = 0; t < tiles; ++t) {
        const int j0 = t * kCols;
        ptx::cp_async_wait<0>();
        __syncthreads();  // K_t landed for all; every warp is done with V_{t-1}
        load_tile_async<kCols, kD, kThreads>(sV, v, p.head_dim, kv_rows(j0, p.v));
        ptx::cp_async_commit();

        float s[kM][kCols / 8][4] = {};
        scores<T, kD, kM, kCols>(s, sQw, sK, lane);
        __syncthreads();  // every warp is done with K_t
        if (t + 1 < tiles)
            load_tile_async<kCols, kD, kThreads>(sK, k, p.head_dim, kv_rows(j0 + kCols, p.k));
        ptx::cp_async_commit();

        const bool need_mask =
            j0 + kCols > p.seqlen_k || (p.causal && j0 + kCols - 1 > first_pos + p.causal_offset);
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
            scale_tile<kCols>(s[mi], scale_log2);  // before masking: the scale may be negative
            if (need_mask) {
                const int row = warp_row + mi * 16;
                mask_tile<kCols>(s[mi], j0, row / p.group, (row + 8) / p.group, p, lane);
            }
            // Online softmax: rows g (elements 0, 1) and g + 8 (2, 3) of each n-tile. The
            // running max (the base of the exponentials) only moves when a tile raises it by
            // more than kRescaleSlack, so most tiles skip rescaling O; probabilities stay
            // below 2^kRescaleSlack, and O and l share the base, so the result is unchanged.
            float alpha[2];
            bool rescale = false;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < kCols / 8; ++nt)
                    mx = fmaxf(mx, fmaxf(s[mi][nt][2 * h], s[mi][nt][2 * h + 1]));
                mx = ptx::quad_max(mx);
                alpha[h] = 1.0f;
                if (mx > m[mi][h] + kRescaleSlack) {
                    // -inf (nothing seen yet) gives alpha 0 on an all-zero O.
                    alpha[h] = ptx::exp2_approx(m[mi][h] - mx);
                    m[mi][h] = mx;
                    rescale = true;
                }
                // A row that has seen only masked keys keeps max -inf; subtracting 0 instead
                // keeps exp2(-inf - max) = 0 rather than NaN.
                const float base = m[mi][h] == -INFINITY ? 0.0f : m[mi][h];
                float sum = 0.0f;
#pragma unroll
                for (int nt = 0; nt < kCols / 8; ++nt) {
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const float x = ptx::exp2_approx(s[mi][nt][2 * h + e] - base);
                        s[mi][nt][2 * h + e] = x;
                        sum += x;
                    }
                }
                l[mi][h] = l[mi][h] * alpha[h] + sum;  // per-thread partial; quad-summed at the end
            }
            if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
                for (int dn = 0; dn < kD / 8; ++dn) {
                    o[mi][dn][0] *= alpha[0];
                    o[mi][dn][1] *= alpha[0];
                    o[mi][dn][2] *= alpha[1];
                    o[mi][dn][3] *= alpha[1];
                }
            }
        }

        ptx::cp_async_wait<1>();
        __syncthreads();  // V_t landed (K_{t+1} may still be in flight)
        scores_times_tile<T, kD, kM, kCols, kD>(o, s, sV, 0, lane);
    }

    // Epilogue: normalize, store this thread's pairs of columns, and the LSE.
    OutT* out = static_cast<OutT*>(p.out);
#pragma unroll
    for (int mi = 0; mi < kM; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = warp_row + mi * 16 + h * 8;
            const float lsum = ptx::quad_sum(l[mi][h]);
            if (row >= p.rows) continue;
            const int pos = row / p.group, head = hk * p.group + row % p.group;
            const float inv = lsum > 0.0f ? out_scale / lsum : 0.0f;
            if (out != nullptr) {
                OutT* dst = out + b * p.out_batch + int64_t(pos) * p.out_seq +
                            int64_t(head) * p.out_head;
#pragma unroll
                for (int dn = 0; dn < kD / 8; ++dn) {
                    const int col = dn * 8 + 2 * (lane % 4);
                    if (col < p.head_dim)
                        store2(dst + col, o[mi][dn][2 * h] * inv, o[mi][dn][2 * h + 1] * inv);
                }
            }
            if (p.lse != nullptr && lane % 4 == 0) {
                p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + pos] =
                    lsum > 0.0f ? (m[mi][h] + log2f(lsum)) * static_cast<float>(M_LN2) : -INFINITY;
            }
        }
    }
}

}  // namespace flashattn::cuda::sm80
