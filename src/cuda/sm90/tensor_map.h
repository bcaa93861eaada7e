// TMA descriptors for [batch, seq, heads, head_dim] tensors of 16-bit elements (host side).
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include "cuda/common/params.h"

namespace flashattn::cuda::sm90 {

// Whether a tensor with these element strides can be described: TMA needs positive 16-byte
// multiples (dims of extent 1 excepted: their stride is never applied).
bool tma_strides_ok(const TensorArg& t, int64_t batch, int64_t seq, int64_t heads);

// A 4-d map {head_dim, seq, heads, batch} (innermost first) whose box is 64 columns (128
// bytes, the 128-byte swizzle's width) by box_rows positions of one head and batch.
cudaError_t make_tensor_map(CUtensorMap* map, const TensorArg& t, bool bf16, int head_dim,
                            int64_t batch, int64_t seq, int64_t heads, int box_rows);

}  // namespace flashattn::cuda::sm90
