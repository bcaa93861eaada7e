// IEEE binary16 and bfloat16 <-> float conversions on the host, branch-light so loops over them
// vectorize. Round to nearest even; NaN stays NaN, overflow goes to infinity.
#pragma once

#include <cstdint>
#include <cstring>

namespace flashattn {

inline uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;  // exponent and mantissa
    // Normal numbers: shift into place and rebias the exponent from 15 to 127.
    uint32_t bits = (em << 13) + ((127u - 15u) << 23);
    if (em >= 0x7c00u) bits += (128u - 16u) << 23;            // inf/NaN: exponent 255
    if (em < 0x0400u) bits = float_bits(static_cast<float>(em) * 0x1p-24f);  // zero/subnormal
    return bits_float(bits | sign);
}

inline uint16_t float_to_half(float f) {
    uint32_t x = float_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u));
    if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
    if (x < 0x38800000u) {
        // Below 2^-14 the result is subnormal: adding 0.5 (whose ulp is 2^-24, the f16
        // subnormal step) rounds to nearest even in hardware.
        const float r = bits_float(x) + 0.5f;
        return static_cast<uint16_t>(sign | (float_bits(r) - 0x3f000000u));
    }
    const uint32_t odd = (x >> 13) & 1u;
    x += 0xc8000000u + 0xfffu + odd;  // rebias 127 -> 15, then round to nearest even
    return static_cast<uint16_t>(sign | (x >> 13));
}

inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_bf16(float f) {
    const uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace flashattn
