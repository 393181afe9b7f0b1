// Gradient clipping, as torch.nn.utils.clip_grad_value_ / clip_grad_norm_ define it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <array>
#include <limits>

#include "fastdescent/parallel.hpp"

namespace fastdescent {

// g <- min(max(g, -clip_value), clip_value)
template <class T>
void clip_by_value(T* g, std::int64_t n, double clip_value, int n_threads = 1) {
    const T hi = T(clip_value), lo = T(-clip_value);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) g[i] = std::min(std::max(g[i], lo), hi);
    });
}

// sum |g|^p for finite p > 0, max |g| for p = inf, accumulated in double. A NaN entry makes the
// result NaN (torch propagates it too).
template <class T>
double norm_power_sum(const T* g, std::int64_t n, double p, int n_threads = 1) {
    if (std::isinf(p)) {
        auto r = reduce_ranges<2>(
            n, n_threads,
            [&](std::int64_t b, std::int64_t e) {
                // max over 16 lanes (independent chains); NaN entries counted, as max drops them
                constexpr int lanes = 16;
                double m[lanes] = {}, n_nan[lanes] = {};
                std::int64_t i = b;
                for (; i + lanes <= e; i += lanes) {
#pragma omp simd
                    for (int k = 0; k < lanes; ++k) {
                        double a = std::abs(double(g[i + k]));
                        m[k] = a > m[k] ? a : m[k];
                        n_nan[k] += double(a != a);
                    }
                }
                std::array<double, 2> out{0.0, 0.0};
                for (int k = 0; k < lanes; ++k) {
                    out[0] = std::max(out[0], m[k]);
                    out[1] += n_nan[k];
                }
                for (; i < e; ++i) {
                    double a = std::abs(double(g[i]));
                    out[0] = std::max(out[0], a);
                    out[1] += double(a != a);
                }
                return out;
            },
            [](std::array<double, 2>& total, const std::array<double, 2>& part) {
                total[0] = std::max(total[0], part[0]);
                total[1] += part[1];
            });
        return r[1] > 0 ? std::numeric_limits<double>::quiet_NaN() : r[0];
    }
    auto r = sum_ranges<1>(n, n_threads, [&](std::int64_t b, std::int64_t e) {
        double s;
        if (p == 2) s = lane_sum(b, e, [g](std::int64_t i) { return double(g[i]) * double(g[i]); });
        else if (p == 1) s = lane_sum(b, e, [g](std::int64_t i) { return std::abs(double(g[i])); });
        else s = lane_sum(b, e, [g, p](std::int64_t i) { return std::pow(std::abs(double(g[i])), p); });
        return std::array<double, 1>{s};
    });
    return r[0];
}

// The p-norm from norm_power_sum's result.
inline double norm_from_power_sum(double s, double p) {
    if (std::isinf(p)) return s;
    if (p == 2) return std::sqrt(s);
    if (p == 1) return s;
    return std::pow(s, 1.0 / p);
}

// torch's clip_grad_norm_ factor: max_norm / (total + 1e-6), applied only when below 1 (or NaN,
// which then propagates into the gradients as in torch).
inline double clip_norm_coefficient(double total_norm, double max_norm) {
    return max_norm / (total_norm + 1e-6);
}

template <class T>
void scale_in_place(T* g, std::int64_t n, double factor, int n_threads = 1) {
    const T f = T(factor);
    for_ranges(n, n_threads, [&](std::int64_t b, std::int64_t e) {
#pragma omp simd
        for (std::int64_t i = b; i < e; ++i) g[i] *= f;
    });
}

// Global-norm clipping over several arrays of one dtype (e.g. coefficients and intercepts):
// total = ||(||g_1||_p, ..., ||g_k||_p)||_p; every array is scaled by max_norm / (total + 1e-6)
// when that is below 1. Returns total.
template <class T>
double clip_by_global_norm(T* const* arrays, const std::int64_t* sizes, int count, double max_norm,
                           double p, int n_threads = 1) {
    double acc = 0;
    for (int k = 0; k < count; ++k) {
        double s = norm_power_sum(arrays[k], sizes[k], p, n_threads);
        acc = std::isinf(p) ? (std::isnan(s) || std::isnan(acc) ? s + acc : std::max(acc, s)) : acc + s;
    }
    const double total = norm_from_power_sum(acc, p);
    const double coef = clip_norm_coefficient(total, max_norm);
    if (!(coef >= 1.0))
        for (int k = 0; k < count; ++k) scale_in_place(arrays[k], sizes[k], coef, n_threads);
    return total;
}

}  // namespace fastdescent
