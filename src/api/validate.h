// Turns the public argument structs into validated problems and picks the backend. Every check
// happens here, before any work, so a failing call leaves the outputs untouched.
#pragma once

#include "api/backend.h"

namespace flashattn {

struct Target {
    FlashAttnBackend backend = FLASH_ATTN_BACKEND_CPU;
    int device = -1;  // the CUDA device for FLASH_ATTN_BACKEND_CUDA
};

Status make_forward_problem(const FlashAttnForwardArgs* args, FwdProblem* out, Target* target);
Status make_backward_problem(const FlashAttnBackwardArgs* args, BwdProblem* out, Target* target);

}  // namespace flashattn
