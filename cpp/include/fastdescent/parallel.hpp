// Splitting element-wise loops and reductions over threads. Small arrays stay on the calling
// thread: waking a team costs more than the work below about 2^16 elements.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastdescent {

constexpr std::int64_t parallel_min_size = std::int64_t(1) << 16;
// Loss and gradient sums over rows (a batch's fused pass) take threads from this many
// multiply-adds (rows x outputs x features): a row costs more than an element-wise update,
// and a mini-batch of 256 rows of 100 features gains from two threads.
constexpr std::int64_t row_sums_min_work = std::int64_t(1) << 13;

// Chunks of a pass over `rows` dense rows of `width` multiply-adds each, for `threads` threads:
// one per thread, or for a large pass (a full-batch iteration) up to 8 per thread while each
// keeps at least 2^22 multiply-adds and 256 rows, taken by whichever thread is free
// (for_shared_chunks). On a core slowed by another process, its thread then takes fewer chunks
// instead of holding the others back at the end of the pass. A chunk costs its own sums
// (`width` of them, zeroed and added once more: a 256th of its work at most) and one cold start
// of its prefetches. The count depends on the pass and the thread count only, so the sums'
// order does too.
inline int shared_chunks(std::int64_t rows, std::int64_t width, int threads) {
    if (threads <= 1) return 1;
    const std::int64_t most = std::min((rows * width) >> 22, rows >> 8);
    return int(std::clamp<std::int64_t>(most, threads, std::int64_t(8) * threads));
}

// What each thread writes over and over (its running sums, its copy of the model) stays a
// cache line clear of every other thread's: a line that two cores write in turn moves between
// them at every write. thread_room(v, n) makes room for n zeroed entries in v with a line of
// slack on both sides (v may sit next to another thread's allocation); room_of(v) is where
// they start.
constexpr std::int64_t cache_line = 64;

template <class T>
T* room_of(std::vector<T>& v) {
    return v.data() + cache_line / std::int64_t(sizeof(T));
}

template <class T>
T* thread_room(std::vector<T>& v, std::int64_t n) {
    v.assign(std::size_t(n + 2 * cache_line / std::int64_t(sizeof(T))), T(0));
    return room_of(v);
}

// Threads a parallel region may use: OpenMP's limit (OMP_NUM_THREADS, threadpoolctl or the
// core count), or 1 in a process forked from one that had loaded the core. GNU OpenMP's thread
// pool does not survive fork(): a team started in the child waits forever for threads that
// exist only in the parent, so a fork handler marks the child and every region asks here first.
int max_threads();

