// Every accuracy bound of the suite, in one place. Errors are relative, ||x - ref|| / ||ref||,
// against the float64 reference computed from the same (already rounded) inputs; LSE errors
// are absolute (LSE is a log, so absolute error is relative error of the denominator).
#pragma once

#include "flashattn/flashattn.h"

namespace flashattn::test {

struct Tolerance {
    double out;    // forward output
    double grad;   // dq, dk, dv
    double lse;    // absolute, natural-log units
};

// gpu: the CUDA backend, whose f32 path runs on f16 tensor-core tiles (scaled per tensor)
// with f32 accumulation; the bar for it is 3e-3 relative. Its scores carry f16 input
// precision, so its LSE error is about |score| * 2^-11 (scores up to ~5 here): 4e-3.
inline Tolerance tolerance(int dtype, bool gpu = false) {
    switch (dtype) {
        case FLASH_ATTN_DTYPE_F32: return gpu ? Tolerance{3e-3, 3e-3, 4e-3} : Tolerance{2e-5, 5e-5, 1e-4};
        case FLASH_ATTN_DTYPE_F16: return {2e-3, 5e-3, 1e-3};   // 11-bit mantissa outputs
        default: return {1.2e-2, 2e-2, 1e-3};                   // bf16: 8-bit mantissa outputs
    }
}

// Central finite differences in f32 (step 1e-2): truncation ~1e-4, rounding ~1e-5.
constexpr double kFiniteDifferenceTolerance = 2e-3;

}  // namespace flashattn::test
