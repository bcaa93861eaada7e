// A one-warpgroup kernel exercising the sm_90a PTX layer exactly as the forward kernel uses it:
// TMA loads (4-d maps, 128-byte swizzle, 64-column slabs, the last one partial at D = 96)
// completing on an mbarrier, S = Q K^T by wgmma SS over the slabs, then O = P V by wgmma RS
// with P = S converted in registers and V read MN-major, one wgmma n-extent spanning the slabs.
// test_sm90_layer.cpp checks S and O against the host.
#include "sm90_layer_probe.h"

#include <cuda_runtime.h>

#include "cuda/ptx/tma.cuh"
#include "cuda/ptx/wgmma.cuh"
#include "cuda/sm90/tensor_map.h"

namespace flashattn::test {
namespace {

using namespace flashattn::cuda;
constexpr int kN = kProbeRows, kSlab = kN * 128;  // bytes of one 64-column slab

template <int kD>
__global__ void __launch_bounds__(128) probe_kernel(const __grid_constant__ CUtensorMap tq,
                                                    const __grid_constant__ CUtensorMap tk,
                                                    const __grid_constant__ CUtensorMap tv,
                                                    float* s_out, float* o_out) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char raw[];
    unsigned char* smem = ptx::align_to_swizzle_period(raw);
    constexpr int kSlabs = (kD + 63) / 64;
    unsigned char *sq = smem, *sk = smem + kSlabs * kSlab, *sv = smem + 2 * kSlabs * kSlab;
    __shared__ uint64_t bar;
    if (threadIdx.x == 0) {
        ptx::mbarrier_init(&bar, 1);
        ptx::fence_barrier_init();
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        ptx::mbarrier_arrive_expect_tx(&bar, 3 * kSlabs * kSlab);
        for (int s = 0; s < kSlabs; ++s) {
            ptx::tma_load_4d(sq + s * kSlab, &tq, &bar, 64 * s, 0, 0, 0);
            ptx::tma_load_4d(sk + s * kSlab, &tk, &bar, 64 * s, 0, 0, 0);
            ptx::tma_load_4d(sv + s * kSlab, &tv, &bar, 64 * s, 0, 0, 0);
        }
    }
    ptx::mbarrier_wait(&bar, 0);

    float s[kN / 8][4];
    ptx::wgmma_fence();
    for (int kk = 0; kk < kD / 16; ++kk) {
        const int off = (kk / 4) * kSlab + (kk % 4) * 32;
        ptx::Wgmma<__half, kN>::ss(s, ptx::SmemDesc(sq + off, 16, 1024),
                                   ptx::SmemDesc(sk + off, 16, 1024), kk > 0);
    }
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    ptx::fence_operands(s);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    uint32_t pa[kN / 16][4];
    ptx::accum_to_a<__half>(pa, s);
    float o[kD / 8][4];
    ptx::wgmma_fence();
    for (int kk = 0; kk < kN / 16; ++kk)
        ptx::Wgmma<__half, kD>::rs(o, pa[kk], ptx::SmemDesc(sv + kk * 2048, kSlab, 1024), kk > 0);
    ptx::wgmma_commit();
    ptx::wgmma_wait<0>();
    ptx::fence_operands(o);

    // Accumulator element i of this thread: row 16 warp + lane / 4 + 8 ((i >> 1) & 1),
    // column 8 (i >> 2) + 2 (lane % 4) + (i & 1).
    for (int i = 0; i < kN / 2; ++i) {
        const int row = 16 * warp + lane / 4 + 8 * ((i >> 1) & 1), col = 8 * (i >> 2) + 2 * (lane % 4) + (i & 1);
        s_out[row * kN + col] = s[i / 4][i % 4];
    }
    for (int i = 0; i < kD / 2; ++i) {
        const int row = 16 * warp + lane / 4 + 8 * ((i >> 1) & 1), col = 8 * (i >> 2) + 2 * (lane % 4) + (i & 1);
        o_out[row * kD + col] = o[i / 4][i % 4];
    }
#else
    (void)tq, (void)tk, (void)tv, (void)s_out, (void)o_out;
#endif
}

template <int kD>
cudaError_t launch_probe(const void* q, const void* k, const void* v, float* s_out,
                         float* o_out) {
    CUtensorMap maps[3];
    const void* ptrs[3] = {q, k, v};
    for (int i = 0; i < 3; ++i) {
        const cuda::TensorArg t{ptrs[i], kN * kD, kD, kD};  // packed [1, kN, 1, kD]
        if (cudaError_t e = cuda::sm90::make_tensor_map(&maps[i], t, false, kD, 1, kN, 1, kN))
            return e;
    }
    const int smem = 3 * ((kD + 63) / 64) * kSlab + ptx::kSwizzlePeriod;
    if (cudaError_t e = cudaFuncSetAttribute(probe_kernel<kD>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, smem))
        return e;
    probe_kernel<kD><<<1, 128, smem>>>(maps[0], maps[1], maps[2], s_out, o_out);
    if (cudaError_t e = cudaGetLastError()) return e;
    return cudaDeviceSynchronize();
}

}  // namespace

bool sm90_probe_device() {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return major == 9 && minor == 0;
}

const char* run_sm90_layer_probe(int head_dim, const void* q, const void* k, const void* v,
                                 float* s_out, float* o_out) {
    static_assert(sizeof(kProbeHeadDims) / sizeof(int) == 3, "one case per probe head dim");
    cudaError_t e = cudaErrorInvalidValue;
    switch (head_dim) {
        case 96: e = launch_probe<96>(q, k, v, s_out, o_out); break;
        case 128: e = launch_probe<128>(q, k, v, s_out, o_out); break;
        case 192: e = launch_probe<192>(q, k, v, s_out, o_out); break;
        default: break;
    }
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace flashattn::test
