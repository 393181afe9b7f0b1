// The training loop of a linear model with K outputs (K = 1 for regression and binary
// classification, K = n_classes for multinomial): epochs of shuffled rows, per-sample or batched
// updates, penalties, averaging, early stopping and divergence checks, all without Python.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastdescent/clipping.hpp"
#include "fastdescent/data.hpp"
#include "fastdescent/dense_blocks.hpp"
#include "fastdescent/lazy_average.hpp"
#include "fastdescent/losses.hpp"
#include "fastdescent/parallel.hpp"
#include "fastdescent/optimizers.hpp"
#include "fastdescent/policy.hpp"
#include "fastdescent/rng.hpp"
#include "fastdescent/schedules.hpp"
#include "fastdescent/simd.hpp"
#include "fastdescent/step.hpp"

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

template <class Rows>
class Trainer {
    using T = typename Rows::value_type;
    static constexpr std::int64_t prefetch_distance = 4;  // rows requested ahead of use
    // Fewest rows each thread of the parallel per-sample epoch trains on between averagings.
    static constexpr std::int64_t sync_rows = 1024;
    static constexpr bool dense = std::is_same_v<Rows, DenseRows<T>>;

public:
    Trainer(const Rows& X, const Targets<T>& tg, Model<T>& m, const TrainConfig& cfg,
            Optimizer<T>* optimizer, StopCheck stop, EpochCallback on_epoch)
        : X_(X), tg_(tg), m_(m), cfg_(cfg), opt_(optimizer), stop_(std::move(stop)),
          K_(m.K), d_(m.d), rng_(cfg.seed), policy_(cfg, 1.0, std::move(on_epoch)),
          pen_(policy_.penalty()), step_(cfg, optimizer) {
        validate();
        order_.reserve(std::size_t(X_.n_rows));
        for (std::int64_t i = 0; i < X_.n_rows; ++i) {
            if (tg_.validation_mask && tg_.validation_mask[i]) val_rows_.push_back(i);
            else order_.push_back(i);
        }
        if (order_.empty()) throw std::invalid_argument("no training rows left after the validation split");
        for (std::int64_t i : order_) train_weight_ += sample_weight(i);
        if (!(train_weight_ > 0))
            throw std::invalid_argument("the training rows have a total sample weight of zero");
        if (cfg_.early_stopping && val_rows_.empty())
            throw std::invalid_argument("early stopping needs at least one validation row");
        p_.resize(K_);
        dp_.resize(K_);
    }

    // Epochs of the strategy this configuration selects, each ended by the policy.
    TrainResult run(double t0) {
        double t = t0;
        policy_.result().t = t0;
        for (int epoch = 0; epoch < cfg_.max_iter; ++epoch) {
            // A full batch sums over all rows, so its order does not matter: keep memory order.
            if (cfg_.shuffle && cfg_.batch_size != 0) rng_.shuffle(order_);
            double sumloss = !per_sample_sgd()       ? epoch_batched(t)
                             : per_sample_threads() > 1 ? epoch_per_sample_parallel(t, per_sample_threads())
                                                        : epoch_per_sample(t);
            if (interrupted_) {
                policy_.result().n_iter = epoch + 1;
                policy_.result().interrupted = true;
                break;
            }
            const bool finite = all_finite(m_.coef, K_ * d_) && all_finite(m_.intercept, K_);
            const double score = finite && cfg_.early_stopping ? validation_score()
                                                               : std::numeric_limits<double>::quiet_NaN();
            if (policy_.end_epoch(sumloss, train_weight_, pen_.value(m_.coef, K_ * d_), finite, score,
                                  last_eta_, t, last_grad_norm_))
                break;
        }
        policy_.result().t = t;
        return policy_.result();
    }

private:
    // scikit-learn's per-sample algorithm; any optimizer or clipping takes the general path.
    bool per_sample_sgd() const {
        return cfg_.batch_size == 1 && opt_ == nullptr && cfg_.clip_value == 0 && cfg_.clip_norm == 0;
    }

