#include "fastdescent/parallel.hpp"

#include <algorithm>
#include <atomic>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace fastdescent {
namespace {

std::atomic<bool> forked_child{false};

bool watch_forks() {
#if defined(__unix__) || defined(__APPLE__)
    // Runs in the child of every fork(), os.fork and multiprocessing's "fork" included.
    pthread_atfork(nullptr, nullptr, [] { forked_child.store(true, std::memory_order_relaxed); });
#endif
    return true;
}

[[maybe_unused]] const bool watching_forks = watch_forks();

}  // namespace

int max_threads() {
    if (forked_child.load(std::memory_order_relaxed)) return 1;
#ifdef _OPENMP
    return std::max(1, omp_get_max_threads());
#else
    return 1;
#endif
}

int resolve_threads(int n_threads) {
    const int limit = max_threads();
    return n_threads > 0 ? std::min(n_threads, limit) : limit;
}

}  // namespace fastdescent
