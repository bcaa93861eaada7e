// Internal interface of the CPU backend (beyond api/backend.h): pieces shared by forward and
// backward, and the standard (unfused) attention the benchmark compares against.
#pragma once

#include "api/backend.h"

namespace flashattn::cpu {

// Query rows of one (batch, KV head) are numbered position-major across the GQA group:
// row r is query position r / group of query head kv_head * group + r % group.
struct RowMap {
    int64_t group;
    int64_t kv_head;
    int64_t position(int64_t r) const { return r / group; }
    int64_t head(int64_t r) const { return kv_head * group + r % group; }
};

// The flash forward; writes out when write_out, and lse (natural log) when non-null.
Status flash_forward(const FwdProblem& p, bool write_out, float* lse);

// Standard attention as a framework without a fused kernel computes it: the full
// [batch, heads, seqlen_q, seqlen_k] score matrix materialized in float, softmax, then P V.
Status standard_forward(const FwdProblem& p);

}  // namespace flashattn::cpu
