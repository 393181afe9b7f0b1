// The in-memory trainer of a linear model with K outputs (K = 1 for regression and binary
// classification, K = n_classes for multinomial): the training rows and their order, the
// validation score, and the epochs of one strategy (strategies/), each ended by the policy.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastdescent/policy.hpp"
#include "fastdescent/rng.hpp"
#include "fastdescent/strategies/batched.hpp"
#include "fastdescent/strategies/full_batch_solver.hpp"
#include "fastdescent/strategies/lazy_sparse.hpp"
#include "fastdescent/strategies/parallel_per_sample.hpp"
#include "fastdescent/strategies/per_sample.hpp"
#include "fastdescent/training_rows.hpp"

namespace fastdescent {

template <class Rows>
class Trainer {
    using T = typename Rows::value_type;

public:
    Trainer(const Rows& X, const Targets<T>& tg, Model<T>& m, const TrainConfig& cfg,
            Optimizer<T>* optimizer, StopCheck stop, EpochCallback on_epoch)
        : X_(X), tg_(tg), m_(m), cfg_(cfg), opt_(optimizer), stop_(std::move(stop)),
          K_(m.K), d_(m.d), rng_(cfg.seed), policy_(cfg, 1.0, std::move(on_epoch)) {
        validate();
        split_rows();
        if (order_.empty()) throw std::invalid_argument("no training rows left after the validation split");
        strategy_ = make_strategy();
        train_weight_ = training_weight();
        if (!(train_weight_ > 0))
            throw std::invalid_argument("the training rows have a total sample weight of zero");
        if (cfg_.early_stopping && val_rows_.empty())
            throw std::invalid_argument("early stopping needs at least one validation row");
        p_.resize(K_);
    }

    // Epochs of the strategy this configuration selects, each ended by the policy.
    TrainResult run(double t0) {
        double t = t0;
        policy_.result().t = t0;
        EpochStrategy<Rows>& s = *strategy_;
        if (cfg_.check_input) {
            // The rows the first epoch does not score are scanned now (see check_input).
            const bool finite = rows_finite(val_rows_) && (s.checks_scores() || rows_finite(order_));
            if (!finite) return non_finite_input();
            s.check_scores_ = s.checks_scores();
        }
        for (int epoch = 0; epoch < cfg_.max_iter; ++epoch) {
            // A full batch sums over all rows, so its order does not matter: keep memory order.
            if (cfg_.shuffle && cfg_.batch_size != 0) order_.shuffle(rng_);
            const double sumloss = s.epoch(t);
            if (s.non_finite_scores_) return non_finite_input();
            s.check_scores_ = false;
            if (s.interrupted_) {
                policy_.result().n_iter = epoch + 1;
                policy_.result().interrupted = true;
                break;
            }
            const double penalty = s.penalty_value();
            // A non-finite weight makes a penalty on the weights non-finite: no scan then (over
            // wide sparse models it is a noticeable part of an epoch).
            const bool finite = (s.penalty_reads_weights() ? std::isfinite(penalty) : all_finite(m_.coef, K_ * d_)) &&
                                all_finite(m_.intercept, K_);
            const double score = finite && cfg_.early_stopping ? validation_score()
                                                               : std::numeric_limits<double>::quiet_NaN();
            if (policy_.end_epoch(sumloss, train_weight_, penalty, finite, score,
                                  s.last_eta_, t, s.last_grad_norm_, s.running_penalty()) ||
                s.converged_)
                break;
        }
        s.finish();
        policy_.result().t = t;
        return policy_.result();
    }

private:
    // The training rows in memory order into order_, the validation rows into val_rows_.
    void split_rows() {
        if (!tg_.validation_mask) {
            order_ = TrainingRows(X_.n_rows);
            return;
        }
        std::vector<std::int64_t> train;
        train.reserve(std::size_t(X_.n_rows));
        for (std::int64_t i = 0; i < X_.n_rows; ++i)
            (tg_.validation_mask[i] ? val_rows_ : train).push_back(i);
        order_ = TrainingRows(std::move(train));
    }

    // The training rows' total weight; their count when no row or class weighs other than 1
    // (a pass over a million rows is a noticeable part of a short fit).
    double training_weight() const {
        const bool unit_classes = std::all_of(tg_.class_weight, tg_.class_weight + tg_.n_class_weight,
                                              [](double w) { return w == 1.0; });
        if (!tg_.sample_weight && unit_classes) return double(order_.size());
        double total = 0.0;
        for (std::size_t r = 0; r < order_.size(); ++r) total += strategy_->sample_weight(order_[r]);
        return total;
    }

    TrainResult non_finite_input() {
        policy_.result().non_finite_input = true;
        return policy_.result();
    }

