// Hopper (sm_90a) asynchronous copies and their synchronization: mbarriers, TMA tensor loads
// and stores, and register reallocation between warpgroups.
//
// mbarrier protocol used by the kernels. A "full" barrier (arrival count 1) is armed by the
// producer with arrive.expect_tx(bytes) before it issues the TMA copies that signal it; it
// completes a phase when the copies have landed. An "empty" barrier (count = consumer warps)
// gets one arrival per consumer warp once that warp no longer reads the buffer. A barrier's
// phases alternate parity 0, 1, 0, ...; waiting for parity p returns once the phase of that
// parity has completed, and a fresh barrier counts as having completed parity 1, so a
// producer's first wait on "empty" (parity 1) passes at once.
#pragma once

#include <cstdint>

#include "cuda/ptx/ldmatrix.cuh"

namespace flashattn::cuda::ptx {

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count));
}

// Makes barrier initialization visible to the async proxy (the TMA unit) before first use.
__device__ __forceinline__ void fence_barrier_init() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)),
                 "r"(bytes)
                 : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}

__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
    uint32_t done = 0;
    do {
        asm volatile(
            "{\n.reg .pred p;\n"
            "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            "selp.u32 %0, 1, 0, p;\n}\n"
            : "=r"(done)
            : "r"(smem_addr(bar)), "r"(parity)
            : "memory");
    } while (!done);
}

__device__ __forceinline__ void prefetch_tensormap(const void* tmap) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(tmap)) : "memory");
}

// A 4-d tile copy global -> shared; coordinates in elements, innermost first. The box and
// the swizzle come from the tensor map; out-of-bounds elements are written as zeros and
// still count toward the barrier's transaction bytes.
__device__ __forceinline__ void tma_load_4d(void* smem, const void* tmap, uint64_t* bar, int c0,
                                            int c1, int c2, int c3) {
    asm volatile(
        "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes "
        "[%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(smem_addr(smem)),
        "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(c2), "r"(c3),
        "r"(smem_addr(bar))
        : "memory");
}

// A 4-d tile copy shared -> global through the tensor map (same box and swizzle as a load);
// rows and columns out of bounds are not written. The copies a thread issued since its last
// commit form one bulk group.
__device__ __forceinline__ void tma_store_4d(const void* tmap, const void* smem, int c0, int c1,
                                             int c2, int c3) {
    asm volatile(
        "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n"
        ::"l"(reinterpret_cast<uint64_t>(tmap)), "r"(smem_addr(smem)), "r"(c0), "r"(c1), "r"(c2),
        "r"(c3)
        : "memory");
}
__device__ __forceinline__ void bulk_commit() {
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}
// Waits until this thread's bulk groups have read their shared-memory source (the buffer
// may be rewritten), or, without kReadOnly, until their writes are complete.
template <bool kReadOnly>
__device__ __forceinline__ void bulk_wait_all() {
    if constexpr (kReadOnly)
        asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    else
        asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
}
// Makes this thread's ordinary shared-memory writes visible to the async proxy (a TMA store
// that follows a barrier).
__device__ __forceinline__ void fence_proxy_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Named barriers (ids 1..15; 0 is __syncthreads) order warpgroups among themselves:
// bar.sync waits until `threads` threads have arrived (itself included), bar.arrive counts
// this warp's threads without waiting. Both are per warp, so every thread of the warp calls.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
    asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Register reallocation across the warpgroups of a CTA: every warp of a warpgroup executes
// it. The kernel must be compiled with __launch_bounds__(threads, 1) so ptxas honours it.
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

}  // namespace flashattn::cuda::ptx
