// A multi-layer perceptron as scikit-learn's MLPClassifier and MLPRegressor define it: weights
// W_l (units[l] x units[l+1], row-major: scikit-learn's coefs_[l]) and biases b_l, a hidden
// activation, and an output activation paired with its loss (softmax / log_loss, logistic /
// binary_log_loss, identity / squared_error, exp / poisson) so that the output delta is
// act(z) - y. The network answers the engine's question for the model seam: the loss and the
// gradient sums of some rows at some parameters.
//
// Matrix products go through Gemm (the caller's BLAS). Bias and activation are fused into one
// pass over each forward product, the activation's derivative into one pass over each backward
// product. Scratch is sized once for the largest batch: no allocation per batch.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastdescent/blas.hpp"
#include "fastdescent/data.hpp"
#include "fastdescent/parallel.hpp"
#include "fastdescent/portable.hpp"
#include "fastdescent/simd.hpp"

namespace fastdescent {

enum class Activation { identity, logistic, tanh, relu, softmax, exp };
enum class MlpLoss { squared_error, poisson, log_loss, binary_log_loss };

// The output activation whose pairing with the loss makes the output delta act(z) - y.
inline Activation output_activation(MlpLoss loss) {
    switch (loss) {
        case MlpLoss::squared_error: return Activation::identity;
        case MlpLoss::poisson: return Activation::exp;
        case MlpLoss::log_loss: return Activation::softmax;
        case MlpLoss::binary_log_loss: return Activation::logistic;
    }
    return Activation::identity;
}

struct MlpSpec {
    std::vector<std::int64_t> units;  // n_features, the hidden layers' sizes, n_outputs
    Activation hidden = Activation::relu;
    MlpLoss loss = MlpLoss::squared_error;

    int layers() const { return int(units.size()) - 1; }
    void validate() const {
        if (units.size() < 2) throw std::invalid_argument("an MLP needs an input and an output layer");
        for (std::int64_t u : units)
            if (u < 1) throw std::invalid_argument("every layer needs at least one unit");
        if (hidden == Activation::softmax || hidden == Activation::exp)
            throw std::invalid_argument("hidden activation must be identity, logistic, tanh or relu");
        if (loss == MlpLoss::log_loss && units.back() < 2)
            throw std::invalid_argument("the softmax output needs at least two outputs");
    }
};

// A network's parameter arrays (or their gradients) by layer.
template <class T>
struct MlpParams {
    std::vector<T*> coefs;       // layer l: units[l] x units[l + 1]
    std::vector<T*> intercepts;  // layer l: units[l + 1]
};

template <class T>
class MlpNetwork {
public:
    MlpNetwork(const MlpSpec& spec, Gemm<T> gemm, std::int64_t max_rows)
        : spec_(spec), gemm_(gemm), max_rows_(std::max<std::int64_t>(1, max_rows)) {
        spec_.validate();
        const int L = spec_.layers();
        act_.resize(std::size_t(L) + 1);
        delta_.resize(std::size_t(L) + 1);
        for (int l = 1; l <= L; ++l) {
            act_[l].resize(std::size_t(max_rows_ * spec_.units[l]));
            delta_[l].resize(std::size_t(max_rows_ * spec_.units[l]));
        }
    }

    const MlpSpec& spec() const { return spec_; }
    std::int64_t max_rows() const { return max_rows_; }
    std::int64_t outputs() const { return spec_.units.back(); }

    // Forward pass of the rows rows[0..m) (m <= max_rows) at parameters p; returns the output
    // activations, m x outputs() row-major, valid until the next call.
    template <class Rows>
    const T* forward(const Rows& X, const std::int64_t* rows, std::int64_t m, const MlpParams<T>& p) {
        check_rows(m);
        const int L = spec_.layers();
        const auto& u = spec_.units;
        first_layer(X, rows, m, p.coefs[0], act_[1].data());
        for (int l = 1; l <= L; ++l) {
            T* z = act_[l].data();
            if (l > 1)
                gemm_(false, false, m, u[l], u[l - 1], T(1), act_[l - 1].data(), u[l - 1], p.coefs[l - 1],
                      u[l], T(0), z, u[l]);
            bias_and_activation(z, m, u[l], p.intercepts[l - 1],
                                l == L ? output_activation(spec_.loss) : spec_.hidden);
        }
        return act_[L].data();
    }

