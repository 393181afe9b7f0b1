// Stateless, fused parameter-update rules: each function updates a parameter array w in place
// from its gradient g and the caller's state arrays, in as few passes over memory as the rule
// allows (one for the element-wise rules; LAMB and Adafactor need norms of the update first).
//
// Conventions shared by every rule:
// - `step` is the 1-based number of this update of the array (PyTorch's state["step"] after
//   its increment); bias corrections and schedules inside a rule use it.
// - `lr` is the step size of this update, as a scheduler would set it.
// - Arithmetic is done in T, as PyTorch does for a tensor of that dtype; scalar coefficients are
//   computed in double first.
// - Loops over more than 2^16 elements are split over `n_threads` threads (<= 0: all). Results
//   do not depend on the thread count (norms are summed over fixed blocks in order), except
//   Adafactor's factored column statistics: deterministic for a given thread count.
//
// Equations: SGD, Adagrad, RMSprop, Adam/AdamW, NAdam and Adamax as documented for torch.optim;
// LAMB, Adafactor and Lion as the papers define them and Optax implements them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fastdescent/parallel.hpp"
#include "fastdescent/portable.hpp"

namespace fastdescent {

// SGD with momentum (PyTorch): d = g + wd w; b = d on the first step, else
// b = momentum b + (1 - dampening) d; d = nesterov ? d + momentum b : b; w -= lr d.
// `momentum_buffer` may be null when momentum == 0. scaled_velocity is scikit-learn's MLP form,
// whose buffer holds steps rather than gradients: v = momentum v - lr d; w += nesterov ?
// momentum v - lr d : v (the same as PyTorch's while lr stays constant).
template <class T>
void sgd_update(T* w, const T* g, T* momentum_buffer, std::int64_t n, std::int64_t step,
                double lr, double momentum, double dampening, bool nesterov, double weight_decay,
                int n_threads = 1, bool scaled_velocity = false) {
    const T wd = T(weight_decay), mom = T(momentum), keep = T(1.0 - dampening), a = T(lr);
    T* buf = momentum_buffer;
    const bool first = step <= 1;
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
        if (momentum != 0 && scaled_velocity) {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) {
                T d = g[i] + wd * w[i];
                T v = (first ? T(0) : mom * buf[i]) - a * keep * d;
                buf[i] = v;
                w[i] += nesterov ? mom * v - a * d : v;
            }
        } else if (momentum == 0) {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) w[i] -= a * (g[i] + wd * w[i]);
        } else if (first) {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) {
                T d = g[i] + wd * w[i];
                buf[i] = d;
                w[i] -= a * (nesterov ? d + mom * d : d);
            }
        } else {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) {
                T d = g[i] + wd * w[i];
                T m = mom * buf[i] + keep * d;
                buf[i] = m;
                w[i] -= a * (nesterov ? d + mom * m : m);
            }
        }
    });
}

// Adagrad (PyTorch): lr_t = lr / (1 + (step - 1) lr_decay); d = g + wd w; s += d^2;
// w -= lr_t d / (sqrt(s) + eps). `sum` starts at initial_accumulator_value.
template <class T>
void adagrad_update(T* w, const T* g, T* sum, std::int64_t n, std::int64_t step, double lr,
                    double lr_decay, double weight_decay, double eps, int n_threads = 1) {
    const T clr = T(lr / (1.0 + double(step - 1) * lr_decay));
    const T wd = T(weight_decay), ep = T(eps);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) {
            T d = g[i] + wd * w[i];
            T s = sum[i] + d * d;
            sum[i] = s;
            w[i] -= clr * d / (std::sqrt(s) + ep);
        }
    });
}

