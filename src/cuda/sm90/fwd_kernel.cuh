// sm_90a flash forward (FlashAttention-3 class): TMA, wgmma, warp specialization.
//
// A CTA owns kRows query rows of one (batch, query head). Warpgroup 0 is the producer: after
// giving up registers (setmaxnreg) one thread issues every TMA copy, Q once, then K and V of
// each key step into a ring of kStages buffers, each guarded by a "full" and an "empty"
// mbarrier (tma.cuh). Warpgroups 1..kConsumers each own 64 rows and, per step of kCols keys:
//   S = Q K^T (wgmma SS), release K; online softmax in registers; O += P V (wgmma RS, P kept in
//   registers in the A layout), release V.
// Two consumer warpgroups per SM interleave, so one's softmax runs under the other's wgmma.
// Shared tiles are 64-column slabs with the 128-byte swizzle (wgmma.cuh has the descriptors).
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "cuda/common/params.h"
#include "cuda/common/softmax.cuh"
#include "cuda/ptx/tma.cuh"
#include "cuda/ptx/wgmma.cuh"
#include "cuda/sm90/tuning.h"

namespace flashattn::cuda::sm90 {

constexpr int kSlabBytes = 128;  // one row of a 64-column slab

template <int kD>
struct FwdSmem {
    using Tn = FwdTuning<kD>;
    static constexpr int kSlabs = kD / 64;
    static constexpr int kQBytes = kSlabs * Tn::kRows * kSlabBytes;
    static constexpr int kKvBytes = kSlabs * Tn::kCols * kSlabBytes;  // one K or V stage
    static constexpr int kQ = 0;
    static constexpr int kK = kQ + kQBytes;
    static constexpr int kV = kK + Tn::kStages * kKvBytes;
    // The kernel aligns the dynamic buffer up to the swizzle period.
    static constexpr int kBytes = kV + Tn::kStages * kKvBytes + ptx::kSwizzlePeriod;
    static_assert(kQBytes % ptx::kSwizzlePeriod == 0 && kKvBytes % ptx::kSwizzlePeriod == 0,
                  "swizzled tiles stay aligned");
};

// Key steps a block of query rows [r0, r0 + rows) sees: all keys, or up to the causal limit
// (bottom-right aligned) of its last row.
__device__ __forceinline__ int key_steps(const AttnParams& p, int r0, int rows, int cols) {
    const int end = p.causal ? min(p.seqlen_k, r0 + rows + p.causal_offset) : p.seqlen_k;
    return end > 0 ? (end + cols - 1) / cols : 0;
}

template <typename T, int kD>
__global__ void __launch_bounds__(FwdTuning<kD>::kThreads, 1)
    fwd_kernel(const __grid_constant__ CUtensorMap tm_q, const __grid_constant__ CUtensorMap tm_k,
               const __grid_constant__ CUtensorMap tm_v, const FwdParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using Tn = FwdTuning<kD>;
    using L = FwdSmem<kD>;
    constexpr int kRows = Tn::kRows, kCols = Tn::kCols, kStages = Tn::kStages;
    constexpr int kSlabs = L::kSlabs;

    extern __shared__ unsigned char smem_raw[];
    unsigned char* smem = ptx::align_to_swizzle_period(smem_raw);
    __shared__ uint64_t full_q, full_k[kStages], full_v[kStages], empty_k[kStages],
        empty_v[kStages];

    const int m_block = p.causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;  // longest first
    const int head = blockIdx.y, b = blockIdx.z, hk = head / p.group;
    const int r0 = m_block * kRows;
    const int steps = key_steps(p, r0, kRows, kCols);
    const int wg = threadIdx.x / 128;

    if (threadIdx.x == 0) {
        ptx::mbarrier_init(&full_q, 1);
        for (int s = 0; s < kStages; ++s) {
            ptx::mbarrier_init(&full_k[s], 1);
            ptx::mbarrier_init(&full_v[s], 1);
            ptx::mbarrier_init(&empty_k[s], 4 * Tn::kConsumers);  // one arrival per warp
            ptx::mbarrier_init(&empty_v[s], 4 * Tn::kConsumers);
        }
        ptx::fence_barrier_init();
    }
    __syncthreads();

    if (wg == 0) {
        // Producer.
        ptx::setmaxnreg_dec<Tn::kProducerRegs>();
        if (threadIdx.x != 0 || steps == 0) return;
        ptx::prefetch_tensormap(&tm_q);
        ptx::prefetch_tensormap(&tm_k);
        ptx::prefetch_tensormap(&tm_v);
        ptx::mbarrier_arrive_expect_tx(&full_q, L::kQBytes);
        for (int s = 0; s < kSlabs; ++s)
            ptx::tma_load_4d(smem + L::kQ + s * kRows * kSlabBytes, &tm_q, &full_q, 64 * s, r0,
                             head, b);
        for (int n = 0; n < steps; ++n) {
            const int st = n % kStages;
            const uint32_t phase = (n / kStages) & 1;
            ptx::mbarrier_wait(&empty_k[st], phase ^ 1);
            ptx::mbarrier_arrive_expect_tx(&full_k[st], L::kKvBytes);
            for (int s = 0; s < kSlabs; ++s)
                ptx::tma_load_4d(smem + L::kK + st * L::kKvBytes + s * kCols * kSlabBytes, &tm_k,
                                 &full_k[st], 64 * s, n * kCols, hk, b);
            ptx::mbarrier_wait(&empty_v[st], phase ^ 1);
            ptx::mbarrier_arrive_expect_tx(&full_v[st], L::kKvBytes);
            for (int s = 0; s < kSlabs; ++s)
                ptx::tma_load_4d(smem + L::kV + st * L::kKvBytes + s * kCols * kSlabBytes, &tm_v,
                                 &full_v[st], 64 * s, n * kCols, hk, b);
        }
        return;
    }

    // Consumer c owns rows [r0 + 64 c, r0 + 64 c + 64); this thread rows row_a and row_a + 8.
    ptx::setmaxnreg_inc<Tn::kConsumerRegs>();
    const int c = wg - 1;
    const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const int wg_r0 = r0 + 64 * c;
    const int row_a = wg_r0 + 16 * warp + lane / 4;
    const float scale_log2 = p.softmax_scale * static_cast<float>(M_LOG2E);

    float o[kD / 8][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    if (steps > 0) ptx::mbarrier_wait(&full_q, 0);
    const unsigned char* sQ = smem + L::kQ + 64 * c * kSlabBytes;

    for (int n = 0; n < steps; ++n) {
        const int st = n % kStages;
        const uint32_t phase = (n / kStages) & 1;
        const unsigned char* sK = smem + L::kK + st * L::kKvBytes;
        const unsigned char* sV = smem + L::kV + st * L::kKvBytes;

        // S = Q K^T over kD / 16 k-steps, 4 per 64-column slab.
        float s[kCols / 8][4];
        ptx::mbarrier_wait(&full_k[st], phase);
        ptx::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kD / 16; ++kk) {
            const int off = (kk / 4) * kRows * kSlabBytes + (kk % 4) * 32;
            const int koff = (kk / 4) * kCols * kSlabBytes + (kk % 4) * 32;
            ptx::Wgmma<T, kCols>::ss(s, ptx::smem_desc(sQ + off, 16, 1024),
                                     ptx::smem_desc(sK + koff, 16, 1024), kk > 0);
        }
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
        ptx::fence_operands(s);
        if (lane == 0) ptx::mbarrier_arrive(&empty_k[st]);

        const int j0 = n * kCols;
        scale_tile<kCols / 8>(s, scale_log2);  // before masking: the scale may be negative
        if (j0 + kCols > p.seqlen_k || (p.causal && j0 + kCols - 1 > wg_r0 + p.causal_offset))
            mask_tile<kCols / 8>(s, j0, row_a, row_a + 8, p, lane);
        float alpha[2];
        if (online_softmax<kCols / 8>(s, m, l, alpha)) rescale_rows<kD / 8>(o, alpha);

        // P in the RS A layout.
        uint32_t pa[kCols / 16][4];
        ptx::accum_to_a<T>(pa, s);

        // O += P V over kCols / 16 k-steps of 16 keys (2048 bytes of every slab).
        ptx::mbarrier_wait(&full_v[st], phase);
        ptx::fence_operands(o);
        ptx::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kCols / 16; ++kk)
            ptx::Wgmma<T, kD>::rs(o, pa[kk], ptx::smem_desc(sV + kk * 2048, kCols * kSlabBytes, 1024),
                                  1);
        ptx::wgmma_commit();
        ptx::wgmma_wait<0>();
        ptx::fence_operands(o);
        if (lane == 0) ptx::mbarrier_arrive(&empty_v[st]);
    }

    // Epilogue: normalize, store this thread's column pairs of rows row_a and row_a + 8, LSE.
    T* out = static_cast<T*>(p.out);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = row_a + 8 * h;
        const float lsum = ptx::quad_sum(l[h]);
        if (row >= p.seqlen_q) continue;
        const float inv = lsum > 0.0f ? 1.0f / lsum : 0.0f;
        if (out != nullptr)
            store_row<kD / 8>(o, h, inv,
                              out + b * p.out_batch + int64_t(row) * p.out_seq +
                                  int64_t(head) * p.out_head,
                              kD, lane);
        if (p.lse != nullptr && lane % 4 == 0)
            p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + row] = row_lse(m[h], lsum);
    }
#endif
}

}  // namespace flashattn::cuda::sm90
