// Small memory-bound kernels around the attention kernels: the backward's delta, and the f32
// path's conversion of inputs to scaled f16 tiles.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/common/params.h"

namespace flashattn::cuda {

struct Dims4 {
    int batch, seq, heads, head_dim;
};

// delta[b, h, i] = sum_c dout[b, i, h, c] * out[b, i, h, c] in f32; dtype 0 f16, 1 bf16, 2 f32.
cudaError_t launch_delta(int dtype, const TensorArg& dout, const TensorArg& out, Dims4 d,
                         float* delta, cudaStream_t stream);

// f32 path. `scales` is 8 floats of workspace: [0, 4) absmax accumulators, [4, 8) the
// power-of-two factors q, k, v, dout are multiplied by (kScale*), so that every converted
// value is below 16 in magnitude (far from f16 overflow, relative precision unchanged).
// Step 1 zeroes and fills the absmax of each given tensor (null tensors skipped), step 2
// turns them into scales, step 3 writes each tensor packed as scaled f16.
cudaError_t launch_scale_inputs(const TensorArg* tensors, const Dims4* dims, int count,
                                float* scales, void* const* packed_f16, cudaStream_t stream);

}  // namespace flashattn::cuda