    // Threads of the parallel per-sample epoch: plain SGD with no penalty or L2 only, no
    // averaging, and enough work per epoch to pay for the synchronization; otherwise 1.
    int per_sample_threads() const {
        const bool supported = !pen_.has_l1() && cfg_.average == 0 &&
                               policy_.schedule().kind != ScheduleKind::pa1 && policy_.schedule().kind != ScheduleKind::pa2;
        const std::int64_t n = std::int64_t(order_.size());
        if (!supported || cfg_.n_threads <= 1 || n < 4 * sync_rows * cfg_.n_threads) return 1;
        return cfg_.n_threads;
    }

    T* coef_row(int k) { return m_.coef + k * d_; }

    // Asks the cache for row i, its target and its weight ahead of use: in a shuffled epoch
    // each of them would otherwise cost a full memory latency.
    FASTDESCENT_ALWAYS_INLINE void prefetch_row(std::int64_t i) const {
        X_.prefetch(i);
        __builtin_prefetch(tg_.y + i);
        if (tg_.sample_weight) __builtin_prefetch(tg_.sample_weight + i);
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
    double per_sample_loss(std::int64_t i, double sw, const double* p, double* dp, Log1pSum& log1p_sum) const {
        if (cfg_.loss != LossKind::log_loss) return sw * loss_and_deriv(i, p, dp);
        const double y = double(tg_.y[i]);
        double e;
        dp[0] = LogLoss{}.deriv_and_exp(p[0], y, e);
        log1p_sum.add(e, sw);
        const double z = p[0] * y;
        return z < 0 ? -sw * z : 0.0;
    }

    // Loss of row i given its scores p_ (length K); writes d loss / d p into dp.
    template <class Real>
    double loss_and_deriv(std::int64_t i, const Real* p, Real* dp) const {
        double y = double(tg_.y[i]);
        if (cfg_.loss == LossKind::multinomial) return softmax_cross_entropy(p, K_, int(y), dp);
        return visit_scalar_loss(cfg_.loss, cfg_.epsilon, [&](auto L) {
            double d;
            double v = value_and_deriv(L, double(p[0]), y, d);
            dp[0] = Real(d);
            return v;
        });
    }

    // scikit-learn's plain SGD, one sample per update: w = wscale * v so that the L2 shrinkage
    // is O(1); L1 by the cumulative truncated gradient of Tsuruoka et al. (2009).
    double epoch_per_sample(double& t) {
        constexpr double max_dloss = 1e12;
        const bool l1 = pen_.has_l1();
        const bool passive_aggressive =
            policy_.schedule().kind == ScheduleKind::pa1 || policy_.schedule().kind == ScheduleKind::pa2;
        if (l1 && q_.empty()) q_.assign(std::size_t(K_ * d_), T(0));
        double sumloss = 0.0;
        Log1pSum log1p_sum;
        double wscale = 1.0;
        const bool averaging = cfg_.average > 0;
        if (averaging) avg_.start(m_.average_coef, K_ * d_);
        const std::int64_t n = std::int64_t(order_.size());
        for (std::int64_t r = 0; r < n; ++r) {
            const std::int64_t i = order_[std::size_t(r)];
            if (r + prefetch_distance < n) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
            for (int k = 0; k < K_; ++k)
                p_[k] = wscale * double(X_.dot(i, coef_row(k))) + double(m_.intercept[k]);
            double eta = policy_.eta(t);
            last_eta_ = eta;
            double sw = sample_weight(i);
            sumloss += per_sample_loss(i, sw, p_.data(), dp_.data(), log1p_sum);
            if (r == n - 1) last_grad_norm_ = row_gradient_norm(i, sw, wscale);
            if (pen_.has_l2()) {
                wscale *= std::fmax(0.0, 1.0 - (1.0 - pen_.l1_ratio) * eta * pen_.alpha);
                if (wscale < 1e-9) {
                    scale(T(wscale), m_.coef, K_ * d_);
                    if (averaging) avg_.rescaled(wscale);
                    wscale = 1.0;
                }
            }
            for (int k = 0; k < K_; ++k) {
                double update;
                if (passive_aggressive) {
                    // Step that makes the loss zero, capped (pa1) or damped (pa2) by C = eta0.
                    double sq = X_.row_squared_norm(i);
                    double y = double(tg_.y[i]);
                    double loss = visit_scalar_loss(cfg_.loss, cfg_.epsilon, [&](auto L) { return L.value(p_[0], y); });
                    if (policy_.schedule().kind == ScheduleKind::pa1)
                        update = sq == 0 ? 0.0 : std::fmin(policy_.schedule().eta0, loss / sq);
                    else
                        update = loss / (sq + 0.5 / policy_.schedule().eta0);
                    if (cfg_.loss == LossKind::hinge) update *= y;
                    else if (y - p_[0] < 0) update = -update;
                    update *= sw;
                } else {
                    double g = std::fmin(max_dloss, std::fmax(-max_dloss, dp_[k]));
                    update = -eta * g * sw;
                }
                if (update != 0.0) {
                    const T step = T(update / wscale);
                    if (averaging) avg_.record_axpy(X_, i, step, coef_row(k) - m_.coef);
                    X_.axpy(i, step, coef_row(k));
                    if (cfg_.fit_intercept) m_.intercept[k] += T(update * cfg_.intercept_decay);
                }
            }
            if (averaging && double(cfg_.average) <= t) {
                double mu = 1.0 / (t - double(cfg_.average) + 1.0);
                avg_.step(mu, wscale, m_.coef);
                for (int k = 0; k < K_; ++k)
                    m_.average_intercept[k] += T(mu * (double(m_.intercept[k]) - double(m_.average_intercept[k])));
            }
            if (l1) {
                u_ += pen_.l1_ratio * eta * pen_.alpha;
                for (int k = 0; k < K_; ++k) truncate_l1(i, k, wscale);
            }
            t += 1.0;
            if (poll_stop(K_ * d_ + 1)) break;
        }
        if (averaging) avg_.finish(m_.coef, m_.average_coef);
        if (wscale != 1.0) scale(T(wscale), m_.coef, K_ * d_);
        sumloss += log1p_sum.total();
        return sumloss;
    }

    // Gradient norm of the per-sample update on row i (scores in p_, loss derivatives in dp_):
    // per output k, g = sw * dp_k * x_i + lambda * w_k with w_k = wscale * v_k, so
    // ||g||^2 = a^2 ||x_i||^2 + 2 a lambda <x_i, w_k> + lambda^2 ||w_k||^2, a = sw * dp_k, and
    // <x_i, w_k> = p_k - intercept_k: O(nnz(x_i) + d), once per epoch.
    double row_gradient_norm(std::int64_t i, double sw, double wscale) const {
        constexpr double max_dloss = 1e12;
        const double lambda = pen_.l2();
        const double xx = X_.row_squared_norm(i);
        double sum = 0.0;
        for (int k = 0; k < K_; ++k) {
            const double a = sw * std::fmin(max_dloss, std::fmax(-max_dloss, dp_[k]));
            sum += a * a * xx + (cfg_.fit_intercept ? a * a : 0.0);
            if (lambda > 0) {
                sum += 2.0 * a * lambda * (p_[k] - double(m_.intercept[k])) +
                       lambda * lambda * wscale * wscale * squared_norm(m_.coef + k * d_, d_);
            }
        }
        return std::sqrt(std::fmax(sum, 0.0));
    }

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
        const double shrink_l2 = pen_.active ? pen_.alpha : 0.0;
        // A round is at least sync_rows rows per thread and at most a quarter epoch: every
        // round ends in a barrier, and on a busy machine a barrier costs a time slice.
        const std::int64_t round_rows = n_threads * std::max(sync_rows, (n + 4 * n_threads - 1) / (4 * n_threads));
        for (std::int64_t start = 0; start < n; start += round_rows) {
            const std::int64_t stop = std::min(n, start + round_rows);
#pragma omp parallel num_threads(n_threads)
            {
                int tid = 0;
#ifdef _OPENMP
                tid = omp_get_thread_num();
#endif
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
                        if (update != 0.0) {
                            X_.axpy(i, T(update / wscale), w + k * d_);
                            if (cfg_.fit_intercept) b[k] += T(update * cfg_.intercept_decay);
                        }
                    }
                }
                if (wscale != 1.0) scale(T(wscale), w, P);
                thread_loss[std::size_t(tid)] += loss + log1p_sum.total();
            }
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

