// The host half-precision conversions (used by the CPU backend and the tests) against the
// compiler's own _Float16 / round-trip rules, and the capability query.
#include <gtest/gtest.h>

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>

#include "common/half.h"
#include "flashattn/flashattn.h"

namespace flashattn {
namespace {

// The oracle is the processor's own F16C conversion (round to nearest even).
__attribute__((target("f16c"))) float hw_half_to_float(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) uint16_t hw_float_to_half(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

TEST(Half, AllHalvesToFloatMatchHardware) {
    if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this processor";
    for (uint32_t u = 0; u < 65536; ++u) {
        const uint16_t bits = static_cast<uint16_t>(u);
        const float expect = hw_half_to_float(bits);
        const float got = half_to_float(bits);
        if (std::isnan(expect)) {
            ASSERT_TRUE(std::isnan(got)) << u;
        } else {
            ASSERT_EQ(float_bits(got), float_bits(expect)) << u;
        }
    }
}

TEST(Half, FloatToHalfRoundsLikeHardware) {
    if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this processor";
    std::mt19937 rng(1234);
    std::uniform_int_distribution<uint32_t> mant(0, (1u << 23) - 1), expo(95, 145), sign(0, 1);
    for (int i = 0; i < 2000000; ++i) {
        // Exponents from below the f16 subnormals to past its overflow.
        const float f = bits_float((sign(rng) << 31) | (expo(rng) << 23) | mant(rng));
        ASSERT_EQ(float_to_half(f), hw_float_to_half(f)) << f;
    }
    for (float f : {65504.f, 65519.f, 65520.f, 1e9f, -1e9f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0.f,
                    -0.f, INFINITY, -INFINITY}) {
        EXPECT_EQ(float_to_half(f), hw_float_to_half(f)) << f;
    }
    EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::nanf("")))));
}

TEST(BFloat16, RoundToNearestEven) {
    EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(float_to_bf16(bits_float(0x3f808000u)), 0x3f80);  // tie, even stays
    EXPECT_EQ(float_to_bf16(bits_float(0x3f818000u)), 0x3f82);  // tie, odd rounds up
    EXPECT_EQ(float_to_bf16(bits_float(0x3f808001u)), 0x3f81);
    EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
    EXPECT_EQ(float_to_bf16(INFINITY), 0x7f80);
    for (uint32_t u = 0; u < 65536; u += 7) {
        const float f = bf16_to_float(static_cast<uint16_t>(u));
        if (!std::isnan(f)) {
            ASSERT_EQ(float_to_bf16(f), u);
        }
    }
}

TEST(Info, ReportsVersionAndBackends) {
    FlashAttnInfo info;
    info.struct_size = sizeof(info);
    ASSERT_EQ(flash_attn_get_info(&info), FLASH_ATTN_SUCCESS);
    EXPECT_EQ(info.version_major, FLASHATTN_VERSION_MAJOR);
    EXPECT_EQ(info.version_minor, FLASHATTN_VERSION_MINOR);
    EXPECT_STREQ(flash_attn_version_string(), "0.1.0");
    const FlashAttnBackendInfo& cpu = info.backends[FLASH_ATTN_BACKEND_CPU];
    EXPECT_TRUE(cpu.compiled && cpu.usable);
    EXPECT_EQ(cpu.dtypes, 7u);
    EXPECT_EQ(cpu.head_dim_min, 1);
    EXPECT_EQ(cpu.head_dim_max, 256);
    EXPECT_TRUE(cpu.features & FLASH_ATTN_FEATURE_BACKWARD);
    EXPECT_STREQ(cpu.name, "cpu");
    const FlashAttnBackendInfo& hip = info.backends[FLASH_ATTN_BACKEND_HIP];
    EXPECT_FALSE(hip.compiled);
    const FlashAttnBackendInfo& cuda = info.backends[FLASH_ATTN_BACKEND_CUDA];
    if (!cuda.compiled) {
        EXPECT_FALSE(cuda.usable);
    }
    if (cuda.usable) {
        EXPECT_GT(cuda.device_count, 0);
    }
}

}  // namespace
}  // namespace flashattn
