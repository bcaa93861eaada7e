// Naive float64 attention with materialized scores: the oracle every backend is tested against.
// Never part of the shipped library. Tensors are packed [batch, seq, heads, head_dim] doubles.
#pragma once

#include <cstdint>
#include <vector>

namespace flashattn::ref {

struct Dims {
    int64_t batch, seqlen_q, seqlen_k, heads_q, heads_k, head_dim;
    bool causal;      // bottom-right aligned
    double scale;
};

// out [b, sq, hq, d]; lse [b, hq, sq] (natural log, -inf for a row that sees no key).
void forward(const Dims& d, const double* q, const double* k, const double* v, double* out,
             double* lse);

// Gradients of sum(out * dout) with respect to q, k, v (dk, dv summed over each GQA group).
void backward(const Dims& d, const double* q, const double* k, const double* v,
              const double* dout, double* dq, double* dk, double* dv);

}  // namespace flashattn::ref
