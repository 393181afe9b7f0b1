// Mini-batch epochs of a multi-layer perceptron, ended by the same policy and stepped by the
// same GradientStep (clipping, any optimizer, the schedule) as the linear models: the network
// is one more model behind the step's list of parameter arrays. A batch's gradient comes from
// a ShardedNetwork: its rows split into shards, run on the cores (the ThreadPacer falls back
// to one thread where a busy machine makes the team slower).
//
// The penalty is scikit-learn's MLP's: a batch of total weight s adds alpha / (2 s) ||W||^2 to
// its mean loss, i.e. alpha W to its gradient sums before the mean (biases are not penalized).
// An epoch's objective is scikit-learn's loss_: the batches' objectives weighted by their row
// counts.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fastdescent/mlp.hpp"
#include "fastdescent/policy.hpp"
#include "fastdescent/rng.hpp"
#include "fastdescent/step.hpp"
#include "fastdescent/strategies/strategy.hpp"

namespace fastdescent {

struct MlpTrainConfig {
    TrainConfig train;  // loss, penalty and averaging are the network's own here (see above)
    // scikit-learn's solver="sgd" schedules: the step size is set at each epoch's start from the
    // number of samples seen before it (its invscaling), not per update. samples_seen counts
    // those of earlier calls (its t_); fresh_schedule: the first epoch takes the initial step
    // (a fit builds a new optimizer there, partial_fit keeps it).
    bool schedule_in_samples = false;
    double samples_seen = 0.0;
    bool fresh_schedule = true;
};

// Reorders the training rows in place at an epoch's start (shuffle on): the caller's own
// generator, e.g. scikit-learn's, so that shuffled epochs visit rows in its order.
using RowOrder = std::function<void(std::vector<std::int64_t>& rows)>;

template <class Rows>
class MlpTrainer {
    using T = typename Rows::value_type;

public:
    // Y: outputs() targets per row; sw: null or one weight per row; train_rows in training
    // order (shuffled each epoch when cfg.shuffle, by `reorder` when given, else by the
    // seeded generator); val_rows scored for early stopping.
    MlpTrainer(const Rows& X, const T* Y, const T* sw, std::vector<std::int64_t> train_rows,
               std::vector<std::int64_t> val_rows, ShardedNetwork<T>& net, MlpParams<T> params,
               const MlpTrainConfig& cfg, Optimizer<T>* optimizer, StopCheck stop,
               EpochCallback on_epoch, RowOrder reorder = {})
        : X_(X), Y_(Y), sw_(sw), order_(std::move(train_rows)), val_(std::move(val_rows)),
          net_(net), p_(std::move(params)), cfg_(cfg), stop_(std::move(stop)),
          reorder_(std::move(reorder)), rng_(cfg.train.seed),
          policy_(cfg.train, 1.0, std::move(on_epoch)), step_(without_penalty(cfg.train), optimizer) {
        if (order_.empty()) throw std::invalid_argument("no training rows");
        if (cfg_.train.early_stopping && val_.empty())
            throw std::invalid_argument("early stopping needs at least one validation row");
        for (std::int64_t i : order_)
            if (i < 0 || i >= X_.n_rows) throw std::invalid_argument("a training row is out of range");
        for (std::int64_t i : val_)
            if (i < 0 || i >= X_.n_rows) throw std::invalid_argument("a validation row is out of range");
        const auto& u = net_.spec().units;
        const int L = net_.spec().layers();
        for (int l = 0; l < L; ++l) {
            grad_w_.emplace_back(std::size_t(u[l] * u[l + 1]));
            grad_b_.emplace_back(std::size_t(u[l + 1]));
            g_.coefs.push_back(grad_w_.back().data());
            g_.intercepts.push_back(grad_b_.back().data());
        }
        // The optimizer's slots in scikit-learn's order: every weight matrix, then every bias.
        for (int l = 0; l < L; ++l)
            arrays_.push_back({p_.coefs[l], g_.coefs[l], u[l] * u[l + 1], u[l]});
        for (int l = 0; l < L; ++l) {
            ParamArray<T> b{p_.intercepts[l], g_.intercepts[l], u[l + 1]};
            b.penalized = false;
            arrays_.push_back(b);
        }
        for (const ParamArray<T>& a : arrays_) parameters_ += a.n;
        if (cfg_.train.early_stopping)
            for (const ParamArray<T>& a : arrays_) best_.emplace_back(a.w, a.w + a.n);
    }

