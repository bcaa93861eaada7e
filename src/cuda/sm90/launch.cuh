// Launcher of the sm_90a forward kernel, one per (dtype, head dim), explicitly instantiated by
// the generated files in src/cuda/instantiations/ and called by dispatch.cu for problems that
// its use_sm90() accepts.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "cuda/sm90/fwd_kernel.cuh"
#include "cuda/sm90/tensor_map.h"

namespace flashattn::cuda::sm90 {

// sms: the device's multiprocessor count, the persistent grid's width.
template <typename T, int kD>
cudaError_t launch_fwd(const FwdParams& p, int sms, cudaStream_t stream) {
    using Tn = FwdTuning<kD>;
    constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
    CUtensorMap tq, tk, tv;
    if (cudaError_t e = make_tensor_map(&tq, p.q, kBf16, kD, p.batch, p.seqlen_q, p.heads_q, Tn::kRows))
        return e;
    if (cudaError_t e = make_tensor_map(&tk, p.k, kBf16, kD, p.batch, p.seqlen_k, p.heads_k, Tn::kCols))
        return e;
    if (cudaError_t e = make_tensor_map(&tv, p.v, kBf16, kD, p.batch, p.seqlen_k, p.heads_k, Tn::kCols))
        return e;
    constexpr int kSmem = FwdSmem<kD>::kBytes;
    auto kernel = fwd_kernel<T, kD>;
    if (cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem))
        return e;
    // Persistent: one CTA per SM (the shared memory allows no more) walks units of two query
    // blocks (fwd_kernel.cuh), so its producer loads the next tile while the consumers finish
    // the last one.
    const int64_t grid =
        std::min<int64_t>(fwd_units(p.seqlen_q, Tn::kRows, p.heads_q, p.batch), sms);
    if (grid == 0) return cudaSuccess;
    kernel<<<static_cast<unsigned>(grid), Tn::kThreads, kSmem, stream>>>(tq, tk, tv, p);
    return cudaGetLastError();
}

}  // namespace flashattn::cuda::sm90