// RMSprop (PyTorch): d = g + wd w; v = alpha v + (1 - alpha) d^2; centered: a = lerp(a, d,
// 1 - alpha), den = sqrt(v - a^2) + eps, else den = sqrt(v) + eps; with momentum
// b = momentum b + d / den, w -= lr b, else w -= lr d / den.
// `grad_avg` may be null unless centered, `momentum_buffer` unless momentum > 0.
template <class T>
void rmsprop_update(T* w, const T* g, T* square_avg, T* grad_avg, T* momentum_buffer,
                    std::int64_t n, double lr, double alpha, double eps, double weight_decay,
                    double momentum, bool centered, int n_threads = 1) {
    const T a = T(lr), al = T(alpha), one_minus = T(1.0 - alpha), ep = T(eps), wd = T(weight_decay),
            mom = T(momentum);
    const bool use_momentum = momentum > 0;
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
        auto run = [&](auto centered_c, auto momentum_c) {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) {
                T d = g[i] + wd * w[i];
                T v = al * square_avg[i] + one_minus * d * d;
                square_avg[i] = v;
                T den;
                if constexpr (decltype(centered_c)::value) {
                    T ga = grad_avg[i] + one_minus * (d - grad_avg[i]);
                    grad_avg[i] = ga;
                    den = std::sqrt(v - ga * ga) + ep;
                } else {
                    den = std::sqrt(v) + ep;
                }
                if constexpr (decltype(momentum_c)::value) {
                    T m = mom * momentum_buffer[i] + d / den;
                    momentum_buffer[i] = m;
                    w[i] -= a * m;
                } else {
                    w[i] -= a * d / den;
                }
            }
        };
        using yes = std::true_type;
        using no = std::false_type;
        if (centered && use_momentum) run(yes{}, yes{});
        else if (centered) run(yes{}, no{});
        else if (use_momentum) run(no{}, yes{});
        else run(no{}, no{});
    });
}

// Adam's update of entries [b, e) (see adam_update), in one copy per instruction set.
template <class T, bool amsgrad>
FASTDESCENT_ISA_CLONES void adam_range(T* w, const T* g, T* exp_avg, T* exp_avg_sq,
                                       T* max_exp_avg_sq, std::int64_t b, std::int64_t e,
                                       T keep_w, T wd, T c1, T b2, T c2, T step_size,
                                       T inv_bc2_sqrt, T ep) {
#pragma omp simd
    for (std::int64_t i = b; i < e; ++i) {
        T wi = w[i] * keep_w;
        T d = g[i] + wd * wi;
        T m = exp_avg[i] + c1 * (d - exp_avg[i]);
        T v = b2 * exp_avg_sq[i] + c2 * d * d;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if constexpr (amsgrad) {
            v = std::max(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        w[i] = wi - step_size * m / (std::sqrt(v) * inv_bc2_sqrt + ep);
    }
}

// Adam / AdamW (PyTorch). Coupled (Adam): d = g + wd w. Decoupled (AdamW): w *= 1 - lr wd,
// d = g. Then m = lerp(m, d, 1 - beta1); v = beta2 v + (1 - beta2) d^2; with amsgrad
// vmax = max(vmax, v) replaces v below; w -= lr / (1 - beta1^t) * m / (sqrt(v) /
// sqrt(1 - beta2^t) + eps). `max_exp_avg_sq` may be null unless amsgrad.
template <class T>
void adam_update(T* w, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, std::int64_t n,
                 std::int64_t step, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool amsgrad, bool decoupled, int n_threads = 1,
                 bool eps_before_bias_correction = false) {
    const double t = double(step);
    const T step_size = T(lr / (1.0 - std::pow(beta1, t)));
    const T inv_bc2_sqrt = T(1.0 / std::sqrt(1.0 - std::pow(beta2, t)));
    // Kingma and Ba's efficient form (scikit-learn's MLP): w -= lr sqrt(1 - beta2^t) /
    // (1 - beta1^t) m / (sqrt(v) + eps), i.e. eps scaled by the same correction as sqrt(v).
    if (eps_before_bias_correction) eps /= std::sqrt(1.0 - std::pow(beta2, t));
    const T keep_w = T(decoupled ? 1.0 - lr * weight_decay : 1.0);
    const T wd = T(decoupled ? 0.0 : weight_decay);
    const T c1 = T(1.0 - beta1), b2 = T(beta2), c2 = T(1.0 - beta2), ep = T(eps);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
        auto range = amsgrad ? &adam_range<T, true> : &adam_range<T, false>;
        range(w, g, exp_avg, exp_avg_sq, max_exp_avg_sq, b, e, keep_w, wd, c1, b2, c2, step_size,
              inv_bc2_sqrt, ep);
    });
}

// NAdam's momentum schedule (PyTorch): mu_t = beta1 (1 - 0.5 * 0.96^(t psi)).
inline double nadam_mu(double beta1, double momentum_decay, double t) {
    return beta1 * (1.0 - 0.5 * std::pow(0.96, t * momentum_decay));
}

