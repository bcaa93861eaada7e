// cp.async (sm_80+): 16-byte global -> shared copies that bypass registers, grouped and waited
// on per thread. A copy with pred false writes 16 zero bytes (src-size 0), which is how tile
// rows and columns past the tensor's end become zeros.
#pragma once

#include "cuda/ptx/ldmatrix.cuh"

namespace flashattn::cuda::ptx {

__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool pred) {
    const int src_size = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)),
                 "l"(gmem), "r"(src_size));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most n of this thread's committed groups are still in flight.
template <int n>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(n));
}

}  // namespace flashattn::cuda::ptx
