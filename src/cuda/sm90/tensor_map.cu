// TMA descriptor encoding through the driver entry point the runtime hands out, so the
// library needs no link against libcuda.
#include "cuda/sm90/tensor_map.h"

#include <cudaTypedefs.h>

namespace flashattn::cuda::sm90 {
namespace {

constexpr int64_t kElemBytes = 2;

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
    static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void* f = nullptr;
        cudaDriverEntryPointQueryResult q{};
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                             &q) != cudaSuccess ||
            q != cudaDriverEntryPointSuccess) {
            cudaGetLastError();
            return static_cast<PFN_cuTensorMapEncodeTiled_v12000>(nullptr);
        }
        return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
    }();
    return fn;
}

// Broadcast (zero) strides are left to the sm_80 kernels: TMA's encoder is not documented to
// take them.
bool stride_ok(int64_t stride, int64_t extent) {
    return extent == 1 || (stride > 0 && stride * kElemBytes % 16 == 0 &&
                           stride * kElemBytes < (int64_t{1} << 40));
}

// A dim of extent 1 may carry any stride; TMA still wants a valid one.
cuuint64_t byte_stride(int64_t stride, int64_t extent, int head_dim) {
    return static_cast<cuuint64_t>(extent == 1 ? head_dim * kElemBytes : stride * kElemBytes);
}

}  // namespace

bool tma_strides_ok(const TensorArg& t, int64_t batch, int64_t seq, int64_t heads) {
    return reinterpret_cast<uintptr_t>(t.ptr) % 16 == 0 && stride_ok(t.seq, seq) &&
           stride_ok(t.head, heads) && stride_ok(t.batch, batch);
}

cudaError_t make_tensor_map(CUtensorMap* map, const TensorArg& t, bool bf16, int head_dim,
                            int64_t batch, int64_t seq, int64_t heads, int box_rows) {
    const PFN_cuTensorMapEncodeTiled_v12000 encode = encode_fn();
    if (encode == nullptr) return cudaErrorNotSupported;
    const cuuint64_t dims[4] = {static_cast<cuuint64_t>(head_dim), static_cast<cuuint64_t>(seq),
                                static_cast<cuuint64_t>(heads), static_cast<cuuint64_t>(batch)};
    const cuuint64_t strides[3] = {byte_stride(t.seq, seq, head_dim),
                                   byte_stride(t.head, heads, head_dim),
                                   byte_stride(t.batch, batch, head_dim)};
    const cuuint32_t box[4] = {64, static_cast<cuuint32_t>(box_rows), 1, 1};
    const cuuint32_t elem_strides[4] = {1, 1, 1, 1};
    const CUresult r = encode(
        map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
        const_cast<void*>(t.ptr), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace flashattn::cuda::sm90
