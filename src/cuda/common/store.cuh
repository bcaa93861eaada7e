// Stores of two adjacent output elements from f32 accumulators (one mma fragment pair).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace flashattn::cuda {

__device__ __forceinline__ void store2(__half* p, float x, float y) {
    *reinterpret_cast<__half2*>(p) = __floats2half2_rn(x, y);
}
__device__ __forceinline__ void store2(__nv_bfloat16* p, float x, float y) {
    *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(x, y);
}
__device__ __forceinline__ void store2(float* p, float x, float y) {
    *reinterpret_cast<float2*>(p) = make_float2(x, y);
}

}  // namespace flashattn::cuda
