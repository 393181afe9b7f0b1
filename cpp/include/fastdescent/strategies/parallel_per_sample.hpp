// Per-sample SGD on several threads: thread-local models averaged a few times per epoch.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastdescent/parallel.hpp"
#include "fastdescent/strategies/strategy.hpp"

namespace fastdescent {

template <class Rows>
class ParallelPerSampleEpochs final : public EpochStrategy<Rows> {
    FASTDESCENT_STRATEGY_MEMBERS(Rows);

public:
    // Fewest rows each thread trains on between averagings.
    static constexpr std::int64_t sync_rows = 1024;

    template <class... Args>
    ParallelPerSampleEpochs(int n_threads, Args&&... args)
        : Base(std::forward<Args>(args)...), n_threads_(n_threads) {}
    double epoch(double& t) override { return epoch_per_sample_parallel(t, n_threads_); }
    bool checks_scores() const override { return true; }

    // Threads for this configuration and number of training rows: plain SGD with no penalty or
    // L2 only, no averaging, and enough work per epoch to pay for the synchronization; else 1.
    static int threads_for(const TrainConfig& cfg, const EpochPolicy& policy, std::int64_t n) {
        const ScheduleKind kind = policy.schedule().kind;
        const bool supported = !policy.penalty().has_l1() && cfg.average == 0 &&
                               kind != ScheduleKind::pa1 && kind != ScheduleKind::pa2;
        if (!supported || cfg.n_threads <= 1 || n < 4 * sync_rows * cfg.n_threads) return 1;
        return cfg.n_threads;
    }

private:
    // Per-sample SGD on n_threads threads, each on its own copy of the model: in every round
    // each thread runs scikit-learn's per-sample updates (weight-scale trick included) on its
    // share of the round's rows, then the copies are averaged into the model in thread order. No
    // locks, no shared writes, and the same result for the same thread count; it differs from
    // the one-thread trajectory (an average of local runs, as in local SGD / parameter mixing).
    // Hogwild-style updates of one shared model were the alternative: on dense rows every update
    // writes every cache line of the model, so the threads spend their time passing those lines
    // between cores.
    double epoch_per_sample_parallel(double& t, int n_threads) {
        constexpr double max_dloss = 1e12;
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t P = K_ * d_;
        // Per thread (see thread_room): coefficients then intercepts, and scores and derivatives.
        local_models_.resize(std::size_t(n_threads));
        local_scratch_.resize(std::size_t(n_threads));
        std::vector<double> thread_loss(std::size_t(n_threads), 0.0);
        std::vector<char> thread_non_finite(std::size_t(n_threads), 0);  // a thread's flag
        const double shrink_l2 = pen_.active ? pen_.alpha : 0.0;
        // A round is at least sync_rows rows per thread and at most a quarter epoch: every
        // round ends in a barrier, and on a busy machine a barrier costs a time slice.
        const std::int64_t round_rows = n_threads * std::max(sync_rows, (n + 4 * n_threads - 1) / (4 * n_threads));
        for (std::int64_t start = 0; start < n; start += round_rows) {
            const std::int64_t stop = std::min(n, start + round_rows);
#pragma omp parallel num_threads(n_threads)
            {
                const int tid = thread_id();
                T* w = thread_room(local_models_[std::size_t(tid)], P + K_);
                T* b = w + P;
                std::copy(m_.coef, m_.coef + P, w);
                std::copy(m_.intercept, m_.intercept + K_, b);
                double* p = thread_room(local_scratch_[std::size_t(tid)], 2 * K_);
                double* dp = p + K_;
                const std::int64_t lo = start + (stop - start) * tid / n_threads;
                const std::int64_t hi = start + (stop - start) * (tid + 1) / n_threads;
                double wscale = 1.0, loss = 0.0;
                Log1pSum log1p_sum;
                for (std::int64_t r = lo; r < hi; ++r) {
                    const std::int64_t i = order_[std::size_t(r)];
                    if (r + prefetch_distance < hi) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
                    for (int k = 0; k < K_; ++k)
                        p[k] = wscale * double(X_.dot(i, w + k * d_)) + double(b[k]);
                    if (check_scores_ && !all_finite(p, K_)) {
                        thread_non_finite[std::size_t(tid)] = 1;
                        break;
                    }
                    // Step count as if the threads took turns over the round's rows.
                    const double eta = policy_.eta(t + double(start + (r - lo) * n_threads + tid - start));
                    const double sw = sample_weight(i);
                    loss += per_sample_loss(i, sw, p, dp, log1p_sum);
                    if (shrink_l2 > 0) {
                        wscale *= std::fmax(0.0, 1.0 - eta * shrink_l2);
                        if (wscale < 1e-9) {
                            scale(T(wscale), w, P);
                            wscale = 1.0;
                        }
                    }
                    for (int k = 0; k < K_; ++k) {
                        const double g = std::fmin(max_dloss, std::fmax(-max_dloss, dp[k]));
                        const double update = -eta * g * sw;
                        if (update != 0.0) X_.axpy(i, T(update / wscale), w + k * d_);
                        const double intercept_update = update - eta * pen_.intercept_linear;
                        if (cfg_.fit_intercept && intercept_update != 0.0)
                            b[k] += T(intercept_update * cfg_.intercept_decay);
                    }
                }
                if (wscale != 1.0) scale(T(wscale), w, P);
                thread_loss[std::size_t(tid)] += loss + log1p_sum.total();
            }
            for (char f : thread_non_finite) non_finite_scores_ = non_finite_scores_ || f;
            if (non_finite_scores_) return 0.0;
            const T inv = T(1.0 / n_threads);
            for (std::int64_t j = 0; j < P + K_; ++j) {
                T sum = 0;
                for (int tid = 0; tid < n_threads; ++tid) sum += room_of(local_models_[std::size_t(tid)])[j];
                (j < P ? m_.coef[j] : m_.intercept[j - P]) = sum * inv;
            }
            last_eta_ = policy_.eta(t + double(stop - start - 1));
            t += double(stop - start);
            if (poll_stop((stop - start) * (P + 1))) break;
        }
        // The threads' models are averaged: no single update's gradient to report.
        last_grad_norm_ = std::numeric_limits<double>::quiet_NaN();
        double sumloss = 0.0;
        for (double l : thread_loss) sumloss += l;
        return sumloss;
    }

    int n_threads_;
    std::vector<std::vector<T>> local_models_;
    std::vector<std::vector<double>> local_scratch_;
};

}  // namespace fastdescent
