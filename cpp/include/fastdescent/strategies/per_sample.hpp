// scikit-learn's per-sample SGD: one row per update, the L2 shrinkage by the weight-scale trick,
// L1 by cumulative truncation, averaging (ASGD) and the passive-aggressive steps.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fastdescent/lazy_average.hpp"
#include "fastdescent/strategies/strategy.hpp"

namespace fastdescent {

template <class Rows>
class PerSampleEpochs final : public EpochStrategy<Rows> {
    FASTDESCENT_STRATEGY_MEMBERS(Rows);

public:
    using Base::Base;
    double epoch(double& t) override { return epoch_per_sample(t); }
    // A private v has been published at every epoch's end; v in the model needs its scale.
    void finish() override {
        if (v_ == m_.coef && wscale_ != 1.0) fold(wscale_);
        wscale_ = 1.0;
    }
    bool checks_scores() const override { return true; }
    double penalty_value() const override {
        if (end_squared_norm_ < 0 || pen_.has_l1()) return Base::penalty_value();
        return pen_.value_from_sums(end_squared_norm_, 0.0) + pen_.intercept_value(m_.intercept, K_);
    }

private:
    // scikit-learn's plain SGD, one sample per update: w = wscale * v so that the L2 shrinkage
    // is O(1); L1 by the cumulative truncated gradient of Tsuruoka et al. (2009).
    double epoch_per_sample(double& t) {
        const bool l1 = pen_.has_l1();
        const bool passive_aggressive =
            policy_.schedule().kind == ScheduleKind::pa1 || policy_.schedule().kind == ScheduleKind::pa2;
        if (l1 && q_.empty()) q_.assign(std::size_t(K_ * d_), T(0));
        double sumloss = 0.0;
        Log1pSum log1p_sum;
        double wscale = wscale_;
        end_squared_norm_ = -1.0;
        // scikit-learn's stopping objective: each update's loss and the penalty at the weights
        // it starts from, the squared norms of v tracked as its WeightVector does (O(nnz) per
        // row instead of O(d)). Pure L2 or no penalty only (an L1 norm has no such update).
        const bool running = cfg_.running_objective && !l1;
        double penalty_sum = 0.0;
        std::int64_t updates = 0;
        const bool averaging = cfg_.average > 0;
        // With the norms tracked, w stays wscale * v across epochs, as in scikit-learn: no O(d)
        // pass per epoch. Where the weights are read between epochs (callbacks, the validation
        // score), v lives in a private copy and w is written to the model at each epoch's end,
        // so that reading them does not change the arithmetic.
        const bool keep_scale = running && !averaging;
        if (!v_) {
            const bool publishes = keep_scale && (cfg_.hook_runs_user_code || cfg_.early_stopping);
            if (publishes) private_v_.assign(m_.coef, m_.coef + K_ * d_);
            v_ = publishes ? private_v_.data() : m_.coef;
        }
        const std::int64_t n = std::int64_t(order_.size());
        // The norms restart from exact values where that pass is cheap next to the epoch (no
        // rounding drift over many epochs), and are only tracked over wide sparse models.
        if (running && (!tracked_ || K_ * d_ <= n)) {
            for (int k = 0; k < K_; ++k) sq_v_[k] = squared_norm(v_row(k), d_);
            tracked_ = true;
        }
        if (averaging) avg_.start(m_.average_coef, K_ * d_);
        const bool wants_norm = running || passive_aggressive;  // updates read ||x_i||^2
        for (std::int64_t r = 0; r < n; ++r) {
            const std::int64_t i = order_[std::size_t(r)];
            if (r + prefetch_distance < n) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
            double xx = -1.0;  // ||x_i||^2 once read
            for (int k = 0; k < K_; ++k) {
                v_dot_[k] = row_dot(i, k, wants_norm, xx);
                p_[k] = wscale * v_dot_[k] + double(m_.intercept[k]);
            }
            auto row_norm = [&] { return xx >= 0 ? xx : (xx = X_.row_squared_norm(i)); };
            if (check_scores_ && !all_finite(p_.data(), K_)) {
                non_finite_scores_ = true;
                return sumloss;
            }
            double eta = policy_.eta(t);
            last_eta_ = eta;
            double sw = sample_weight(i);
            sumloss += per_sample_loss(i, sw, p_.data(), dp_.data(), log1p_sum);
            if (running) {
                double sq = 0.0;
                for (int k = 0; k < K_; ++k) sq += sq_v_[k];
                penalty_sum += pen_.value_from_sums(wscale * wscale * sq, 0.0) + pen_.intercept_value(m_.intercept, K_);
                ++updates;
            }
            if (r == n - 1) last_grad_norm_ = row_gradient_norm(row_norm(), sw, wscale, running);
            if (pen_.has_l2()) {
                // Never below zero (a step too large for the penalty zeroes the weights).
                const double shrink = 1.0 - (1.0 - pen_.l1_ratio) * eta * pen_.alpha;
                wscale *= shrink > 0.0 ? shrink : 0.0;
                if (wscale < 1e-9) {
                    scale(T(wscale), v_, K_ * d_);
                    if (averaging) avg_.rescaled(wscale);
                    for (int k = 0; k < K_; ++k) sq_v_[k] *= wscale * wscale;
                    wscale = 1.0;
                }
            }
            for (int k = 0; k < K_; ++k) {
                double update;
                if (passive_aggressive) {
                    // Step that makes the loss zero, capped (pa1) or damped (pa2) by C = eta0.
                    double sq = row_norm();
                    double y = double(tg_.y[i]);
                    double loss = visit_scalar_loss(cfg_.loss, cfg_.loss_param, [&](auto L) { return L.value(p_[0], y); });
                    if (policy_.schedule().kind == ScheduleKind::pa1)
                        update = sq == 0 ? 0.0 : std::fmin(policy_.schedule().eta0, loss / sq);
                    else
                        update = loss / (sq + 0.5 / policy_.schedule().eta0);
                    if (cfg_.loss == LossKind::hinge) update *= y;
                    else if (y - p_[0] < 0) update = -update;
                    update *= sw;
                } else {
                    update = -eta * clip_dloss(dp_[k]) * sw;
                }
                if (update != 0.0) {
                    const T step = T(update / wscale);
                    if (averaging) avg_.record_axpy(X_, i, step, v_row(k) - v_);
                    X_.axpy(i, step, v_row(k));
                    if (running) {  // ||v + s x||^2 = ||v||^2 + 2 s <v, x> + s^2 ||x||^2
                        const double s = double(step);
                        sq_v_[k] += 2.0 * s * v_dot_[k] + s * s * row_norm();
                    }
                }
                // The intercept's linear term steps it whatever the row's loss (scikit-learn's
                // one-class rule: not weighted by the row).
                const double intercept_update = update - eta * pen_.intercept_linear;
                if (cfg_.fit_intercept && intercept_update != 0.0)
                    m_.intercept[k] += T(intercept_update * cfg_.intercept_decay);
            }
            if (averaging && double(cfg_.average) <= t) {
                double mu = 1.0 / (t - double(cfg_.average) + 1.0);
                avg_.step(mu, wscale, v_);
                for (int k = 0; k < K_; ++k)
                    m_.average_intercept[k] += T(mu * (double(m_.intercept[k]) - double(m_.average_intercept[k])));
            }
            if (l1) {
                u_ += pen_.l1_ratio * eta * pen_.alpha;
                for (int k = 0; k < K_; ++k) truncate_l1(i, k, wscale);
            }
            t += 1.0;
            if (poll_stop(K_ * (X_.row_entries(i) + 1))) break;  // a sparse row: its entries only
        }
        if (averaging) avg_.finish(v_, m_.average_coef);  // v_ is the model's buffer here
        // The penalty reads the weights' squared norm next: tracked, or taken in the scaling pass.
        if (keep_scale) {
            wscale_ = wscale;
            double sq = 0.0;
            for (int k = 0; k < K_; ++k) sq += sq_v_[k];
            end_squared_norm_ = wscale * wscale * sq;
            if (v_ != m_.coef) publish(wscale);
        } else {
            wscale_ = 1.0;
            end_squared_norm_ = wscale != 1.0 ? fold(wscale) : -1.0;
        }
        sumloss += log1p_sum.total();
        running_penalty_ = running && updates > 0 ? penalty_sum / double(updates)
                                                  : std::numeric_limits<double>::quiet_NaN();
        return sumloss;
    }

