// Mini-batch and full-batch epochs: per batch, one fused pass for the gradient sums (rows split
// over threads), then the step (GradientStep).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fastdescent/dense_blocks.hpp"
#include "fastdescent/parallel.hpp"
#include "fastdescent/strategies/strategy.hpp"

namespace fastdescent {

template <class Rows>
class BatchedEpochs : public EpochStrategy<Rows> {
protected:
    FASTDESCENT_STRATEGY_MEMBERS(Rows);
    static constexpr bool dense = is_dense_rows_v<Rows>;

public:
    template <class... Args>
    BatchedEpochs(Args&&... args) : Base(std::forward<Args>(args)...), step_(cfg_, opt_) {}
    double epoch(double& t) override { return epoch_batched(t); }
    bool checks_scores() const override { return dense; }

private:
    // Mini-batch or full-batch epoch: per batch, one fused pass for the gradient sums, then the
    // policy's step (GradientStep). Many small batches split over threads run in one team for
    // the epoch (BatchTeam), where a region per batch would cost more than a small batch's
    // share of the work; their steps are small enough for one thread.
    double epoch_batched(double& t) {
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t B = cfg_.batch_size > 0 ? std::min(cfg_.batch_size, n) : n;
        const std::int64_t P = K_ * d_;
        const std::int64_t batch_work = B * P;
        if (cfg_.n_threads > 1 && B < n && batch_work >= row_sums_min_work &&
            batch_work < ThreadPacer::paced_max_work && P <= parallel_min_size) {
            double sumloss = 0.0;
            BatchTeam::hold(cfg_.n_threads, [&](BatchTeam& team) {
                team_ = &team;
                sumloss = batches(t, B);
            });
            team_ = nullptr;
            return sumloss;
        }
        return batches(t, B);
    }