    // Whether the rows hold only finite values (the scan of TrainConfig::check_input), split
    // over the fit's threads.
    template <class Ids>
    bool rows_finite(const Ids& rows) const {
        const std::int64_t n = std::int64_t(rows.size());
        const int threads = n * d_ >= (std::int64_t(1) << 22) ? cfg_.n_threads : 1;
        bool finite = true;
#pragma omp parallel for num_threads(threads) reduction(&& : finite) schedule(static) if (threads > 1)
        for (std::int64_t r = 0; r < n; ++r) {
            const std::int64_t i = rows[std::size_t(r)];
            if constexpr (is_dense_rows_v<Rows>) {
                finite = finite && X_.kernels->all_finite(X_.row(i), d_);
            } else {
                bool row_finite = true;
                X_.for_each(i, [&](std::int64_t, T v) { row_finite = row_finite && std::isfinite(double(v)); });
                finite = finite && row_finite;
            }
        }
        return finite;
    }

    // scikit-learn's per-sample algorithm (one or several threads) for plain SGD one row at a
    // time; the full-batch solver where asked for; lazy sparse steps where the rows are CSR and
    // a lazy rule applies; else batched.
    std::unique_ptr<EpochStrategy<Rows>> make_strategy() {
        const bool per_sample = cfg_.batch_size == 1 && opt_ == nullptr && cfg_.clip_value == 0 &&
                                cfg_.clip_norm == 0;
        auto args = std::forward_as_tuple(X_, tg_, m_, cfg_, opt_, policy_, order_, stop_);
        auto make = [&](auto tag, auto... first) -> std::unique_ptr<EpochStrategy<Rows>> {
            using S = typename decltype(tag)::type;
            return std::apply([&](auto&... a) { return std::make_unique<S>(first..., a...); }, args);
        };
        std::string& name = policy_.result().strategy;
        if (per_sample) {
            const int threads = ParallelPerSampleEpochs<Rows>::threads_for(
                cfg_, policy_, std::int64_t(order_.size()));
            name = threads > 1 ? "parallel_per_sample" : "per_sample";
            if (threads > 1) return make(type_tag<ParallelPerSampleEpochs<Rows>>{}, threads);
            return make(type_tag<PerSampleEpochs<Rows>>{});
        }
        if (cfg_.solver) {
            name = "solver";
            return make(type_tag<FullBatchSolverEpochs<Rows>>{});
        }
        using Lazy = LazySparseEpochs<Rows>;
        const auto rule = Lazy::rule_for(cfg_, opt_, policy_.penalty());
        name = rule != Lazy::LazyRule::none ? "lazy_sparse" : "batched";
        if (rule != Lazy::LazyRule::none) return make(type_tag<Lazy>{}, rule);
        return make(type_tag<BatchedEpochs<Rows>>{});
    }
    template <class S>
    struct type_tag {
        using type = S;
    };

    T* coef_row(int k) { return m_.coef + k * d_; }

    // Weighted accuracy (classification), weighted R^2 or D^2 (regression, see ValidationSums;
    // the mean over the outputs of a multi-output model) on the validation rows, scikit-learn's
    // default score of the estimator.
    double validation_score() {
        const int outputs = cfg_.classification ? 1 : K_;
        std::vector<ValidationSums> v(static_cast<std::size_t>(outputs));
        for (std::int64_t i : val_rows_) {
            const double sw = tg_.sample_weight ? double(tg_.sample_weight[i]) : 1.0;
            int best = 0;
            for (int k = 0; k < K_; ++k) {
                p_[k] = double(X_.dot(i, coef_row(k))) + double(m_.intercept[k]);
                if (p_[k] > p_[best]) best = k;
            }
            if (cfg_.classification) {
                const double y = double(tg_.y[i]);
                const double predicted = K_ > 1 ? double(best) : (p_[0] > 0 ? 1.0 : -1.0);
                v[0].weight += sw;
                v[0].hit += predicted == y ? sw : 0.0;
                continue;
            }
            for (int k = 0; k < K_; ++k) {
                const double y = double(tg_.y[i * K_ + k]);
                ValidationSums& s = v[std::size_t(k)];
                s.weight += sw;
                s.wy += sw * y;
                s.wyy += sw * y * y;
                s.sse += sw * (y - p_[k]) * (y - p_[k]);
                if (log_link(cfg_.loss)) s.add_deviance(cfg_.loss, cfg_.loss_param, p_[k], y, sw);
            }
        }
        double score = 0.0;
        for (const ValidationSums& s : v) score += s.score(cfg_.classification, cfg_.loss, cfg_.loss_param);
        return score / outputs;
    }

