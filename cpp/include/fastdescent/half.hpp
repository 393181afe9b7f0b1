// Half-precision storage of X: IEEE binary16 (NumPy's float16) and bfloat16 (ml_dtypes'). Rows
// are stored as given and widened to float32 in registers, so a pass over X reads half the
// bytes of float32; every sum is float32 or wider. The conversions are exact. simd.hpp loads
// vectors of them.
#pragma once
#include <cstdint>
#include <cstring>

#include "fastdescent/isa_namespace.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace fastdescent {

// The stored bits; the types only say how to read them.
struct Half {
    std::uint16_t bits;
};
struct BFloat16 {
    std::uint16_t bits;
};

inline namespace FASTDESCENT_ISA_NS {

template <class T>
inline T widen(T x) {
    return x;
}

// bfloat16 is the upper half of a float32.
inline float widen(BFloat16 x) {
    const std::uint32_t u = std::uint32_t(x.bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// binary16 without branches (so that loops over it vectorize): a normal number moves its
// exponent from bias 15 to bias 127; a subnormal is its mantissa times 2^-24 (an exact integer
// conversion, no float32 subnormal involved); infinity and NaN keep the all-ones exponent.
inline float widen(Half x) {
#if defined(__F16C__)
    return _cvtsh_ss(x.bits);  // one instruction where the instruction set has it
#else
    const std::uint32_t u = x.bits;
    const std::uint32_t sign = (u & 0x8000u) << 16;
    const std::uint32_t magnitude = u & 0x7fffu;
    std::uint32_t normal = (magnitude << 13) + (std::uint32_t(127 - 15) << 23);
    if (magnitude >= 0x7c00u) normal |= 0x7f800000u;  // infinity, NaN
    float subnormal = float(std::int32_t(magnitude)) * 5.9604644775390625e-08f;  // 2^-24
    std::uint32_t sub_bits;
    std::memcpy(&sub_bits, &subnormal, sizeof sub_bits);
    const std::uint32_t out = sign | (magnitude < 0x0400u ? sub_bits : normal);
    float f;
    std::memcpy(&f, &out, sizeof f);
    return f;
#endif
}

}  // namespace FASTDESCENT_ISA_NS

}  // namespace fastdescent
