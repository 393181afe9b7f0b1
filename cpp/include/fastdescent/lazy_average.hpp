// The running average of the weights (averaged SGD) at O(nnz) cost per update on sparse rows.
//
// The per-sample trainer stores w = s * v (s: the L2 weight scale) and averages after every
// update t: abar <- abar + mu_t (s v - abar). Done directly that is O(d) per update. Here the
// average is kept as abar = A * a + B * v with scalars A, B and a vector a in double:
// - an averaging step changes only the scalars: A <- (1 - mu) A, B <- (1 - mu) B + mu s;
// - a change delta of some entries of v is balanced by a <- a - (B / A) delta on those entries;
// - rescaling v <- s v (to keep s away from underflow) is balanced by B <- B / s.
// The first averaging step (mu = 1) sets abar = s v: a = 0, A = 1, B = s (O(d), once).
// The average is written back to the model's buffer at the end of each epoch (O(d) per epoch).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace fastdescent {

template <class T>
class LazyAverage {
public:
    // Starts an epoch from the stored average.
    void start(const T* average, std::int64_t n) {
        a_.assign(average, average + n);
        A_ = 1.0;
        B_ = 0.0;
    }

    // Entry j of v changed by delta.
    void record(std::int64_t j, double delta) {
        if (B_ != 0.0) a_[std::size_t(j)] -= (B_ / A_) * delta;
    }

    // v[offset + j] += step * x_ij for the stored entries of row i (call before the axpy).
    template <class Rows>
    void record_axpy(const Rows& X, std::int64_t i, T step, std::int64_t offset) {
        if (B_ == 0.0) return;
        const double c = (B_ / A_) * double(step);
        X.for_each(i, [&](std::int64_t j, T x) { a_[std::size_t(offset + j)] -= c * double(x); });
    }

    // abar <- abar + mu (s v - abar).
    void step(double mu, double s, const T* v) {
        if (mu >= 1.0) {
            std::fill(a_.begin(), a_.end(), 0.0);
            A_ = 1.0;
            B_ = s;
            (void)v;
            return;
        }
        A_ *= 1.0 - mu;
        B_ = (1.0 - mu) * B_ + mu * s;
    }

    // v was multiplied by s.
    void rescaled(double s) { B_ /= s; }

    // Writes abar = A a + B v into average.
    void finish(const T* v, T* average) const {
        for (std::size_t j = 0; j < a_.size(); ++j)
            average[j] = T(A_ * a_[j] + B_ * double(v[j]));
    }

private:
    std::vector<double> a_;
    double A_ = 1.0, B_ = 0.0;
};

}  // namespace fastdescent
