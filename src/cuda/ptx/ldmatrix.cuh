// ldmatrix / stmatrix: a warp loads (stores) four 8x8 matrices of 16-bit elements from (to)
// shared memory.
//
// Lane l supplies the address of one 16-byte row: row l % 8 of matrix l / 8. Afterwards
// register i of every lane holds two elements of matrix i: plain, lane l gets row l / 4,
// columns 2 (l % 4) and +1; with .trans, it gets column l / 4, rows 2 (l % 4) and +1 (the
// matrix transposed). With the row/column choices below these are exactly mma fragments:
//   A (16x16 row-major tile):  matrices (rows 0-7, k 0-7), (rows 8-15, k 0-7),
//                              (rows 0-7, k 8-15), (rows 8-15, k 8-15)   -> a[0..3]
//   B from a [n][k] tile (K rows): plain load of (n 0-7, k 0-7), (n 0-7, k 8-15) -> b[0], b[1]
//   B from a [k][n] tile (V rows): .trans load of (k 0-7, n 0-7), (k 8-15, n 0-7) -> b[0], b[1]
#pragma once

#include <cstdint>

namespace flashattn::cuda::ptx {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* row_addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row_addr)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* row_addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(row_addr)));
}

// stmatrix (sm_90): the inverse of the plain ldmatrix_x4, from the same fragments to the same
// row addresses.
__device__ __forceinline__ void stmatrix_x4(void* row_addr, const uint32_t r[4]) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n"
                 ::"r"(smem_addr(row_addr)), "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3])
                 : "memory");
}

}  // namespace flashattn::cuda::ptx
