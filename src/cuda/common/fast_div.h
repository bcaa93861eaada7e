// Division by a divisor known only at run time as a multiply-high, an add and a shift, with
// the multiplier made once on the host (the round-up method of Granlund and Montgomery, for
// dividends below 2^31). The GPU has no integer divide: n / d compiles to some 30 dependent
// instructions, which the sm_90a kernel would run at every tile boundary, between one tile's
// last softmax and the next tile's first wgmma. Plain C++ outside nvcc, so the tests check it.
#pragma once

#include <cstdint>

#include "cuda/common/host_device.h"

namespace flashattn::cuda {

struct FastDiv {
    uint32_t d = 1, mul = 1, shift = 0;  // n / 1: (0 + n) >> 0

    FastDiv() = default;
    // divisor in [1, 2^31). With l = ceil(log2 d) and m = 2^32 + mul = ceil(2^(32 + l) / d),
    // floor(m n / 2^(32 + l)) = floor(n / d) for every n < 2^32; the add below needs n < 2^31.
    explicit FastDiv(uint32_t divisor) : d(divisor) {
        while ((uint64_t{1} << shift) < d) ++shift;
        mul = static_cast<uint32_t>((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d) / d + 1);
    }
    // n / d for n in [0, 2^31).
    FLASHATTN_HOST_DEVICE uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
        const uint32_t hi = __umulhi(n, mul);
#else
        const uint32_t hi = static_cast<uint32_t>((uint64_t{n} * mul) >> 32);
#endif
        return (hi + n) >> shift;
    }
};

}  // namespace flashattn::cuda
