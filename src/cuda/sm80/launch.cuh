// Launchers of the sm_80 kernels, one per (compute type, output type, head dim), explicitly
// instantiated by the generated files in src/cuda/instantiations/ and called by dispatch.cu.
#pragma once

#include <cuda_runtime.h>

#include "cuda/sm80/bwd_kernels.cuh"

namespace flashattn::cuda::sm80 {

// Raises the kernel's dynamic shared memory limit past the 48 KB default when it needs more.
template <typename Kernel>
cudaError_t allow_smem(Kernel kernel, int bytes) {
    if (bytes <= 48 * 1024) return cudaSuccess;
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

template <typename T, typename OutT, int kD>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream) {
    using Tn = FwdTuning<kD>;
    constexpr int smem = fwd_smem_bytes<kD>();
    auto kernel = fwd_kernel<T, OutT, kD>;
    if (cudaError_t e = allow_smem(kernel, smem)) return e;
    const dim3 grid((p.rows + Tn::kRows - 1) / Tn::kRows, p.heads_k, p.batch);
    kernel<<<grid, Tn::kWarps * 32, smem, stream>>>(p);
    return cudaGetLastError();
}

template <typename T, typename OutT, int kD>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream) {
    {
        using Tn = BwdDkvTuning<kD>;
        constexpr int smem = dkv_smem_bytes<kD>();
        auto kernel = dkv_kernel<T, OutT, kD>;
        if (cudaError_t e = allow_smem(kernel, smem)) return e;
        const dim3 grid((p.seqlen_k + Tn::kKeys - 1) / Tn::kKeys * Tn::kSplit, p.heads_k, p.batch);
        kernel<<<grid, Tn::kWarps * 32, smem, stream>>>(p);
        if (cudaError_t e = cudaGetLastError()) return e;
    }
    {
        using Tn = BwdDqTuning<kD>;
        constexpr int smem = dq_smem_bytes<kD>();
        auto kernel = dq_kernel<T, OutT, kD>;
        if (cudaError_t e = allow_smem(kernel, smem)) return e;
        const dim3 grid((p.rows + Tn::kRows - 1) / Tn::kRows, p.heads_k, p.batch);
        kernel<<<grid, Tn::kWarps * 32, smem, stream>>>(p);
        return cudaGetLastError();
    }
}

}  // namespace flashattn::cuda::sm80
