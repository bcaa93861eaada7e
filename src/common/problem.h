// The validated, backend-neutral description of one attention call. The API layer builds these
// from the public argument structs (filling contiguous strides, checking every bound) so the
// backends never re-validate and never see a zero stride triple.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flashattn/flashattn.h"

namespace flashattn {

enum class DType : int32_t { F16 = FLASH_ATTN_DTYPE_F16, BF16 = FLASH_ATTN_DTYPE_BF16, F32 = FLASH_ATTN_DTYPE_F32 };

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
const char* dtype_name(DType t);

struct Strides {
    int64_t batch = 0, seq = 0, head = 0;
};

// A [batch, seq, heads, head_dim] tensor: data is const void* for inputs, void* for outputs.
template <class Pointer>
struct TensorView {
    Pointer data = nullptr;
    Strides s;
    // Element offset of (b, i, h, 0).
    int64_t offset(int64_t b, int64_t i, int64_t h) const { return b * s.batch + i * s.seq + h * s.head; }
};
using TensorIn = TensorView<const void*>;
using TensorOut = TensorView<void*>;

struct Shape {
    DType dtype = DType::F16;
    int64_t batch = 0, seqlen_q = 0, seqlen_k = 0, heads_q = 0, heads_k = 0, head_dim = 0;
    bool causal = false;
    float softmax_scale = 1.0f;

    int64_t group() const { return heads_q / heads_k; }
    // Causal, bottom-right aligned: query row i sees keys j <= i + causal_offset().
    int64_t causal_offset() const { return seqlen_k - seqlen_q; }
};

struct FwdProblem {
    Shape shape;
    TensorIn q, k, v;
    TensorOut out;
    float* lse = nullptr;    // optional, [batch, heads_q, seqlen_q]
    void* workspace = nullptr;
    size_t workspace_size = 0;
    void* stream = nullptr;
};

struct BwdProblem {
    Shape shape;
    TensorIn dout, q, k, v, out;
    const float* lse = nullptr;  // optional: recomputed when null
    TensorOut dq, dk, dv;
    bool deterministic = false;
    void* workspace = nullptr;
    size_t workspace_size = 0;
    void* stream = nullptr;
};

}  // namespace flashattn
