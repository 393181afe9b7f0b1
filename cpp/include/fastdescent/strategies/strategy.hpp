// The in-memory trainer's strategies: how the rows of an epoch become updates. Each strategy
// owns its own state; all of them share what EpochStrategy holds (rows, targets, model,
// configuration, the policy's step sizes, the epoch's row order) and report the epoch's last
// step size and gradient norm back to the trainer, which ends the epoch through the policy.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "fastdescent/data.hpp"
#include "fastdescent/kernels.hpp"
#include "fastdescent/losses.hpp"
#include "fastdescent/optimizers.hpp"
#include "fastdescent/policy.hpp"
#include "fastdescent/portable.hpp"
#include "fastdescent/step.hpp"
#include "fastdescent/training_rows.hpp"

namespace fastdescent {

// Targets and weights. y holds -1/+1 (binary), class indices (multinomial) or real values.
template <class T>
struct Targets {
    const T* y = nullptr;
    const T* sample_weight = nullptr;          // null: all ones
    const double* class_weight = nullptr;      // indexed by class (binary: [neg, pos])
    int n_class_weight = 0;
    const std::uint8_t* validation_mask = nullptr;  // rows held out for early stopping
};

// Returns true when training should stop now (e.g. a pending KeyboardInterrupt).
using StopCheck = std::function<bool()>;

// Sum of w_i log1p(e_i) over the rows of a per-sample epoch: the log-loss values less their
// max(-z, 0) part. The update itself needs only exp; the log1p's wait in a buffer and go through
// the vectorized kernel a block at a time (a library log1p per row took a tenth of the epoch).
class Log1pSum {
public:
    void add(double e, double weight) {
        e_[n_] = e;
        weight_[n_] = weight;
        if (++n_ == block) flush();
    }
    double total() {
        flush();
        return sum_;
    }

private:
    static constexpr int block = 256;
    void flush() {
        dense_kernels<double>().log1p(e_, e_, n_);
        for (int i = 0; i < n_; ++i) sum_ += weight_[i] * e_[i];
        n_ = 0;
    }
    double e_[block], weight_[block];
    int n_ = 0;
    double sum_ = 0.0;
};

// What every strategy reads and shares, and the per-row helpers; epoch() runs one epoch over
// the rows in order_ from update count t (advanced in place) and returns the weighted loss sum.
template <class Rows>
class EpochStrategy {
public:
    using T = typename Rows::value_type;

    EpochStrategy(const Rows& X, const Targets<T>& tg, Model<T>& m, const TrainConfig& cfg,
                  Optimizer<T>* opt, const EpochPolicy& policy,
                  const TrainingRows& order, const StopCheck& stop)
        : X_(X), tg_(tg), m_(m), cfg_(cfg), opt_(opt), policy_(policy), pen_(policy.penalty()),
          order_(order), stop_(stop), K_(m.K), d_(m.d), y_width_(target_width(cfg.loss, m.K)) {}
    virtual ~EpochStrategy() = default;
    EpochStrategy(const EpochStrategy&) = delete;
    EpochStrategy& operator=(const EpochStrategy&) = delete;

    virtual double epoch(double& t) = 0;
    // Leaves the weights in the model after the last epoch (a strategy may keep them in its own
    // form between epochs: TrainConfig::hook_runs_user_code).
    virtual void finish() {}
    // Whether epoch() checks the scores it computes when check_scores_ is set (see
    // TrainConfig::check_input): every row's score, before any use of it.
    virtual bool checks_scores() const { return false; }
    // The penalty at the weights the epoch's loss was measured at, as the objective takes it.
    virtual double penalty_value() const {
        return pen_.value(m_.coef, K_ * d_) + pen_.intercept_value(m_.intercept, K_);
    }
    // The mean over the epoch's updates of the penalty at the weights each started from, for
    // TrainConfig::running_objective; NaN where the strategy does not track it.
    double running_penalty() const { return running_penalty_; }

    // Whether penalty_value() reads every current weight (an active penalty), so that it is
    // non-finite when one of them is.
    virtual bool penalty_reads_weights() const { return pen_.active; }

    T* coef_row(int k) const { return m_.coef + k * d_; }

    // Asks the cache for row i, its target and its weight ahead of use: in a shuffled epoch
    // each of them would otherwise cost a full memory latency.
    FASTDESCENT_ALWAYS_INLINE void prefetch_row(std::int64_t i) const {
        X_.prefetch(i);
        prefetch_read(tg_.y + i * y_width_);
        if (tg_.sample_weight) prefetch_read(tg_.sample_weight + i);
    }

