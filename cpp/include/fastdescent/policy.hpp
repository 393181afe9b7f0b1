// The training policy, written once for every backend: what a fit is configured with, what it
// reports, the penalty, and the epoch-level decisions (objective, stopping on a plateau of the
// training objective or of the validation score, the 'adaptive' schedule's divide-by-5,
// reduce-on-plateau, divergence (non-finite, or an objective 1e6 times the first epoch's), the
// epoch callback). The in-memory trainer, the data-parallel
// client (Dask) and the GPU host loop all end their epochs through EpochPolicy.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastdescent/losses.hpp"
#include "fastdescent/schedules.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

enum class PenaltyKind { none, l2, l1, elasticnet };

struct TrainConfig {
    LossKind loss = LossKind::squared_error;
    double loss_param = 0.1;  // epsilon (huber, epsilon-insensitive), quantile, tweedie power
    PenaltyKind penalty = PenaltyKind::l2;
    double alpha = 1e-4;
    double l1_ratio = 0.15;
    Schedule schedule;
    bool classification = false;  // validation score: accuracy (true) or R^2 (false)
    bool fit_intercept = true;
    double intercept_decay = 1.0;
    // c of a linear term c * sum_k b_k of the objective in the intercepts: the one-class SVM's
    // nu * b (0: none).
    double intercept_linear = 0.0;
    int max_iter = 1000;
    double tol = 1e-3;  // -inf disables the plateau test
    int n_iter_no_change = 5;
    bool early_stopping = false;
    bool shuffle = true;
    std::uint64_t seed = 0;
    std::int64_t batch_size = 1;  // 0 means the whole training set (full-batch)
    std::int64_t average = 0;     // 0: off; else average from update number `average` on
    double clip_value = 0.0;      // 0: off; else clamp every gradient entry to [-v, v]
    double clip_norm = 0.0;       // 0: off; else scale the gradient to this global L2 norm
    int n_threads = 1;
    // CSR mini-batches with Adam / AdamW: update only the batch's features (torch's SparseAdam rule)
    // instead of every weight.
    bool sparse_lazy = false;
    // Full batch with plain SGD: the step picked by the full-batch solver (learning_rate="auto"),
    // converged when its gradient mapping falls below solver_tol times its first value.
    bool solver = false;
    double solver_tol = 1e-4;
    // An objective 1e6 times the first epoch's counts as diverged (the estimators turn it on
    // outside scikit-learn's own mode, whose 'optimal' first steps may overshoot that far).
    bool explosion_diverges = false;
    // tol compares scikit-learn's per-sample objective (the mean over the epoch's updates of
    // each one's loss and the penalty at the weights it starts from) where the strategy tracks
    // it (per-sample epochs, L2 or no penalty), not the objective at the epoch's end: the
    // estimators turn it on in scikit-learn's mode, so that n_iter_ is scikit-learn's.
    bool running_objective = false;
    // X has not been scanned for NaN or infinity: the first epoch checks the scores of the rows
    // it reads instead (with finite weights, a non-finite value in a row makes its score
    // non-finite), so that the scan costs no pass of its own; the validation rows, and X for
    // a strategy that cannot check its scores, are scanned first. A non-finite score stops
    // training with TrainResult::non_finite_input (or an overflow: the caller tells them apart).
    bool check_input = false;
    // The epoch hook runs user code (callbacks), which reads the weights and may rewrite the
    // data: each epoch ends with the weights in the model, and CSR index arrays are checked
    // again. Otherwise a strategy may keep the weights in its own form until training ends (the
    // per-sample weight scale), which saves O(d) passes per epoch on wide sparse models.
    bool hook_runs_user_code = true;
};

struct TrainResult {
    int n_iter = 0;
    double t = 1.0;                         // update counter after training (scikit-learn's t_)
    std::vector<double> loss_curve;         // mean training objective per epoch
    std::vector<double> validation_scores;  // per epoch, when early stopping
    double last_eta = 0.0;                  // step size of the last epoch's last update
    bool diverged = false;
    bool stopped_by_callback = false;
    bool interrupted = false;
    bool non_finite_input = false;  // check_input found a non-finite score (no epoch counted)
    // The epoch strategy that trained: "per_sample", "parallel_per_sample", "solver",
    // "lazy_sparse" or "batched" (dense steps, also on sparse rows).
    std::string strategy;
};