    // After forward() of the same rows: returns the sum over the rows of sw_i times the row's
    // loss (sw null: weights of one) and writes the gradient sums of that weighted loss to g
    // (added to what g holds when accumulate). Y holds the targets, outputs() per row, indexed
    // by row number.
    template <class Rows>
    double backward(const Rows& X, const std::int64_t* rows, std::int64_t m, const T* Y,
                    const T* sw, const MlpParams<T>& p, const MlpParams<T>& g, bool accumulate) {
        const int L = spec_.layers();
        const auto& u = spec_.units;
        const std::int64_t K = u[L];
        double loss = 0.0;
        T* top = delta_[L].data();
        for (std::int64_t r = 0; r < m; ++r) {
            const T* a = act_[L].data() + r * K;
            const T* y = Y + rows[r] * K;
            const T w = sw ? sw[rows[r]] : T(1);
            loss += double(w) * row_loss(a, y, K);
            for (std::int64_t k = 0; k < K; ++k) top[r * K + k] = w * (a[k] - y[k]);
        }
        const T beta = accumulate ? T(1) : T(0);
        for (int l = L; l >= 1; --l) {
            const T* dl = delta_[l].data();
            column_sums(dl, m, u[l], g.intercepts[l - 1], accumulate);
            if (l == 1) {
                first_layer_gradient(X, rows, m, dl, g.coefs[0], accumulate);
                break;
            }
            gemm_(true, false, u[l - 1], u[l], m, T(1), act_[l - 1].data(), u[l - 1], dl, u[l], beta,
                  g.coefs[l - 1], u[l]);
            T* below = delta_[l - 1].data();
            gemm_(false, true, m, u[l - 1], u[l], T(1), dl, u[l], p.coefs[l - 1], u[l], T(0), below,
                  u[l - 1]);
            times_derivative(below, act_[l - 1].data(), m * u[l - 1], spec_.hidden);
        }
        return loss;
    }

    // The row's loss as scikit-learn's LOSS_FUNCTIONS define it, at output activations a.
    double row_loss(const T* a, const T* y, std::int64_t K) const {
        const double eps = std::numeric_limits<T>::epsilon();  // its clip of probabilities
        double s = 0.0;
        switch (spec_.loss) {
            case MlpLoss::squared_error:
                for (std::int64_t k = 0; k < K; ++k) s += (double(y[k]) - a[k]) * (double(y[k]) - a[k]);
                return s / (2.0 * double(K));
            case MlpLoss::poisson:
                for (std::int64_t k = 0; k < K; ++k)
                    s += xlogy(y[k], double(y[k]) / double(a[k])) - double(y[k]) + double(a[k]);
                return s;
            case MlpLoss::log_loss:
                for (std::int64_t k = 0; k < K; ++k) s -= xlogy(y[k], std::clamp(double(a[k]), eps, 1 - eps));
                return s;
            case MlpLoss::binary_log_loss:
                for (std::int64_t k = 0; k < K; ++k) {
                    const double q = std::clamp(double(a[k]), eps, 1 - eps);
                    s -= xlogy(y[k], q) + xlogy(1.0 - double(y[k]), 1.0 - q);
                }
                return s;
        }
        return s;
    }

private:
    static double xlogy(double x, double y) { return x == 0 ? 0.0 : x * std::log(y); }

    void check_rows(std::int64_t m) const {
        if (m < 0 || m > max_rows_) throw std::invalid_argument("more rows than the network's scratch holds");
    }

    // z1 = X[rows] W0: one product over the rows as they lie in memory when consecutive, else
    // over a gathered copy (scikit-learn gathers too); CSR rows scatter W0's rows.
    template <class Rows>
    void first_layer(const Rows& X, const std::int64_t* rows, std::int64_t m, const T* W0, T* z) {
        const std::int64_t d = spec_.units[0], u1 = spec_.units[1];
        if constexpr (is_dense_rows_v<Rows>) {
            input_ = dense_input(X, rows, m);
            gemm_(false, false, m, u1, d, T(1), input_, input_stride_, W0, u1, T(0), z, u1);
        } else {
            std::fill(z, z + m * u1, T(0));
            for (std::int64_t r = 0; r < m; ++r)
                X.for_each(rows[r], [&](std::int64_t j, T v) { axpy(v, W0 + j * u1, z + r * u1, u1); });
        }
    }

    template <class Rows>
    void first_layer_gradient(const Rows& X, const std::int64_t* rows, std::int64_t m, const T* d1,
                              T* gW0, bool accumulate) {
        const std::int64_t d = spec_.units[0], u1 = spec_.units[1];
        if constexpr (is_dense_rows_v<Rows>) {
            (void)X, (void)rows;
            gemm_(true, false, d, u1, m, T(1), input_, input_stride_, d1, u1, accumulate ? T(1) : T(0),
                  gW0, u1);
        } else {
            if (!accumulate) std::fill(gW0, gW0 + d * u1, T(0));
            for (std::int64_t r = 0; r < m; ++r)
                X.for_each(rows[r], [&](std::int64_t j, T v) { axpy(v, d1 + r * u1, gW0 + j * u1, u1); });
        }
    }