// NAdam (PyTorch). d = g + wd w (or, decoupled, w *= 1 - lr wd and d = g); m = lerp(m, d,
// 1 - beta1); v = beta2 v + (1 - beta2) d^2; den = sqrt(v / (1 - beta2^t)) + eps;
// P_t = P_{t-1} mu_t; w -= lr (1 - mu_t) / (1 - P_t) d / den + lr mu_{t+1} / (1 - P_t mu_{t+1})
// m / den. `mu_product` holds P_{t-1} on entry (1 before the first step) and P_t on return.
template <class T>
void nadam_update(T* w, const T* g, T* exp_avg, T* exp_avg_sq, std::int64_t n,
                  std::int64_t step, double& mu_product, double lr, double beta1, double beta2,
                  double eps, double weight_decay, double momentum_decay, bool decoupled,
                  int n_threads = 1) {
    const double t = double(step);
    const double mu = nadam_mu(beta1, momentum_decay, t);
    const double mu_next = nadam_mu(beta1, momentum_decay, t + 1.0);
    mu_product *= mu;
    const T coef_g = T(lr * (1.0 - mu) / (1.0 - mu_product));
    const T coef_m = T(lr * mu_next / (1.0 - mu_product * mu_next));
    const T bc2 = T(1.0 - std::pow(beta2, t));
    const T keep_w = T(decoupled ? 1.0 - lr * weight_decay : 1.0);
    const T wd = T(decoupled ? 0.0 : weight_decay);
    const T c1 = T(1.0 - beta1), b2 = T(beta2), c2 = T(1.0 - beta2), ep = T(eps);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) {
            T wi = w[i] * keep_w;
            T d = g[i] + wd * wi;
            T m = exp_avg[i] + c1 * (d - exp_avg[i]);
            T v = b2 * exp_avg_sq[i] + c2 * d * d;
            exp_avg[i] = m;
            exp_avg_sq[i] = v;
            T den = std::sqrt(v / bc2) + ep;
            w[i] = wi - (coef_g * d + coef_m * m) / den;
        }
    });
}

// Adamax (PyTorch): d = g + wd w; m = lerp(m, d, 1 - beta1); u = max(beta2 u, |d| + eps);
// w -= lr / (1 - beta1^t) * m / u.
template <class T>
void adamax_update(T* w, const T* g, T* exp_avg, T* exp_inf, std::int64_t n, std::int64_t step,
                   double lr, double beta1, double beta2, double eps, double weight_decay,
                   int n_threads = 1) {
    const T clr = T(lr / (1.0 - std::pow(beta1, double(step))));
    const T wd = T(weight_decay), c1 = T(1.0 - beta1), b2 = T(beta2), ep = T(eps);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) {
            T d = g[i] + wd * w[i];
            T m = exp_avg[i] + c1 * (d - exp_avg[i]);
            T u = std::max(b2 * exp_inf[i], std::abs(d) + ep);
            exp_avg[i] = m;
            exp_inf[i] = u;
            w[i] -= clr * m / u;
        }
    });
}

// LAMB (You et al. 2020, as optax.lamb): m = beta1 m + (1 - beta1) g; v = beta2 v +
// (1 - beta2) g^2; u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + wd w;
// w -= lr r u with the trust ratio r = ||w|| / ||u|| over the whole array (1 if either norm is
// 0). Two passes: the ratio needs ||u|| before any w changes; the second pass recomputes u from
// the new moments rather than storing it. Returns r.
template <class T>
double lamb_update(T* w, const T* g, T* exp_avg, T* exp_avg_sq, std::int64_t n, std::int64_t step,
                   double lr, double beta1, double beta2, double eps, double weight_decay,
                   int n_threads = 1) {
    const double t = double(step);
    const T bc1 = T(1.0 - std::pow(beta1, t)), bc2 = T(1.0 - std::pow(beta2, t));
    const T b1 = T(beta1), c1 = T(1.0 - beta1), b2 = T(beta2), c2 = T(1.0 - beta2), ep = T(eps),
            wd = T(weight_decay);
    auto norms = sum_ranges<2>(n, n_threads, [&](std::int64_t b, std::int64_t e) {
        double ww = 0, uu = 0;
#pragma omp simd reduction(+ : ww, uu)
        for (std::int64_t i = b; i < e; ++i) {
            T m = c1 * g[i] + b1 * exp_avg[i];
            T v = c2 * g[i] * g[i] + b2 * exp_avg_sq[i];
            exp_avg[i] = m;
            exp_avg_sq[i] = v;
            T u = (m / bc1) / (std::sqrt(v / bc2) + ep) + wd * w[i];
            ww += double(w[i]) * double(w[i]);
            uu += double(u) * double(u);
        }
        return std::array<double, 2>{ww, uu};
    });
    const double w_norm = std::sqrt(norms[0]), u_norm = std::sqrt(norms[1]);
    const double ratio = (w_norm == 0 || u_norm == 0) ? 1.0 : w_norm / u_norm;
    const T a = T(lr * ratio);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i)
            w[i] -= a * ((exp_avg[i] / bc1) / (std::sqrt(exp_avg_sq[i] / bc2) + ep) + wd * w[i]);
    });
    return ratio;
}

