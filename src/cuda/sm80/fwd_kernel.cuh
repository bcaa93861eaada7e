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
#include "cuda/common/softmax.cuh"
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
        *off = group_row_offset(p.q, p.group, b, hk, row);
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

    const FwdScales sc = fwd_scales(p);

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
            if (sc.negative) negate_tile<kCols / 8>(s[mi]);  // before masking
            if (need_mask) {
                const int row = warp_row + mi * 16;
                mask_tile<kCols / 8>(s[mi], j0, row / p.group, (row + 8) / p.group, p, lane);
            }
            float alpha[2];
            const bool rescale =
                online_softmax<kCols / 8>(s[mi], sc.scale_log2, m[mi], l[mi], alpha);
            if (__any_sync(0xffffffffu, rescale)) rescale_rows<kD / 8>(o[mi], alpha);
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
            const float inv = lsum > 0.0f ? sc.out * ptx::rcp_approx(lsum) : 0.0f;
            if (out != nullptr)
                store_row<kD / 8>(o[mi], h, inv,
                                  out + b * p.out_batch + int64_t(pos) * p.out_seq +
                                      int64_t(head) * p.out_head,
                                  p.head_dim, lane);
            if (p.lse != nullptr && lane % 4 == 0)
                p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + pos] = row_lse(m[mi][h], lsum);
        }
    }
}

}  // namespace flashattn::cuda::sm80
