// Per-sample losses of a linear output p against a target y, with scikit-learn's names and
// conventions: squared_error is 0.5 * (p - y)^2, classification targets are -1 / +1.
// Each loss gives value(p, y) and deriv(p, y) = d value / d p.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "fastdescent/isa_namespace.hpp"
#include "fastdescent/loss_kind.hpp"

namespace fastdescent {
// Compiled into every ISA's kernels: one copy per ISA namespace (see isa_namespace.hpp).
inline namespace FASTDESCENT_ISA_NS {



struct SquaredError {
    double value(double p, double y) const { return 0.5 * (p - y) * (p - y); }
    double deriv(double p, double y) const { return p - y; }
};

struct Huber {
    double c;
    double value(double p, double y) const {
        double r = p - y, a = std::fabs(r);
        return a <= c ? 0.5 * r * r : c * a - 0.5 * c * c;
    }
    double deriv(double p, double y) const {
        double r = p - y;
        return std::fabs(r) <= c ? r : (r > 0 ? c : -c);
    }
};

struct EpsilonInsensitive {
    double eps;
    double value(double p, double y) const { return std::fmax(0.0, std::fabs(y - p) - eps); }
    double deriv(double p, double y) const {
        return y - p > eps ? -1.0 : (p - y > eps ? 1.0 : 0.0);
    }
};

struct SquaredEpsilonInsensitive {
    double eps;
    double value(double p, double y) const {
        double z = std::fabs(y - p) - eps;
        return z > 0 ? z * z : 0.0;
    }
    double deriv(double p, double y) const {
        double z = y - p;
        return z > eps ? -2.0 * (z - eps) : (z < -eps ? 2.0 * (-z - eps) : 0.0);
    }
};

// log(1 + exp(-y p)), evaluated without overflow or cancellation for any |p|: with
// e = exp(-|z|) <= 1, the value is log1p(e) (+ |z| when z < 0), exact to rounding everywhere.
struct LogLoss {
    double value(double p, double y) const {
        double d;
        return value_and_deriv(p, y, d);
    }
    double deriv(double p, double y) const {
        double d;
        value_and_deriv(p, y, d);
        return d;
    }
    // Both at once with one exp and one log1p: e = exp(-|z|) serves either sign of z.
    double value_and_deriv(double p, double y, double& d) const {
        double e;
        d = deriv_and_exp(p, y, e);
        const double z = p * y;
        return z >= 0 ? std::log1p(e) : std::log1p(e) - z;
    }
    // The derivative alone, and e = exp(-|z|), z = y p: the value is log1p(e) + max(-z, 0), for
    // callers that take the log1p of many rows at once.
    double deriv_and_exp(double p, double y, double& e) const {
        const double z = p * y;
        e = std::exp(-std::fabs(z));
        return z >= 0 ? -y * e / (1.0 + e) : -y / (1.0 + e);
    }
};

// max(0, threshold - y p); perceptron is threshold 0.
struct Hinge {
    double threshold;
    double value(double p, double y) const { return std::fmax(0.0, threshold - p * y); }
    double deriv(double p, double y) const { return p * y <= threshold ? -y : 0.0; }
};

struct SquaredHinge {
    double threshold;
    double value(double p, double y) const {
        double z = threshold - p * y;
        return z > 0 ? z * z : 0.0;
    }
    double deriv(double p, double y) const {
        double z = threshold - p * y;
        return z > 0 ? -2.0 * y * z : 0.0;
    }
};

struct ModifiedHuber {
    double value(double p, double y) const {
        double z = p * y;
        if (z >= 1.0) return 0.0;
        if (z >= -1.0) return (1.0 - z) * (1.0 - z);
        return -4.0 * z;
    }
    double deriv(double p, double y) const {
        double z = p * y;
        if (z >= 1.0) return 0.0;
        if (z >= -1.0) return -2.0 * (1.0 - z) * y;
        return -4.0 * y;
    }
};

// value(p, y), and d value / d p into d; losses with a cheaper joint form provide their own.
template <class Loss>
double value_and_deriv(const Loss& L, double p, double y, double& d) {
    if constexpr (std::is_same_v<Loss, LogLoss>) {
        return L.value_and_deriv(p, y, d);
    } else {
        d = L.deriv(p, y);
        return L.value(p, y);
    }
}

// Calls f with the loss object for a scalar loss kind. `param` is epsilon (huber and the
// epsilon-insensitive losses); hinge-type losses use scikit-learn's thresholds.
template <class F>
decltype(auto) visit_scalar_loss(LossKind kind, double param, F&& f) {
    switch (kind) {
        case LossKind::squared_error: return f(SquaredError{});
        case LossKind::huber: return f(Huber{param});
        case LossKind::epsilon_insensitive: return f(EpsilonInsensitive{param});
        case LossKind::squared_epsilon_insensitive: return f(SquaredEpsilonInsensitive{param});
        case LossKind::log_loss: return f(LogLoss{});
        case LossKind::hinge: return f(Hinge{1.0});
        case LossKind::squared_hinge: return f(SquaredHinge{1.0});
        case LossKind::modified_huber: return f(ModifiedHuber{});
        case LossKind::perceptron: return f(Hinge{0.0});
        case LossKind::multinomial: break;
    }
    throw std::invalid_argument("not a scalar loss");
}

// Softmax cross-entropy of K scores p against class index c: returns -log softmax(p)_c and
// writes d loss / d p_k = softmax(p)_k - [k == c] into dp. Shifted by max(p) so that
// exp never overflows.
template <class Real>
double softmax_cross_entropy(const Real* p, int K, int c, Real* dp) {
    double m = p[0];
    for (int k = 1; k < K; ++k) m = std::fmax(m, double(p[k]));
    double z = 0.0;
    for (int k = 0; k < K; ++k) {
        double e = std::exp(double(p[k]) - m);
        dp[k] = Real(e);
        z += e;
    }
    for (int k = 0; k < K; ++k) dp[k] = Real(double(dp[k]) / z - (k == c ? 1.0 : 0.0));
    // m - p_c first: it is exact when p_c is the largest score, where adding log(z) to m
    // first would round it away at |m| ~ 1e30.
    return std::log(z) + (m - double(p[c]));
}

}  // namespace FASTDESCENT_ISA_NS

// Largest curvature of the loss in its score: its second derivative (the softmax Hessian's
// largest eigenvalue for multinomial), or 0 where the loss is not smooth.
inline double loss_curvature_bound(LossKind loss) {
    switch (loss) {
        case LossKind::squared_error:
        case LossKind::huber: return 1.0;
        case LossKind::squared_epsilon_insensitive:
        case LossKind::squared_hinge:
        case LossKind::modified_huber: return 2.0;
        case LossKind::log_loss: return 0.25;
        case LossKind::multinomial: return 0.5;
        default: return 0.0;
    }
}

}  // namespace fastdescent