    TrainResult run(double t0) {
        double t = t0;
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t B = std::min<std::int64_t>(std::max<std::int64_t>(cfg_.train.batch_size, 1), n);
        if (B > net_.max_rows()) throw std::invalid_argument("batch larger than the network's scratch");
        double samples_seen = cfg_.samples_seen;
        for (int epoch = 0; epoch < cfg_.train.max_iter; ++epoch) {
            if (cfg_.train.shuffle) {
                if (reorder_) reorder_(order_);
                else rng_.shuffle(order_);
            }
            const bool initial = epoch == 0 && cfg_.fresh_schedule;
            const double epoch_eta = policy_.eta(initial ? 1.0 : samples_seen + 1.0);
            double sumloss = 0.0, eta = epoch_eta, norm = std::numeric_limits<double>::quiet_NaN();
            for (std::int64_t start = 0; start < n; start += B) {
                const std::int64_t m = std::min(B, n - start);
                const std::int64_t* rows = order_.data() + start;
                const int threads = pacer_.threads(m * parameters_, resolve_threads(net_.shards()));
                pacer_.start();
                const double loss = net_.loss_and_gradient(X_, rows, m, Y_, sw_, p_, g_, threads);
                pacer_.stop();
                double weight = double(m);
                if (sw_) {
                    weight = 0.0;
                    for (std::int64_t r = 0; r < m; ++r) weight += double(sw_[rows[r]]);
                }
                if (!(weight > 0)) continue;  // a batch of weight zero moves nothing
                sumloss += double(m) * (loss + mean_gradient(weight)) / weight;
                t += 1.0;
                eta = cfg_.schedule_in_samples ? epoch_eta : policy_.eta(t);
                const bool last = start + B >= n;
                // The gradient is a mean already: the step takes a batch of weight one.
                norm = step_.apply(arrays_.data(), int(arrays_.size()), 1.0, eta, t, last);
                work_ += m * parameters_;
                if (work_ >= (1 << 24)) {
                    work_ = 0;
                    if (stop_ && stop_()) {
                        policy_.result().n_iter = epoch + 1;
                        policy_.result().interrupted = true;
                        policy_.result().t = t;
                        return policy_.result();
                    }
                }
            }
            samples_seen += double(n);
            bool finite = true;
            for (const ParamArray<T>& a : arrays_) finite = finite && all_finite(a.w, a.n);
            double score = std::numeric_limits<double>::quiet_NaN();
            if (finite && cfg_.train.early_stopping) {
                score = validation_score();
                if (score > best_score_) {  // scikit-learn keeps the best epoch's weights
                    best_score_ = score;
                    for (std::size_t k = 0; k < arrays_.size(); ++k)
                        std::copy(arrays_[k].w, arrays_[k].w + arrays_[k].n, best_[k].begin());
                }
            }
            if (policy_.end_epoch(sumloss, double(n), 0.0, finite, score, eta, t, norm)) break;
        }
        policy_.result().t = t;
        if (cfg_.train.early_stopping && !policy_.result().diverged && best_score_ > -inf())
            for (std::size_t k = 0; k < arrays_.size(); ++k)
                std::copy(best_[k].begin(), best_[k].end(), arrays_[k].w);
        return policy_.result();
    }

private:
    static double inf() { return std::numeric_limits<double>::infinity(); }
    static TrainConfig without_penalty(TrainConfig c) {
        c.penalty = PenaltyKind::none;
        c.average = 0;
        c.intercept_decay = 1.0;
        c.intercept_linear = 0.0;
        c.fit_intercept = true;
        return c;
    }