    // Cumulative L1 penalty on the features that row i touches: each weight has received q of
    // the total shrinkage u so far and gets the rest now, without crossing zero.
    void truncate_l1(std::int64_t i, int k, double wscale) {
        T* w = coef_row(k);
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

    // Mini-batch or full-batch epoch: per batch, one fused pass for the gradient sums, then the
    // policy's step (GradientStep).
    double epoch_batched(double& t) {
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t B = cfg_.batch_size > 0 ? std::min(cfg_.batch_size, n) : n;
        if (const LazyRule rule = lazy_rule(); rule != LazyRule::none) return epoch_lazy(t, rule);
        const std::int64_t P = K_ * d_;
        grad_.resize(std::size_t(P));
        grad_b_.resize(std::size_t(K_));
        double sumloss = 0.0;
        for (std::int64_t start = 0; start < n; start += B) {
            const std::int64_t stop = std::min(n, start + B);
            double batch_weight = 0.0;
            sumloss += batch_gradient(start, stop, batch_weight);
            if (batch_weight == 0.0) continue;  // nothing to learn from rows of weight zero
            const double eta = policy_.eta(t);
            last_eta_ = eta;
            const double norm = step_.apply(m_, grad_.data(), grad_b_.data(), batch_weight, eta, t, stop == n);
            if (stop == n) last_grad_norm_ = norm;
            t += 1.0;
            if (poll_stop((stop - start) * (P + 1))) break;
        }
        return sumloss;
    }

    // ---- Lazy sparse mini-batches --------------------------------------------------------
    // On CSR rows a mini-batch touches few features, and only those take the optimizer's step:
    // Optimizer::update_columns runs the rule's own update on the gathered columns, O(nnz of the
    // batch) per step. Where the rule's step on a feature with zero data gradient has a closed
    // form over any number of steps (exact rules), each touched feature is first brought up to
    // date for the steps it skipped, and the result equals the dense update's (to rounding): per
    // skipped step an untouched weight goes through w <- soft_threshold(a_s w, c_s),
    // a_s = 1 - eta_s (l2 + weight_decay) (SGD without momentum; 1 for Adagrad and RMSprop,
    // which need l2 = weight_decay = 0), c_s = eta_s alpha l1_ratio; with a_s > 0 k such steps
    // compose into w <- sign(w) max(0, A |w| - C), from the prefix products P_t = prod a_s and
    // sums S_t = sum c_s / P_s; RMSprop's averages also decay by alpha^k. Exact rules are taken
    // automatically. Every other rule, with cfg.sparse_lazy, takes torch's SparseAdam rule: the
    // batch's features take the step (with the L2 gradient, weight decay and L1 step) and the
    // other features and their state do not change at all; not the dense result, a documented
    // choice. Averaging keeps the dense update (it moves every weight at every step).
    enum class LazyRule { none, sgd, adagrad, rmsprop, columns };

    LazyRule lazy_rule() const {
        if constexpr (std::is_same<Rows, DenseRows<T>>::value) {
            return LazyRule::none;
        } else {
            if (cfg_.batch_size == 0 || cfg_.average > 0) return LazyRule::none;
            const bool clipping = cfg_.clip_value > 0 || cfg_.clip_norm > 0;
            const LazyRule chosen = cfg_.sparse_lazy ? LazyRule::columns : LazyRule::none;
            if (clipping) return chosen;  // clipping couples the features: no exact catch-up
            if (!opt_) return LazyRule::sgd;
            const OptimizerSpec* s = opt_->spec();
            if (!s) return LazyRule::none;
            const bool no_decay = lazy_l2() == 0 && s->weight_decay == 0;
            switch (s->kind) {
                case OptimizerKind::sgd: return s->momentum == 0 ? LazyRule::sgd : chosen;
                case OptimizerKind::adagrad: return no_decay ? LazyRule::adagrad : chosen;
                case OptimizerKind::rmsprop:
                    return no_decay && s->momentum == 0 ? LazyRule::rmsprop : chosen;
                default: return chosen;
            }
        }
    }

    double lazy_l2() const { return pen_.l2(); }

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
                const double gb = double(grad_b_[std::size_t(k)]) * inv;
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
        const double l2 = lazy_l2();
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
            for (int k = 0; k < K_; ++k) grad_b_[std::size_t(k)] *= inv;
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

    // Asks the stop check every ~4M multiply-adds of work: often enough to stop within
    // milliseconds, rarely enough to cost nothing.
    bool poll_stop(std::int64_t work) {
        work_since_poll_ += work;
        if (work_since_poll_ < (1 << 22)) return false;
        work_since_poll_ = 0;
        if (stop_ && stop_()) interrupted_ = true;
        return interrupted_;
    }

    // Sum of weighted losses over rows order_[start:stop]; the weighted sums of loss gradients
    // go to grad_ / grad_b_ and the sum of the weights to weight_sum. Rows are split into contiguous blocks, one per thread, and the
    // per-thread sums are added in block order, so a given thread count is deterministic.
    double batch_gradient(std::int64_t start, std::int64_t stop, double& weight_sum) {
        const std::int64_t P = K_ * d_;
        int n_threads = cfg_.n_threads;
        if ((stop - start) * P < row_sums_min_work) n_threads = 1;  // not worth waking threads
        if (int(thread_grads_.size()) < n_threads) thread_grads_.resize(std::size_t(n_threads));
        if (int(block_scratch_.size()) < n_threads) block_scratch_.resize(std::size_t(n_threads));
        thread_sums_.assign(std::size_t(2 * n_threads), 0.0);  // (loss, weight) per thread
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
        {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            // Per thread: gradient (P), intercept gradient (K), then scratch scores and derivatives.
            T* g = thread_room(thread_grads_[std::size_t(tid)], P + 3 * K_);
            T* p = g + P + K_;
            T* dp = p + K_;
            const std::int64_t len = stop - start;
            const std::int64_t lo = start + len * tid / n_threads;
            const std::int64_t hi = start + len * (tid + 1) / n_threads;
            double loss = 0.0, weight = 0.0;
            if constexpr (dense) {  // the fused block kernels
                loss = dense_block_sums(X_, order_.data(), lo, hi, tg_.y, tg_.sample_weight,
                                        [this](std::int64_t i) { return sample_weight(i); }, cfg_.loss,
                                        cfg_.epsilon, K_, m_.coef, m_.intercept, g, g + P,
                                        block_scratch_[std::size_t(tid)], weight);
            } else {
                for (std::int64_t r = lo; r < hi; ++r) {
                    const std::int64_t i = order_[std::size_t(r)];
                    if (r + prefetch_distance < hi) prefetch_row(order_[std::size_t(r + prefetch_distance)]);
                    for (int k = 0; k < K_; ++k) p[k] = X_.dot(i, m_.coef + k * d_) + m_.intercept[k];
                    double sw = sample_weight(i);
                    weight += sw;
                    loss += sw * loss_and_deriv(i, p, dp);
                    for (int k = 0; k < K_; ++k) {
                        T c = T(sw * double(dp[k]));
                        if (c != T(0)) {
                            X_.axpy(i, c, g + k * d_);
                            g[P + k] += c;
                        }
                    }
                }
            }
            thread_sums_[std::size_t(2 * tid)] = loss;
            thread_sums_[std::size_t(2 * tid + 1)] = weight;
        }
        const T* g0 = room_of(thread_grads_[0]);
        std::copy(g0, g0 + P, grad_.begin());
        std::copy(g0 + P, g0 + P + K_, grad_b_.begin());
        double loss = thread_sums_[0];
        weight_sum = thread_sums_[1];
        for (int tid = 1; tid < n_threads; ++tid) {
            const T* g = room_of(thread_grads_[std::size_t(tid)]);
            axpy(T(1), g, grad_.data(), P);
            axpy(T(1), g + P, grad_b_.data(), K_);
            loss += thread_sums_[std::size_t(2 * tid)];
            weight_sum += thread_sums_[std::size_t(2 * tid + 1)];
        }
        return loss;
    }

    // Weighted accuracy (classification) or weighted R^2 (regression) on the validation rows,
    // scikit-learn's default score of the estimator.
    double validation_score() {
        ValidationSums v;
        for (std::int64_t i : val_rows_) {
            const double sw = tg_.sample_weight ? double(tg_.sample_weight[i]) : 1.0;
            const double y = double(tg_.y[i]);
            int best = 0;
            for (int k = 0; k < K_; ++k) {
                p_[k] = double(X_.dot(i, coef_row(k))) + double(m_.intercept[k]);
                if (p_[k] > p_[best]) best = k;
            }
            v.weight += sw;
            if (cfg_.classification) {
                const double predicted = K_ > 1 ? double(best) : (p_[0] > 0 ? 1.0 : -1.0);
                v.hit += predicted == y ? sw : 0.0;
            } else {
                v.wy += sw * y;
                v.wyy += sw * y * y;
                v.sse += sw * (y - p_[0]) * (y - p_[0]);
            }
        }
        return v.score(cfg_.classification);
    }

    void validate() const {
        if (m_.K < 1) throw std::invalid_argument("model needs at least one output");
        if (m_.d != X_.n_cols) throw std::invalid_argument("coef has the wrong number of features");
        if (cfg_.loss == LossKind::multinomial && m_.K < 2)
            throw std::invalid_argument("multinomial loss needs at least two outputs");
        if (cfg_.loss != LossKind::multinomial && m_.K != 1)
            throw std::invalid_argument("scalar losses train one output at a time");
        if (cfg_.average > 0 && (!m_.average_coef || !m_.average_intercept))
            throw std::invalid_argument("averaging needs average_coef and average_intercept buffers");
        if (cfg_.batch_size < 0) throw std::invalid_argument("batch_size must be >= 0");
        if (cfg_.n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
        if (!(cfg_.clip_value >= 0) || !(cfg_.clip_norm >= 0))
            throw std::invalid_argument("clip_value and clip_norm must be >= 0 (0 disables)");
        if (cfg_.max_iter < 0) throw std::invalid_argument("max_iter must be >= 0");
        const bool pa = cfg_.schedule.kind == ScheduleKind::pa1 || cfg_.schedule.kind == ScheduleKind::pa2;
        if (pa && (!per_sample_sgd() || m_.K != 1))
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
    const Penalty pen_;
    GradientStep<T> step_;
    bool interrupted_ = false;
    double last_eta_ = 0.0;
    double last_grad_norm_ = 0.0;
    std::int64_t work_since_poll_ = 0;
    double train_weight_ = 0.0;    // sum of the training rows' weights
    double u_ = 0.0;               // total L1 shrinkage so far (per-sample path)
    std::vector<T> q_;             // L1 shrinkage each weight has received
    LazyAverage<T> avg_;           // ASGD average of the per-sample path
    // Lazy sparse mini-batches: dense gradient buffer (zero outside the batch's features), the
    // prefix step each weight is up to date with, per-feature batch stamps, the rule's state.
    std::vector<T> lazy_grad_, lazy_compact_;
    T* rms_square_avg_ = nullptr;  // RMSprop's averages in the optimizer's state (exact rule)
    T* rms_grad_avg_ = nullptr;
    std::vector<std::int64_t> lazy_last_, lazy_stamp_, touched_;
    std::vector<double> prefix_scale_, prefix_shift_;
    std::int64_t lazy_batch_ = 0;
    std::vector<std::int64_t> order_, val_rows_;
    std::vector<double> p_, dp_;
    std::vector<T> grad_, grad_b_;
    std::vector<std::vector<T>> thread_grads_;
    std::vector<BlockScratch> block_scratch_;
    std::vector<std::vector<T>> local_models_;
    std::vector<std::vector<double>> local_scratch_;
    std::vector<double> thread_sums_;
};

// Trains `model` in place. `optimizer` null means scikit-learn's plain SGD.
template <class Rows>
TrainResult train(const Rows& X, const Targets<typename Rows::value_type>& targets,
                  Model<typename Rows::value_type>& model, const TrainConfig& cfg,
                  Optimizer<typename Rows::value_type>* optimizer, double t0, StopCheck stop,
                  EpochCallback on_epoch) {
    Trainer<Rows> trainer(X, targets, model, cfg, optimizer, std::move(stop), std::move(on_epoch));
    return trainer.run(t0);
}

// Row orders the trainer visits in successive epochs for a seed (exposed for tests).
inline std::vector<std::int64_t> shuffled_order(std::vector<std::int64_t> rows, std::uint64_t seed,
                                                int epochs) {
    Rng rng(seed);
    for (int e = 0; e < epochs; ++e) rng.shuffle(rows);
    return rows;
}

// Compiled once in cpp/src/trainer.cpp for every supported data view.
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

}  // namespace fastdescent
