// Read-only views of the training rows. The trainer is templated on the view, so that dense and
// sparse input share one training loop; each view offers dot / axpy against a dense vector.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fastdescent/kernels.hpp"
#include "fastdescent/portable.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

// Dense row-major matrix; rows may be strided (row_stride >= n_cols), columns are contiguous.
// Entries are stored as S and computed as T (float16 / bfloat16 storage: T = float).
template <class T, class S = T>
struct DenseRows {
    using value_type = T;
    using storage_type = S;
    const S* data;
    std::int64_t n_rows, n_cols, row_stride;
    // The kernels of the instruction set that was active when the view was made.
    const DenseKernels<T, S>* kernels = &dense_kernels<T, S>();

    const S* row(std::int64_t i) const { return data + i * row_stride; }
    T dot(std::int64_t i, const T* w) const { return kernels->dot(row(i), w, n_cols); }
    void axpy(std::int64_t i, T a, T* w) const { kernels->axpy(a, row(i), w, n_cols); }
    double row_squared_norm(std::int64_t i) const { return squared_norm(row(i), n_cols); }
    std::int64_t row_entries(std::int64_t) const { return n_cols; }  // values a row pass reads

    // Asks the cache for row i ahead of use: shuffled epochs visit rows in random order, and
    // without this every row costs a full memory latency.
    FASTDESCENT_ALWAYS_INLINE void prefetch(std::int64_t i) const {
        const char* p = reinterpret_cast<const char*>(row(i));
        const std::int64_t bytes = n_cols * std::int64_t(sizeof(S));
        for (std::int64_t off = 0; off < bytes; off += 64) prefetch_read(p + off);
    }

    // Calls f(j, x_ij) for every stored entry of row i.
    template <class F>
    void for_each(std::int64_t i, F&& f) const {
        const S* r = row(i);
        for (std::int64_t j = 0; j < n_cols; ++j) f(j, T(widen(r[j])));
    }
};

template <class Rows>
struct is_dense_rows : std::false_type {};
template <class T, class S>
struct is_dense_rows<DenseRows<T, S>> : std::true_type {};
template <class Rows>
constexpr bool is_dense_rows_v = is_dense_rows<Rows>::value;

// Compressed sparse rows with int32 or int64 indices.
template <class T, class I>
struct CsrRows {
    using value_type = T;
    const T* data;
    const I* indices;
    const I* indptr;
    std::int64_t n_rows, n_cols;

    // Four partial sums: one chain of dependent additions would take the add's latency per
    // entry (a row of a text matrix is too short for vectors to pay).
    T dot(std::int64_t i, const T* w) const {
        double xx;
        return dot_impl<false>(i, w, xx);
    }
    // The dot product with w, and the row's squared norm into xx, in one read of the row.
    T dot_and_squared_norm(std::int64_t i, const T* w, double& xx) const { return dot_impl<true>(i, w, xx); }
    void axpy(std::int64_t i, T a, T* w) const {
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) w[indices[k]] += a * data[k];
    }
    double row_squared_norm(std::int64_t i) const {  // off the hot path: dot_and_squared_norm
        double s = 0;
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) s += double(data[k]) * double(data[k]);
        return s;
    }
    std::int64_t row_entries(std::int64_t i) const { return std::int64_t(indptr[i + 1] - indptr[i]); }
    FASTDESCENT_ALWAYS_INLINE void prefetch(std::int64_t i) const {
        prefetch_read(data + indptr[i]);
        prefetch_read(indices + indptr[i]);
    }
    template <class F>
    void for_each(std::int64_t i, F&& f) const {
        for (I k = indptr[i]; k < indptr[i + 1]; ++k) f(std::int64_t(indices[k]), data[k]);
    }

private:
    template <bool with_norm>
    FASTDESCENT_ALWAYS_INLINE T dot_impl(std::int64_t i, const T* w, double& xx) const {
        T s[4] = {0, 0, 0, 0};
        double q[4] = {0, 0, 0, 0};
        const I hi = indptr[i + 1];
        I k = indptr[i];
        for (; k + 4 <= hi; k += 4)
            for (int u = 0; u < 4; ++u) {
                s[u] += data[k + u] * w[indices[k + u]];
                if constexpr (with_norm) q[u] += double(data[k + u]) * double(data[k + u]);
            }
        for (; k < hi; ++k) {
            s[0] += data[k] * w[indices[k]];
            if constexpr (with_norm) q[0] += double(data[k]) * double(data[k]);
        }
        if constexpr (with_norm) xx = (q[0] + q[1]) + (q[2] + q[3]);
        return (s[0] + s[1]) + (s[2] + s[3]);
    }
};

// What makes a CSR structure unsafe to read, in the order the check looks for it.
enum class CsrFault { none, indptr_start, indptr_end, indptr_decreasing, column_out_of_range };

struct CsrCheck {
    CsrFault fault = CsrFault::none;
    bool duplicates = false;  // a row stores a column twice (SciPy adds such entries up)
};

// The bounds (what reading the rows safely needs) in one flat pass over indptr and one over the
// columns; then, with find_duplicates, whether a row stores a column twice: rows whose columns
// increase (SciPy's canonical form) have none, another row's columns are sorted in a scratch
// copy (no table over all columns, which for 2**30 hashed features would not fit in memory).
template <class I>
CsrCheck check_csr(const I* indptr, const I* indices, std::int64_t n_rows, std::int64_t nnz,
                   std::int64_t n_cols, bool find_duplicates = true) {
    if (indptr[0] != 0) return {CsrFault::indptr_start, false};
    if (std::int64_t(indptr[n_rows]) != nnz) return {CsrFault::indptr_end, false};
    for (std::int64_t i = 0; i < n_rows; ++i)
        if (indptr[i + 1] < indptr[i]) return {CsrFault::indptr_decreasing, false};
    bool outside = false;
    for (std::int64_t k = 0; k < nnz; ++k)
        outside |= std::int64_t(indices[k]) < 0 || std::int64_t(indices[k]) >= n_cols;
    if (outside) return {CsrFault::column_out_of_range, false};
    CsrCheck out;
    if (!find_duplicates) return out;
    std::vector<std::int64_t> row;
    for (std::int64_t i = 0; i < n_rows && !out.duplicates; ++i) {
        const std::int64_t lo = indptr[i], hi = indptr[i + 1];
        bool increasing = true;
        for (std::int64_t k = lo + 1; k < hi && increasing; ++k) increasing = indices[k] > indices[k - 1];
        if (increasing) continue;
        row.assign(indices + lo, indices + hi);
        std::sort(row.begin(), row.end());
        out.duplicates = std::adjacent_find(row.begin(), row.end()) != row.end();
    }
    return out;
}

}  // namespace fastdescent
