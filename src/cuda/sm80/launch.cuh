// Launchers of the sm_80 kernels, one per (compute type, output type, head dim), explicitly
// instantiated by the generated files in src/cuda/instantiations/ and called by dispatch.cu.
#pragma once

#include <cuda_runtime.h>

#include "cuda/sm80/bwd_kernels.cuh"
#include "cuda/sm80/decode_kernel.cuh"

namespace flashattn::cuda::sm80 {

// Launches `kernel` with `smem` bytes of dynamic shared memory (raising the 48 KB default
// limit when it needs more) and returns the launch's status.
template <typename Kernel, typename Params>
cudaError_t launch(Kernel kernel, dim3 grid, int threads, int smem, cudaStream_t stream,
                   const Params& p) {
    if (smem > 48 * 1024) {
        const cudaError_t e =
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return e;
    }
    kernel<<<grid, threads, smem, stream>>>(p);
    return cudaGetLastError();
}

template <typename T, typename OutT, int kD>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream) {
    using Tn = FwdTuning<kD>;
    const dim3 grid((p.rows + Tn::kRows - 1) / Tn::kRows, p.heads_k, p.batch);
    return launch(fwd_kernel<T, OutT, kD>, grid, Tn::kWarps * 32, fwd_smem_bytes<kD>(), stream, p);
}

// The decode kernel over p.splits splits (p.split_keys keys each, from decode_split) of every
// 16-row tile, then, with more than one split, the merge of their partial rows; with
// `overlap` (sm_90+) the merge is a programmatic dependent launch (ptx/griddep.cuh), scheduled
// while the splits run.
template <typename T, typename OutT, int kD>
cudaError_t launch_decode(const FwdParams& p, bool overlap, cudaStream_t stream) {
    const int tiles = (p.rows + kDecodeTileRows - 1) / kDecodeTileRows;
    const dim3 grid((p.splits > 1 ? p.splits : 1) * tiles, p.heads_k, p.batch);
    if (cudaError_t e = launch(decode_kernel<T, OutT, kD>, grid, decode_warps(kD) * 32,
                               decode_smem_bytes(kD), stream, p))
        return e;
    if (p.splits <= 1) return cudaSuccess;
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(static_cast<unsigned>(int64_t(p.batch) * p.heads_k * p.rows));
    config.blockDim = dim3(kDecodeCombineThreads);  // one CTA per row
    config.stream = stream;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr.val.programmaticStreamSerializationAllowed = 1;
    config.attrs = &attr;
    config.numAttrs = overlap ? 1 : 0;
    return cudaLaunchKernelEx(&config, decode_combine_kernel<OutT, kD>, p);
}

template <typename T, typename OutT, int kD>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream) {
    using Kv = BwdDkvTuning<kD>;
    using Q = BwdDqTuning<kD>;
    const dim3 kv_grid((p.seqlen_k + Kv::kKeys - 1) / Kv::kKeys * Kv::kSplit, p.heads_k, p.batch);
    if (cudaError_t e = launch(dkv_kernel<T, OutT, kD>, kv_grid, Kv::kWarps * 32,
                               dkv_smem_bytes<kD>(), stream, p))
        return e;
    const dim3 q_grid((p.rows + Q::kRows - 1) / Q::kRows, p.heads_k, p.batch);
    return launch(dq_kernel<T, OutT, kD>, q_grid, Q::kWarps * 32, dq_smem_bytes<kD>(), stream, p);
}

}  // namespace flashattn::cuda::sm80
