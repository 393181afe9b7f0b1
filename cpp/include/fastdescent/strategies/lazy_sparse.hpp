// Lazy sparse mini-batches. On CSR rows a mini-batch touches few features, and only those take
// the optimizer's step: Optimizer::update_columns runs the rule's own update on the gathered
// columns, O(nnz of the batch) per step. Where the rule's step on a feature with zero data
// gradient has a closed form over any number of steps (exact rules), each touched feature is
// first brought up to date for the steps it skipped, and the result equals the dense update's (to
// rounding): per skipped step an untouched weight goes through w <- soft_threshold(a_s w, c_s),
// a_s = 1 - eta_s (l2 + weight_decay) (SGD without momentum; 1 for Adagrad and RMSprop, which
// need l2 = weight_decay = 0), c_s = eta_s alpha l1_ratio; with a_s > 0 k such steps compose into
// w <- sign(w) max(0, A |w| - C), from the prefix products P_t = prod a_s and sums S_t = sum c_s
// / P_s; RMSprop's averages also decay by alpha^k. Exact rules are taken automatically. Every
// other rule, with cfg.sparse_lazy, takes torch's SparseAdam rule: the batch's features take the
// step (with the L2 gradient, weight decay and L1 step) and the other features and their state do
// not change at all; not the dense result, a documented choice. Averaging keeps the dense update
// (it moves every weight at every step).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fastdescent/clipping.hpp"
#include "fastdescent/strategies/strategy.hpp"

namespace fastdescent {

template <class Rows>
class LazySparseEpochs final : public EpochStrategy<Rows> {
    FASTDESCENT_STRATEGY_MEMBERS(Rows);

public:
    enum class LazyRule { none, sgd, adagrad, rmsprop, columns };

    // The lazy rule for this configuration (none: the dense update of BatchedEpochs).
    static LazyRule rule_for(const TrainConfig& cfg, Optimizer<T>* opt, const Penalty& pen) {
        if constexpr (is_dense_rows_v<Rows>) {
            return LazyRule::none;
        } else {
            if (cfg.batch_size == 0 || cfg.average > 0) return LazyRule::none;
            const bool clipping = cfg.clip_value > 0 || cfg.clip_norm > 0;
            const LazyRule chosen = cfg.sparse_lazy ? LazyRule::columns : LazyRule::none;
            if (clipping) return chosen;  // clipping couples the features: no exact catch-up
            if (!opt) return LazyRule::sgd;
            const OptimizerSpec* s = opt->spec();
            if (!s) return LazyRule::none;
            const bool no_decay = pen.l2() == 0 && s->weight_decay == 0;
            switch (s->kind) {
                case OptimizerKind::sgd: return s->momentum == 0 ? LazyRule::sgd : chosen;
                case OptimizerKind::adagrad: return no_decay ? LazyRule::adagrad : chosen;
                case OptimizerKind::rmsprop:
                    return no_decay && s->momentum == 0 ? LazyRule::rmsprop : chosen;
                default: return chosen;
            }
        }
    }

    template <class... Args>
    LazySparseEpochs(LazyRule rule, Args&&... args) : Base(std::forward<Args>(args)...), rule_(rule) {}
    double epoch(double& t) override { return epoch_lazy(t, rule_); }

private:
    // Brings weight (and state) idx from prefix step last_[idx] to step tau.
    void catch_up(std::int64_t idx, std::int64_t tau, LazyRule rule, double rms_alpha) {
        const std::int64_t s0 = lazy_last_[std::size_t(idx)];
        if (s0 == tau) return;
        m_.coef[idx] = lazy_weight(idx, tau);
        if (rule == LazyRule::rmsprop) {
            const T f = T(std::pow(rms_alpha, double(tau - s0)));
            rms_square_avg_[idx] *= f;
            if (rms_grad_avg_) rms_grad_avg_[idx] *= f;
        }
        lazy_last_[std::size_t(idx)] = tau;
    }

    // Value of weight idx brought from prefix step last_[idx] to step tau (read only).
    T lazy_weight(std::int64_t idx, std::int64_t tau) const {
        const std::int64_t s0 = lazy_last_[std::size_t(idx)];
        const T w = m_.coef[idx];
        if (s0 == tau) return w;
        const double A = prefix_scale_[std::size_t(tau)] / prefix_scale_[std::size_t(s0)];
        const double C = prefix_scale_[std::size_t(tau)] *
                         (prefix_shift_[std::size_t(tau)] - prefix_shift_[std::size_t(s0)]);
        if (w > 0) return T(std::fmax(0.0, A * double(w) - C));
        if (w < 0) return T(std::fmin(0.0, A * double(w) + C));
        return w;
    }

