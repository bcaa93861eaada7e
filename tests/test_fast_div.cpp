// FastDiv (src/cuda/common/fast_div.h), the sm_90a kernel's division of work-unit numbers,
// against the hardware's integer division, here on the host where the tests always run.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "cuda/common/fast_div.h"
#include "harness.h"

namespace flashattn::test {
namespace {

using cuda::FastDiv;

void expect_divides(uint32_t d, uint32_t n) {
    ASSERT_EQ(FastDiv(d).div(n), n / d) << "n = " << n << ", d = " << d;
}

TEST(FastDiv, SmallDivisorsAllSmallDividends) {
    for (uint32_t d = 1; d <= 300; ++d)
        for (uint32_t n = 0; n < 5000; ++n) expect_divides(d, n);
}

TEST(FastDiv, EdgesOfTheRange) {
    const uint32_t top = (uint32_t{1} << 31) - 1;
    for (uint32_t d : {1u, 2u, 3u, 7u, 641u, 65535u, 65536u, 65537u, (1u << 30) + 1, top - 1, top})
        for (uint32_t n : {0u, 1u, d - 1, d, d + 1, 2 * (d / 2) + 1, top - 1, top}) {
            if (n > top) continue;
            expect_divides(d, n);
        }
}

TEST(FastDiv, RandomDivisorsAndDividends) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::uniform_int_distribution<uint32_t> any(0, (uint32_t{1} << 31) - 1);
    std::uniform_int_distribution<int> bits(0, 30);
    for (int i = 0; i < 200000; ++i) {
        // Divisors of every magnitude, not only the large ones a uniform draw gives.
        const uint32_t d = 1 + (any(rng) >> bits(rng));
        expect_divides(d, any(rng));
    }
}

}  // namespace
}  // namespace flashattn::test