    // The batch's mean gradient from its gradient sums (batch weight `weight`), with the
    // penalty's alpha W added to the weights' sums first, in one pass over each array; returns
    // the batch's penalty alpha / 2 ||W||^2 (before the division by the batch's weight).
    double mean_gradient(double weight) {
        const double alpha = cfg_.train.alpha > 0 ? cfg_.train.alpha : 0.0;
        const T inv = T(1.0 / weight);
        double squares = 0.0;
        for (const ParamArray<T>& a : arrays_) {
            if (a.penalized && alpha > 0) squares += add_scaled_and_square(a.w, a.grad, a.n, T(alpha), inv);
            else scale(inv, a.grad, a.n);
        }
        return 0.5 * alpha * squares;
    }

    // g = (g + alpha w) * inv and the sum of w^2, in one pass over the weights (one copy per
    // instruction set: the weights stay in cache, so the pass is bound by arithmetic).
    FASTDESCENT_ISA_CLONES static double add_scaled_and_square(const T* w, T* g, std::int64_t n,
                                                                T alpha, T inv) {
        T squares = 0;
#pragma omp simd reduction(+ : squares)
        for (std::int64_t j = 0; j < n; ++j) {
            squares += w[j] * w[j];
            g[j] = (g[j] + alpha * w[j]) * inv;
        }
        return double(squares);
    }

    // scikit-learn's score of the estimator on the validation rows: weighted accuracy (a
    // multi-label row counts when every label is right) or the mean R^2 over the outputs.
    double validation_score() {
        const std::int64_t K = net_.outputs();
        const bool classify = cfg_.train.classification;
        const bool softmax = net_.spec().loss == MlpLoss::log_loss;
        std::vector<ValidationSums> sums(std::size_t(classify ? 1 : K));
        MlpNetwork<T>& net = net_.network();
        const std::int64_t chunk = net.max_rows();
        for (std::size_t start = 0; start < val_.size(); start += std::size_t(chunk)) {
            const std::int64_t m = std::min<std::int64_t>(chunk, std::int64_t(val_.size() - start));
            const std::int64_t* rows = val_.data() + start;
            const T* out = net.forward(X_, rows, m, p_);
            for (std::int64_t r = 0; r < m; ++r) {
                const T* a = out + r * K;
                const T* y = Y_ + rows[r] * K;
                const double w = sw_ ? double(sw_[rows[r]]) : 1.0;
                if (classify) {
                    bool right = true;
                    if (softmax) {
                        const std::int64_t best = std::max_element(a, a + K) - a;  // first maximum
                        right = y[best] == T(1);
                    } else {
                        for (std::int64_t k = 0; k < K; ++k) right = right && ((a[k] > T(0.5)) == (y[k] == T(1)));
                    }
                    sums[0].weight += w;
                    sums[0].hit += right ? w : 0.0;
                    continue;
                }
                for (std::int64_t k = 0; k < K; ++k) {
                    ValidationSums& s = sums[std::size_t(k)];
                    const double yk = y[k], e = yk - double(a[k]);
                    s.weight += w, s.wy += w * yk, s.wyy += w * yk * yk, s.sse += w * e * e;
                }
            }
        }
        double score = 0.0;
        for (const ValidationSums& s : sums) score += s.score(classify);
        return score / double(sums.size());
    }

    const Rows& X_;
    const T* Y_;
    const T* sw_;
    std::vector<std::int64_t> order_, val_;
    ShardedNetwork<T>& net_;
    ThreadPacer pacer_;
    MlpParams<T> p_, g_;
    MlpTrainConfig cfg_;
    StopCheck stop_;
    RowOrder reorder_;
    Rng rng_;
    EpochPolicy policy_;
    GradientStep<T> step_;
    std::vector<std::vector<T>> grad_w_, grad_b_;
    std::vector<ParamArray<T>> arrays_;
    std::vector<std::vector<T>> best_;
    double best_score_ = -std::numeric_limits<double>::infinity();
    std::int64_t parameters_ = 0;  // entries of all arrays: the work of a row, for the stop check
    std::int64_t work_ = 0;
};

}  // namespace fastdescent