    void validate() const {
        if (m_.K < 1) throw std::invalid_argument("model needs at least one output");
        if (m_.d != X_.n_cols) throw std::invalid_argument("coef has the wrong number of features");
        if (cfg_.loss == LossKind::multinomial && m_.K < 2)
            throw std::invalid_argument("multinomial loss needs at least two outputs");
        if (cfg_.loss != LossKind::multinomial && m_.K != 1 && cfg_.classification)
            throw std::invalid_argument("a classifier's scalar loss trains one output at a time");
        check_loss_param(cfg_.loss, cfg_.loss_param);
        const std::int64_t n_targets = X_.n_rows * target_width(cfg_.loss, m_.K);
        if (log_link(cfg_.loss))
            for (std::int64_t i = 0; i < n_targets; ++i)
                if (!valid_target(cfg_.loss, cfg_.loss_param, double(tg_.y[i])))
                    throw std::invalid_argument(
                        "y holds a value outside the loss's range (poisson: y >= 0; gamma: y > 0; "
                        "tweedie: y >= 0 below power 2, y > 0 from power 2)");
        if (cfg_.average > 0 && (!m_.average_coef || !m_.average_intercept))
            throw std::invalid_argument("averaging needs average_coef and average_intercept buffers");
        if (cfg_.batch_size < 0) throw std::invalid_argument("batch_size must be >= 0");
        if (cfg_.n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
        if (!(cfg_.clip_value >= 0) || !(cfg_.clip_norm >= 0))
            throw std::invalid_argument("clip_value and clip_norm must be >= 0 (0 disables)");
        if (cfg_.max_iter < 0) throw std::invalid_argument("max_iter must be >= 0");
        if (cfg_.solver && (cfg_.batch_size != 0 || opt_ != nullptr || cfg_.average > 0 ||
                            cfg_.clip_value != 0 || cfg_.clip_norm != 0))
            throw std::invalid_argument(
                "the full-batch solver needs batch_size 0, plain SGD, no averaging and no clipping");
        if (cfg_.solver && !(cfg_.solver_tol >= 0))
            throw std::invalid_argument("solver_tol must be >= 0");
        const bool pa = cfg_.schedule.kind == ScheduleKind::pa1 || cfg_.schedule.kind == ScheduleKind::pa2;
        if (pa && (!(cfg_.batch_size == 1 && opt_ == nullptr && cfg_.clip_value == 0 && cfg_.clip_norm == 0) || m_.K != 1))
            throw std::invalid_argument("learning_rate 'pa1'/'pa2' needs batch_size=1, plain SGD and one output");
    }

    const Rows& X_;
    const Targets<T>& tg_;
    Model<T>& m_;
    const TrainConfig& cfg_;
    Optimizer<T>* opt_;
    StopCheck stop_;
    const int K_;
    const std::int64_t d_;
    Rng rng_;
    EpochPolicy policy_;
    TrainingRows order_;
    std::vector<std::int64_t> val_rows_;
    std::unique_ptr<EpochStrategy<Rows>> strategy_;
    double train_weight_ = 0.0;  // sum of the training rows' weights
    std::vector<double> p_;
};

// Trains `model` in place. `optimizer` null means scikit-learn's plain SGD.
template <class Rows>
TrainResult train(const Rows& X, const Targets<typename Rows::value_type>& targets,
                  Model<typename Rows::value_type>& model, const TrainConfig& cfg,
                  Optimizer<typename Rows::value_type>* optimizer, double t0, StopCheck stop,
                  EpochCallback on_epoch) {
    TrainConfig capped = cfg;  // at most what OpenMP offers (1 in a forked child)
    if (cfg.n_threads >= 1) capped.n_threads = resolve_threads(cfg.n_threads);
    Trainer<Rows> trainer(X, targets, model, capped, optimizer, std::move(stop), std::move(on_epoch));
    return trainer.run(t0);
}

// Row orders the trainer visits in successive epochs for a seed (exposed for tests).
inline std::vector<std::int64_t> shuffled_order(std::vector<std::int64_t> rows, std::uint64_t seed,
                                                int epochs) {
    Rng rng(seed);
    for (int e = 0; e < epochs; ++e) rng.shuffle(rows);
    return rows;
}

// Compiled once in cpp/src/trainer*.cpp for every supported data view.
#define FASTDESCENT_TRAIN(Rows)                                                           \
    TrainResult train<Rows>(const Rows&, const Targets<Rows::value_type>&,               \
                            Model<Rows::value_type>&, const TrainConfig&,                 \
                            Optimizer<Rows::value_type>*, double, StopCheck, EpochCallback)
extern template FASTDESCENT_TRAIN(DenseRows<float>);
extern template FASTDESCENT_TRAIN(DenseRows<double>);
using CsrRows32f = CsrRows<float, std::int32_t>;
using CsrRows64f = CsrRows<float, std::int64_t>;
using CsrRows32d = CsrRows<double, std::int32_t>;
using CsrRows64d = CsrRows<double, std::int64_t>;
extern template FASTDESCENT_TRAIN(CsrRows32f);
extern template FASTDESCENT_TRAIN(CsrRows64f);
extern template FASTDESCENT_TRAIN(CsrRows32d);
extern template FASTDESCENT_TRAIN(CsrRows64d);
// float16 / bfloat16 X, computed in float32 (cpp/src/trainer_half.cpp).
using HalfRows = DenseRows<float, Half>;
using BFloat16Rows = DenseRows<float, BFloat16>;
extern template FASTDESCENT_TRAIN(HalfRows);
extern template FASTDESCENT_TRAIN(BFloat16Rows);

}  // namespace fastdescent
