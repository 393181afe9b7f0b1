// Loss and gradient sums over a set of rows at fixed parameters: the batched trainer's pass
// (one read of each row for the scores, the loss derivative and the gradient), exposed
// for callers that combine partial sums themselves, e.g. data-parallel training where every
// worker sums over its own rows and the sums are added up elsewhere.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastdescent/data.hpp"
#include "fastdescent/dense_blocks.hpp"
#include "fastdescent/losses.hpp"
#include "fastdescent/parallel.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

// How the K outputs relate to the targets y:
// - single: K = 1, y is a real target or -1/+1; class_weight (if any) is [negative, positive];
// - multinomial: softmax over K outputs, y is the class index; class_weight is per class;
// - one_vs_rest: K independent binary problems, y is the class index, output k has target +1
//   on class k and -1 elsewhere; its positives weigh class_weight[k], its negatives 1.
enum class OutputMode { single, multinomial, one_vs_rest };

template <class T>
struct GradientInput {
    const T* y = nullptr;
    const T* sample_weight = nullptr;      // null: all ones
    const double* class_weight = nullptr;  // null: all ones
    LossKind loss = LossKind::squared_error;
    double loss_param = 0.1;  // see TrainConfig::loss_param
    OutputMode mode = OutputMode::single;
    const T* coef = nullptr;       // K x d, row-major
    const T* intercept = nullptr;  // K
    int K = 1;
    const std::int64_t* rows = nullptr;  // the rows to visit, in this order; null: all rows
    std::int64_t n_rows = 0;             // how many rows (entries of `rows`, or of X)
};

// Outputs, all written (not accumulated): loss[p] and weight[p] are the sums of w_i * loss_i
// and of w_i per problem (one problem, or K for one-vs-rest); grad (K x d) and grad_b (K) the
// sums of w_i * dloss_i/dp_k * x_i and of w_i * dloss_i/dp_k. The arithmetic is the batched
// trainer's (scores and derivatives in T, weights in double), and so are the chunks of rows
// (shared_chunks for dense rows, one per thread for sparse), whose sums are added in chunk
// order: deterministic for a given thread count.
template <class Rows>
void loss_gradient_sums(const Rows& X, const GradientInput<typename Rows::value_type>& in,
                        int n_threads, double* loss, double* weight,
                        typename Rows::value_type* grad, typename Rows::value_type* grad_b) {
    using T = typename Rows::value_type;
    const int K = in.K;
    const std::int64_t d = X.n_cols;
    const std::int64_t P = K * d;
    const int n_problems = in.mode == OutputMode::one_vs_rest ? K : 1;
    if (K < 1) throw std::invalid_argument("K must be >= 1");
    if (in.mode == OutputMode::single && K != 1)
        throw std::invalid_argument("a scalar loss with one problem needs K = 1");
    n_threads = resolve_threads(std::max(1, n_threads));
    if (in.n_rows * P < row_sums_min_work) n_threads = 1;  // not worth waking threads
    const int n_chunks = is_dense_rows_v<Rows> ? shared_chunks(in.n_rows, P, n_threads) : n_threads;
    // Per chunk (see thread_room): gradient (P), intercept gradient (K), scratch scores and
    // derivatives (2 K); loss and weight sums (n_problems each).
    std::vector<std::vector<T>> grads(static_cast<std::size_t>(n_chunks));
    std::vector<std::vector<double>> sums(static_cast<std::size_t>(n_chunks));
    for_shared_chunks(n_threads, n_chunks, [&](int c) {
        T* g = thread_room(grads[std::size_t(c)], P + 3 * K);
        T* p = g + P + K;
        T* dp = p + K;
        double* s = thread_room(sums[std::size_t(c)], 2 * n_problems);
        bool fused = false;
        const std::int64_t lo = in.n_rows * c / n_chunks;
        const std::int64_t hi = in.n_rows * (c + 1) / n_chunks;
        constexpr std::int64_t prefetch_distance = 4;
        if constexpr (is_dense_rows_v<Rows>) {
            if (in.mode != OutputMode::one_vs_rest) {
                // The batched trainer's own fused kernels, so that both sum alike.
                const bool softmax = in.mode == OutputMode::multinomial;
                auto row_weight = [&](std::int64_t i) {
                    const double sw = in.sample_weight ? double(in.sample_weight[i]) : 1.0;
                    if (!in.class_weight) return sw;
                    return sw * in.class_weight[softmax ? int(in.y[i]) : (in.y[i] > 0 ? 1 : 0)];
                };
                BlockScratch scratch;
                s[0] = dense_block_sums(X, in.rows, lo, hi, in.y, in.sample_weight, row_weight,
                                        softmax ? LossKind::multinomial : in.loss, in.loss_param, K, in.coef,
                                        in.intercept, g, g + P, scratch, s[1]);
                fused = true;
            }
        }
        for (std::int64_t r = lo; !fused && r < hi; ++r) {  // other outputs: row by row
            const std::int64_t i = in.rows ? in.rows[r] : r;
            if (in.rows && r + prefetch_distance < hi) X.prefetch(in.rows[r + prefetch_distance]);
            for (int k = 0; k < K; ++k) p[k] = X.dot(i, in.coef + k * d) + in.intercept[k];
            const double sw = in.sample_weight ? double(in.sample_weight[i]) : 1.0;
            const double y = double(in.y[i]);
            if (in.mode == OutputMode::multinomial) {
                const double w = in.class_weight ? sw * in.class_weight[int(y)] : sw;
                s[1] += w;
                s[0] += w * softmax_cross_entropy(p, K, int(y), dp);
                for (int k = 0; k < K; ++k) dp[k] = T(w * double(dp[k]));
            } else {
                for (int k = 0; k < K; ++k) {
                    double target = y, w = sw;
                    if (in.mode == OutputMode::one_vs_rest) {
                        const bool positive = int(y) == k;
                        target = positive ? 1.0 : -1.0;
                        if (in.class_weight && positive) w *= in.class_weight[k];
                    } else if (in.class_weight) {
                        w *= in.class_weight[y > 0 ? 1 : 0];
                    }
                    double dl;
                    const double v = visit_scalar_loss(in.loss, in.loss_param, [&](auto L) {
                        return value_and_deriv(L, double(p[k]), target, dl);
                    });
                    s[2 * k] += w * v;
                    s[2 * k + 1] += w;
                    dp[k] = T(w * double(T(dl)));
                }
            }
            for (int k = 0; k < K; ++k) {
                const T c_k = dp[k];
                if (c_k != T(0)) {
                    X.axpy(i, c_k, g + k * d);
                    g[P + k] += c_k;
                }
            }
        }
    });
    const T* g0 = room_of(grads[0]);
    const double* s0 = room_of(sums[0]);
    std::copy(g0, g0 + P, grad);
    std::copy(g0 + P, g0 + P + K, grad_b);
    for (int q = 0; q < n_problems; ++q) {
        loss[q] = s0[2 * q];
        weight[q] = s0[2 * q + 1];
    }
    for (int c = 1; c < n_chunks; ++c) {
        const T* g = room_of(grads[std::size_t(c)]);
        axpy(T(1), g, grad, P);
        axpy(T(1), g + P, grad_b, K);
        const double* s = room_of(sums[std::size_t(c)]);
        for (int q = 0; q < n_problems; ++q) {
            loss[q] += s[2 * q];
            weight[q] += s[2 * q + 1];
        }
    }
}

}  // namespace fastdescent