    double batches(double& t, std::int64_t B) {
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t P = K_ * d_;
        grad_.resize(std::size_t(P));
        grad_b_.resize(std::size_t(K_));
        double sumloss = 0.0;
        for (std::int64_t start = 0; start < n; start += B) {
            const std::int64_t stop = std::min(n, start + B);
            double batch_weight = 0.0;
            sumloss += batch_gradient(start, stop, batch_weight);
            if (non_finite_scores_) return sumloss;
            if (batch_weight == 0.0) continue;  // nothing to learn from rows of weight zero
            const double eta = policy_.eta(t);
            last_eta_ = eta;
            const double norm =
                step_.apply(m_, grad_.data(), grad_b_.data(), batch_weight, eta, t, stop == n);
            if (stop == n) last_grad_norm_ = norm;
            t += 1.0;
            if (poll_stop((stop - start) * (P + 1))) break;
        }
        return sumloss;
    }

protected:
    // Sum of weighted losses over rows order_[start:stop]; the weighted sums of loss gradients
    // go to grad_ / grad_b_ and the sum of the weights to weight_sum. Rows are split into
    // contiguous chunks, each summed on its own, and the chunks' sums are added in chunk order:
    // the chunks, and so the result, depend on the batch and cfg_.n_threads only, not on how
    // many threads run them or which thread runs which. The loss is the configuration's, or
    // `loss` with parameter `param` (the solver's smoothing).
    double batch_gradient(std::int64_t start, std::int64_t stop, double& weight_sum) {
        return batch_gradient(start, stop, weight_sum, cfg_.loss, cfg_.loss_param);
    }
    double batch_gradient(std::int64_t start, std::int64_t stop, double& weight_sum,
                          LossKind loss_kind, double param) {
        const std::int64_t P = K_ * d_;
        const std::int64_t work = (stop - start) * P;
        // One chunk per thread for a mini-batch (the pacer may run them all on one thread) and
        // for sparse rows (whose chunks would each add a whole gradient of the width); a
        // large dense batch in more chunks than threads, shared out as threads come free.
        int n_threads = cfg_.n_threads;
        if (work < row_sums_min_work) n_threads = 1;  // not worth waking threads
        const int runners = pacer_.threads(work, n_threads);
        const int n_chunks = dense ? shared_chunks(stop - start, P, n_threads) : n_threads;
        if (int(chunk_grads_.size()) < n_chunks) chunk_grads_.resize(std::size_t(n_chunks));
        if (int(block_scratch_.size()) < n_chunks) block_scratch_.resize(std::size_t(n_chunks));
        chunk_sums_.assign(std::size_t(2 * n_chunks), 0.0);  // (loss, weight) per chunk
        pacer_.start();
        auto chunk = [&](int c) {
            // Per chunk: gradient (P), intercept gradient (K), then scratch scores and derivatives.
            T* g = thread_room(chunk_grads_[std::size_t(c)], P + 3 * K_);
            T* p = g + P + K_;
            T* dp = p + K_;
            const std::int64_t len = stop - start;
            const std::int64_t lo = start + len * c / n_chunks;
            const std::int64_t hi = start + len * (c + 1) / n_chunks;
            double loss = 0.0, weight = 0.0;
            if constexpr (dense) {  // the fused block kernels
                // This chunk's share of the next batch, fetched while its last block computes.
                const std::int64_t next_len = std::min(len, std::int64_t(order_.size()) - stop);
                loss = dense_block_sums(X_, order_.data(), lo, hi, tg_.y, tg_.sample_weight,
                                        [this](std::int64_t i) { return sample_weight(i); }, loss_kind,
                                        param, K_, m_.coef, m_.intercept, g, g + P,
                                        block_scratch_[std::size_t(c)], weight, check_scores_,
                                        stop + next_len * c / n_chunks,
                                        stop + next_len * (c + 1) / n_chunks);
            } else {
                for (std::int64_t r = lo; r < hi; ++r) {
                    const std::int64_t i = order_[std::size_t(r)];
                    if (r + prefetch_distance < hi) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
                    for (int k = 0; k < K_; ++k) p[k] = X_.dot(i, m_.coef + k * d_) + m_.intercept[k];
                    double sw = sample_weight(i);
                    weight += sw;
                    loss += sw * loss_and_deriv(i, p, dp, loss_kind, param);
                    for (int k = 0; k < K_; ++k) {
                        T c_k = T(sw * double(dp[k]));
                        if (c_k != T(0)) {
                            X_.axpy(i, c_k, g + k * d_);
                            g[P + k] += c_k;
                        }
                    }
                }
            }
            chunk_sums_[std::size_t(2 * c)] = loss;
            chunk_sums_[std::size_t(2 * c + 1)] = weight;
        };
        if (team_ && runners > 1) team_->run(n_chunks, chunk);
        else for_shared_chunks(runners, n_chunks, chunk);
        pacer_.stop();
        for (int c = 0; c < n_chunks; ++c)
            non_finite_scores_ = non_finite_scores_ || block_scratch_[std::size_t(c)].non_finite;
        const T* g0 = room_of(chunk_grads_[0]);
        std::copy(g0, g0 + P, grad_.begin());
        std::copy(g0 + P, g0 + P + K_, grad_b_.begin());
        double loss = chunk_sums_[0];
        weight_sum = chunk_sums_[1];
        for (int c = 1; c < n_chunks; ++c) {
            const T* g = room_of(chunk_grads_[std::size_t(c)]);
            axpy(T(1), g, grad_.data(), P);
            axpy(T(1), g + P, grad_b_.data(), K_);
            loss += chunk_sums_[std::size_t(2 * c)];
            weight_sum += chunk_sums_[std::size_t(2 * c + 1)];
        }
        return loss;
    }

    GradientStep<T> step_;
    ThreadPacer pacer_;
    BatchTeam* team_ = nullptr;  // the epoch's team, where it holds one
    std::vector<T> grad_, grad_b_;
    std::vector<std::vector<T>> chunk_grads_;
    std::vector<BlockScratch> block_scratch_;
    std::vector<double> chunk_sums_;
};

}  // namespace fastdescent
