// The dense kernels, compiled once per instruction set: kernels_<isa>.cpp defines
// FASTDESCENT_ISA_NS and includes this file, and the compiler flags of that file pick the
// instructions. Everything here is plain loops that the compiler vectorizes; nothing uses the
// standard containers, so no library template is compiled with the wider instructions.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fastdescent/isa_namespace.hpp"
#include "fastdescent/kernels.hpp"
#include "fastdescent/losses.hpp"
#include "fastdescent/portable.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {
inline namespace FASTDESCENT_ISA_NS {
namespace kernels {

// What exp_bounded and log1p_unit need to know of a floating-point format: its bits, the range
// of x where 2^k stays a normal number, ln 2 in two parts (the high part ends in zero bits, so
// that k ln2_hi is exact), and the degrees of the two series, each chosen so that the truncation
// stays below the format's rounding: exp's Taylor series for |r| <= ln2 / 2 (double: degree 13,
// below 1e-17 relative; float: degree 7, below 6e-9), log1p's odd powers of s for
// |s| <= 0.172 (double: to s^21, below 1e-18; float: to s^9, below 3e-9).
template <class R>
struct Format;

template <>
struct Format<double> {
    using Bits = std::uint64_t;
    static constexpr int mantissa_bits = 52, exponent_bias = 1023;
    static constexpr double exp_min = -708.0, exp_max = 709.0;
    static constexpr double ln2_hi = 6.93147180369123816490e-01;  // 21 trailing zero bits
    static constexpr double ln2_lo = 1.90821492927058770002e-10;  // ln 2 - ln2_hi
    static constexpr int exp_degree = 13, log_degree = 21;
};

template <>
struct Format<float> {
    using Bits = std::uint32_t;
    static constexpr int mantissa_bits = 23, exponent_bias = 127;
    static constexpr float exp_min = -87.0f, exp_max = 88.0f;
    static constexpr float ln2_hi = 0.693145751953125f;      // 12 trailing zero bits
    static constexpr float ln2_lo = 1.428606765330187e-06f;  // ln 2 - ln2_hi
    static constexpr int exp_degree = 7, log_degree = 9;
};

template <class R>
typename Format<R>::Bits to_bits(R x) {
    typename Format<R>::Bits u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

template <class R>
R from_bits(typename Format<R>::Bits u) {
    R x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

// 1 / k!, rounded once in R.
template <class R>
constexpr R inverse_factorial(int k) {
    R f = 1;
    for (int i = 2; i <= k; ++i) f *= R(i);
    return R(1) / f;
}

// exp(x) without branches or library calls, so that a loop over it vectorizes: x = k ln2 + r
// with |r| <= ln2 / 2, exp(r) by its Taylor series, times 2^k built in the exponent bits. A
// few ulp from the true value inside [exp_min, exp_max]; x is clamped to that range (outside
// it exp is 0 or inf up to that error).
template <class R>
inline R exp_bounded(R x) {
    using F = Format<R>;
    constexpr R log2e = R(1.4426950408889634);
    // 1.5 * 2^mantissa_bits: adding it rounds to an integer, which lands in the low bits.
    constexpr R shifter = R(1.5) * R(typename F::Bits(1) << F::mantissa_bits);
    x = x < F::exp_min ? F::exp_min : (x > F::exp_max ? F::exp_max : x);
    const R t = x * log2e + shifter;
    const R k = t - shifter;
    const R r = (x - k * F::ln2_hi) - k * F::ln2_lo;
    R p = inverse_factorial<R>(F::exp_degree);
#pragma GCC unroll 16
    for (int j = F::exp_degree - 1; j >= 0; --j) p = p * r + inverse_factorial<R>(j);
    // The low mantissa bits of t hold k (offset by half the shifter's leading bit, which the
    // shift drops): 2^k's bits.
    const R scale = from_bits<R>(typename F::Bits(to_bits(t) + F::exponent_bias) << F::mantissa_bits);
    return p * scale;
}

// log1p(x) for 0 <= x <= 1 without branches or library calls: u = 1 + x = 2^k m with
// m in [sqrt(2)/2, sqrt(2)], log m = 2 atanh(s), s = (m - 1) / (m + 1), by its series in odd
// powers of s; the rounding of 1 + x is corrected to first order. A few ulp from the true value.
template <class R>
inline R log1p_unit(R x) {
    using F = Format<R>;
    const R u = R(1) + x;
    const R correction = (x - (u - R(1))) / u;
    const bool halve = u > R(1.4142135623730951);
    const R m = halve ? R(0.5) * u : u;
    const R k = halve ? R(1) : R(0);
    const R f = m - R(1);
    const R s = f / (R(2) + f);
    const R s2 = s * s;
    R q = R(1) / R(F::log_degree);
#pragma GCC unroll 16
    for (int j = F::log_degree - 2; j >= 3; j -= 2) q = q * s2 + R(1) / R(j);
    // 2 s (1 + s2 q) = f - s f + 2 s s2 q, since 2 s = f - s f: keeps f exact in the sum.
    const R log_m = f - s * f + R(2) * s * s2 * q;
    return k * F::ln2_hi + (log_m + (k * F::ln2_lo + correction));
}

template <class R>
void exp_array(const R* x, R* out, std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) out[i] = exp_bounded(x[i]);
}

template <class R>
void log1p_array(const R* x, R* out, std::int64_t n) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) out[i] = log1p_unit(x[i]);
}

template <class T, class Store>
T dot_kernel(const Store* a, const T* b, std::int64_t n) {
    return fastdescent::dot(a, b, n);
}

template <class T, class Store>
void axpy_kernel(T a, const Store* x, T* y, std::int64_t n) {
    fastdescent::axpy(a, x, y, n);
}

template <class Store>
bool all_finite_kernel(const Store* x, std::int64_t n) {
    return fastdescent::all_finite(x, n);
}

// Loss terms of a block: on entry dl[r] holds y_r and p[r] the score; on exit dl[r] holds
// weight_r * dloss_r. Returns sum_r weight_r * loss_r.
template <class Loss>
double scalar_terms(const Loss& L, const double* p, double* dl, const double* weight, std::int64_t m) {
    double sum = 0.0;
    for (std::int64_t r = 0; r < m; ++r) {
        double d;
        const double v = value_and_deriv(L, p[r], dl[r], d);
        sum += weight[r] * v;
        dl[r] = weight[r] * d;
    }
    return sum;
}

// log(1 + exp(-z)) and its derivative, z = y p, from e = exp(-|z|) for either sign of z: one
// vectorized loop over the block instead of a library exp and log1p per row, in the precision
// R of the data (float32 data: float32 terms, as their gradient is float32 anyway).
// The weighted losses overwrite the scores and are summed after the loop (sum_by_fours), so
// that the sum does not depend on the vector width of the instruction set.
template <class R>
double log_loss_terms(double* p, double* dl, const double* weight, std::int64_t m) {
#pragma omp simd
    for (std::int64_t r = 0; r < m; ++r) {
        const R y = R(dl[r]);
        const R z = y * R(p[r]);
        const R e = exp_bounded(-std::fabs(z));
        const R inv = R(1) / (R(1) + e);
        const R d = z >= 0 ? -y * e * inv : -y * inv;
        const R v = log1p_unit(e) + (z < 0 ? -z : R(0));
        p[r] = weight[r] * double(v);
        dl[r] = weight[r] * double(d);
    }
    return sum_by_fours(p, m);
}

// grad += sum_r c_r x_r over the block's rows, c_r = coef(r); returns sum_r c_r. The rows still
// in cache from the scores: rows with c_r = 0 (hinge losses, zero weights) are skipped, the
// others go eight at a time (one read and write of grad for the eight). before_row() runs
// once per row, for work to interleave.
template <class T, class Store, class Coef, class BeforeRow>
T add_rows(const DenseBlock<T, Store>& b, Coef&& coef, T* grad, BeforeRow&& before_row) {
    T sum = 0;
    T c[8];
    const Store* xs[8];
    int k = 0;
    for (std::int64_t r = 0; r < b.m; ++r) {
        before_row();
        const T cr = coef(r);
        if (cr == T(0)) continue;
        sum += cr;
        c[k] = cr;
        xs[k] = b.X + b.rows[r] * b.row_stride;
        if (++k == 8) {
            fastdescent::axpy8(c, xs, grad, b.d);
            k = 0;
        }
    }
    for (int q = 0; q < k; ++q) fastdescent::axpy(c[q], xs[q], grad, b.d);
    return sum;
}

// Raises the block's flag when one of its n scores is not finite (a NaN or infinity in a row,
// the weights being finite; see TrainConfig::check_input).
template <class T, class Store>
void flag_non_finite(const DenseBlock<T, Store>& b, const double* scores, std::int64_t n) {
    if (b.non_finite && !all_finite(scores, n)) *b.non_finite = true;
}

template <class T, class Store>
double block_gradient(const DenseBlock<T, Store>& b, T* grad, T* grad_b) {
    double* p = b.scratch;
    double* dl = b.scratch + b.m;
    const Store* x[4];
    auto row = [&](std::int64_t r) { return b.X + b.rows[r] * b.row_stride; };
    // Gathered rows (shuffled batches) are asked for a group ahead; consecutive rows are left
    // to the hardware prefetcher.
    const bool gathered = b.m > 1 && b.rows[b.m - 1] - b.rows[0] != b.m - 1;
    const std::int64_t row_bytes = b.d * std::int64_t(sizeof(Store));
    // Into L2 (locality 2): it keeps more misses in flight than L1 does.
    auto prefetch = [&](std::int64_t r) {
        const char* q = reinterpret_cast<const char*>(row(r));
        for (std::int64_t off = 0; off < row_bytes; off += 64) prefetch_read<2>(q + off);
    };
    // The next block's rows: half fetched during the scores, half during the gradient.
    std::int64_t next = b.m;
    const std::int64_t next_end = b.m + b.m_next;
    const std::int64_t next_half = b.m + b.m_next / 2;
    std::int64_t r = 0;
    for (; r + 4 <= b.m; r += 4) {
        if (gathered) {
            for (std::int64_t q = r + 4; q < r + 8 && q < b.m; ++q) prefetch(q);
        }
        for (int q = 0; q < 2 && next < next_half; ++q) prefetch(next++);
        T s[4];
        for (int q = 0; q < 4; ++q) x[q] = row(r + q);
        fastdescent::dot4(x[0], x[1], x[2], x[3], b.w, b.d, s);
        for (int q = 0; q < 4; ++q) p[r + q] = double(T(s[q] + b.intercept[0]));
    }
    for (; r < b.m; ++r) p[r] = double(T(fastdescent::dot(row(r), b.w, b.d) + b.intercept[0]));
    flag_non_finite(b, p, b.m);
    for (r = 0; r < b.m; ++r) dl[r] = double(b.y[b.rows[r]]);
    double loss = 0.0;
    switch (b.loss) {
        case LossKind::squared_error: loss = scalar_terms(SquaredError{}, p, dl, b.weight, b.m); break;
        case LossKind::huber: loss = scalar_terms(Huber{b.loss_param}, p, dl, b.weight, b.m); break;
        case LossKind::epsilon_insensitive:
            loss = scalar_terms(EpsilonInsensitive{b.loss_param}, p, dl, b.weight, b.m);
            break;
        case LossKind::squared_epsilon_insensitive:
            loss = scalar_terms(SquaredEpsilonInsensitive{b.loss_param}, p, dl, b.weight, b.m);
            break;
        case LossKind::log_loss: loss = log_loss_terms<T>(p, dl, b.weight, b.m); break;
        case LossKind::hinge: loss = scalar_terms(Hinge{1.0}, p, dl, b.weight, b.m); break;
        case LossKind::squared_hinge: loss = scalar_terms(SquaredHinge{1.0}, p, dl, b.weight, b.m); break;
        case LossKind::modified_huber: loss = scalar_terms(ModifiedHuber{}, p, dl, b.weight, b.m); break;
        case LossKind::perceptron: loss = scalar_terms(Hinge{0.0}, p, dl, b.weight, b.m); break;
        case LossKind::absolute_error: loss = scalar_terms(AbsoluteError{}, p, dl, b.weight, b.m); break;
        case LossKind::quantile: loss = scalar_terms(Pinball{b.loss_param}, p, dl, b.weight, b.m); break;
        case LossKind::poisson: loss = scalar_terms(HalfPoisson{}, p, dl, b.weight, b.m); break;
        case LossKind::gamma: loss = scalar_terms(HalfGamma{}, p, dl, b.weight, b.m); break;
        case LossKind::tweedie: loss = scalar_terms(HalfTweedie{b.loss_param}, p, dl, b.weight, b.m); break;
        case LossKind::multinomial: return std::nan("");  // block_gradient_softmax's
    }
    // The block's rows are still in cache: the second read of each row costs no memory traffic.
    // Meanwhile the next block's rows are fetched, so that memory is never idle.
    *grad_b += add_rows(b, [&](std::int64_t q) { return T(dl[q]); }, grad,
                        [&] { if (next < next_end) prefetch(next++); });
    while (next < next_end) prefetch(next++);
    return loss;
}

// Softmax cross-entropy over K outputs: per output, the scores of four rows at a time (that
// output's weights read once for the four); then each row's softmax; then per output the
// gradient from the block's rows, eight at a time, while they are still in cache.
template <class T, class Store>
double block_gradient_softmax(const DenseBlock<T, Store>& b, T* grad, T* grad_b) {
    const int K = b.K;
    double* S = b.scratch;  // m x K scores
    auto row = [&](std::int64_t r) { return b.X + b.rows[r] * b.row_stride; };
    std::int64_t r = 0;
    for (; r + 4 <= b.m; r += 4) {
        const Store* x0 = row(r);
        const Store* x1 = row(r + 1);
        const Store* x2 = row(r + 2);
        const Store* x3 = row(r + 3);
        for (int k = 0; k < K; ++k) {
            T s[4];
            fastdescent::dot4(x0, x1, x2, x3, b.w + k * b.d, b.d, s);
            for (int q = 0; q < 4; ++q) S[(r + q) * K + k] = double(T(s[q] + b.intercept[k]));
        }
    }
    for (; r < b.m; ++r) {
        for (int k = 0; k < K; ++k)
            S[r * K + k] = double(T(fastdescent::dot(row(r), b.w + k * b.d, b.d) + b.intercept[k]));
    }
    flag_non_finite(b, S, b.m * K);
    double* D = S + b.m * K;  // m x K: weight_r * d loss_r / d p_k
    double loss = 0.0;
    for (r = 0; r < b.m; ++r) {
        double* dp = D + r * K;
        const double weight = b.weight[r];
        loss += weight * softmax_cross_entropy(S + r * K, K, int(b.y[b.rows[r]]), dp);
        for (int k = 0; k < K; ++k) dp[k] = double(T(weight * dp[k]));
    }
    for (int k = 0; k < K; ++k)
        grad_b[k] += add_rows(b, [&](std::int64_t q) { return T(D[q * K + k]); }, grad + k * b.d, [] {});
    return loss;
}

// out[0 .. L) = x[0 .. L) widened to T: one vector load (and conversion) where it can be.
template <int L, class T, class Store>
FASTDESCENT_ALWAYS_INLINE void load_lanes(const Store* x, T* out) {
#ifdef FASTDESCENT_VECTOR_EXTENSIONS
    if constexpr (L == Vector<T>::lanes) {
        const typename Vector<T>::type v = load_as(x);
        __builtin_memcpy(out, &v, sizeof v);
        return;
    }
#endif
    for (int l = 0; l < L; ++l) out[l] = widen(x[l]);
}

// A scalar loss on each of K outputs (multi-output regression, targets y[row K + k]), the
// outputs in chunks of C (padded with zero weights). Scores: the weights transposed (d x Kp),
// so that each feature updates R rows' C scores with one load of the weights. Gradient: per
// chunk of L features and chunk of outputs, C accumulators of L lanes take every row of the
// block before one store, so the inner loop only loads (a row's L features and its C
// derivatives). Every row is read once for the scores and once, from cache, for the gradient.
template <class T, class Store>
double block_gradient_outputs(const DenseBlock<T, Store>& b, T* grad, T* grad_b) {
    constexpr int C = 8;
    constexpr int L = vector_bytes / int(sizeof(T));  // features per gradient chunk: one vector
    // Rows per score tile: 8 where R accumulators of C lanes fit in half the registers.
    constexpr int R = L >= C ? 8 : 4;
    const int K = b.K;
    const int Kp = (K + C - 1) / C * C;
    const std::int64_t d = b.d, m = b.m;
    // Wt (d x Kp), D (m x Kp) and the intercepts padded to Kp; grows once, then reused.
    thread_local std::vector<T> room;
    room.resize(std::size_t((d + m + 1) * Kp));
    T* __restrict Wt = room.data();
    T* __restrict D = Wt + d * Kp;
    T* __restrict bias = D + m * Kp;
    thread_local std::vector<const Store*> rows;
    rows.resize(std::size_t(m));
    for (std::int64_t q = 0; q < m; ++q) rows[q] = b.X + b.rows[q] * b.row_stride;
    if (Kp != K) std::fill(Wt, Wt + d * Kp, T(0));
    for (int k = 0; k < K; ++k)
        for (std::int64_t j = 0; j < d; ++j) Wt[j * Kp + k] = b.w[k * d + j];
    for (int k = 0; k < Kp; ++k) bias[k] = k < K ? b.intercept[k] : T(0);
    double* S = b.scratch;  // m x K scores
    // Scores of rows q .. q + n - 1 (n <= R) for outputs of chunk c.
    auto scores = [&](std::int64_t q, int n, int c) {
        T a[R][C];
        const Store* x[R];
        for (int r = 0; r < R; ++r) {
            x[r] = rows[q + std::min(r, n - 1)];
            for (int l = 0; l < C; ++l) a[r][l] = bias[c * C + l];
        }
        for (std::int64_t j = 0; j < d; ++j) {
            const T* w = Wt + j * Kp + c * C;
            for (int r = 0; r < R; ++r) {
                const T xr = widen(x[r][j]);
#pragma omp simd
                for (int l = 0; l < C; ++l) a[r][l] += xr * w[l];
            }
        }
        const int outputs = std::min(C, K - c * C);
        for (int r = 0; r < n; ++r) {
            double* s = S + (q + r) * K + c * C;
            if (outputs == C) {
#pragma omp simd
                for (int l = 0; l < C; ++l) s[l] = double(a[r][l]);
            } else {
                for (int l = 0; l < outputs; ++l) s[l] = double(a[r][l]);
            }
        }
    };
    // The next block's rows are fetched (into L2) a line at a time, spread evenly over the
    // scores and the gradient, so that memory keeps busy while the block is computed (fetched
    // in bursts, the lines waited in the miss queue and the epoch took the sum of the memory
    // and the compute times instead of the larger).
    const std::int64_t row_bytes = d * std::int64_t(sizeof(Store));
    const std::int64_t row_lines = (row_bytes + 63) / 64;
    std::int64_t next = m, next_offset = row_bytes;
    const std::int64_t next_end = m + b.m_next;
    const char* next_row = nullptr;
    auto fetch = [&](std::int64_t lines) {
        for (; lines > 0; --lines) {
            if (next_offset >= row_bytes) {  // on to the next row
                if (next == next_end) return;
                next_row = reinterpret_cast<const char*>(b.X + b.rows[next++] * b.row_stride);
                next_offset = 0;
            }
            prefetch_read<2>(next_row + next_offset);
            next_offset += 64;
        }
    };
    const std::int64_t chunks = (d + L - 1) / L * (Kp / C);       // calls of gradient()
    const std::int64_t groups = (m + R - 1) / R;                  // score tiles per chunk
    const std::int64_t lines = b.m_next * row_lines;
    const std::int64_t per_group = (lines / 2 + groups - 1) / groups;
    const std::int64_t per_chunk = (lines - lines / 2 + chunks - 1) / chunks;
    for (std::int64_t q = 0; q < m; q += R) {
        fetch(per_group);
        for (int c = 0; c < Kp / C; ++c) scores(q, int(std::min<std::int64_t>(R, m - q)), c);
    }
    flag_non_finite(b, S, m * K);
    // Loss and derivatives, C outputs at a time with the sums per output in registers over the
    // block's rows (summed across outputs per row, each row paid a horizontal reduction), the
    // intercepts' gradient beside them; the outputs past the last full chunk one at a time.
    const double loss = visit_scalar_loss(b.loss, b.loss_param, [&](auto L_) {
        double sum = 0.0;
        auto derivative = [&](std::int64_t q, int k, double& loss_k) {
            double dl;
            loss_k += b.weight[q] * value_and_deriv(L_, S[q * K + k], double(b.y[b.rows[q] * K + k]), dl);
            return D[q * Kp + k] = T(b.weight[q] * dl);
        };
        for (int c = 0; c < K / C; ++c) {
            double loss_c[C] = {};
            T bias_c[C] = {};
            for (std::int64_t q = 0; q < m; ++q) {
#pragma omp simd
                for (int l = 0; l < C; ++l) bias_c[l] += derivative(q, c * C + l, loss_c[l]);
            }
            for (int l = 0; l < C; ++l) sum += loss_c[l], grad_b[c * C + l] += bias_c[l];
        }
        for (int k = K / C * C; k < K; ++k) {
            double loss_k = 0.0;
            T bias_k = 0;
            for (std::int64_t q = 0; q < m; ++q) bias_k += derivative(q, k, loss_k);
            sum += loss_k, grad_b[k] += bias_k;
        }
        if (Kp != K)
            for (std::int64_t q = 0; q < m; ++q) std::fill(D + q * Kp + K, D + (q + 1) * Kp, T(0));
        return sum;
    });
    // The gradient, L features at a time; where d is not a multiple of L the last chunk ends
    // at d and keeps only the lanes the chunk before it did not cover.
    auto gradient = [&](std::int64_t j0, int first_lane, int c) {
        T acc[C][L] = {};
        // One line of the next block every `every` rows.
        const std::int64_t every = per_chunk > 0 ? std::max<std::int64_t>(1, m / per_chunk) : m + 1;
        std::int64_t countdown = every;
        for (std::int64_t q = 0; q < m; ++q) {
            if (--countdown == 0) fetch(1), countdown = every;
            T x[L];
            load_lanes<L>(rows[q] + j0, x);
            const T* dq = D + q * Kp + c * C;
            for (int l = 0; l < C; ++l) {
                const T coef = dq[l];
#pragma omp simd
                for (int i = 0; i < L; ++i) acc[l][i] += coef * x[i];
            }
        }
        for (int l = 0; l < C && c * C + l < K; ++l) {
            T* g = grad + (c * C + l) * d + j0;
            for (int i = first_lane; i < L; ++i) g[i] += acc[l][i];
        }
    };
    for (int c = 0; c < Kp / C; ++c) {
        if (d < L) {  // too few features for one chunk: plain loops
            for (std::int64_t q = 0; q < m; ++q)
                for (int l = 0; l < C && c * C + l < K; ++l)
                    for (std::int64_t j = 0; j < d; ++j)
                        grad[(c * C + l) * d + j] += D[q * Kp + c * C + l] * widen(rows[q][j]);
            continue;
        }
        std::int64_t j0 = 0;
        for (; j0 + L <= d; j0 += L) gradient(j0, 0, c);
        if (j0 < d) gradient(d - L, int(j0 - (d - L)), c);
    }
    fetch(lines);  // what rounding left
    return loss;
}

template <class T, class Store = T>
DenseKernels<T, Store> table() {
    return DenseKernels<T, Store>{&dot_kernel<T, Store>, &axpy_kernel<T, Store>, &block_gradient<T, Store>,
                              &block_gradient_softmax<T, Store>, &block_gradient_outputs<T, Store>,
                              &all_finite_kernel<Store>, &exp_array<T>, &log1p_array<T>};
}

}  // namespace kernels
}  // namespace FASTDESCENT_ISA_NS
}  // namespace fastdescent

#define FASTDESCENT_CONCAT2(a, b) a##_##b
#define FASTDESCENT_CONCAT(a, b) FASTDESCENT_CONCAT2(a, b)

namespace fastdescent {
// kernel_tables_<isa>: the entry point that dispatch.cpp calls, one per kernels_<isa>.cpp.
void FASTDESCENT_CONCAT(kernel_tables, FASTDESCENT_ISA_NS)(KernelTables& out) {
    out.f32 = kernels::table<float>();
    out.f64 = kernels::table<double>();
    out.f16 = kernels::table<float, Half>();
    out.bf16 = kernels::table<float, BFloat16>();
}
}  // namespace fastdescent