// Adafactor hyperparameters, named and defaulted as optax.adafactor.
struct AdafactorParams {
    double decay_rate = 0.8;          // beta2_t = 1 - t^(-decay_rate)
    double eps = 1e-30;               // added to g^2
    double clipping_threshold = 1.0;  // d: update divided by max(1, RMS(update) / d); inf: off
    bool multiply_by_parameter_scale = true;
    double eps_scale = 1e-3;          // floor of RMS(w) in the parameter scale
    double momentum = 0.0;            // EMA of the scaled update (no debiasing); 0: off
    double weight_decay = 0.0;        // w -= weight_decay w, not scaled by lr (as Optax)
};

// Adafactor (Shazeer & Stern 2018, as optax.adafactor). With s = g^2 + eps and
// beta = 1 - t^(-decay_rate): a rows x cols matrix keeps row and column statistics
// R = beta R + (1 - beta) mean_cols(s), C = beta C + (1 - beta) mean_rows(s) and uses
// V_ij = R_i C_j / mean(R); a vector keeps V = beta V + (1 - beta) s. Then y = g / sqrt(V),
// y /= max(1, RMS(y) / clipping_threshold), u = lr max(eps_scale, RMS(w)) y, optionally
// u = m = momentum m + (1 - momentum) u, and w -= u + weight_decay w.
// Factored when v_row and v_col are given (lengths rows and cols), else v (length rows*cols).
// `momentum_buffer` may be null when momentum == 0.
template <class T>
void adafactor_update(T* w, const T* g, std::int64_t rows, std::int64_t cols, T* v_row, T* v_col,
                      T* v, T* momentum_buffer, std::int64_t step, double lr,
                      const AdafactorParams& p, int n_threads = 1) {
    const std::int64_t n = rows * cols;
    if (n == 0) return;
    const double beta = 1.0 - std::pow(double(step), -p.decay_rate);
    const T bt = T(beta), ct = T(1.0 - beta), ep = T(p.eps);
    const bool factored = v_row != nullptr && v_col != nullptr;

    // Per element of the matrix, the factor that turns g into y.
    std::vector<T> row_factor, col_factor;
    std::array<double, 2> sums;  // sum of y^2, sum of w^2
    if (factored) {
        // One pass over g for both marginal sums; column sums per thread, added in thread order.
        // At least 16 rows per thread keeps that scratch below n / 16 doubles.
        const int nt = n > parallel_min_size
                           ? int(std::min<std::int64_t>(resolve_threads(n_threads),
                                                        std::max<std::int64_t>(1, rows / 16)))
                           : 1;
        std::vector<double> row_sum(std::size_t(rows), 0.0);
        std::vector<std::vector<double>> col_sums(static_cast<std::size_t>(nt));  // see thread_room
        for_chunks(nt, nt, [&](int th) {
            double* cs = thread_room(col_sums[std::size_t(th)], cols);
            for (std::int64_t r = rows * th / nt; r < rows * (th + 1) / nt; ++r) {
                const T* gr = g + r * cols;
                double s = 0;
#pragma omp simd reduction(+ : s)
                for (std::int64_t c = 0; c < cols; ++c) {
                    double sq = double(gr[c] * gr[c] + ep);
                    s += sq;
                    cs[c] += sq;
                }
                row_sum[std::size_t(r)] = s;
            }
        });
        double* col_sum = room_of(col_sums[0]);
        for (int th = 1; th < nt; ++th) {
            const double* cs = room_of(col_sums[std::size_t(th)]);
            for (std::int64_t c = 0; c < cols; ++c) col_sum[c] += cs[c];
        }
        double v_row_total = 0;
        for (std::int64_t r = 0; r < rows; ++r) {
            v_row[r] = bt * v_row[r] + ct * T(row_sum[std::size_t(r)] / double(cols));
            v_row_total += double(v_row[r]);
        }
        for (std::int64_t c = 0; c < cols; ++c)
            v_col[c] = bt * v_col[c] + ct * T(col_sum[c] / double(rows));
        const T v_row_mean = T(v_row_total / double(rows));
        row_factor.resize(std::size_t(rows));
        col_factor.resize(std::size_t(cols));
        for (std::int64_t r = 0; r < rows; ++r)
            row_factor[std::size_t(r)] = T(1) / std::sqrt(v_row[r] / v_row_mean);
        for (std::int64_t c = 0; c < cols; ++c) col_factor[std::size_t(c)] = T(1) / std::sqrt(v_col[c]);
        const T* rf = row_factor.data();
        const T* cf = col_factor.data();
        // Sums per row, added in row order: independent of the thread count.
        std::vector<double> yy_row(static_cast<std::size_t>(rows)), ww_row(static_cast<std::size_t>(rows));
        for_row_ranges(rows, cols, n_threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const T* gr = g + r * cols;
                const T* wr = w + r * cols;
                const T f = rf[r];
                double yy = 0, ww = 0;
#pragma omp simd reduction(+ : yy, ww)
                for (std::int64_t c = 0; c < cols; ++c) {
                    T y = gr[c] * f * cf[c];
                    yy += double(y) * double(y);
                    ww += double(wr[c]) * double(wr[c]);
                }
                yy_row[std::size_t(r)] = yy;
                ww_row[std::size_t(r)] = ww;
            }
        });
        sums = {0.0, 0.0};
        for (std::int64_t r = 0; r < rows; ++r) {
            sums[0] += yy_row[std::size_t(r)];
            sums[1] += ww_row[std::size_t(r)];
        }
    } else {
        sums = sum_ranges<2>(n, n_threads, [&](std::int64_t b, std::int64_t e) {
            double yy = 0, ww = 0;
#pragma omp simd reduction(+ : yy, ww)
            for (std::int64_t i = b; i < e; ++i) {
                T vi = bt * v[i] + ct * (g[i] * g[i] + ep);
                v[i] = vi;
                T y = g[i] / std::sqrt(vi);
                yy += double(y) * double(y);
                ww += double(w[i]) * double(w[i]);
            }
            return std::array<double, 2>{yy, ww};
        });
    }
    const double clip = std::max(1.0, std::sqrt(sums[0] / double(n)) / p.clipping_threshold);
    const double scale = p.multiply_by_parameter_scale
                             ? std::max(p.eps_scale, std::sqrt(sums[1] / double(n)))
                             : 1.0;
    const T a = T(lr * scale / clip), wd = T(p.weight_decay), mom = T(p.momentum),
            keep = T(1.0 - p.momentum);
    const bool use_momentum = p.momentum != 0 && momentum_buffer != nullptr;
    auto apply = [&](std::int64_t i, T y) {
        T u = a * y;
        if (use_momentum) {
            u = mom * momentum_buffer[i] + keep * u;
            momentum_buffer[i] = u;
        }
        w[i] -= u + wd * w[i];
    };
    if (factored) {
        const T* rf = row_factor.data();
        const T* cf = col_factor.data();
        for_row_ranges(rows, cols, n_threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const T f = rf[r];
                const std::int64_t o = r * cols;
#pragma omp simd
                for (std::int64_t c = 0; c < cols; ++c) apply(o + c, g[o + c] * f * cf[c]);
            }
        });
    } else {
        for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
            for (std::int64_t i = b; i < e; ++i) apply(i, g[i] / std::sqrt(v[i]));
        });
    }
}

// Lion (Chen et al. 2023, as optax.lion): c = beta1 m + (1 - beta1) g; w -= lr (sign(c) + wd w);
// m = beta2 m + (1 - beta2) g.
template <class T>
void lion_update(T* w, const T* g, T* exp_avg, std::int64_t n, double lr, double beta1,
                 double beta2, double weight_decay, int n_threads = 1) {
    const T a = T(lr), b1 = T(beta1), c1 = T(1.0 - beta1), b2 = T(beta2), c2 = T(1.0 - beta2),
            wd = T(weight_decay);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) {
            T c = c1 * g[i] + b1 * exp_avg[i];
            T sign = T(c > 0) - T(c < 0);
            w[i] -= a * (sign + wd * w[i]);
            exp_avg[i] = c2 * g[i] + b2 * exp_avg[i];
        }
    });
}

}  // namespace fastdescent
