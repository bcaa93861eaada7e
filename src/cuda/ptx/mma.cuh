// mma.sync.m16n8k16 with f32 accumulators, for f16 and bf16 operands (sm_80+).
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), with
//   g = lane / 4 (the "group", 0..7) and t = lane % 4 (thread in group, 0..3):
//   A, 16x16 row-major, 4 x 32-bit registers each holding 2 consecutive-column elements:
//     a[0]: row g,     cols 2t, 2t+1        a[2]: row g,     cols 2t+8, 2t+9
//     a[1]: row g + 8, cols 2t, 2t+1        a[3]: row g + 8, cols 2t+8, 2t+9
//   B, 16x8 (k x n), 2 registers each holding 2 consecutive-k elements of one column:
//     b[0]: rows (k) 2t, 2t+1, col g        b[1]: rows 2t+8, 2t+9, col g
//   C/D, 16x8 f32, 4 registers:
//     c[0], c[1]: row g,     cols 2t, 2t+1
//     c[2], c[3]: row g + 8, cols 2t, 2t+1
// Consequence used by the attention kernels: the C fragments of two adjacent n-tiles
// (columns 16j..16j+15) are, element for element, the A fragment of k-step j. So a score tile
// computed by one mma feeds the next mma as A after conversion, without shared memory.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace flashattn::cuda::ptx {

template <typename T>
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], const uint32_t b[2]);

template <>
__device__ __forceinline__ void mma_16816<__half>(float c[4], const uint32_t a[4],
                                                  const uint32_t b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float c[4], const uint32_t a[4],
                                                         const uint32_t b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Two floats to one register of two T (the low half holds x, the lower column index).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float x, float y);

template <>
__device__ __forceinline__ uint32_t pack2<__half>(float x, float y) {
    __half2 h = __floats2half2_rn(x, y);
    return *reinterpret_cast<uint32_t*>(&h);
}

template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float x, float y) {
    __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
    return *reinterpret_cast<uint32_t*>(&h);
}

}  // namespace flashattn::cuda::ptx
