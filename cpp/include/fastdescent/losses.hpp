// Per-sample losses of a linear output p against a target y, with scikit-learn's names and
// conventions: squared_error is 0.5 * (p - y)^2, classification targets are -1 / +1, the count
// and positive losses are scikit-learn's half deviances with the log link (p = log of the
// predicted mean). Each loss gives value(p, y) and deriv(p, y) = d value / d p; at a kink the
// derivative is 0 where 0 is a subgradient.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

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

// |y - p|.
struct AbsoluteError {
    double value(double p, double y) const { return std::fabs(y - p); }
    double deriv(double p, double y) const { return p > y ? 1.0 : (p < y ? -1.0 : 0.0); }
};

// The pinball loss of quantile q: q (y - p) above the prediction, (1 - q) (p - y) below.
struct Pinball {
    double q;
    double value(double p, double y) const { return y >= p ? q * (y - p) : (1.0 - q) * (p - y); }
    double deriv(double p, double y) const { return y > p ? -q : (y < p ? 1.0 - q : 0.0); }
};

// Half deviances with the log link, mean mu = exp(p). Each is core(p, y) + constant(y), where
// the core is affine in y and the constant makes the value 0 at p = log(y); curvature(p, y) is
// the second derivative in p (unbounded: the full-batch solver measures it on the data).
struct HalfPoisson {
    double value(double p, double y) const { return std::exp(p) - y * p + constant(y); }
    double deriv(double p, double y) const { return std::exp(p) - y; }
    double curvature(double p, double) const { return std::exp(p); }
    double value_and_deriv(double p, double y, double& d) const {
        const double mu = std::exp(p);
        d = mu - y;
        return mu - y * p + constant(y);
    }
    static double constant(double y) { return y > 0 ? y * std::log(y) - y : 0.0; }
};

struct HalfGamma {
    double value(double p, double y) const { return p + y * std::exp(-p) + constant(y); }
    double deriv(double p, double y) const { return 1.0 - y * std::exp(-p); }
    double curvature(double p, double y) const { return y * std::exp(-p); }
    double value_and_deriv(double p, double y, double& d) const {
        const double r = y * std::exp(-p);
        d = 1.0 - r;
        return p + r + constant(y);
    }
    static double constant(double y) { return -std::log(y) - 1.0; }
};

// Power q > 1, q != 2: mu^(2-q) / (2-q) - y mu^(1-q) / (1-q) + y^(2-q) / ((1-q)(2-q)).
struct HalfTweedie {
    double power;
    double value(double p, double y) const {
        const double a = 1.0 - power, b = 2.0 - power;
        return std::exp(b * p) / b - y * std::exp(a * p) / a + constant(y);
    }
    double deriv(double p, double y) const {
        return std::exp((2.0 - power) * p) - y * std::exp((1.0 - power) * p);
    }
    double curvature(double p, double y) const {
        const double a = 1.0 - power, b = 2.0 - power;
        return b * std::exp(b * p) - a * y * std::exp(a * p);
    }
    double value_and_deriv(double p, double y, double& d) const {
        const double a = 1.0 - power, b = 2.0 - power;
        const double mu_b = std::exp(b * p), y_mu_a = y * std::exp(a * p);
        d = mu_b - y_mu_a;
        return mu_b / b - y_mu_a / a + constant(y);
    }
    double constant(double y) const {
        const double a = 1.0 - power, b = 2.0 - power;
        return y > 0 ? std::pow(y, b) / (a * b) : 0.0;
    }
};

// value(p, y), and d value / d p into d; losses with a cheaper joint form provide their own.
template <class Loss, class = void>
struct has_joint_form : std::false_type {};
template <class Loss>
struct has_joint_form<Loss, std::void_t<decltype(std::declval<const Loss&>().value_and_deriv(
                                0.0, 0.0, std::declval<double&>()))>> : std::true_type {};

template <class Loss>
double value_and_deriv(const Loss& L, double p, double y, double& d) {
    if constexpr (has_joint_form<Loss>::value) {
        return L.value_and_deriv(p, y, d);
    } else {
        d = L.deriv(p, y);
        return L.value(p, y);
    }
}

// Calls f with the loss object for a scalar loss kind. `param` is the loss parameter: epsilon
// (huber and the epsilon-insensitive losses), the quantile, or the tweedie power; hinge-type
// losses use scikit-learn's thresholds.
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
        case LossKind::absolute_error: return f(AbsoluteError{});
        case LossKind::quantile: return f(Pinball{param});
        case LossKind::poisson: return f(HalfPoisson{});
        case LossKind::gamma: return f(HalfGamma{});
        case LossKind::tweedie: return f(HalfTweedie{param});
        case LossKind::multinomial: break;
    }
    throw std::invalid_argument("not a scalar loss");
}

// Calls f with the loss object of a log-link loss (which has curvature and constant).
template <class F>
decltype(auto) visit_log_link_loss(LossKind kind, double param, F&& f) {
    switch (kind) {
        case LossKind::poisson: return f(HalfPoisson{});
        case LossKind::gamma: return f(HalfGamma{});
        case LossKind::tweedie: return f(HalfTweedie{param});
        default: break;
    }
    throw std::invalid_argument("not a log-link loss");
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

// Throws std::invalid_argument unless `param` suits the loss: epsilon >= 0, a quantile in
// (0, 1), a tweedie power > 1 other than 2.
inline void check_loss_param(LossKind loss, double param) {
    if (!std::isfinite(param)) throw std::invalid_argument("the loss parameter must be finite");
    if (loss == LossKind::quantile && !(param > 0 && param < 1))
        throw std::invalid_argument("the quantile loss needs a quantile in (0, 1)");
    if (loss == LossKind::tweedie && !(param > 1 && param != 2))
        throw std::invalid_argument(
            "the tweedie loss needs a power > 1 other than 2 (power 0, 1 and 2 are squared_error, "
            "poisson and gamma)");
    if ((loss == LossKind::huber || loss == LossKind::epsilon_insensitive ||
         loss == LossKind::squared_epsilon_insensitive) && !(param >= 0))
        throw std::invalid_argument("epsilon must be >= 0");
}

// Whether y is a valid target of the loss: >= 0 for poisson (and tweedie with power < 2),
// > 0 for gamma (and tweedie with power >= 2), any real otherwise.
inline bool valid_target(LossKind loss, double param, double y) {
    switch (loss) {
        case LossKind::poisson: return y >= 0;
        case LossKind::gamma: return y > 0;
        case LossKind::tweedie: return param < 2 ? y >= 0 : y > 0;
        default: return true;
    }
}

// Largest curvature of the loss in its score: its second derivative (the softmax Hessian's
// largest eigenvalue for multinomial), or 0 where the loss is not smooth or its curvature is
// unbounded (the log-link losses).
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
