// Tile shapes of the sm_90a forward kernel, per head dim, in one place. A CTA is one producer
// warpgroup (TMA) and kConsumers consumer warpgroups of 64 query rows each; K and V stream
// through a ring of kStages buffers of kCols keys. The choices were measured side by side on
// the H200 (BENCHMARKS.md, "What was tried").
#pragma once

#include <cstdint>

namespace flashattn::cuda::sm90 {

// Head dims with an sm_90a kernel; others run on the sm_80 kernels.
constexpr int kHeadDims[] = {64, 96, 128, 192, 256};

// Consumer warpgroups for a problem, chosen at launch. D = 64 has the least tensor work per
// exponential: a third consumer keeps the softmax covered (1.08-1.16x two consumers at
// N >= 4k, H200), but its 192-row tiles waste work on short problems: causal up to 2k, where
// two win (1.12-1.15x at N = 1k, 1.01-1.03x at 2k), and non-causal up to 2k, where four
// (256-row tiles, 64-key steps) pad nothing and win 1.00-1.05x; from 4k three match or beat
// four (1.00-1.06x; BENCHMARKS.md).
__host__ __device__ constexpr int fwd_consumers(int d, bool causal, int64_t seqlen_q) {
    if (d != 64) return 2;
    if (seqlen_q > 2048) return 3;
    return causal ? 2 : 4;
}

template <int kD, int kConsumersArg>
struct FwdTuning {
    static constexpr int kConsumers = kConsumersArg;
    static constexpr int kRows = 64 * kConsumers;  // query rows per CTA
    // Keys per step: S (kCols / 2 f32 registers per thread) must fit beside O (kD / 2) and
    // the P fragments (kCols / 4) under the consumers' registers, and two stages of K and V
    // beside Q in shared memory: 112 at D = 192 and 80 at D = 256 fill it. Wider steps at
    // D = 64 or 128 lost at N = 1k (padding) and gained < 3%. Four consumers have room for
    // 64 only.
    static constexpr int kCols = kConsumers == 4 ? 64 : kD == 256 ? 80 : kD == 192 ? 112 : 128;
    static constexpr int kStages = 2;  // 3 measured no faster at D = 64 and 128
    // Q as the register A operand of S = Q K^T (loaded once per tile), so that wgmma reads only
    // K from shared memory: 1.01-1.04x Q from shared memory at D = 128 and at D = 64 causal
    // (H200). Its kD / 4 registers fit beside S, O and P up to D = 128 at two consumers
    // (three or four, with 160 or 112 registers each, would spill).
    static constexpr bool kQInRegs = kD <= 128 && kConsumers == 2;
    static constexpr int kThreads = 128 * (kConsumers + 1);
    // Register split of setmaxnreg (multiples of 8): what the warpgroups hold after it may
    // not exceed what the CTA holds at launch, 64 K registers at one CTA per SM.
    static constexpr int kProducerRegs = 24;
    static constexpr int kConsumerRegs = kConsumers == 2 ? 240 : kConsumers == 3 ? 160 : 112;
    static_assert(128 * (kProducerRegs + kConsumers * kConsumerRegs) <=
                      kThreads * (65536 / kThreads / 8 * 8),
                  "the register split fits what the CTA holds at launch");
    // TMA moves 64-column (128-byte) slabs; a partial last slab (D = 96) is zero-filled.
    static_assert(kD % 32 == 0, "whole 16-column wgmma k-steps, at most one partial slab");
    static_assert(kCols % 16 == 0 && kCols <= 256, "whole wgmma k-steps; one wgmma n-extent");
};

// The persistent schedule (fwd_kernel.cuh): work units pair two query blocks of rows rows of
// one (batch, head). The launcher sizes its grid by this count, the kernel walks it, and
// dispatch keeps it within an int.
__host__ __device__ constexpr int64_t fwd_units(int64_t seqlen_q, int rows, int64_t heads_q,
                                                int64_t batch) {
    return ((seqlen_q + rows - 1) / rows + 1) / 2 * heads_q * batch;
}

}  // namespace flashattn::cuda::sm90
