// Splitting element-wise loops and reductions over threads. Small arrays stay on the calling
// thread: waking a team costs more than the work below about 2^16 elements.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastdescent {

constexpr std::int64_t parallel_min_size = std::int64_t(1) << 16;

// n_threads <= 0 means all the threads OpenMP would use (OMP_NUM_THREADS or the core count).
inline int resolve_threads(int n_threads) {
#ifdef _OPENMP
    return n_threads > 0 ? n_threads : omp_get_max_threads();
#else
    (void)n_threads;
    return 1;
#endif
}

// Calls body(begin, end) on contiguous ranges that cover [0, n): one range per thread when n is
// large, a single call otherwise. Range starts are multiples of 64 elements so that every thread
// sees the same alignment.
template <class Body>
void for_ranges(std::int64_t n, int n_threads, Body&& body) {
    const int nt = resolve_threads(n_threads);
    if (nt <= 1 || n <= parallel_min_size) {
        body(std::int64_t(0), n);
        return;
    }
    auto bound = [&](int t) { return t == nt ? n : (n / nt * t) & ~std::int64_t(63); };
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) body(bound(t), bound(t + 1));
}

// Sums of K quantities over [0, n): body(begin, end) returns the K partial sums of a range.
// Ranges are fixed blocks added in order, so the result does not depend on the thread count.
template <std::size_t K, class Body>
std::array<double, K> sum_ranges(std::int64_t n, int n_threads, Body&& body) {
    constexpr std::int64_t block = std::int64_t(1) << 14;
    const std::int64_t n_blocks = (n + block - 1) / block;
    if (n_blocks <= 1) return body(std::int64_t(0), n);
    std::vector<std::array<double, K>> partial(static_cast<std::size_t>(n_blocks));
    const int nt = n > parallel_min_size ? resolve_threads(n_threads) : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (std::int64_t b = 0; b < n_blocks; ++b)
        partial[std::size_t(b)] = body(b * block, std::min(n, (b + 1) * block));
    std::array<double, K> total{};
    for (const auto& p : partial)
        for (std::size_t k = 0; k < K; ++k) total[k] += p[k];
    return total;
}

}  // namespace fastdescent