    // Gradient norm of the lazy step about to be taken at prefix step tau: the loss gradient
    // sums in lazy_grad_ (touched features) and grad_b_ times inv, plus l2 * w for every
    // weight, read at step tau without catching it up. O(K d) when l2 > 0; once per epoch.
    double lazy_gradient_norm(std::int64_t tau, double inv, double l2) const {
        double sum = 0.0;
        if (l2 > 0)
            for (std::int64_t idx = 0; idx < K_ * d_; ++idx) {
                const double w = lazy_weight(idx, tau);
                sum += l2 * l2 * w * w;
            }
        for (std::int64_t j : touched_)
            for (int k = 0; k < K_; ++k) {
                const std::size_t idx = std::size_t(k * d_ + j);
                const double w = m_.coef[idx];  // touched weights are caught up already
                const double g = double(lazy_grad_[idx]) * inv + l2 * w;
                sum += g * g - l2 * l2 * w * w;
            }
        if (cfg_.fit_intercept)
            for (int k = 0; k < K_; ++k) {
                const double gb = double(grad_b_[std::size_t(k)]) * inv + pen_.intercept_linear;
                sum += gb * gb;
            }
        return std::sqrt(std::fmax(sum, 0.0));
    }

    // Brings every weight up to date and restarts the prefix products.
    void lazy_flush(LazyRule rule, double rms_alpha) {
        const std::int64_t tau = std::int64_t(prefix_scale_.size()) - 1;
        for (std::int64_t idx = 0; idx < K_ * d_; ++idx) catch_up(idx, tau, rule, rms_alpha);
        std::fill(lazy_last_.begin(), lazy_last_.end(), std::int64_t(0));
        prefix_scale_.assign(1, 1.0);
        prefix_shift_.assign(1, 0.0);
    }

