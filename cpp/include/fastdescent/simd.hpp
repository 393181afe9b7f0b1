// Dense vector kernels written so that the compiler vectorizes them (no intrinsics):
// several independent accumulators break the dependency chain of a reduction.
#pragma once
#include <cstdint>

#include "fastdescent/isa_namespace.hpp"

// For functions that only prefetch: GCC finds them free of side effects and deletes calls to
// them that were not inlined early, prefetches included. Inlined, the prefetches stay.
#if defined(__GNUC__)
#define FASTDESCENT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FASTDESCENT_ALWAYS_INLINE inline
#endif

namespace fastdescent {
inline namespace FASTDESCENT_ISA_NS {

#if defined(__GNUC__)
#define FASTDESCENT_VECTOR_EXTENSIONS 1
// The widest vector register of the instruction set this file is compiled for.
#if defined(__AVX512F__)
constexpr int vector_bytes = 64;
#elif defined(__AVX__)
constexpr int vector_bytes = 32;
#else
constexpr int vector_bytes = 16;
#endif

template <class T>
struct Vector {
    typedef T type __attribute__((vector_size(vector_bytes)));
    static constexpr int lanes = vector_bytes / int(sizeof(T));
    static type load(const T* p) {
        type v;
        __builtin_memcpy(&v, p, sizeof v);  // an unaligned load
        return v;
    }
    // By halves (a tree of depth log2(lanes), not a chain of lanes - 1 dependent additions).
    static T sum(type v) {
        T a[lanes];
        __builtin_memcpy(a, &v, sizeof v);
        for (int width = lanes / 2; width > 0; width /= 2) {
            for (int j = 0; j < width; ++j) a[j] += a[j + width];
        }
        return a[0];
    }
};
#endif

// Sum of a[i] * b[i]. Four vector accumulators, so that the additions do not wait on each other
// (one accumulator would be bound by the latency of the fused multiply-add).
template <class T>
inline T dot(const T* __restrict a, const T* __restrict b, std::int64_t n) {
    std::int64_t i = 0;
    T total = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    using V = Vector<T>;
    constexpr int L = V::lanes;
    typename V::type s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (; i + 4 * L <= n; i += 4 * L) {
        s0 += V::load(a + i) * V::load(b + i);
        s1 += V::load(a + i + L) * V::load(b + i + L);
        s2 += V::load(a + i + 2 * L) * V::load(b + i + 2 * L);
        s3 += V::load(a + i + 3 * L) * V::load(b + i + 3 * L);
    }
    for (; i + L <= n; i += L) s0 += V::load(a + i) * V::load(b + i);
    total = V::sum((s0 + s1) + (s2 + s3));
#endif
    for (; i < n; ++i) total += a[i] * b[i];
    return total;
}

// out[q] = sum_i x_q[i] * w[i] for four rows at once: w is loaded once for the four, and the
// four sums are independent chains.
template <class T>
inline void dot4(const T* __restrict x0, const T* __restrict x1, const T* __restrict x2,
                 const T* __restrict x3, const T* __restrict w, std::int64_t n, T out[4]) {
    std::int64_t i = 0;
    T t0 = 0, t1 = 0, t2 = 0, t3 = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    using V = Vector<T>;
    constexpr int L = V::lanes;
    typename V::type s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (; i + L <= n; i += L) {
        const typename V::type wv = V::load(w + i);
        s0 += V::load(x0 + i) * wv;
        s1 += V::load(x1 + i) * wv;
        s2 += V::load(x2 + i) * wv;
        s3 += V::load(x3 + i) * wv;
    }
    t0 = V::sum(s0), t1 = V::sum(s1), t2 = V::sum(s2), t3 = V::sum(s3);
#endif
    for (; i < n; ++i) {
        t0 += x0[i] * w[i];
        t1 += x1[i] * w[i];
        t2 += x2[i] * w[i];
        t3 += x3[i] * w[i];
    }
    out[0] = t0, out[1] = t1, out[2] = t2, out[3] = t3;
}

// y += sum_q c[q] x[q] over eight rows: one read and write of y for the eight.
template <class T>
inline void axpy8(const T c[8], const T* const x[8], T* __restrict y, std::int64_t n) {
    const T c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7];
    const T* __restrict x0 = x[0];
    const T* __restrict x1 = x[1];
    const T* __restrict x2 = x[2];
    const T* __restrict x3 = x[3];
    const T* __restrict x4 = x[4];
    const T* __restrict x5 = x[5];
    const T* __restrict x6 = x[6];
    const T* __restrict x7 = x[7];
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) {
        y[i] += ((c0 * x0[i] + c1 * x1[i]) + (c2 * x2[i] + c3 * x3[i])) +
                ((c4 * x4[i] + c5 * x5[i]) + (c6 * x6[i] + c7 * x7[i]));
    }
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