    // Makes the model hold w = wscale * v; returns ||w||^2 and restarts the tracked norms from
    // their exact values.
    double fold(double wscale) {
        double total = 0.0;
        for (int k = 0; k < K_; ++k) {
            sq_v_[k] = scale_and_squared_norm(T(wscale), v_row(k), d_);
            total += sq_v_[k];
        }
        return total;
    }

    // Writes w = wscale * v into the model (v in its private copy), rounded as fold() rounds.
    void publish(double wscale) const {
        const T a = T(wscale);
        for (std::int64_t j = 0; j < K_ * d_; ++j) m_.coef[j] = a * v_[j];
    }

    T* v_row(int k) const { return v_ + k * d_; }

    // <x_i, v_k>; with want_norm, a sparse row's first product also reads ||x_i||^2 into xx
    // (one read of its entries).
    double row_dot(std::int64_t i, int k, bool want_norm, double& xx) const {
        if constexpr (!is_dense_rows_v<Rows>)
            if (k == 0 && want_norm) return double(X_.dot_and_squared_norm(i, v_row(0), xx));
        return double(X_.dot(i, v_row(k)));
    }

    // The loss derivative clamped to +-1e12 as scikit-learn's (a NaN becomes -1e12, as
    // std::fmax makes it; compared inline, as fmax is a library call).
    static double clip_dloss(double g) {
        constexpr double max_dloss = 1e12;
        if (!(g >= -max_dloss)) return -max_dloss;
        return g > max_dloss ? max_dloss : g;
    }