// What an epoch-end observer sees; validation_score is NaN without early stopping.
struct EpochStats {
    int epoch;  // 1-based
    double objective;
    double validation_score;
    double eta;  // step size of the epoch's last update
    double t;
    // L2 norm of the gradient of the epoch's last update, over coefficients and intercepts:
    // the weighted mean loss gradient of that update's rows (one row per-sample, the batch
    // otherwise) plus the L2-penalty gradient, at the weights the update started from, before
    // clipping. The L1 part is a proximal step, not a gradient, and is left out. With
    // batch_size 'full' this is the gradient norm of the training objective. NaN where a
    // backend has no single update's gradient (averaged thread models, the GPU).
    double grad_norm;
};
// Called at the end of every epoch; returning true stops training (e.g. a user callback).
using EpochCallback = std::function<bool(const EpochStats&)>;

// alpha * ((1 - l1_ratio) / 2 * ||W||^2 + l1_ratio * ||W||_1): an L2 part taken as a gradient
// (or by the weight-scale trick) and an L1 part taken as a proximal step.
struct Penalty {
    double alpha = 0.0;
    double l1_ratio = 0.0;
    bool active = false;
    double intercept_linear = 0.0;  // TrainConfig::intercept_linear, with fit_intercept

    static Penalty of(const TrainConfig& cfg) {
        Penalty p;
        p.intercept_linear = cfg.fit_intercept ? cfg.intercept_linear : 0.0;
        p.alpha = cfg.alpha;
        p.l1_ratio = cfg.penalty == PenaltyKind::l1           ? 1.0
                     : cfg.penalty == PenaltyKind::elasticnet ? cfg.l1_ratio
                                                              : 0.0;
        p.active = cfg.penalty != PenaltyKind::none && cfg.alpha > 0;
        return p;
    }
    bool has_l2() const { return active && l1_ratio < 1; }
    bool has_l1() const { return active && l1_ratio > 0; }
    double l2() const { return active ? alpha * (1.0 - l1_ratio) : 0.0; }  // L2 gradient factor
    double l1() const { return active ? alpha * l1_ratio : 0.0; }          // L1 step per unit eta

    // The objective's penalty term for the weights w (biases are not penalized).
    template <class T>
    double value(const T* w, std::int64_t n) const {
        if (!active) return 0.0;
        double v = 0.0;
        if (l1_ratio < 1) v += (1.0 - l1_ratio) * 0.5 * squared_norm(w, n);
        if (l1_ratio > 0) v += l1_ratio * abs_sum(w, n);
        return alpha * v;
    }
    // The objective's linear term in the intercepts b (K of them).
    template <class T>
    double intercept_value(const T* b, int K) const {
        double v = 0.0;
        if (intercept_linear != 0)
            for (int k = 0; k < K; ++k) v += intercept_linear * double(b[k]);
        return v;
    }
    // The same from sums computed elsewhere (the GPU reduces ||W||^2 and ||W||_1 on the device).
    double value_from_sums(double squared, double absolute) const {
        if (!active) return 0.0;
        return alpha * ((1.0 - l1_ratio) * 0.5 * squared + l1_ratio * absolute);
    }
};

// The schedule as training uses it: 'optimal' takes alpha and scikit-learn's initial offset for
// the loss (multinomial as log_loss). Throws std::invalid_argument if the schedule is invalid.
inline Schedule prepared_schedule(Schedule s, LossKind loss, double loss_param, double alpha) {
    if (s.kind == ScheduleKind::optimal && s.optimal_init == 0) {
        s.alpha = alpha;
        const LossKind k = loss == LossKind::multinomial ? LossKind::log_loss : loss;
        s.init_optimal([&](double typw) {
            return visit_scalar_loss(k, loss_param, [&](auto L) { return L.deriv(-typw, 1.0); });
        });
    }
    s.validate();
    return s;
}

// Weighted accuracy, weighted R^2 or, for the log-link losses, weighted D^2 of the half
// deviance (scikit-learn's default scores: the GLM regressors score by D^2) from sums over the
// validation rows, however a backend gathered them.
struct ValidationSums {
    double weight = 0, hit = 0;           // classification: weight of correct predictions
    double wy = 0, wyy = 0, sse = 0;      // regression
    double deviance = 0, constant = 0;    // log-link: sums of w value(p, y) and w constant(y)
    void add(const ValidationSums& o) {
        weight += o.weight, hit += o.hit, wy += o.wy, wyy += o.wyy, sse += o.sse;
        deviance += o.deviance, constant += o.constant;
    }
    // Adds a validation row of a log-link loss: its deviance at score p and its constant.
    void add_deviance(LossKind loss, double param, double p, double y, double w) {
        visit_log_link_loss(loss, param, [&](auto L) {
            deviance += w * L.value(p, y);
            constant += w * L.constant(y);
            return 0;
        });
    }
    double score(bool classification, LossKind loss = LossKind::squared_error,
                 double param = 0.0) const {
        if (classification) return hit / weight;
        if (log_link(loss)) {
            // The null model predicts the weighted mean: the core of the deviance is affine in
            // y, so its sum there is the weight times the core at (log mean, mean).
            const double mean = wy / weight;
            const double null = visit_log_link_loss(loss, param, [&](auto L) {
                return constant + weight * (L.value(std::log(mean), mean) - L.constant(mean));
            });
            if (!(null > 0)) return deviance == 0 ? 1.0 : 0.0;  // constant target
            return 1.0 - deviance / null;
        }
        const double sst = wyy - wy * wy / weight;
        if (sst <= 0) return sse == 0 ? 1.0 : 0.0;  // constant target: scikit-learn's r2 rule
        return 1.0 - sse / sst;
    }
};

