// Tile sizes of the CPU backend, in one place. A block of kRows query rows (all query heads of
// one KV head, position-major, so a GQA group shares every K/V tile) meets kCols keys at a
// time. With head_dim 256 the working set (Q, K^T, V, S, O tiles) is about 300 KB per thread,
// inside a typical per-core L2.
#pragma once

#include "cpu/kernels.h"

namespace flashattn::cpu::tuning {

constexpr int kRows = 64;  // query rows per task (forward, dQ pass) and per step (dK/dV pass)
constexpr int kCols = 64;  // keys per step (forward, dQ pass) and per task (dK/dV pass)

static_assert(kCols % kPanel == 0, "score tiles are whole GEMM panels");
static_assert(kRows % kPanel == 0, "transposed score tiles are whole GEMM panels");

}  // namespace flashattn::cpu::tuning
