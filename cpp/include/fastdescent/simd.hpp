// Dense vector kernels written so that the compiler vectorizes them (no intrinsics):
// several independent accumulators break the dependency chain of a reduction.
#pragma once
#include <cstdint>

#include "fastdescent/isa_namespace.hpp"

namespace fastdescent {
inline namespace FASTDESCENT_ISA_NS {

template <class T>
inline T dot(const T* __restrict a, const T* __restrict b, std::int64_t n) {
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

// y += a * x
template <class T>
inline void axpy(T a, const T* __restrict x, T* __restrict y, std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

template <class T>
inline void scale(T a, T* __restrict x, std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

template <class T>
inline double squared_norm(const T* x, std::int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
    return s;
}

template <class T>
inline double abs_sum(const T* x, std::int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) s += x[i] < 0 ? -double(x[i]) : double(x[i]);
    return s;
}

template <class T>
inline bool all_finite(const T* x, std::int64_t n) {
    // x - x is 0 for finite values and NaN for inf/NaN; summing keeps the loop vectorizable.
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (std::int64_t i = 0; i < n; ++i) acc += x[i] - x[i];
    return acc == 0;
}

}  // namespace FASTDESCENT_ISA_NS
}  // namespace fastdescent
