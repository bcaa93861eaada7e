// The CPU backend's entry points and limits.
#include "cpu/cpu.h"
#include "cpu/thread_pool.h"

namespace flashattn::cpu {

BackendLimits limits() {
    BackendLimits l{};
    l.dtypes = (1u << FLASH_ATTN_DTYPE_F16) | (1u << FLASH_ATTN_DTYPE_BF16) |
               (1u << FLASH_ATTN_DTYPE_F32);
    l.head_dim_min = 1;
    l.head_dim_max = 256;  // the tile working set is sized for this (see tuning.h)
    l.head_dim_step = 1;
    l.alignment = 0;  // element alignment only
    l.features = FLASH_ATTN_FEATURE_BACKWARD | FLASH_ATTN_FEATURE_CAUSAL | FLASH_ATTN_FEATURE_GQA |
                 FLASH_ATTN_FEATURE_LSE | FLASH_ATTN_FEATURE_STRIDES |
                 FLASH_ATTN_FEATURE_DETERMINISTIC;
    return l;
}

// The CPU backend allocates its own O(seqlen) scratch; it needs no caller workspace.
size_t forward_workspace_size(const FwdProblem&) { return 0; }
size_t backward_workspace_size(const BwdProblem&) { return 0; }

Status forward(const FwdProblem& p) { return flash_forward(p, true, p.lse); }

}  // namespace flashattn::cpu
