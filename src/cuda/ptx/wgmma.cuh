// wgmma (sm_90a): warpgroup-wide asynchronous matrix multiply, D[64 x N] (+)= A[64 x 16] B[16 x N]
// with f32 accumulators, A from shared memory (SS) or registers (RS), B from shared memory.
//
// Shared-memory operands are described by a 64-bit descriptor (PTX ISA, "Matrix Descriptor
// Format"): start address bits 0-13, leading byte offset (LBO) 16-29, stride byte offset (SBO)
// 32-45, swizzle mode 62-63 (1 = 128-byte); each address field is (bytes & 0x3FFFF) >> 4.
// All tiles here are TMA-written with the 128-byte swizzle: rows of 64 16-bit elements (128 B),
// 8-row atoms of 1024 B, each tile 1024-byte aligned. Two uses:
//   K-major (Q and K for S = Q K^T: the reduction dim is contiguous): SBO = 1024 (the next 8
//     rows), LBO unused (encoded 16). The k-th 16-element step inside a 64-column slab starts
//     32 k bytes further; the next slab is a separate descriptor.
//   MN-major (V for O = P V, transpose-B: N = head dim is contiguous): one 64-column slab of
//     V holds kv_rows x 128 B; LBO = distance between slabs (kv_rows * 128), SBO = 1024 (the
//     next 8 keys); the k-th 16-key step starts 2048 k bytes further.
//
// Accumulator layout (m64nN, f32, N/2 registers): thread t of the warpgroup (warp w = t / 32,
// lane l) holds in register i the element
//     row 16 w + l / 4 + 8 ((i >> 1) & 1),   column 8 (i >> 2) + 2 (l % 4) + (i & 1),
// which is the mma.sync m16n8 C layout of mma.cuh repeated over N / 8 n-tiles, so the
// kernels view it as float[N / 8][4]. The RS A fragment of k-step j (a 64 x 16 slice) is the
// mma.sync A layout, i.e. the accumulators of n-tiles 2j and 2j + 1 packed pairwise: no
// shuffles turn S into P.
#pragma once

#include <cstdint>

#include "cuda/ptx/ldmatrix.cuh"
#include "cuda/ptx/mma.cuh"

namespace flashattn::cuda::ptx {

// The 128-byte swizzle repeats every 8 rows = 1024 bytes; descriptors (base offset 0) and TMA
// need every tile aligned to that period.
constexpr int kSwizzlePeriod = 1024;

// A dynamic shared buffer aligned up to the swizzle period; allocate kSwizzlePeriod bytes more.
__device__ __forceinline__ unsigned char* align_to_swizzle_period(unsigned char* raw) {
    return reinterpret_cast<unsigned char*>(
        (reinterpret_cast<uintptr_t>(raw) + kSwizzlePeriod - 1) & ~uintptr_t{kSwizzlePeriod - 1});
}

// A lane's row addresses for ldmatrix_x4 / stmatrix_x4 of the 16 x 16 blocks at rows 16 warp..
// of a tile of 64-column slabs with the 128-byte swizzle, slab_bytes apart: the mma A-fragment
// order of ldmatrix.cuh (matrix lane / 8 at rows + 8 ((lane / 8) & 1), columns + 8 (lane / 16)).
// Block j's 16-byte chunk 2 j + lane / 16 of the lane's row lies at chunk (chunk % 8) ^
// (row % 8) of its 128 bytes.
struct SwizzledX4 {
    int mi, row;
    __device__ __forceinline__ SwizzledX4(int warp, int lane)
        : mi(lane / 8), row(16 * warp + 8 * (mi & 1) + lane % 8) {}
    template <typename Byte>
    __device__ __forceinline__ Byte* at(Byte* tile, int slab_bytes, int j) const {
        const int chunk = 2 * j + (mi >> 1);
        return tile + (chunk / 8) * slab_bytes + row * 128 + ((chunk % 8) ^ (row % 8)) * 16;
    }
};

// A descriptor kept as its two 32-bit words. Stepping through shared memory is one add to the
// start address field: every address stays below 2^18 bytes, so (address >> 4) < 2^14 and
// start(tile + bytes) = start(tile) + bytes / 16 never carries into the LBO field. Building the
// descriptor of each wgmma from its address instead costs four dependent uniform instructions
// (mask, shift, or) in the issue window.
class SmemDesc {
  public:
    __device__ __forceinline__ SmemDesc(const void* tile, uint32_t lbo, uint32_t sbo)
        : lo_((smem_addr(tile) & 0x3FFFF) >> 4 | ((lbo & 0x3FFFF) >> 4) << 16),
          hi_((sbo & 0x3FFFF) >> 4 | 1u << 30) {}  // bit 62: the 128-byte swizzle
    // The descriptor of the same layout `bytes` (a multiple of 16) further on.
    __device__ __forceinline__ SmemDesc operator+(uint32_t bytes) const {
        return SmemDesc(lo_ + bytes / 16, hi_);
    }
    __device__ __forceinline__ operator uint64_t() const { return uint64_t{hi_} << 32 | lo_; }

  private:
    __device__ __forceinline__ SmemDesc(uint32_t lo, uint32_t hi) : lo_(lo), hi_(hi) {}
    uint32_t lo_, hi_;
};

// Orders this thread's register and shared-memory accesses before the following wgmma.
__device__ __forceinline__ void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most n committed wgmma groups of this thread are pending.
template <int n>
__device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(n) : "memory");
}

// Holds the next wgmma_wait until v has been computed. ptxas (CUDA 13.0) schedules a wait for
// in-flight wgmma as early as its operands allow, ahead of register math written before it to
// overlap that wgmma; it keeps shared-memory stores and waits in program order (seen in the
// SASS, not documented), so a store of v (to a word nothing reads) orders the wait after all
// the math v depends on. A newer ptxas may schedule otherwise: scripts/sass_overlap.py (run
// by gpu-check) checks the SASS.
__device__ __forceinline__ void hold_wait_for(float v, float* scratch) {
    asm volatile("st.shared.f32 [%0], %1;\n" ::"r"(smem_addr(scratch)), "f"(v) : "memory");
}

// Keeps the compiler from moving accesses of accumulator registers across wgmma issue/wait.
template <int kN>
__device__ __forceinline__ void fence_operands(float (&d)[kN][4]) {
#pragma unroll
    for (int i = 0; i < kN; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[i][e])::"memory");
}
// The accumulators of an m64nN product (float[N / 8][4]) as the RS A operand of a following
// product over k = N: k-step j packs n-tiles 2j and 2j + 1, converted to T.
template <typename T, int kN8>
__device__ __forceinline__ void accum_to_a(uint32_t (&a)[kN8 / 2][4], const float (&d)[kN8][4]) {
#pragma unroll
    for (int j = 0; j < kN8 / 2; ++j) {
        a[j][0] = pack2<T>(d[2 * j][0], d[2 * j][1]);
        a[j][1] = pack2<T>(d[2 * j][2], d[2 * j][3]);
        a[j][2] = pack2<T>(d[2 * j + 1][0], d[2 * j + 1][1]);
        a[j][3] = pack2<T>(d[2 * j + 1][2], d[2 * j + 1][3]);
    }
}

}  // namespace flashattn::cuda::ptx

#include "cuda/ptx/wgmma_ops.cuh"
