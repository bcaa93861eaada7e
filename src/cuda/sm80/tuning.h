// Tile shapes of the sm_80 kernels, per head dim, in one place. Every warp owns whole mma
// m-tiles (16 rows) of the output it accumulates; the fields below fix how many warps a CTA
// has, how many m-tiles each owns, and how many keys (forward, dQ) or query rows (dK/dV) one
// main-loop step covers.
#pragma once

#include <cstdint>

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

// Decode kernel: problems with few query rows per (batch, KV head), seqlen_q * group (one new
// token per sequence, or a few with speculative decoding). A CTA takes one 16-row m-tile of
// them; each of its warps takes its own 16 keys of a step for all the rows, so K and V stream
// at full width however few rows there are, and the keys split over CTAs (decode_split) when
// the tiles' CTAs would not fill the GPU. Up to kDecodeMaxTiles tiles share a KV head (each
// reads its K and V, mostly from L2). Shared memory stays under 96 KB, so the kernel runs on
// every sm_80+ GPU (sm_86 and sm_89 allow 99 KB a block).
constexpr int kDecodeTileRows = 16;
constexpr int kDecodeMaxTiles = 4;
constexpr int kDecodeMaxRows = kDecodeTileRows * kDecodeMaxTiles;
constexpr int kDecodeMinCtasPerSm = 4;  // __launch_bounds__: 128 registers a thread at 4 warps

constexpr int decode_warps(int kd) { return kd <= 128 ? 4 : 2; }
constexpr int decode_keys(int kd) { return 16 * decode_warps(kd); }
// Two stages suffice: several CTAs share an SM, so enough loads are in flight.
constexpr int kDecodeStages = 2;
// Q tile plus the K/V ring; the warps' merge at the end reuses the ring.
constexpr int decode_smem_bytes(int kd) {
    return (kDecodeTileRows + kDecodeStages * 2 * decode_keys(kd)) * (kd + 8) * 2;
}
static_assert(decode_smem_bytes(256) <= 96 * 1024 && decode_smem_bytes(128) <= 96 * 1024,
              "the decode kernel fits every sm_80+ GPU's shared memory");

// How the decode kernel splits seqlen_k keys: split_keys keys (whole steps) per CTA, `splits`
// CTAs per row tile. With `tiles` row tiles in all (a CTA each unsplit) and room for `slots`
// CTAs at once on the GPU, the keys split just enough that one wave fills it, and no split is
// shorter than kDecodeMinSplitSteps steps (each split costs a Q load, a pipeline fill and a
// partial row to merge).
constexpr int kDecodeMinSplitSteps = 2;
constexpr int kDecodeMaxSplits = 256;
constexpr int kDecodeCombineThreads = 256;  // decode_combine_kernel: one CTA a row
struct DecodeSplit {
    int splits, split_keys;
};
constexpr DecodeSplit decode_split(int64_t tiles, int64_t seqlen_k, int kd, int64_t slots) {
    const int64_t keys = decode_keys(kd);
    const int64_t steps = (seqlen_k + keys - 1) / keys;
    int64_t want = tiles < slots ? slots / tiles : 1;
    const int64_t most = steps / kDecodeMinSplitSteps;
    if (want > most) want = most;
    if (want > kDecodeMaxSplits) want = kDecodeMaxSplits;
    if (want < 1) want = 1;
    const int64_t per_split = (steps + want - 1) / want;  // then no split is left empty
    return {static_cast<int>((steps + per_split - 1) / per_split),
            static_cast<int>(per_split * keys)};
}

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
