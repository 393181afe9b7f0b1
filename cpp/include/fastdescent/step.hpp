// The step from a batch's gradient, written once for every backend that keeps the model in host
// memory (the in-memory batched strategies and the data-parallel client): weighted mean, L2
// gradient, clipping, the optimizer's rule with the schedule's step size, the L1 proximal step,
// averaging. The GPU keeps the same sequence in its fused kernels, tested against this one.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "fastdescent/clipping.hpp"
#include "fastdescent/optimizers.hpp"
#include "fastdescent/policy.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

// Parameters of a linear model with K outputs, updated in place: coef is K x d row-major,
// intercept has K entries; the averages (ASGD) may be null when averaging is off.
template <class T>
struct Model {
    T* coef;
    T* intercept;
    T* average_coef;
    T* average_intercept;
    int K;
    std::int64_t d;
};

template <class T>
class GradientStep {
public:
    // `optimizer` null means scikit-learn's plain SGD (w -= eta g).
    GradientStep(const TrainConfig& cfg, Optimizer<T>* optimizer)
        : penalty_(Penalty::of(cfg)), fit_intercept_(cfg.fit_intercept),
          intercept_decay_(cfg.intercept_decay), average_(cfg.average),
          clip_value_(cfg.clip_value), clip_norm_(cfg.clip_norm),
          opt_(optimizer ? optimizer : &plain_) {}
    GradientStep(const GradientStep&) = delete;  // opt_ may point at plain_
    GradientStep& operator=(const GradientStep&) = delete;

    // One update of m from the weighted sums of the loss gradients of a batch, grad (K x d) and
    // grad_b (K), whose rows weigh batch_weight (> 0) in all: both buffers are used as scratch.
    // eta is the step size and t the update count. Returns the gradient norm of EpochStats when
    // want_norm, else NaN.
    double apply(Model<T>& m, T* grad, T* grad_b, double batch_weight, double eta, double t,
                 bool want_norm) {
        const std::int64_t P = std::int64_t(m.K) * m.d;
        const int K = m.K;
        // Weighted mean gradient: a row of weight zero counts as if it were absent.
        const T inv = T(1.0 / batch_weight);
        scale(inv, grad, P);
        scale(inv, grad_b, K);
        if (penalty_.has_l2()) axpy(T(penalty_.l2()), m.coef, grad, P);
        double norm = std::numeric_limits<double>::quiet_NaN();
        if (want_norm)
            norm = std::sqrt(squared_norm(grad, P) + (fit_intercept_ ? squared_norm(grad_b, K) : 0.0));
        clip(grad, P, grad_b, K);
        opt_->begin_step();
        opt_->update(0, m.coef, grad, P, eta, K);
        if (fit_intercept_) {
            scale(T(intercept_decay_), grad_b, K);
            opt_->update(1, m.intercept, grad_b, K, eta);
        }
        if (penalty_.has_l1()) soft_threshold(m.coef, P, eta * penalty_.l1());
        if (average_ > 0 && double(average_) <= t) {
            const double mu = 1.0 / (t - double(average_) + 1.0);
            for (std::int64_t j = 0; j < P; ++j)
                m.average_coef[j] += T(mu * (double(m.coef[j]) - double(m.average_coef[j])));
            for (int k = 0; k < K; ++k)
                m.average_intercept[k] +=
                    T(mu * (double(m.intercept[k]) - double(m.average_intercept[k])));
        }
        return norm;
    }

    const Penalty& penalty() const { return penalty_; }
    Optimizer<T>* optimizer() const { return opt_; }

private:
    // Clipping over coefficients and intercepts together, as torch's clip_grad_value_ /
    // clip_grad_norm_ would treat the two parameter arrays.
    void clip(T* grad, std::int64_t P, T* grad_b, int K) const {
        const std::int64_t nb = fit_intercept_ ? K : 0;
        if (clip_value_ > 0) {
            clip_by_value(grad, P, clip_value_);
            clip_by_value(grad_b, nb, clip_value_);
        }
        if (clip_norm_ > 0) {
            T* arrays[2] = {grad, grad_b};
            std::int64_t sizes[2] = {P, nb};
            clip_by_global_norm(arrays, sizes, 2, clip_norm_, 2.0);
        }
    }

    static void soft_threshold(T* w, std::int64_t n, double lambda) {
        for (std::int64_t j = 0; j < n; ++j) {
            const double v = w[j];
            w[j] = T(v > lambda ? v - lambda : (v < -lambda ? v + lambda : 0.0));
        }
    }

    Penalty penalty_;
    bool fit_intercept_;
    double intercept_decay_;
    std::int64_t average_;
    double clip_value_, clip_norm_;
    PlainSgd<T> plain_;
    Optimizer<T>* opt_;
};

}  // namespace fastdescent
