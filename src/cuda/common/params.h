// Kernel-side parameters of the CUDA backend, filled by the dispatcher from a validated
// problem. Plain data, passed by value to every kernel.
#pragma once

#include <cstdint>

#include "cuda/common/host_device.h"

namespace flashattn::cuda {

struct TensorArg {
    const void* ptr;
    int64_t batch, seq, head;  // element strides
};

struct AttnParams {
    TensorArg q, k, v;
    int batch, seqlen_q, seqlen_k, heads_q, heads_k, group, head_dim;
    int rows;           // query rows per (batch, KV head): seqlen_q * group, position-major
    int causal;
    int causal_offset;  // seqlen_k - seqlen_q: row at position i sees keys j <= i + offset
    float softmax_scale;
    // f32 mode only (else null): the power-of-two factors q, k, v (and dout) were multiplied by
    // when converted to f16, read on the device so no host synchronization is needed.
    const float* tensor_scales;
};

enum TensorScale { kScaleQ = 0, kScaleK = 1, kScaleV = 2, kScaleDout = 3, kNumScales = 4 };

struct FwdParams : AttnParams {
    void* out;
    int64_t out_batch, out_seq, out_head;
    float* lse;         // [batch, heads_q, seqlen_q], natural log; may be null
    // Decode kernel only (sm80/decode_kernel.cuh): CTA x covers keys [x * split_keys,
    // (x + 1) * split_keys). With splits > 1 each writes normalized partial rows into the
    // workspace, o_partial [splits][batch * heads_k * rows][kD] and lse_partial (log2 units)
    // [splits][batch * heads_k * rows], which its combine kernel merges. 0 or 1: no split.
    int splits, split_keys;
    float* o_partial;
    float* lse_partial;
    FLASHATTN_HOST_DEVICE TensorArg out_arg() const { return {out, out_batch, out_seq, out_head}; }
};

struct BwdParams : AttnParams {
    TensorArg dout;
    const float* lse;   // [batch, heads_q, seqlen_q], natural log
    const float* delta; // rowsum(dout * out), same layout
    void* dq;
    int64_t dq_batch, dq_seq, dq_head;
    void* dk;
    int64_t dk_batch, dk_seq, dk_head;
    void* dv;
    int64_t dv_batch, dv_seq, dv_head;
};

}  // namespace flashattn::cuda
