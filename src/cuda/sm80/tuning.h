// Tile shapes of the sm_80 kernels, per head dim, in one place. Every warp owns whole mma
// m-tiles (16 rows) of the output it accumulates; the fields below fix how many warps a CTA
// has, how many m-tiles each owns, and how many keys (forward, dQ) or query rows (dK/dV) one
// main-loop step covers.
#pragma once

namespace flashattn::cuda::sm80 {

// Head dims with a compiled kernel; others (multiples of 8) run on the next larger one.
constexpr int kHeadDims[] = {32, 64, 96, 128, 160, 192, 256};

template <int kD>
struct FwdTuning {
    static constexpr int kWarps = 4;
    // m-tiles (16 rows) per warp: two halve the shared-memory reads per mma, while the O
    // accumulator (kMTiles * kD / 2 registers per thread) still fits up to head dim 128.
    static constexpr int kMTiles = kD <= 128 ? 2 : 1;
    static constexpr int kRows = 16 * kMTiles * kWarps;  // query rows per CTA
    // Keys per step: S (kMTiles * kCols / 2 registers) must fit beside O. Measured on the
    // H100: 64 beats 32 at every head dim (fewer barriers and rescales per key); capping head
    // dim 64 at 3 CTAs per SM with 32-key steps lost 5%.
    static constexpr int kCols = 64;
    static_assert(kCols % 16 == 0, "keys come in whole mma k-steps for P V");
};

// dQ kernel: the forward's key tiles; one m-tile per warp (S and dP both live in registers).
template <int kD>
struct BwdDqTuning {
    static constexpr int kWarps = 4;
    static constexpr int kMTiles = 1;
    static constexpr int kRows = 16 * kWarps;
    static constexpr int kCols = FwdTuning<kD>::kCols;
};

// dK/dV kernel: warps own 16 keys each; a step covers kRows query rows. Past head dim 128 the
// two dK and dV accumulators do not fit one warp's registers, so kSplit CTAs each accumulate
// a slice of kD / kSplit columns (recomputing the shared score tile).
template <int kD>
struct BwdDkvTuning {
    static constexpr int kWarps = 4;
    static constexpr int kKeys = 16 * kWarps;         // keys per CTA
    static constexpr int kRows = kD <= 128 ? 64 : 32;  // query rows per step
    static constexpr int kSplit = kD <= 128 ? 1 : 2;
    static constexpr int kSliceD = kD / kSplit;
    static_assert(kSliceD % 16 == 0, "column slices are whole mma n-tile pairs");
};

}  // namespace flashattn::cuda::sm80
