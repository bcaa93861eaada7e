// Launcher of the sm_90a forward kernel, one per (dtype, head dim), explicitly instantiated by
// the generated files in src/cuda/instantiations/ and called by dispatch.cu for problems that
// its sm90_grid() accepts.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "cuda/sm90/fwd_kernel.cuh"
#include "cuda/sm90/tensor_map.h"

namespace flashattn::cuda::sm90 {

template <typename T, int kD, int kConsumers>
cudaError_t launch_fwd_tiles(const FwdParams& p, int sms, cudaStream_t stream) {
    using Tn = FwdTuning<kD, kConsumers>;
    constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
    CUtensorMap tq, tk, tv;
    if (cudaError_t e = make_tensor_map(&tq, p.q, kBf16, kD, p.batch, p.seqlen_q, p.heads_q, Tn::kRows))
        return e;
    if (cudaError_t e = make_tensor_map(&tk, p.k, kBf16, kD, p.batch, p.seqlen_k, p.heads_k, Tn::kCols))
        return e;
    if (cudaError_t e = make_tensor_map(&tv, p.v, kBf16, kD, p.batch, p.seqlen_k, p.heads_k, Tn::kCols))
        return e;
    // Each consumer stores its 64 rows; unused without an output.
    CUtensorMap to{};
    if (p.out != nullptr) {
        if (cudaError_t e =
                make_tensor_map(&to, p.out_arg(), kBf16, kD, p.batch, p.seqlen_q, p.heads_q, 64))
            return e;
    }
    constexpr int kSmem = FwdSmem<kD, kConsumers>::kBytes;
    auto kernel = fwd_kernel<T, kD, kConsumers>;
    if (cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem))
        return e;
    // Persistent: one CTA per SM (the shared memory allows no more) walks units of two query
    // blocks (fwd_kernel.cuh), so its producer loads the next tile while the consumers finish
    // the last one.
    const int64_t units = fwd_units(p.seqlen_q, Tn::kRows, p.heads_q, p.batch);  // <= INT32_MAX
    if (units == 0) return cudaSuccess;
    const int m_blocks = static_cast<int>((p.seqlen_q + Tn::kRows - 1) / Tn::kRows);
    const FwdSchedule sched{m_blocks, static_cast<int>(units),
                            FastDiv(static_cast<uint32_t>((m_blocks + 1) / 2)),
                            FastDiv(static_cast<uint32_t>(p.heads_q))};
    kernel<<<static_cast<unsigned>(std::min<int64_t>(units, sms)), Tn::kThreads, kSmem, stream>>>(
        tq, tk, tv, to, p, sched);
    return cudaGetLastError();
}

// sms: the device's multiprocessor count, the persistent grid's width. The consumer count
// (tuning.h) is chosen here; only D = 64 has more than one kernel.
template <typename T, int kD>
cudaError_t launch_fwd(const FwdParams& p, int sms, cudaStream_t stream) {
    if constexpr (kD == 64) {
        switch (fwd_consumers(kD, p.causal, p.seqlen_q)) {
            case 3: return launch_fwd_tiles<T, kD, 3>(p, sms, stream);
            case 4: return launch_fwd_tiles<T, kD, 4>(p, sms, stream);
            default: break;
        }
    }
    return launch_fwd_tiles<T, kD, 2>(p, sms, stream);
}

}  // namespace flashattn::cuda::sm90