// The epoch-level decisions of a fit. A backend runs the updates of an epoch (taking each
// step size from eta()), then hands the epoch's sums to end_epoch(), which says whether to stop.
class EpochPolicy {
public:
    EpochPolicy(const TrainConfig& cfg, double t0, EpochCallback on_epoch = nullptr)
        : cfg_(cfg), penalty_(Penalty::of(cfg)), on_epoch_(std::move(on_epoch)),
          schedule_(prepared_schedule(cfg.schedule, cfg.loss, cfg.loss_param, cfg.alpha)) {
        eta_adaptive_ = schedule_.eta0;
        result_.t = t0;
    }

    // Step size of the update with count t.
    double eta(double t) const { return schedule_.eta(t, eta_adaptive_); }
    const Schedule& schedule() const { return schedule_; }
    const Penalty& penalty() const { return penalty_; }
    double eta_adaptive() const { return eta_adaptive_; }
    const TrainResult& result() const { return result_; }
    TrainResult& result() { return result_; }

    // Ends an epoch given the weighted loss sum over the training rows and their total weight,
    // the penalty at the epoch's final weights, whether those weights are all finite, the
    // validation score (read only with early stopping), the step size of the epoch's last
    // update, the update count t after the epoch and the last update's gradient norm, and the
    // mean penalty over the epoch's updates (TrainConfig::running_objective; NaN: not tracked).
    // Returns true when training stops.
    bool end_epoch(double sumloss, double train_weight, double penalty_value, bool finite,
                   double validation_score, double last_eta, double t, double grad_norm,
                   double running_penalty = std::numeric_limits<double>::quiet_NaN()) {
        result_.t = t;
        result_.n_iter += 1;
        result_.last_eta = last_eta;
        if (!(train_weight > 0))
            throw std::invalid_argument("the training rows have a total sample weight of zero");
        if (!finite || !std::isfinite(sumloss) || !std::isfinite(penalty_value)) {
            result_.diverged = true;
            return true;
        }
        const double objective = sumloss / train_weight + penalty_value;
        if (result_.n_iter == 1) first_objective_ = objective;
        if (cfg_.explosion_diverges && objective > explosion * std::fmax(first_objective_, 1e-3)) {
            result_.diverged = true;  // finite, but the model is garbage: say so
            return true;
        }
        result_.loss_curve.push_back(objective);
        schedule_.end_epoch(objective);  // reduce-on-plateau watches the training objective
        double score = std::numeric_limits<double>::quiet_NaN();
        if (cfg_.early_stopping) {
            score = validation_score;
            result_.validation_scores.push_back(score);
            no_improvement_ = score < best_score_ + cfg_.tol ? no_improvement_ + 1 : 0;
            best_score_ = std::fmax(best_score_, score);
        } else {
            const double watched = cfg_.running_objective && std::isfinite(running_penalty)
                                       ? sumloss / train_weight + running_penalty
                                       : objective;
            no_improvement_ = watched > best_objective_ - cfg_.tol ? no_improvement_ + 1 : 0;
            best_objective_ = std::fmin(best_objective_, watched);
        }
        if (on_epoch_ &&
            on_epoch_(EpochStats{result_.n_iter, objective, score, last_eta, t, grad_norm})) {
            result_.stopped_by_callback = true;
            return true;
        }
        if (no_improvement_ >= cfg_.n_iter_no_change) {
            if (schedule_.kind == ScheduleKind::adaptive && eta_adaptive_ > 1e-6) {
                eta_adaptive_ /= schedule_.adaptive_divisor;
                no_improvement_ = 0;
            } else {
                return true;
            }
        }
        return result_.n_iter >= cfg_.max_iter;
    }

private:
    // An objective this many times the first epoch's (or 1e-3) counts as diverged.
    static constexpr double explosion = 1e6;
    TrainConfig cfg_;
    Penalty penalty_;
    EpochCallback on_epoch_;
    Schedule schedule_;
    TrainResult result_;
    double eta_adaptive_ = 0.0;
    double best_objective_ = std::numeric_limits<double>::infinity();
    double first_objective_ = 0.0;
    double best_score_ = -std::numeric_limits<double>::infinity();
    int no_improvement_ = 0;
};

}  // namespace fastdescent
