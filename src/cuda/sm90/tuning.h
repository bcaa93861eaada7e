// Tile shapes of the sm_90a forward kernel, per head dim, in one place. A CTA is one producer
// warpgroup (TMA) and kConsumers consumer warpgroups of 64 query rows each; K and V stream
// through a ring of kStages buffers of kCols keys.
#pragma once

namespace flashattn::cuda::sm90 {

// Head dims with an sm_90a kernel; others run on the sm_80 kernels.
constexpr int kHeadDims[] = {64, 128, 256};

template <int kD>
struct FwdTuning {
    static constexpr int kConsumers = 2;
    static constexpr int kRows = 64 * kConsumers;  // query rows per CTA
    // Keys per step: S (kCols / 2 f32 registers per thread) must fit beside O (kD / 2) and
    // the P fragments (kCols / 4) under the consumers' 240 registers.
    static constexpr int kCols = kD <= 128 ? 128 : 64;
    static constexpr int kStages = 2;
    static constexpr int kThreads = 128 * (kConsumers + 1);
    // Register split of setmaxnreg: the sum over warpgroups equals 3 x 168, what a
    // 384-thread CTA holds at launch.
    static constexpr int kProducerRegs = 24;
    static constexpr int kConsumerRegs = 240;
    static_assert(kConsumers == 2, "the register split above assumes two consumer warpgroups");
    static_assert(kD % 64 == 0, "TMA moves 64-column (128-byte) slabs");
    static_assert(kCols % 16 == 0 && kCols <= 256, "whole wgmma k-steps; one wgmma n-extent");
};

}  // namespace flashattn::cuda::sm90
