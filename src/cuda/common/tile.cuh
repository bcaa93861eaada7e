// Global -> shared tile copies for the attention kernels. A tile is kRows rows of kD elements
// in shared memory with a row pitch of kD + kPad elements: the 16-byte pad shifts consecutive
// rows across banks, so the 8 row addresses of every ldmatrix hit distinct banks.
#pragma once

#include <cstdint>

#include "cuda/common/params.h"
#include "cuda/ptx/cp_async.cuh"

namespace flashattn::cuda {

constexpr int kPad = 8;  // elements (16 bytes of a 16-bit type)

template <int kD>
constexpr int pitch() { return kD + kPad; }

// Element offset of query row `row` of (batch b, KV head hk) in t (q or out): the rows of a
// KV head are those of its GQA group's query heads, position-major (AttnParams::rows).
__device__ __forceinline__ int64_t group_row_offset(const TensorArg& t, int group, int b, int hk,
                                                    int row) {
    return b * t.batch + int64_t(row / group) * t.seq + int64_t(hk * group + row % group) * t.head;
}

// Copies rows [0, kRows) with cp.async; row_offset(r, &off) gives the element offset of row r
// in `base` or returns false for a row past the tensor (zero-filled). Columns at or past
// head_dim (a head_dim served by a wider kernel) are zero-filled too.
template <int kRows, int kD, int kThreads, typename T, typename RowOffset>
__device__ __forceinline__ void load_tile_async(T* smem, const T* base, int head_dim,
                                                RowOffset row_offset) {
    constexpr int kChunks = kD / 8;  // 16-byte chunks per row
    static_assert(kD % 16 == 0, "tiles are whole mma k-steps");
    for (int c = threadIdx.x; c < kRows * kChunks; c += kThreads) {
        const int r = c / kChunks, ch = c % kChunks;
        int64_t off = 0;
        const bool valid = row_offset(r, &off) && ch * 8 < head_dim;
        ptx::cp_async_16(smem + r * pitch<kD>() + ch * 8, valid ? base + off + ch * 8 : base,
                         valid);
    }
}

}  // namespace flashattn::cuda