    // The batch's rows as a matrix for the product: in place when consecutive and stored as T,
    // else gathered (and widened from float16 / bfloat16).
    template <class S>
    const T* dense_input(const DenseRows<T, S>& X, const std::int64_t* rows, std::int64_t m) {
        bool consecutive = true;
        for (std::int64_t r = 1; r < m && consecutive; ++r) consecutive = rows[r] == rows[0] + r;
        input_stride_ = X.row_stride;
        if constexpr (std::is_same_v<S, T>) {
            if (consecutive && m > 0) return X.row(rows[0]);
        }
        const std::int64_t d = X.n_cols;
        if (gathered_.empty()) gathered_.resize(std::size_t(max_rows_ * d));
        for (std::int64_t r = 0; r < m; ++r) {
            // The next row's first lines are asked for now: the copy of a row runs at the
            // speed of memory once the hardware prefetcher follows it, not at its latency.
            if (r + 1 < m) {
                const char* next = reinterpret_cast<const char*>(X.row(rows[r + 1]));
                for (int line = 0; line < 4; ++line) prefetch_read(next + 64 * line);
            }
            const S* x = X.row(rows[r]);
            T* out = gathered_.data() + r * d;
            if constexpr (std::is_same_v<S, T>) std::memcpy(out, x, std::size_t(d) * sizeof(T));
            else
                for (std::int64_t j = 0; j < d; ++j) out[j] = T(widen(x[j]));
        }
        input_stride_ = d;
        return gathered_.data();
    }

    static void bias_and_activation(T* z, std::int64_t m, std::int64_t u, const T* b, Activation act) {
        for (std::int64_t r = 0; r < m; ++r) {
            T* row = z + r * u;
            switch (act) {
                case Activation::identity:
                    for (std::int64_t k = 0; k < u; ++k) row[k] += b[k];
                    break;
                case Activation::relu:
#pragma omp simd
                    for (std::int64_t k = 0; k < u; ++k) row[k] = std::max(row[k] + b[k], T(0));
                    break;
                case Activation::logistic:
                    for (std::int64_t k = 0; k < u; ++k) row[k] = T(1) / (T(1) + std::exp(-(row[k] + b[k])));
                    break;
                case Activation::tanh:
                    for (std::int64_t k = 0; k < u; ++k) row[k] = std::tanh(row[k] + b[k]);
                    break;
                case Activation::exp:
                    for (std::int64_t k = 0; k < u; ++k) row[k] = std::exp(row[k] + b[k]);
                    break;
                case Activation::softmax: {
                    T top = -std::numeric_limits<T>::infinity();
                    for (std::int64_t k = 0; k < u; ++k) top = std::max(top, row[k] += b[k]);
                    T sum = 0;
                    for (std::int64_t k = 0; k < u; ++k) sum += row[k] = std::exp(row[k] - top);
                    const T inv = T(1) / sum;
                    for (std::int64_t k = 0; k < u; ++k) row[k] *= inv;
                    break;
                }
            }
        }
    }

    // delta *= act'(z), written with the activation's value a = act(z) as scikit-learn does.
    static void times_derivative(T* delta, const T* a, std::int64_t n, Activation act) {
        switch (act) {
            case Activation::relu:
#pragma omp simd
                for (std::int64_t i = 0; i < n; ++i) delta[i] = a[i] == T(0) ? T(0) : delta[i];
                break;
            case Activation::logistic:
#pragma omp simd
                for (std::int64_t i = 0; i < n; ++i) delta[i] *= a[i] * (T(1) - a[i]);
                break;
            case Activation::tanh:
#pragma omp simd
                for (std::int64_t i = 0; i < n; ++i) delta[i] *= T(1) - a[i] * a[i];
                break;
            default: break;
        }
    }

    static void column_sums(const T* a, std::int64_t m, std::int64_t u, T* out, bool accumulate) {
        if (!accumulate) std::fill(out, out + u, T(0));
        for (std::int64_t r = 0; r < m; ++r)
#pragma omp simd
            for (std::int64_t k = 0; k < u; ++k) out[k] += a[r * u + k];
    }

    MlpSpec spec_;
    Gemm<T> gemm_;
    std::int64_t max_rows_;
    std::vector<std::vector<T>> act_, delta_;  // by layer, 1..L: activations and deltas
    std::vector<T> gathered_;                   // dense rows out of memory order
    const T* input_ = nullptr;                  // the first layer's input of the last forward
    std::int64_t input_stride_ = 0;
};

// A batch's loss and gradient sums over a fixed number of shards of its rows, each with its own
// network scratch. A shard's products run on the thread that takes it, through a one-thread
// BLAS, so the gather, the activations and the products all split over the cores (a threaded
// BLAS splits only the products, and the rest of a batch waits on one core while its workers
// spin). A shard takes at least min_rows rows (a batch of fewer rows is one shard): below that
// its products run far from the BLAS's speed and adding its gradient costs more than its rows.
// The shards' sums are added in shard order whoever computed them: results depend on the shard
// count and the batch, not on the threads that ran them.
template <class T>
class ShardedNetwork {
public:
    static constexpr std::int64_t min_rows = 32;