    double epoch_lazy(double& t, LazyRule rule) {
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t B = std::min(cfg_.batch_size, n);
        const std::int64_t P = K_ * d_;
        const OptimizerSpec* spec = opt_ ? opt_->spec() : nullptr;
        const double l2 = pen_.l2();
        const double l1 = pen_.l1();
        const double wd = spec ? spec->weight_decay : 0.0;
        const double rms_alpha = spec ? spec->alpha : 1.0;
        PlainSgd<T> plain;
        Optimizer<T>* opt = opt_ ? opt_ : &plain;
        if (lazy_grad_.empty()) {  // first epoch of this run
            lazy_grad_.assign(std::size_t(P), T(0));
            lazy_last_.assign(std::size_t(P), 0);
            lazy_stamp_.assign(std::size_t(d_), -1);
        }
        if (rule == LazyRule::rmsprop) {  // the averages that decay over skipped steps
            rms_square_avg_ = opt->state_array(0, P, "square_avg");
            rms_grad_avg_ = opt->state_array(0, P, "grad_avg");
        }
        prefix_scale_.assign(1, 1.0);
        prefix_shift_.assign(1, 0.0);
        std::fill(lazy_last_.begin(), lazy_last_.end(), std::int64_t(0));
        grad_b_.resize(std::size_t(K_));
        std::vector<T> p(static_cast<std::size_t>(K_)), dp(static_cast<std::size_t>(K_));
        double sumloss = 0.0;
        for (std::int64_t start = 0; start < n; start += B) {
            const std::int64_t stop = std::min(n, start + B);
            // The batch's features, each once (stamped with the batch number).
            ++lazy_batch_;
            touched_.clear();
            for (std::int64_t r = start; r < stop; ++r)
                X_.for_each(order_[std::size_t(r)], [&](std::int64_t j, T) {
                    if (lazy_stamp_[std::size_t(j)] != lazy_batch_) {
                        lazy_stamp_[std::size_t(j)] = lazy_batch_;
                        touched_.push_back(j);
                    }
                });
            const double eta = policy_.eta(t);
            const double a = rule == LazyRule::sgd ? 1.0 - eta * (l2 + wd) : 1.0;
            const bool dense_step = !(a > 0);  // the closed form needs a > 0: update everything
            if (dense_step || prefix_scale_.back() < 1e-30) lazy_flush(rule, rms_alpha);
            if (dense_step) {
                touched_.resize(std::size_t(d_));
                for (std::int64_t j = 0; j < d_; ++j) touched_[std::size_t(j)] = j;
            }
            const std::int64_t tau = std::int64_t(prefix_scale_.size()) - 1;
            for (std::int64_t j : touched_)
                for (int k = 0; k < K_; ++k) catch_up(k * d_ + j, tau, rule, rms_alpha);
            // Weighted sums of the loss gradients, in row order (deterministic).
            std::fill(grad_b_.begin(), grad_b_.end(), T(0));
            double batch_weight = 0.0;
            for (std::int64_t r = start; r < stop; ++r) {
                const std::int64_t i = order_[std::size_t(r)];
                if (r + prefetch_distance < stop) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
                for (int k = 0; k < K_; ++k) p[std::size_t(k)] = X_.dot(i, coef_row(k)) + m_.intercept[k];
                const double sw = sample_weight(i);
                batch_weight += sw;
                sumloss += sw * loss_and_deriv(i, p.data(), dp.data());
                for (int k = 0; k < K_; ++k) {
                    const T c = T(sw * double(dp[std::size_t(k)]));
                    if (c != T(0)) {
                        X_.axpy(i, c, lazy_grad_.data() + k * d_);
                        grad_b_[std::size_t(k)] += c;
                    }
                }
            }
            if (batch_weight == 0.0) {  // no update, as in the dense path
                for (std::int64_t j : touched_)
                    for (int k = 0; k < K_; ++k) lazy_grad_[std::size_t(k * d_ + j)] = T(0);
                continue;
            }
            if (stop == n) last_grad_norm_ = lazy_gradient_norm(tau, 1.0 / batch_weight, l2);
            last_eta_ = eta;
            // The touched columns' mean gradient plus the L2 gradient, as a K x m matrix.
            const std::int64_t m = std::int64_t(touched_.size());
            const T inv = T(1.0 / batch_weight), tl2 = T(l2);
            lazy_compact_.resize(std::size_t(K_ * m));
            for (int k = 0; k < K_; ++k)
                for (std::int64_t c = 0; c < m; ++c) {
                    const std::size_t idx = std::size_t(k * d_ + touched_[std::size_t(c)]);
                    lazy_compact_[std::size_t(k * m + c)] = lazy_grad_[idx] * inv + tl2 * m_.coef[idx];
                    lazy_grad_[idx] = T(0);
                }
            for (int k = 0; k < K_; ++k)
                grad_b_[std::size_t(k)] = grad_b_[std::size_t(k)] * inv + T(pen_.intercept_linear);
            if (cfg_.clip_value > 0 || cfg_.clip_norm > 0) clip_lazy_gradient(K_ * m);
            opt->begin_step();
            opt->update_columns(0, m_.coef, lazy_compact_.data(), P, K_, touched_.data(), m, eta);
            const double lambda = eta * l1;
            for (int k = 0; k < K_; ++k)
                for (std::int64_t j : touched_) {
                    const std::size_t idx = std::size_t(k * d_ + j);
                    if (l1 > 0) {
                        const double z = m_.coef[idx];
                        m_.coef[idx] = T(z > lambda ? z - lambda : (z < -lambda ? z + lambda : 0.0));
                    }
                    lazy_last_[idx] = tau + 1;
                }
            if (dense_step) {  // every weight is at the new step: restart the prefix there
                std::fill(lazy_last_.begin(), lazy_last_.end(), std::int64_t(0));
            } else {
                // SparseAdam-style rule: idle features take no L1 step either.
                const double shift = rule == LazyRule::columns ? 0.0 : lambda;
                const double scale_next = prefix_scale_.back() * a;
                prefix_scale_.push_back(scale_next);
                prefix_shift_.push_back(prefix_shift_.back() + shift / scale_next);
            }
            if (cfg_.fit_intercept) {
                for (int k = 0; k < K_; ++k) grad_b_[std::size_t(k)] *= T(cfg_.intercept_decay);
                opt->update(1, m_.intercept, grad_b_.data(), K_, eta);
            }
            t += 1.0;
            if (poll_stop((stop - start) * K_ + std::int64_t(touched_.size()) * K_)) break;
        }
        lazy_flush(rule, rms_alpha);
        return sumloss;
    }

    // Clipping of the lazy step's gradient (the touched columns and the intercepts): the other
    // features' gradient is zero in the SparseAdam-style rule, so this is the whole gradient's.
    void clip_lazy_gradient(std::int64_t n) {
        const std::int64_t nb = cfg_.fit_intercept ? K_ : 0;
        if (cfg_.clip_value > 0) {
            clip_by_value(lazy_compact_.data(), n, cfg_.clip_value);
            clip_by_value(grad_b_.data(), nb, cfg_.clip_value);
        }
        if (cfg_.clip_norm > 0) {
            T* arrays[2] = {lazy_compact_.data(), grad_b_.data()};
            std::int64_t sizes[2] = {n, nb};
            clip_by_global_norm(arrays, sizes, 2, cfg_.clip_norm, 2.0);
        }
    }

    LazyRule rule_;
    // The dense gradient buffer (zero outside the batch's features), its compact copy, the
    // prefix step each weight is up to date with, per-feature batch stamps, the batch's
    // features, the prefix products and sums of the catch-up.
    std::vector<T> lazy_grad_, lazy_compact_, grad_b_;
    T* rms_square_avg_ = nullptr;  // RMSprop's averages in the optimizer's state (exact rule)
    T* rms_grad_avg_ = nullptr;
    std::vector<std::int64_t> lazy_last_, lazy_stamp_, touched_;
    std::vector<double> prefix_scale_, prefix_shift_;
    std::int64_t lazy_batch_ = 0;
};

}  // namespace fastdescent
