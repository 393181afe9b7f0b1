// Dense vector kernels written so that the compiler vectorizes them (no intrinsics but the
// 16-bit conversions): several independent accumulators break the dependency chain of a
// reduction. Rows of X may be stored as S (float16 / bfloat16, half.hpp) and computed as T.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "fastdescent/half.hpp"
#include "fastdescent/isa_namespace.hpp"

#if defined(__GNUC__) && (defined(__F16C__) || defined(__AVX2__) || defined(__AVX512F__))
#include <immintrin.h>
#endif

// For functions that only prefetch: GCC finds them free of side effects and deletes calls to
// them that were not inlined early, prefetches included. Inlined, the prefetches stay.
#if defined(__GNUC__)
#define FASTDESCENT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FASTDESCENT_ALWAYS_INLINE inline
#endif

namespace fastdescent {
inline namespace FASTDESCENT_ISA_NS {

// The widest vector register of the instruction set this file is compiled for.
#if defined(__AVX512F__)
constexpr int vector_bytes = 64;
#elif defined(__AVX__)
constexpr int vector_bytes = 32;
#else
constexpr int vector_bytes = 16;
#endif

#if defined(__GNUC__)
#define FASTDESCENT_VECTOR_EXTENSIONS 1
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define FASTDESCENT_HAS_SHUFFLE 1
#endif
#endif
#ifndef FASTDESCENT_HAS_SHUFFLE
#define FASTDESCENT_HAS_SHUFFLE 0
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
    // By halves (a tree of depth log2(lanes), not a chain of lanes - 1 dependent additions):
    // lane j += lane j + width, width = lanes / 2, ..., 1, in registers where the compiler has
    // __builtin_shufflevector (GCC 12, Clang). Through an array in memory, each step is a store
    // and a reload: a third of a float16 block's score time. Both give the same bits.
#if FASTDESCENT_HAS_SHUFFLE
    static T sum(type v) { return sum_of<lanes>(v); }
    // The sums of four vectors, each by the same tree as sum(), so with the same bits. Vectors
    // wider than 32 bytes are first halved one by one (lane j += lane j + lanes / 2); then
    // transposed: the halves of two vectors (then the quarters of four) are added in one
    // instruction, and the rest runs on one register holding all four (dot4 on 16-bit rows:
    // 17.7 -> 15.5 cycles a row in cache).
    static void sum4(type a, type b, type c, type d, T out[4]) { sum4_of<lanes>(a, b, c, d, out); }
#else
    static T sum(type v) {
        T a[lanes];
        __builtin_memcpy(a, &v, sizeof v);
        for (int width = lanes / 2; width > 0; width /= 2) {
            for (int j = 0; j < width; ++j) a[j] += a[j + width];
        }
        return a[0];
    }
    static void sum4(type a, type b, type c, type d, T out[4]) {
        out[0] = sum(a), out[1] = sum(b), out[2] = sum(c), out[3] = sum(d);
    }
#endif

private:
#if FASTDESCENT_HAS_SHUFFLE
    template <class W, std::size_t... I>
    static auto lower(W v, std::index_sequence<I...>) {
        return __builtin_shufflevector(v, v, I...);
    }
    template <class W, std::size_t... I>
    static auto upper(W v, std::index_sequence<I...>) {
        return __builtin_shufflevector(v, v, (I + sizeof...(I))...);
    }
    template <int N, class W>
    static T sum_of(W v) {
        if constexpr (N == 1) {
            return v[0];
        } else {
            constexpr auto half = std::make_index_sequence<std::size_t(N / 2)>{};
            return sum_of<N / 2>(lower(v, half) + upper(v, half));
        }
    }
    template <int N, class W>
    static void sum4_of(W a, W b, W c, W d, T out[4]) {
        constexpr auto all = std::make_index_sequence<std::size_t(N)>{};
        if constexpr (N * sizeof(T) > 32) {
            constexpr auto half = std::make_index_sequence<std::size_t(N / 2)>{};
            sum4_of<N / 2>(lower(a, half) + upper(a, half), lower(b, half) + upper(b, half),
                           lower(c, half) + upper(c, half), lower(d, half) + upper(d, half), out);
        } else if constexpr (N == 2) {
            const W ab = pick<N, Halves, 0>(a, b, all) + pick<N, Halves, 1>(a, b, all);
            const W cd = pick<N, Halves, 0>(c, d, all) + pick<N, Halves, 1>(c, d, all);
            out[0] = ab[0], out[1] = ab[1], out[2] = cd[0], out[3] = cd[1];
        } else {
            const W ab = pick<N, Halves, 0>(a, b, all) + pick<N, Halves, 1>(a, b, all);
            const W cd = pick<N, Halves, 0>(c, d, all) + pick<N, Halves, 1>(c, d, all);
            const W t = fold<N / 4>(pick<N, Quarters, 0>(ab, cd, all) + pick<N, Quarters, 1>(ab, cd, all), all);
            constexpr int group = N / 4;
            out[0] = t[0], out[1] = t[group], out[2] = t[2 * group], out[3] = t[3 * group];
        }
    }
    // Lane i of pick<N, Halves, h>(a, b): lane i of the h-th half of a (i < N / 2), else of b.
    // pick<N, Quarters, h>(u, v), u and v each two groups of N / 2: the h-th half of each group.
    enum Layout { Halves, Quarters };
    template <int N, Layout K, int H>
    static constexpr int source(int i) {
        if constexpr (K == Halves) {
            return i < N / 2 ? i + H * N / 2 : N + (i - N / 2) + H * N / 2;
        } else {
            const int group = i / (N / 4), offset = i % (N / 4) + H * N / 4;
            return (group / 2) * N + (group % 2) * (N / 2) + offset;
        }
    }
    template <int N, Layout K, int H, class W, std::size_t... I>
    static W pick(W a, W b, std::index_sequence<I...>) {
        return __builtin_shufflevector(a, b, source<N, K, H>(int(I))...);
    }
    // Each group of G lanes summed by halves into its first lane.
    template <int G, class W, std::size_t... I>
    static W fold(W t, std::index_sequence<I...> all) {
        if constexpr (G == 1) {
            return t;
        } else {
            constexpr auto shift = [](int i) { return i % G < G / 2 ? i + G / 2 : i; };
            return fold<G / 2>(t + __builtin_shufflevector(t, t, shift(int(I))...), all);
        }
    }
#endif
};

// A full vector of T read from storage S (the plain load when S is T).
template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
inline typename Vector<T>::type load_as(const T* p) {
    return Vector<T>::load(p);
}

inline Vector<float>::type load_as(const BFloat16* p) {
#if defined(__AVX512F__)
    // Zero-masked forms, as for float16 below.
    const __m512i u = _mm512_maskz_cvtepu16_epi32(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return Vector<float>::type(_mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, u, 16)));
#elif defined(__AVX2__)
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return Vector<float>::type(_mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
#else
    using U16 = std::uint16_t __attribute__((vector_size(vector_bytes / 2)));
    using U32 = std::uint32_t __attribute__((vector_size(vector_bytes)));
    U16 h;
    __builtin_memcpy(&h, p, sizeof h);
    const U32 u = __builtin_convertvector(h, U32) << 16;
    Vector<float>::type f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
#endif
}

inline Vector<float>::type load_as(const Half* p) {
#if defined(__AVX512F__)
    // The zero-masked form: the plain one makes GCC 12 warn about its undefined source.
    return Vector<float>::type(_mm512_maskz_cvtph_ps(0xffff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#elif defined(__F16C__) && defined(__AVX__)
    return Vector<float>::type(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#else
    // widen(Half) on whole vectors: integer lanes, masks for the selects.
    using U16 = std::uint16_t __attribute__((vector_size(vector_bytes / 2)));
    using U32 = std::uint32_t __attribute__((vector_size(vector_bytes)));
    using I32 = std::int32_t __attribute__((vector_size(vector_bytes)));
    using F = Vector<float>::type;
    U16 h;
    __builtin_memcpy(&h, p, sizeof h);
    const U32 u = __builtin_convertvector(h, U32);
    const U32 sign = (u & 0x8000u) << 16;
    const U32 magnitude = u & 0x7fffu;
    U32 normal = (magnitude << 13) + (std::uint32_t(127 - 15) << 23);
    normal |= U32(magnitude >= 0x7c00u) & 0x7f800000u;  // infinity, NaN
    const F subnormal = __builtin_convertvector(I32(magnitude), F) * 5.9604644775390625e-08f;
    U32 sub_bits;
    __builtin_memcpy(&sub_bits, &subnormal, sizeof sub_bits);
    const U32 is_sub = U32(magnitude < 0x0400u);
    const U32 bits = sign | (sub_bits & is_sub) | (normal & ~is_sub);
    F out;
    __builtin_memcpy(&out, &bits, sizeof out);
    return out;
#endif
}

// v with its first lanes - r entries cleared (bitwise, so that a NaN goes too): a row's last r
// entries (0 < r < lanes), taken from a full vector that ends at the row's end, so that 16-bit
// rows need no scalar conversions for their tails (rows shorter than a vector stay scalar).
inline Vector<float>::type last_lanes(Vector<float>::type v, std::int64_t r) {
    using Bits = std::int32_t __attribute__((vector_size(vector_bytes)));
    Bits lane;
    for (int l = 0; l < Vector<float>::lanes; ++l) lane[l] = l;
    Bits bits;
    __builtin_memcpy(&bits, &v, sizeof v);
    bits &= lane >= std::int32_t(Vector<float>::lanes - r);
    __builtin_memcpy(&v, &bits, sizeof v);
    return v;
}
#endif

// Sum of a[i] * b[i]. Four vector accumulators, so that the additions do not wait on each other
// (one accumulator would be bound by the latency of the fused multiply-add).
template <class T, class S>
inline T dot(const S* __restrict a, const T* __restrict b, std::int64_t n) {
    std::int64_t i = 0;
    T total = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    using V = Vector<T>;
    constexpr int L = V::lanes;
    typename V::type s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (; i + 4 * L <= n; i += 4 * L) {
        s0 += load_as(a + i) * V::load(b + i);
        s1 += load_as(a + i + L) * V::load(b + i + L);
        s2 += load_as(a + i + 2 * L) * V::load(b + i + 2 * L);
        s3 += load_as(a + i + 3 * L) * V::load(b + i + 3 * L);
    }
    for (; i + L <= n; i += L) s0 += load_as(a + i) * V::load(b + i);
    if constexpr (!std::is_same_v<S, T>) {
        if (i < n && n >= L) {
            s1 += last_lanes(load_as(a + n - L) * V::load(b + n - L), n - i);
            i = n;
        }
    }
    total = V::sum((s0 + s1) + (s2 + s3));
#endif
    for (; i < n; ++i) total += widen(a[i]) * b[i];
    return total;
}

// Sum of v[0:m] as four interleaved partial sums (v[j], v[j + 4], ...), added as (s0 + s1) +
// (s2 + s3): four chains of dependent additions where one chain cost a block about 3 cycles a
// row; the same order on every instruction set (no vectorization may reorder it).
inline double sum_by_fours(const double* v, std::int64_t m) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    std::int64_t j = 0;
    for (; j + 4 <= m; j += 4) {
        for (int q = 0; q < 4; ++q) s[q] += v[j + q];
    }
    for (; j < m; ++j) s[j % 4] += v[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

// out[q] = sum_i x_q[i] * w[i] for four rows at once: w is loaded once for the four, and the
// four sums are independent chains.
template <class T, class S>
inline void dot4(const S* __restrict x0, const S* __restrict x1, const S* __restrict x2,
                 const S* __restrict x3, const T* __restrict w, std::int64_t n, T out[4]) {
    std::int64_t i = 0;
    T t0 = 0, t1 = 0, t2 = 0, t3 = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    using V = Vector<T>;
    constexpr int L = V::lanes;
    typename V::type s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (; i + L <= n; i += L) {
        const typename V::type wv = V::load(w + i);
        s0 += load_as(x0 + i) * wv;
        s1 += load_as(x1 + i) * wv;
        s2 += load_as(x2 + i) * wv;
        s3 += load_as(x3 + i) * wv;
    }
    if constexpr (!std::is_same_v<S, T>) {
        if (i < n && n >= L) {
            const std::int64_t j = n - L, r = n - i;
            const typename V::type wv = V::load(w + j);
            s0 += last_lanes(load_as(x0 + j) * wv, r);
            s1 += last_lanes(load_as(x1 + j) * wv, r);
            s2 += last_lanes(load_as(x2 + j) * wv, r);
            s3 += last_lanes(load_as(x3 + j) * wv, r);
            i = n;
        }
    }
    T t[4];
    V::sum4(s0, s1, s2, s3, t);
    t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3];
#endif
    for (; i < n; ++i) {
        t0 += widen(x0[i]) * w[i];
        t1 += widen(x1[i]) * w[i];
        t2 += widen(x2[i]) * w[i];
        t3 += widen(x3[i]) * w[i];
    }
    out[0] = t0, out[1] = t1, out[2] = t2, out[3] = t3;
}

// y += sum_q c[q] x[q] over eight rows: one read and write of y for the eight.
template <class T, class S>
inline void axpy8(const T c[8], const S* const x[8], T* __restrict y, std::int64_t n) {
    const T c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4], c5 = c[5], c6 = c[6], c7 = c[7];
    const S* __restrict x0 = x[0];
    const S* __restrict x1 = x[1];
    const S* __restrict x2 = x[2];
    const S* __restrict x3 = x[3];
    const S* __restrict x4 = x[4];
    const S* __restrict x5 = x[5];
    const S* __restrict x6 = x[6];
    const S* __restrict x7 = x[7];
    std::int64_t start = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    if constexpr (!std::is_same_v<S, T>) {  // stored narrower: widened by whole vectors
        using V = Vector<T>;
        // One chain of multiply-adds per vector of y, where a tree of products took 4 more
        // instructions (~10% of this loop with 16-bit rows, which the conversions bound; the
        // vectors of y are independent chains, so the latency is hidden).
        for (; start + V::lanes <= n; start += V::lanes) {
            const std::int64_t i = start;
            typename V::type v = V::load(y + i);
            v += c0 * load_as(x0 + i);
            v += c1 * load_as(x1 + i);
            v += c2 * load_as(x2 + i);
            v += c3 * load_as(x3 + i);
            v += c4 * load_as(x4 + i);
            v += c5 * load_as(x5 + i);
            v += c6 * load_as(x6 + i);
            v += c7 * load_as(x7 + i);
            __builtin_memcpy(y + i, &v, sizeof v);
        }
        if (start < n && n >= V::lanes) {  // the tail: a window ending at n, earlier lanes kept
            const std::int64_t i = n - V::lanes;
            const typename V::type v =
                V::load(y + i) + last_lanes((((c0 * load_as(x0 + i) + c1 * load_as(x1 + i)) +
                                              (c2 * load_as(x2 + i) + c3 * load_as(x3 + i))) +
                                             ((c4 * load_as(x4 + i) + c5 * load_as(x5 + i)) +
                                              (c6 * load_as(x6 + i) + c7 * load_as(x7 + i)))),
                                            n - start);
            __builtin_memcpy(y + i, &v, sizeof v);
            start = n;
        }
    }
#endif
#pragma omp simd
    for (std::int64_t i = start; i < n; ++i) {
        y[i] += ((c0 * widen(x0[i]) + c1 * widen(x1[i])) + (c2 * widen(x2[i]) + c3 * widen(x3[i]))) +
                ((c4 * widen(x4[i]) + c5 * widen(x5[i])) + (c6 * widen(x6[i]) + c7 * widen(x7[i])));
    }
}

// y += a * x
template <class T, class S>
inline void axpy(T a, const S* __restrict x, T* __restrict y, std::int64_t n) {
    std::int64_t start = 0;
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    if constexpr (!std::is_same_v<S, T>) {
        using V = Vector<T>;
        for (; start + V::lanes <= n; start += V::lanes) {
            const typename V::type v = V::load(y + start) + a * load_as(x + start);
            __builtin_memcpy(y + start, &v, sizeof v);
        }
        if (start < n && n >= V::lanes) {
            const std::int64_t i = n - V::lanes;
            const typename V::type v = V::load(y + i) + last_lanes(a * load_as(x + i), n - start);
            __builtin_memcpy(y + i, &v, sizeof v);
            start = n;
        }
    }
#endif
#pragma omp simd
    for (std::int64_t i = start; i < n; ++i) y[i] += a * widen(x[i]);
}

template <class T>
inline void scale(T a, T* __restrict x, std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

// x *= a, returning the squared norm of the result (one pass where two would read x twice).
template <class T>
inline double scale_and_squared_norm(T a, T* __restrict x, std::int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) {
        x[i] *= a;
        s += double(x[i]) * double(x[i]);
    }
    return s;
}

template <class S>
inline double squared_norm(const S* x, std::int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t i = 0; i < n; ++i) s += double(widen(x[i])) * double(widen(x[i]));
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

// 16-bit formats: infinity and NaN are the values whose exponent bits are all ones.
template <std::uint16_t ExponentBits, class S>
inline bool exponents_finite(const S* x, std::int64_t n) {
    unsigned bad = 0;
#pragma omp simd reduction(| : bad)
    for (std::int64_t i = 0; i < n; ++i) bad |= unsigned((x[i].bits & ExponentBits) == ExponentBits);
    return bad == 0;
}

inline bool all_finite(const Half* x, std::int64_t n) { return exponents_finite<0x7c00>(x, n); }
inline bool all_finite(const BFloat16* x, std::int64_t n) { return exponents_finite<0x7f80>(x, n); }

}  // namespace FASTDESCENT_ISA_NS
}  // namespace fastdescent