    // Gradient norm of the per-sample update on a row of squared norm xx (scores in p_, loss
    // derivatives in dp_):
    // per output k, g = sw * dp_k * x_i + lambda * w_k with w_k = wscale * v_k, so
    // ||g||^2 = a^2 ||x_i||^2 + 2 a lambda <x_i, w_k> + lambda^2 ||w_k||^2, a = sw * dp_k, and
    // <x_i, w_k> = p_k - intercept_k: O(nnz(x_i) + d), once per epoch (O(nnz(x_i)) with the
    // squared norms of v tracked).
    double row_gradient_norm(double xx, double sw, double wscale, bool tracked) const {
        const double lambda = pen_.l2();
        double sum = 0.0;
        for (int k = 0; k < K_; ++k) {
            const double a = sw * clip_dloss(dp_[k]);
            sum += a * a * xx + (cfg_.fit_intercept ? a * a : 0.0);
            if (lambda > 0) {
                sum += 2.0 * a * lambda * (p_[k] - double(m_.intercept[k])) +
                       lambda * lambda * wscale * wscale *
                           (tracked ? sq_v_[k] : squared_norm(v_row(k), d_));
            }
        }
        return std::sqrt(std::fmax(sum, 0.0));
    }

    // Cumulative L1 penalty on the features that row i touches: each weight has received q of
    // the total shrinkage u so far and gets the rest now, without crossing zero.
    void truncate_l1(std::int64_t i, int k, double wscale) {
        T* w = v_row(k);
        T* q = q_.data() + k * d_;
        const std::int64_t offset = k * d_;
        const bool averaging = cfg_.average > 0;
        X_.for_each(i, [&](std::int64_t j, T) {
            double z = w[j];
            if (wscale * z > 0) w[j] = T(std::fmax(0.0, z - (u_ + q[j]) / wscale));
            else if (wscale * z < 0) w[j] = T(std::fmin(0.0, z + (u_ - q[j]) / wscale));
            q[j] += T(wscale * (double(w[j]) - z));
            if (averaging) avg_.record(offset + j, double(w[j]) - z);
        });
    }

    std::vector<double> p_ = std::vector<double>(std::size_t(K_)), dp_ = std::vector<double>(std::size_t(K_));
    double u_ = 0.0;    // total L1 shrinkage so far
    std::vector<T> q_;  // L1 shrinkage each weight has received
    LazyAverage<T> avg_;
    double end_squared_norm_ = -1.0;  // of the weights after the epoch; < 0: not taken
    double wscale_ = 1.0;             // w = wscale_ * v between epochs (see keep_scale)
    T* v_ = nullptr;                  // v: the model's buffer or private_v_
    std::vector<T> private_v_;
    bool tracked_ = false;            // sq_v_ holds the squared norms of v's rows
    std::vector<double> v_dot_ = std::vector<double>(std::size_t(K_)), sq_v_ = std::vector<double>(std::size_t(K_));
};

}  // namespace fastdescent