// The calling thread's number in its team, and the team's size (0 and 1 outside a region).
inline int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
inline int team_size() {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

// Calls body(c) for each chunk c in [0, n_chunks), the chunks handed to `threads` OpenMP
// threads one at a time in turn, or called in order on this thread when threads <= 1. The
// plain loop is not OpenMP's if(false): once libgomp has a thread pool, even a one-thread
// region ends with a futex wake, a system call (0.4 us here, as long as a whole 32-row
// mini-batch's gradient).
template <class Body>
void for_chunks(int threads, int n_chunks, Body&& body) {
    if (threads <= 1) {
        for (int c = 0; c < n_chunks; ++c) body(c);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int c = 0; c < n_chunks; ++c) body(c);
}

// Calls body(c) for each chunk c in [0, n_chunks) on `threads` OpenMP threads, each taking
// the next chunk when it is done with its last. With no more chunks than threads, chunk c runs
// on thread c as for_chunks hands them out, so that what a chunk fetches for the next pass
// (a mini-batch's share of the next batch) lands in the cache of the thread that reads it.
template <class Body>
void for_shared_chunks(int threads, int n_chunks, Body&& body) {
    if (threads <= 1 || n_chunks <= threads) {
        for_chunks(threads, n_chunks, body);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int c = 0; c < n_chunks; ++c) body(c);
}

// Calls body(begin, end) on `threads` contiguous ranges that cover [0, n), one per thread.
template <class Body>
void for_thread_ranges(int threads, std::int64_t n, Body&& body) {
    for_chunks(threads, threads, [&](int t) { body(n * t / threads, n * (t + 1) / threads); });
}

// A team of threads held in one parallel region while its leader runs a sequence of small
// parallel steps (the batches of a mini-batch epoch). A step hands the team its chunks with one
// store and collects them with one load per thread, where a region of its own forks and joins
// the team: 0.4 against 1.2 us a step here, as long as the gradient of 64 rows of 100.
class BatchTeam {
public:
    // Runs lead(team) on this thread while the other threads-1 threads of a region wait for
    // team.run() calls; returns (or rethrows) when lead does. lead must not throw inside run().
    template <class Lead>
    static void hold(int threads, Lead&& lead) {
        BatchTeam team(threads);
        std::exception_ptr error;
#pragma omp parallel num_threads(threads)
        {
            if (thread_id() == 0) {
                team.threads_ = team_size();  // fewer than asked inside another region
                try {
                    lead(team);
                } catch (...) {
                    error = std::current_exception();
                }
                team.post(nullptr, nullptr, 0);  // the workers leave
            } else {
                team.work(thread_id());
            }
        }
        if (error) std::rethrow_exception(error);
    }

    // body(c) for each chunk c in [0, n_chunks), chunk c on the team's thread c % its size, as
    // for_chunks hands them out; returns when all are done.
    template <class Body>
    void run(int n_chunks, Body& body) {
        const std::uint64_t step = post(&call<Body>, &body, n_chunks);
        for (int c = 0; c < n_chunks; c += threads_) body(c);
        for (int t = 1; t < threads_; ++t)
            for (int spins = 0; done_[std::size_t(t)].step.load(std::memory_order_acquire) != step; ++spins)
                wait(spins);
    }

private:
    struct alignas(64) Done {
        std::atomic<std::uint64_t> step{0};
    };
    using Call = void (*)(void*, int);
    template <class Body>
    static void call(void* body, int c) {
        (*static_cast<Body*>(body))(c);
    }

    explicit BatchTeam(int threads) : threads_(threads), done_(std::size_t(threads)) {}

    // Publishes a step (fn null: the end); returns its number.
    std::uint64_t post(Call fn, void* body, int n_chunks) {
        fn_ = fn;
        body_ = body;
        n_chunks_ = n_chunks;
        const std::uint64_t step = step_.load(std::memory_order_relaxed) + 1;
        step_.store(step);
        if (sleepers_.load() > 0) {  // both seq_cst with the sleeper's count: no lost wake-up
            std::lock_guard<std::mutex> lock(mutex_);
            woken_.notify_all();
        }
        return step;
    }

    void work(int tid) {
        for (std::uint64_t seen = 0;;) {
            std::uint64_t step;
            for (int spins = 0; (step = step_.load(std::memory_order_acquire)) == seen; ++spins) {
                if (spins < sleep_after) {
                    wait(spins);
                    continue;
                }
                // The leader runs batches alone for a while (ThreadPacer on a busy machine):
                // sleep rather than hold a core another process wants.
                std::unique_lock<std::mutex> lock(mutex_);
                sleepers_.fetch_add(1);
                woken_.wait(lock, [&] { return step_.load() != seen; });
                sleepers_.fetch_sub(1);
            }
            seen = step;
            if (!fn_) return;
            for (int c = tid; c < n_chunks_; c += threads_) fn_(body_, c);
            done_[std::size_t(tid)].step.store(step, std::memory_order_release);
        }
    }

    // A wait of up to about 70 us spins; a longer one gives the core up to other threads at
    // each turn (a leader whose worker the OS descheduled), and a worker's past a few ms sleeps
    // (the pacer's longer rounds on one thread).
    static constexpr int spin_limit = 1 << 12, sleep_after = spin_limit + (1 << 12);
    static void wait(int spins) {
        if (spins < spin_limit) {
#if defined(__x86_64__) || defined(_M_X64)
            __builtin_ia32_pause();
#endif
        } else {
            std::this_thread::yield();
        }
    }

    int threads_;
    alignas(64) std::atomic<std::uint64_t> step_{0};
    Call fn_ = nullptr;
    void* body_ = nullptr;
    int n_chunks_ = 0;
    std::vector<Done> done_;
    std::atomic<int> sleepers_{0};
    std::mutex mutex_;
    std::condition_variable woken_;
};

// Threads for a request: n_threads <= 0 means max_threads(), more than it is capped to it
// (libgomp aborts when it cannot create the threads asked for).
int resolve_threads(int n_threads);

// Whether a stream of small parallel regions (a mini-batch's gradient, split into a fixed set
// of chunks) runs faster on one thread or on all, learned from their times. On idle cores the
// threads win. With other processes busy on the cores, nearly every region waits at its end
// for a thread the OS has not scheduled (a time slice, milliseconds, against tens of
// microseconds of work), and one thread wins. The chunks stay the same whoever runs them, so
// results do not depend on the choice. Regions above `paced_max_work` always use the threads:
// their barrier is cheap next to their work.
class ThreadPacer {
public:
    static constexpr std::int64_t paced_max_work = std::int64_t(1) << 20;

    // Threads to run the next region of `work` multiply-adds with, given `n_threads`. The
    // first two regions of each round run the other way, to keep both times current (the
    // first of them may pay for waking sleeping threads: each way's time is its better one).
    int threads(std::int64_t work, int n_threads) {
        paced_ = n_threads > 1 && work < paced_max_work;
        if (!paced_) return n_threads;
        now_threads_ = (count_ < 2) != use_threads_;
        return now_threads_ ? n_threads : 1;
    }

    // Marks the start of the region that threads() was asked about.
    void start() {
        if (paced_) began_ = std::chrono::steady_clock::now();
    }

    // Ends it. Each way's time is the smaller of its last two regions (one stall of the OS
    // does not decide); the threads are used while theirs is below 0.8 of one thread's
    // (about 0.6 on idle cores). While one thread wins, rounds grow longer, so that the
    // threads, slow on busy cores, are tried less and less often.
    void stop() {
        if (!paced_) return;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
        Last2& way = now_threads_ ? all_ : one_;
        way = {seconds, way.newest};
        if (one_.known() && all_.known()) use_threads_ = all_.time() < 0.8 * one_.time();
        if (++count_ < round_) return;
        count_ = 0;
        round_ = use_threads_ ? min_round : std::min(max_round, 4 * round_);
    }

private:
    struct Last2 {
        double newest = -1.0, before = -1.0;
        bool known() const { return newest >= 0.0; }
        double time() const { return before >= 0.0 ? std::min(newest, before) : newest; }
    };
    static constexpr std::int64_t min_round = 64, max_round = 4096;  // regions per round
    std::int64_t count_ = 0, round_ = min_round;
    Last2 one_, all_;
    bool use_threads_ = true, now_threads_ = false, paced_ = false;
    std::chrono::steady_clock::time_point began_{};
};

// Calls body(begin, end) on contiguous ranges that cover [0, n): blocks handed out to the
// threads as they become free (a core busy with another process then costs its share, not the
// whole step), or a single call when n is small. Block starts are multiples of 64 elements.
template <class Body>
void for_ranges(std::int64_t n, int n_threads, Body&& body) {
    const int nt = resolve_threads(n_threads);
    if (nt <= 1 || n <= parallel_min_size) {
        body(std::int64_t(0), n);
        return;
    }
    const std::int64_t block = std::max<std::int64_t>(parallel_min_size / 2, (n / (8 * nt)) & ~std::int64_t(63));
    const int n_blocks = int((n + block - 1) / block);  // at most 8 nt + 1
    for_shared_chunks(nt, n_blocks, [&](int b) { body(b * block, std::min(n, (b + 1) * block)); });
}

// Calls body(row_begin, row_end) on ranges of whole rows of a rows x cols matrix, split over
// threads when the matrix is large.
template <class Body>
void for_row_ranges(std::int64_t rows, std::int64_t cols, int n_threads, Body&& body) {
    const int nt = rows * cols > parallel_min_size
                       ? int(std::min<std::int64_t>(resolve_threads(n_threads), rows))
                       : 1;
    for_thread_ranges(nt, rows, body);
}

// Sum of f(i) over [begin, end) in 16 independent partial sums: one running sum would wait for
// the previous addition at every element.
template <class F>
double lane_sum(std::int64_t begin, std::int64_t end, F&& f) {
    constexpr int lanes = 16;
    double acc[lanes] = {};
    std::int64_t i = begin;
    for (; i + lanes <= end; i += lanes) {
#pragma omp simd
        for (int k = 0; k < lanes; ++k) acc[k] += f(i + k);
    }
    double s = 0;
    for (int k = 0; k < lanes; ++k) s += acc[k];
    for (; i < end; ++i) s += f(i);
    return s;
}

// Reduction of K quantities over [0, n): body(begin, end) returns the K partial results of a
// range and combine(total, partial) folds one in. Ranges are fixed blocks folded in order, so
// the result does not depend on the thread count.
template <std::size_t K, class Body, class Combine>
std::array<double, K> reduce_ranges(std::int64_t n, int n_threads, Body&& body, Combine&& combine) {
    constexpr std::int64_t block = std::int64_t(1) << 14;
    const std::int64_t n_blocks = (n + block - 1) / block;
    if (n_blocks <= 1) return body(std::int64_t(0), n);
    std::vector<std::array<double, K>> partial(static_cast<std::size_t>(n_blocks));
    const int nt = n > parallel_min_size ? resolve_threads(n_threads) : 1;
    auto run = [&](std::int64_t b) { partial[std::size_t(b)] = body(b * block, std::min(n, (b + 1) * block)); };
    if (nt <= 1) {  // not an if(false) region: see for_chunks
        for (std::int64_t b = 0; b < n_blocks; ++b) run(b);
    } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
        for (std::int64_t b = 0; b < n_blocks; ++b) run(b);
    }
    std::array<double, K> total = partial[0];
    for (std::size_t b = 1; b < partial.size(); ++b) combine(total, partial[b]);
    return total;
}

template <std::size_t K, class Body>
std::array<double, K> sum_ranges(std::int64_t n, int n_threads, Body&& body) {
    return reduce_ranges<K>(n, n_threads, std::forward<Body>(body),
                            [](std::array<double, K>& total, const std::array<double, K>& part) {
                                for (std::size_t k = 0; k < K; ++k) total[k] += part[k];
                            });
}

}  // namespace fastdescent
