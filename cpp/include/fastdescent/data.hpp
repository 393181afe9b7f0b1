// Read-only views of the training rows. The trainer is templated on the view, so that dense and
// sparse input share one training loop; each view offers dot / axpy against a dense vector.
#pragma once
#include <cstdint>

#include "fastdescent/kernels.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

// Dense row-major matrix; rows may be strided (row_stride >= n_cols), columns are contiguous.
template <class T>
struct DenseRows {
    using value_type = T;
    const T* data;
    std::int64_t n_rows, n_cols, row_stride;
    // The kernels of the instruction set that was active when the view was made.
    const DenseKernels<T>* kernels = &dense_kernels<T>();

    const T* row(std::int64_t i) const { return data + i * row_stride; }
    T dot(std::int64_t i, const T* w) const { return kernels->dot(row(i), w, n_cols); }
    void axpy(std::int64_t i, T a, T* w) const { kernels->axpy(a, row(i), w, n_cols); }
    double row_squared_norm(std::int64_t i) const { return squared_norm(row(i), n_cols); }

    // Asks the cache for row i ahead of use: shuffled epochs visit rows in random order, and
    // without this every row costs a full memory latency.
    FASTDESCENT_ALWAYS_INLINE void prefetch(std::int64_t i) const {
        const char* p = reinterpret_cast<const char*>(row(i));
        const std::int64_t bytes = n_cols * std::int64_t(sizeof(T));
        for (std::int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
    }

    // Calls f(j, x_ij) for every stored entry of row i.
    template <class F>
    void for_each(std::int64_t i, F&& f) const {
        const T* r = row(i);
        for (std::int64_t j = 0; j < n_cols; ++j) f(j, r[j]);
    }
};

// Compressed sparse rows with int32 or int64 indices.
template <class T, class I>
struct CsrRows {
    using value_type = T;
    const T* data;
    const I* indices;
    const I* indptr;
    std::int64_t n_rows, n_cols;

    T dot(std::int64_t i, const T* w) const {
        T s = 0;
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) s += data[k] * w[indices[k]];
        return s;
    }
    void axpy(std::int64_t i, T a, T* w) const {
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) w[indices[k]] += a * data[k];
    }
    double row_squared_norm(std::int64_t i) const {
        double s = 0;
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) s += double(data[k]) * double(data[k]);
        return s;
    }
    FASTDESCENT_ALWAYS_INLINE void prefetch(std::int64_t i) const {
        __builtin_prefetch(data + indptr[i]);
        __builtin_prefetch(indices + indptr[i]);
    }
    template <class F>
    void for_each(std::int64_t i, F&& f) const {
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) f(std::int64_t(indices[k]), data[k]);
    }
};

}  // namespace fastdescent