    ShardedNetwork(const MlpSpec& spec, Gemm<T> gemm, std::int64_t max_rows, int shards)
        : max_rows_(std::max<std::int64_t>(1, max_rows)),
          shards_(int(std::clamp<std::int64_t>(shards, 1, shards_for(max_rows_)))) {
        // A full batch splits into shards_ shards; a smaller one into fewer, of under
        // 2 min_rows rows each.
        const std::int64_t per_shard =
            std::max((max_rows_ + shards_ - 1) / shards_, std::min(max_rows_, 2 * min_rows));
        for (int s = 0; s < shards_; ++s) nets_.emplace_back(spec, gemm, per_shard);
        const auto& u = spec.units;
        grads_.resize(std::size_t(shards_));
        for (int s = 1; s < shards_; ++s)
            for (int l = 0; l < spec.layers(); ++l) {
                storage_.emplace_back(std::size_t(u[l] * u[l + 1]));
                grads_[s].coefs.push_back(storage_.back().data());
                storage_.emplace_back(std::size_t(u[l + 1]));
                grads_[s].intercepts.push_back(storage_.back().data());
            }
        losses_.resize(std::size_t(shards_));
    }

    int shards() const { return shards_; }
    const MlpSpec& spec() const { return nets_[0].spec(); }
    std::int64_t outputs() const { return nets_[0].outputs(); }
    std::int64_t max_rows() const { return max_rows_; }
    // The first shard's network, for passes that need no gradient (validation scores).
    MlpNetwork<T>& network() { return nets_[0]; }

    // The sum over rows[0..m) of sw_i times the row's loss; the gradient sums of that loss go to
    // g (overwritten). `threads` run the shards (1: all on the calling thread).
    template <class Rows>
    double loss_and_gradient(const Rows& X, const std::int64_t* rows, std::int64_t m, const T* Y,
                             const T* sw, const MlpParams<T>& p, const MlpParams<T>& g, int threads) {
        grads_[0] = g;
        const int used = int(std::min<std::int64_t>(shards_, shards_for(m)));
        const int nt = std::min(threads, used);
        auto shard = [&](int s) {
            const std::int64_t lo = m * s / used, hi = m * (s + 1) / used;
            nets_[s].forward(X, rows + lo, hi - lo, p);
            losses_[s] = nets_[s].backward(X, rows + lo, hi - lo, Y, sw, p, grads_[s], false);
        };
        if (nt <= 1) {
            for (int s = 0; s < used; ++s) shard(s);
            add_shards(used, 0, 1);
        } else {
            // An exception must not leave a parallel region: the first one is kept and thrown after.
            std::exception_ptr error;
#pragma omp parallel num_threads(nt)
            {
                const int id = thread_id(), team = team_size();
                try {
                    for (int s = id; s < used; s += team) shard(s);
                } catch (...) {
#pragma omp critical(fastdescent_shard_error)
                    if (!error) error = std::current_exception();
                }
#pragma omp barrier
                if (!error) add_shards(used, id, team);
            }
            if (error) std::rethrow_exception(error);
        }
        double loss = 0.0;
        for (int s = 0; s < used; ++s) loss += losses_[s];
        return loss;
    }

private:
    static std::int64_t shards_for(std::int64_t rows) {
        return std::max<std::int64_t>(1, rows / min_rows);
    }

    // Shard 0's sums (in g) += shards 1..used-1's, part `part` of `parts` of every array.
    void add_shards(int used, int part, int parts) {
        if (used <= 1) return;
        const auto& u = nets_[0].spec().units;
        auto add = [&](auto array_of, std::int64_t n) {
            const std::int64_t lo = n * part / parts, hi = n * (part + 1) / parts;
            T* out = array_of(grads_[0]);
            for (int s = 1; s < used; ++s) {
                const T* in = array_of(grads_[s]);
#pragma omp simd
                for (std::int64_t j = lo; j < hi; ++j) out[j] += in[j];
            }
        };
        for (int l = 0; l < nets_[0].spec().layers(); ++l) {
            add([l](const MlpParams<T>& q) { return q.coefs[l]; }, u[l] * u[l + 1]);
            add([l](const MlpParams<T>& q) { return q.intercepts[l]; }, u[l + 1]);
        }
    }

    std::int64_t max_rows_;
    int shards_;
    std::vector<MlpNetwork<T>> nets_;
    std::vector<MlpParams<T>> grads_;  // shard 0's is the caller's g
    std::vector<std::vector<T>> storage_;
    std::vector<double> losses_;
};

}  // namespace fastdescent
