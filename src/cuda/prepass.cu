#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/common/prepass.cuh"

namespace flashattn::cuda {
namespace {

__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(float x) { return x; }

constexpr int kThreads = 256;

// One warp per (batch, position, head) row.
template <typename T>
__global__ void delta_kernel(TensorArg dout, TensorArg out, Dims4 d, float* delta) {
    const int64_t row = (int64_t(blockIdx.x) * kThreads + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    const int64_t rows = int64_t(d.batch) * d.seq * d.heads;
    if (row >= rows) return;
    const int h = row % d.heads;
    const int64_t i = (row / d.heads) % d.seq, b = row / (int64_t(d.heads) * d.seq);
    const T* x = static_cast<const T*>(dout.ptr) + b * dout.batch + i * dout.seq + h * dout.head;
    const T* y = static_cast<const T*>(out.ptr) + b * out.batch + i * out.seq + h * out.head;
    float sum = 0.0f;
    for (int c = lane; c < d.head_dim; c += 32) sum += to_f32(x[c]) * to_f32(y[c]);
#pragma unroll
    for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) delta[(b * d.heads + h) * d.seq + i] = sum;
}

__device__ __forceinline__ int64_t element_offset(const TensorArg& t, const Dims4& d, int64_t n) {
    const int64_t c = n % d.head_dim, h = (n / d.head_dim) % d.heads;
    const int64_t i = (n / (int64_t(d.head_dim) * d.heads)) % d.seq;
    const int64_t b = n / (int64_t(d.head_dim) * d.heads * d.seq);
    return b * t.batch + i * t.seq + h * t.head + c;
}

__global__ void absmax_kernel(TensorArg t, Dims4 d, unsigned* result) {
    const int64_t n = int64_t(d.batch) * d.seq * d.heads * d.head_dim;
    float m = 0.0f;
    for (int64_t e = int64_t(blockIdx.x) * kThreads + threadIdx.x; e < n;
         e += int64_t(gridDim.x) * kThreads)
        m = fmaxf(m, fabsf(static_cast<const float*>(t.ptr)[element_offset(t, d, e)]));
#pragma unroll
    for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    // Non-negative floats order like their bit patterns.
    if (threadIdx.x % 32 == 0) atomicMax(result, __float_as_uint(m));
}

__global__ void scales_kernel(float* scales) {
    const int i = threadIdx.x;
    const float m = __uint_as_float(reinterpret_cast<const unsigned*>(scales)[i]);
    // m * s in [8, 16): a power of two, so scaling is exact; bounded for zero/subnormal/inf.
    const int e = m > 0.0f && isfinite(m) ? ilogbf(m) : 0;
    scales[kNumScales + i] = ldexpf(1.0f, max(-100, min(100, 3 - e)));
}

__global__ void convert_kernel(TensorArg t, Dims4 d, const float* scale, __half* dst) {
    const int64_t n = int64_t(d.batch) * d.seq * d.heads * d.head_dim;
    const float s = *scale;
    for (int64_t e = int64_t(blockIdx.x) * kThreads + threadIdx.x; e < n;
         e += int64_t(gridDim.x) * kThreads)
        dst[e] = __float2half_rn(static_cast<const float*>(t.ptr)[element_offset(t, d, e)] * s);
}

int grid_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 4096)); }

}  // namespace

cudaError_t launch_delta(int dtype, const TensorArg& dout, const TensorArg& out, Dims4 d,
                         float* delta, cudaStream_t stream) {
    const int64_t threads = int64_t(d.batch) * d.seq * d.heads * 32;
    const unsigned grid = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
    if (dtype == 0) delta_kernel<__half><<<grid, kThreads, 0, stream>>>(dout, out, d, delta);
    else if (dtype == 1) delta_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(dout, out, d, delta);
    else delta_kernel<float><<<grid, kThreads, 0, stream>>>(dout, out, d, delta);
    return cudaGetLastError();
}

cudaError_t launch_scale_inputs(const TensorArg* tensors, const Dims4* dims, int count,
                                float* scales, void* const* packed_f16, cudaStream_t stream) {
    if (cudaError_t e = cudaMemsetAsync(scales, 0, kNumScales * sizeof(float), stream)) return e;
    for (int i = 0; i < count; ++i) {
        const int64_t n = int64_t(dims[i].batch) * dims[i].seq * dims[i].heads * dims[i].head_dim;
        absmax_kernel<<<grid_for(n), kThreads, 0, stream>>>(tensors[i], dims[i],
                                                           reinterpret_cast<unsigned*>(scales) + i);
        if (cudaError_t e = cudaGetLastError()) return e;
    }
    scales_kernel<<<1, kNumScales, 0, stream>>>(scales);
    if (cudaError_t e = cudaGetLastError()) return e;
    for (int i = 0; i < count; ++i) {
        const int64_t n = int64_t(dims[i].batch) * dims[i].seq * dims[i].heads * dims[i].head_dim;
        convert_kernel<<<grid_for(n), kThreads, 0, stream>>>(tensors[i], dims[i],
                                                            scales + kNumScales + i,
                                                            static_cast<__half*>(packed_f16[i]));
        if (cudaError_t e = cudaGetLastError()) return e;
    }
    return cudaSuccess;
}

}  // namespace flashattn::cuda
