// The step from a batch's gradient, written once for every backend that keeps the model in host
// memory (the in-memory batched strategies and the data-parallel client) and for any model
// whose parameters are a list of arrays (ParamArray): weighted mean, L2 gradient, clipping, the
// optimizer's rule with the schedule's step size, the L1 proximal step, averaging. The GPU
// keeps the same sequence in its fused kernels, tested against this one.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

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

// One parameter array of a model as the step sees it: the model seam. A linear model is two
// (coefficients, intercepts); a multi-layer perceptron is a weight matrix and a bias vector per
// layer. The step treats them alike but for what each array says of itself.
template <class T>
struct ParamArray {
    T* w;                    // the weights, updated in place
    T* grad;                 // weighted gradient sums of the batch; used as scratch
    std::int64_t n;          // entries
    std::int64_t rows = 1;   // a rows x (n / rows) matrix, for shape-aware rules (Adafactor)
    bool penalized = true;   // the penalty applies (biases: not)
    bool trained = true;     // false: kept as it is (an intercept that is not fitted)
    double grad_scale = 1.0; // factor on the mean gradient after clipping (intercept_decay)
    T* average = nullptr;    // running average (ASGD); null when averaging is off
    double shift = 0.0;      // added to the mean gradient: a linear term of the objective
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

    // One update of a model's arrays (array k is the optimizer's slot k) from the weighted sums
    // of the loss gradients of a batch whose rows weigh batch_weight (> 0) in all: mean, L2
    // gradient on the penalized arrays, clipping over the trained arrays together, the
    // optimizer's rule with step size eta, the L1 proximal step, averaging from update count
    // `average` on. Returns the gradient norm of EpochStats when want_norm, else NaN.
    double apply(ParamArray<T>* arrays, int count, double batch_weight, double eta, double t,
                 bool want_norm) {
        // Weighted mean gradient: a row of weight zero counts as if it were absent.
        const T inv = T(1.0 / batch_weight);
        for (int k = 0; k < count; ++k) {
            if (inv != T(1)) scale(inv, arrays[k].grad, arrays[k].n);
            if (arrays[k].shift != 0)
                for (std::int64_t j = 0; j < arrays[k].n; ++j) arrays[k].grad[j] += T(arrays[k].shift);
        }
        if (penalty_.has_l2())
            for (int k = 0; k < count; ++k)
                if (arrays[k].penalized) axpy(T(penalty_.l2()), arrays[k].w, arrays[k].grad, arrays[k].n);
        double norm = std::numeric_limits<double>::quiet_NaN();
        if (want_norm) {
            norm = 0.0;
            for (int k = 0; k < count; ++k)
                if (arrays[k].trained) norm += squared_norm(arrays[k].grad, arrays[k].n);
            norm = std::sqrt(norm);
        }
        clip(arrays, count);
        opt_->begin_step();
        for (int k = 0; k < count; ++k) {
            ParamArray<T>& a = arrays[k];
            if (!a.trained) continue;
            if (a.grad_scale != 1.0) scale(T(a.grad_scale), a.grad, a.n);
            opt_->update(k, a.w, a.grad, a.n, eta, a.rows);
        }
        if (penalty_.has_l1())
            for (int k = 0; k < count; ++k)
                if (arrays[k].penalized) soft_threshold(arrays[k].w, arrays[k].n, eta * penalty_.l1());
        if (average_ > 0 && double(average_) <= t) {
            const double mu = 1.0 / (t - double(average_) + 1.0);
            for (int k = 0; k < count; ++k) {
                const ParamArray<T>& a = arrays[k];
                for (std::int64_t j = 0; j < a.n; ++j)
                    a.average[j] += T(mu * (double(a.w[j]) - double(a.average[j])));
            }
        }
        return norm;
    }

    // The linear model's step: its coefficients (K x d, penalized) and intercepts (K).
    double apply(Model<T>& m, T* grad, T* grad_b, double batch_weight, double eta, double t,
                 bool want_norm) {
        ParamArray<T> arrays[2] = {
            {m.coef, grad, std::int64_t(m.K) * m.d, m.K, true, true, 1.0, m.average_coef},
            {m.intercept, grad_b, m.K, 1, false, fit_intercept_, intercept_decay_, m.average_intercept,
             penalty_.intercept_linear}};
        return apply(arrays, 2, batch_weight, eta, t, want_norm);
    }

    const Penalty& penalty() const { return penalty_; }
    Optimizer<T>* optimizer() const { return opt_; }

private:
    // Clipping over the trained arrays together, as torch's clip_grad_value_ /
    // clip_grad_norm_ treat a model's parameters.
    void clip(ParamArray<T>* arrays, int count) {
        if (clip_value_ > 0)
            for (int k = 0; k < count; ++k)
                if (arrays[k].trained) clip_by_value(arrays[k].grad, arrays[k].n, clip_value_);
        if (clip_norm_ > 0) {
            clip_grads_.clear();  // kept between steps: no allocation per step
            clip_sizes_.clear();
            for (int k = 0; k < count; ++k)
                if (arrays[k].trained) {
                    clip_grads_.push_back(arrays[k].grad);
                    clip_sizes_.push_back(arrays[k].n);
                }
            clip_by_global_norm(clip_grads_.data(), clip_sizes_.data(), int(clip_grads_.size()),
                                clip_norm_, 2.0);
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
    std::vector<T*> clip_grads_;
    std::vector<std::int64_t> clip_sizes_;
};

}  // namespace fastdescent