    double sample_weight(std::int64_t i) const {
        double w = tg_.sample_weight ? double(tg_.sample_weight[i]) : 1.0;
        if (tg_.n_class_weight > 0) {
            int c = cfg_.loss == LossKind::multinomial ? int(tg_.y[i]) : (tg_.y[i] > 0 ? 1 : 0);
            w *= tg_.class_weight[c];
        }
        return w;
    }

    // Weighted loss of row i (weight sw) given its scores p, for the per-sample epochs; writes
    // d loss / d p into dp. Log-loss values go partly to log1p_sum.
    double per_sample_loss(std::int64_t i, double sw, const double* p, double* dp,
                           Log1pSum& log1p_sum) const {
        if (cfg_.loss != LossKind::log_loss) return sw * loss_and_deriv(i, p, dp);
        const double y = double(tg_.y[i]);
        double e;
        dp[0] = LogLoss{}.deriv_and_exp(p[0], y, e);
        log1p_sum.add(e, sw);
        const double z = p[0] * y;
        return z < 0 ? -sw * z : 0.0;
    }

    // Loss of row i given its scores p (length K); writes d loss / d p into dp. The loss is
    // the configuration's, or `loss` with parameter `param`.
    template <class Real>
    double loss_and_deriv(std::int64_t i, const Real* p, Real* dp) const {
        return loss_and_deriv(i, p, dp, cfg_.loss, cfg_.loss_param);
    }
    // With K outputs of a scalar loss (multi-output), the sum over the outputs.
    template <class Real>
    double loss_and_deriv(std::int64_t i, const Real* p, Real* dp, LossKind loss, double param) const {
        if (loss == LossKind::multinomial) return softmax_cross_entropy(p, K_, int(tg_.y[i]), dp);
        const T* y = tg_.y + i * K_;
        return visit_scalar_loss(loss, param, [&](auto L) {
            double v = 0.0;
            for (int k = 0; k < K_; ++k) {
                double d;
                v += value_and_deriv(L, double(p[k]), double(y[k]), d);
                dp[k] = Real(d);
            }
            return v;
        });
    }

    // Asks the stop check every ~4M multiply-adds of work: often enough to stop within
    // milliseconds, rarely enough to cost nothing.
    bool poll_stop(std::int64_t work) {
        work_since_poll_ += work;
        if (work_since_poll_ < (1 << 22)) return false;
        work_since_poll_ = 0;
        if (stop_ && stop_()) interrupted_ = true;
        return interrupted_;
    }

    double last_eta_ = 0.0;        // step size of the epoch's last update
    double last_grad_norm_ = 0.0;  // gradient norm of that update (EpochStats::grad_norm)
    double running_penalty_ = std::numeric_limits<double>::quiet_NaN();  // see running_penalty()
    bool interrupted_ = false;     // the stop check asked to stop
    bool converged_ = false;       // the strategy's own convergence test passed (the solver)
    bool check_scores_ = false;    // check every score of this epoch (TrainConfig::check_input)
    bool non_finite_scores_ = false;  // a checked score was not finite: the epoch stopped there

protected:
    static constexpr std::int64_t prefetch_distance = 4;  // rows requested ahead of use
    const Rows& X_;
    const Targets<T>& tg_;
    Model<T>& m_;
    const TrainConfig& cfg_;
    Optimizer<T>* opt_;  // null: scikit-learn's plain SGD
    const EpochPolicy& policy_;
    const Penalty pen_;
    const TrainingRows& order_;
    const StopCheck& stop_;
    const int K_;
    const std::int64_t d_;
    const int y_width_;  // targets per row
    std::int64_t work_since_poll_ = 0;
};

// The members a strategy uses from EpochStrategy (a dependent base: names need declaring).
#define FASTDESCENT_STRATEGY_MEMBERS(Rows)                                                          \
    using Base = EpochStrategy<Rows>;                                                               \
    using typename Base::T;                                                                         \
    using Base::X_, Base::tg_, Base::m_, Base::cfg_, Base::opt_, Base::policy_, Base::pen_;        \
    using Base::order_, Base::K_, Base::d_, Base::last_eta_, Base::last_grad_norm_;                 \
    using Base::prefetch_distance, Base::coef_row, Base::prefetch_row, Base::sample_weight;         \
    using Base::per_sample_loss, Base::loss_and_deriv, Base::poll_stop;                            \
    using Base::check_scores_, Base::non_finite_scores_, Base::running_penalty_

}  // namespace fastdescent
