// Full-batch gradient descent that picks its own step (learning_rate="auto" with plain SGD):
// one fused pass over the rows per iteration (the batched strategy's), and every step in the
// metric of a diagonal preconditioner D, the diagonal of the Hessian's bound (the loss's
// curvature bound times each column's weighted mean square, plus the L2 factor).
//
// - Smooth loss, no L1 part: limited-memory BFGS, each trial point checked by the Armijo
//   condition on the next pass and retaken with half the step if it fails.
// - Smooth loss with an L1 part: accelerated proximal gradient (FISTA), step D^-1 / L. L is
//   bounded by the objective's smoothness in the metric D (power iterations on
//   D^-1/2 X~^T S X~ D^-1/2 / W over a row sample, X~ with a column of ones for the
//   intercept) and follows the curvature measured along the path below that bound; the
//   momentum restarts when the objective rises or the step turns against the previous one;
//   every momentum-free step is checked against the sufficient-decrease bound and retaken with
//   L doubled if it fails.
// - Log-link losses (poisson, gamma, tweedie): as smooth ones, the curvature scale measured at
//   the start (it is unbounded).
// - absolute_error, quantile, hinge: the smooth solvers on a Huber-smoothed surrogate whose
//   width shrinks tenfold each time they converge (see smoothed()).
// - Other non-smooth losses (perceptron, epsilon_insensitive): the proximal subgradient step
//   D^-1 / (L sqrt(k)) at iteration k (curvature bound 1 in D and L); the policy stops it.
//
// The smooth solvers stop when the gradient's norm in the metric D^-1 (the gradient mapping's,
// with L1) falls below solver_tol times its first value. The step size they report is the
// line search's fraction of the quasi-Newton step, or 1 / L.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "fastdescent/rng.hpp"
#include "fastdescent/strategies/batched.hpp"

namespace fastdescent {

template <class Rows>
class FullBatchSolverEpochs final : public BatchedEpochs<Rows> {
    using Batched = BatchedEpochs<Rows>;
    using typename Batched::T;
    using Batched::X_, Batched::m_, Batched::cfg_, Batched::pen_, Batched::order_, Batched::K_;
    using Batched::d_, Batched::last_eta_, Batched::last_grad_norm_, Batched::sample_weight;
    using Batched::batch_gradient, Batched::grad_, Batched::grad_b_;

public:
    template <class... Args>
    FullBatchSolverEpochs(Args&&... args)
        : Batched(std::forward<Args>(args)...), P_(K_ * d_), N_(P_ + K_) {
        if (log_link(cfg_.loss)) curvature_ = curvature_at_start();
        else if (smoothed()) curvature_ = start_smoothing();
        else curvature_ = loss_curvature_bound(cfg_.loss);
        precondition();
        L_ = largest_eigenvalue();
        if (!(L_ > 0)) L_ = 1.0;  // all-zero X without intercept: any step does
        L_bound_ = L_;
        for (auto* v : {&x_, &x_prev_, &a_, &ga_, &y_next_}) v->assign(std::size_t(N_), 0.0);
        load(x_prev_);
        y_next_ = x_prev_;
    }

    // The solver reads X before its first gradient (curvature, step bounds): the trainer scans
    // X first instead.
    bool checks_scores() const override { return false; }
    double epoch(double& t) override {
        store(y_next_);  // the point this pass evaluates
        const std::int64_t n = std::int64_t(order_.size());
        grad_.resize(std::size_t(P_));
        grad_b_.resize(std::size_t(K_));
        double weight = 0.0;
        const double sumloss = smoothed() ? smoothed_gradient(n, weight) : batch_gradient(0, n, weight);
        this->poll_stop(n * (P_ + 1));
        y_ = y_next_;
        const std::vector<double>& y = y_;
        // The gradient of the smooth part (mean loss + L2) at y, into g_.
        g_.resize(std::size_t(N_));
        const double inv = 1.0 / weight;
        for (std::int64_t j = 0; j < P_; ++j) g_[j] = double(grad_[j]) * inv + pen_.l2() * y[j];
        for (int k = 0; k < K_; ++k)
            g_[P_ + k] = cfg_.fit_intercept ? double(grad_b_[k]) * inv + pen_.intercept_linear : 0.0;
        const double smooth = sumloss * inv + smooth_penalty(y);
        penalty_at_y_ = penalty_at(y);
        last_grad_norm_ = std::sqrt(dot(g_, g_));
        t += 1.0;
        if (!std::isfinite(smooth)) {
            // A trial point past the range of an exponential loss: a shorter step from the last
            // accepted point, whose objective this pass reports (it is the model kept).
            if (!started_ || curvature_ == 0) return sumloss;  // the policy reports the divergence
            const std::vector<double>& kept = retake_shorter();
            penalty_at_y_ = penalty_at(kept);
            return (fa_ - smooth_penalty(kept)) * weight;
        }
        if (curvature_ == 0) subgradient_step(y);
        else if (pen_.has_l1()) accelerated_step(y, smooth, sumloss * inv + penalty_at_y_);
        else quasi_newton_step(y, smooth);
        // The model between passes (and at the end): the last step's result, or the first
        // quasi-Newton step (D^-1 g / L, a descent step by the smoothness bound) before any is
        // accepted, so that one pass (max_iter=1, partial_fit) moves the model.
        if (smoothed() && this->converged_ && width_ > final_width_) narrow();
        store(accepted_ == 1 && !this->converged_ ? y_next_ : x_);
        return sumloss;
    }

    // The penalty at the point the epoch's loss was measured (not at the step's result).
    double penalty_value() const override { return penalty_at_y_; }
    bool penalty_reads_weights() const override { return false; }  // its penalty is at y

private:
    // The absolute-error, quantile (pinball) and hinge losses are solved through a smooth
    // surrogate. Each is h |y - p| + a(y) p + c(y), a kink at the target plus a linear part:
    // absolute error (h 1), pinball_q = |y - p| / 2 + (q - 1/2) (y - p), and for labels
    // y = +-1, hinge max(0, 1 - y p) = |y - p| / 2 + (1 - y p) / 2. The surrogate replaces
    // |y - p| by huber_c(p - y) / c (at most c / 2 below it): the Huber kernel does the pass,
    // and the linear part's gradient is constant (the weighted sums of a(y) x). The solver runs
    // on the surrogate until its test passes, then narrows c tenfold and starts again from
    // there, down to 1e-4 times the first width (the mean |y - p| at the start), where the
    // surrogate is within h c / 2 per unit weight of the loss. The objective reported is the
    // surrogate's.
    bool smoothed() const {
        return cfg_.loss == LossKind::quantile || cfg_.loss == LossKind::absolute_error ||
               cfg_.loss == LossKind::hinge;
    }

    // a(y) and c(y) of the surrogate's linear part (see smoothed()).
    std::pair<double, double> linear_part(double y) const {
        switch (cfg_.loss) {
            case LossKind::quantile: return {0.5 - cfg_.loss_param, (cfg_.loss_param - 0.5) * y};
            case LossKind::hinge: return {-0.5 * y, 0.5};
            default: return {0.0, 0.0};
        }
    }

    // The surrogate's constants from one pass over the training rows; returns its curvature
    // bound (half_ / c).
    double start_smoothing() {
        half_ = cfg_.loss == LossKind::absolute_error ? 1.0 : 0.5;
        linear_sums_.assign(std::size_t(P_), T(0));
        linear_intercept_.assign(std::size_t(K_), 0.0);
        double residuals = 0.0, weight = 0.0;
        for (std::size_t r = 0; r < order_.size(); ++r) {
            const std::int64_t i = order_[r];
            const double sw = sample_weight(i);
            if (sw == 0) continue;
            for (int k = 0; k < K_; ++k) {
                const double y = double(this->tg_.y[i * K_ + k]);
                const auto [a, c] = linear_part(y);
                if (a != 0) X_.axpy(i, T(sw * a), linear_sums_.data() + k * d_);
                linear_intercept_[std::size_t(k)] += sw * a;
                linear_constant_ += sw * c;
                const double p = double(X_.dot(i, m_.coef + k * d_)) + double(m_.intercept[k]);
                residuals += sw * std::fabs(y - p);
            }
            weight += sw;
        }
        width_ = weight > 0 && residuals > 0 ? residuals / (weight * K_) : 1.0;
        final_width_ = 1e-4 * width_;
        return half_ / width_;
    }

    // The surrogate's weighted loss sum at the model, its gradient sums into grad_ / grad_b_.
    double smoothed_gradient(std::int64_t n, double& weight) {
        const double huber = batch_gradient(0, n, weight, LossKind::huber, width_);
        const double h = half_ / width_;
        // The linear part: sum of w a(y) p over the rows and outputs, and its gradient.
        double linear = linear_constant_;
        for (std::int64_t j = 0; j < P_; ++j) {
            const double s = double(linear_sums_[std::size_t(j)]);
            linear += double(m_.coef[j]) * s;
            grad_[j] = T(h * double(grad_[j]) + s);
        }
        for (int k = 0; k < K_; ++k) {
            linear += linear_intercept_[std::size_t(k)] * double(m_.intercept[k]);
            grad_b_[k] = T(h * double(grad_b_[k]) + linear_intercept_[std::size_t(k)]);
        }
        return h * huber + linear;
    }

    // A tenfold narrower surrogate: the solver starts afresh from its last point.
    void narrow() {
        width_ = std::max(final_width_, 0.1 * width_);
        curvature_ = half_ / width_;
        precondition();
        L_ = largest_eigenvalue();
        if (!(L_ > 0)) L_ = 1.0;
        L_bound_ = L_;
        pairs_.clear();
        started_ = check_pending_ = false;
        theta_ = 1.0;
        margin_ = min_margin;
        curvature_count_ = 0;
        accepted_ = 0;
        x_prev_ = x_;
        y_next_ = x_;
        this->converged_ = false;
    }

    // After a trial point with a non-finite objective: half the quasi-Newton step, or the
    // proximal step from the last evaluated point with L doubled. Returns the point kept, whose
    // smooth objective is fa_.
    const std::vector<double>& retake_shorter() {
        if (pen_.has_l1()) {
            retake_proximal_step();
            check_pending_ = true;
        } else {
            halve_quasi_newton_step();
        }
        const std::vector<double>& kept = pen_.has_l1() ? a_ : x_;
        store(kept);
        return kept;
    }

    // The proximal step from the last evaluated point a_ retaken with L doubled (the global
    // bound raised with it); the momentum restarts.
    void retake_proximal_step() {
        L_ *= 2.0;
        L_bound_ = std::max(L_bound_, L_);
        prox_step(a_, ga_, 1.0 / L_, x_);
        y_next_ = x_;
        theta_ = 1.0;
        last_eta_ = 1.0 / L_;
    }

    // The next trial point half as far along the quasi-Newton direction from x_.
    void halve_quasi_newton_step() {
        alpha_ *= 0.5;
        last_eta_ = alpha_;
        for (std::int64_t j = 0; j < N_; ++j) y_next_[j] = x_[j] + alpha_ * dir_[j];
    }

    // The penalty's smooth part at v (L2 and the intercepts' linear term), and all of it.
    double smooth_penalty(const std::vector<double>& v) const {
        double sq = 0.0, linear = 0.0;
        for (std::int64_t j = 0; j < P_; ++j) sq += v[j] * v[j];
        for (int k = 0; k < K_; ++k) linear += pen_.intercept_linear * v[P_ + k];
        return 0.5 * pen_.l2() * sq + linear;
    }
    double penalty_at(const std::vector<double>& v) const {
        double l1 = 0.0;
        for (std::int64_t j = 0; j < P_; ++j) l1 += std::fabs(v[j]);
        return smooth_penalty(v) + pen_.l1() * l1;
    }

    // The curvature scale of a log-link loss (whose curvature is unbounded): its weighted mean
    // second derivative at the starting point over the sample rows, the scale the
    // preconditioner and the first step take; the line search and the checks correct it.
    double curvature_at_start() const {
        double sum = 0.0;
        const double w_sum = over_sample([&](std::int64_t i, double sw) {
            for (int k = 0; k < K_; ++k) {
                const double p = double(X_.dot(i, m_.coef + k * d_)) + double(m_.intercept[k]);
                sum += sw * visit_log_link_loss(cfg_.loss, cfg_.loss_param, [&](auto L) {
                    return L.curvature(p, double(this->tg_.y[i * K_ + k]));
                });
            }
        });
        const double c = w_sum > 0 ? sum / (w_sum * K_) : 0.0;
        return std::isfinite(c) && c > 1e-12 ? c : 1.0;
    }

    void accelerated_step(const std::vector<double>& y, double smooth, double objective) {
        if (check_pending_) {
            // y = prox(a - ga / L): the smooth part must lie below its quadratic bound at a.
            double lin = 0.0, sq = 0.0;
            for (std::int64_t j = 0; j < N_; ++j) {
                const double s = y[j] - a_[j];
                lin += ga_[j] * s, sq += diag_[j] * s * s;
            }
            const double bound = fa_ + lin + 0.5 * L_ * sq;
            if (smooth > bound + 1e-12 * std::fabs(fa_)) {
                margin_ *= 2.0;
                retake_proximal_step();
                return;
            }
        }
        if (check_pending_ && started_) margin_ = std::max(min_margin, 0.75 * margin_);  // passed
        const bool rose = started_ && objective > last_objective_;
        last_objective_ = objective;
        if (started_) adapt_step(y);
        a_ = y, ga_ = g_, fa_ = smooth;
        const double eta = 1.0 / L_;
        last_eta_ = eta;
        prox_step(y, g_, eta, x_);
        // The gradient mapping (y - x) / eta, and whether the step opposes the previous one.
        double mapping = 0.0, turn = 0.0;
        for (std::int64_t j = 0; j < N_; ++j) {
            const double s = y[j] - x_[j];
            mapping += diag_[j] * s * s;
            turn += diag_[j] * s * (x_[j] - x_prev_[j]);
        }
        mapping = std::sqrt(mapping) / eta;
        this->converged_ = small_gradient(mapping, smooth);
        double beta = 0.0;
        if (!started_ || rose || turn > 0) {
            theta_ = 1.0;
        } else {
            const double next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * theta_ * theta_));
            beta = (theta_ - 1.0) / next;
            theta_ = next;
        }
        for (std::int64_t j = 0; j < N_; ++j) y_next_[j] = x_[j] + beta * (x_[j] - x_prev_[j]);
        x_prev_ = x_;
        check_pending_ = beta == 0.0;
        started_ = true;
    }

    // Smooth objective without L1: limited-memory BFGS in the metric D (initial inverse Hessian
    // D^-1 scaled by the last pair's s.r / r.D^-1 r; the first step D^-1 g / L), each trial
    // point x + alpha d accepted by the Armijo condition or retaken with alpha halved. One pass
    // per accepted step where the unit step passes, as it mostly does.
    void quasi_newton_step(const std::vector<double>& y, double smooth) {
        if (started_) {
            double slope = 0.0;
            for (std::int64_t j = 0; j < N_; ++j) slope += ga_[j] * dir_[j];
            if (!(smooth <= fa_ + 1e-4 * alpha_ * slope)) {  // Armijo failed: a shorter step
                halve_quasi_newton_step();
                this->converged_ = alpha_ < 1e-10;  // no decrease left at this precision
                return;
            }
            remember(y);
        }
        x_ = y, ga_ = g_, fa_ = smooth;
        ++accepted_;
        const double norm = std::sqrt(metric_norm2(g_));
        this->converged_ = small_gradient(norm, smooth);
        started_ = true;
        direction();
        alpha_ = 1.0;
        last_eta_ = alpha_;
        for (std::int64_t j = 0; j < N_; ++j) y_next_[j] = x_[j] + dir_[j];
    }

    // The stopping test: the gradient's norm (in the metric D^-1) below solver_tol times its
    // first value, or times sqrt(|objective|) when that is larger (a warm start at the optimum
    // would otherwise ask for a gradient far below what the objective can resolve).
    bool small_gradient(double norm, double smooth) {
        if (!started_) reference_norm_ = std::max(norm, std::sqrt(std::fabs(smooth)));
        return norm <= cfg_.solver_tol * reference_norm_;
    }

    // Keeps the pair (s, r) = (y - x, g(y) - g(x)) of the accepted step when its curvature s.r
    // is positive (else the memory would not be positive definite).
    void remember(const std::vector<double>& y) {
        double sr = 0.0, ss = 0.0, rr = 0.0;
        for (std::int64_t j = 0; j < N_; ++j) {
            const double s = y[j] - x_[j], r = g_[j] - ga_[j];
            sr += s * r, ss += s * s, rr += r * r;
        }
        if (!(sr > 1e-12 * std::sqrt(ss * rr))) return;
        // The oldest pair's buffers take the new one: no allocation once the memory is full.
        if (pairs_.size() == memory) std::rotate(pairs_.begin(), pairs_.begin() + 1, pairs_.end());
        else pairs_.emplace_back();
        Pair& p = pairs_.back();
        p.s.resize(std::size_t(N_));
        p.r.resize(std::size_t(N_));
        for (std::int64_t j = 0; j < N_; ++j) p.s[j] = y[j] - x_[j], p.r[j] = g_[j] - ga_[j];
        p.rho = 1.0 / sr;
    }

    // d = -H g by the two-loop recursion over the remembered pairs; a scaled gradient step
    // (D^-1 g / L) when there are none or the result does not descend.
    void direction() {
        std::vector<double>& q = dir_;
        q = ga_;
        std::vector<double> a(pairs_.size());
        for (std::size_t k = pairs_.size(); k-- > 0;) {
            a[k] = pairs_[k].rho * dot(pairs_[k].s, q);
            for (std::int64_t j = 0; j < N_; ++j) q[j] -= a[k] * pairs_[k].r[j];
        }
        double gamma = 1.0 / L_;
        if (!pairs_.empty()) {
            const Pair& last = pairs_.back();
            gamma = 1.0 / (last.rho * metric_norm2(last.r));
        }
        for (std::int64_t j = 0; j < N_; ++j) q[j] *= gamma / diag_[j];
        for (std::size_t k = 0; k < pairs_.size(); ++k) {
            const double b = pairs_[k].rho * dot(pairs_[k].r, q);
            for (std::int64_t j = 0; j < N_; ++j) q[j] += (a[k] - b) * pairs_[k].s[j];
        }
        for (auto& e : q) e = -e;
        if (!(dot(q, ga_) < 0)) {
            pairs_.clear();
            for (std::int64_t j = 0; j < N_; ++j) q[j] = -ga_[j] / (L_ * diag_[j]);
        }
    }

    // ||v||^2 in the metric D^-1 (the gradient's norm that the stopping test reads).
    double metric_norm2(const std::vector<double>& v) const {
        double s = 0.0;
        for (std::int64_t j = 0; j < N_; ++j) s += v[j] * v[j] / diag_[j];
        return s;
    }

    // L from the curvature along the path: the largest secant curvature (g - ga) . (y - a) /
    // ||y - a||_D^2 of the last passes, times a margin that every failed check doubles, within
    // the global bound. Near the optimum of a saturated loss (log_loss on separable rows) it is
    // far below the bound, and the steps are as much longer.
    void adapt_step(const std::vector<double>& y) {
        double ss = 0.0, sr = 0.0;
        for (std::int64_t j = 0; j < N_; ++j) {
            const double s = y[j] - a_[j];
            ss += diag_[j] * s * s, sr += s * (g_[j] - ga_[j]);
        }
        if (!(ss > 0)) return;
        curvatures_[curvature_count_++ % curvatures_.size()] = sr / ss;
        const std::size_t filled = std::min<std::size_t>(curvature_count_, curvatures_.size());
        const double recent = *std::max_element(curvatures_.begin(), curvatures_.begin() + filled);
        L_ = std::clamp(margin_ * recent, std::max(pen_.l2(), 1e-6 * L_bound_), L_bound_);
    }

    void subgradient_step(const std::vector<double>& y) {
        const double eta = 1.0 / (L_ * std::sqrt(double(++iteration_)));
        last_eta_ = eta;
        prox_step(y, g_, eta, x_);
        y_next_ = x_;
    }

    // out = prox(p - eta D^-1 g) in the metric D: a scaled gradient step, then soft-thresholding
    // of the weights at eta l1 / D_j.
    void prox_step(const std::vector<double>& p, const std::vector<double>& g, double eta,
                   std::vector<double>& out) const {
        const double l1 = pen_.l1();
        for (std::int64_t j = 0; j < N_; ++j) {
            const double step = eta / diag_[j];
            const double v = p[j] - step * g[j];
            const double thr = j < P_ ? step * l1 : 0.0;
            out[j] = thr > 0 ? (v > thr ? v - thr : (v < -thr ? v + thr : 0.0)) : v;
        }
    }

    // Rows for the estimates: all of them for CSR (cheap, and rare columns count), a strided
    // sample of at most 8192 for dense.
    template <class F>
    double over_sample(F&& f) const {
        const std::int64_t n = std::int64_t(order_.size());
        const std::int64_t stride =
            is_dense_rows_v<Rows> ? std::max<std::int64_t>(1, n / 8192) : 1;
        double w_sum = 0.0;
        for (std::int64_t r = 0; r < n; r += stride) {
            const std::int64_t i = order_[std::size_t(r)];
            const double sw = sample_weight(i);
            if (sw == 0) continue;
            f(i, sw);
            w_sum += sw;
        }
        return w_sum;
    }

    // D: the curvature bound c (1 for non-smooth losses) times the weighted mean of each
    // squared column (1 for the intercepts), plus the L2 factor; c where that is 0 (a column
    // of zeros).
    void precondition() {
        const double c = curvature_ > 0 ? curvature_ : 1.0;
        std::vector<double> col(std::size_t(d_), 0.0);
        const double w_sum = over_sample([&](std::int64_t i, double sw) {
            X_.for_each(i, [&](std::int64_t j, T v) { col[std::size_t(j)] += sw * double(v) * double(v); });
        });
        diag_.assign(std::size_t(N_), c);
        for (int k = 0; k < K_; ++k)
            for (std::int64_t j = 0; j < d_; ++j) {
                const double v = c * (w_sum > 0 ? col[std::size_t(j)] / w_sum : 0.0) + pen_.l2();
                diag_[std::size_t(k * d_ + j)] = v > 0 ? v : c;
            }
    }

    // Largest eigenvalue of c D^-1/2 X~^T S X~ D^-1/2 / W + l2 D^-1 (X~: X with a column of ones
    // when the intercept is fitted, S: the sample weights, W their sum; D and c of the first
    // output) by power iterations: an estimate that the sufficient-decrease check corrects.
    double largest_eigenvalue() {
        const double c = curvature_ > 0 ? curvature_ : 1.0;
        const std::int64_t m = d_ + (cfg_.fit_intercept ? 1 : 0);
        if (m == 0) return 0.0;
        std::vector<double> scale(static_cast<std::size_t>(m)), v(static_cast<std::size_t>(m));
        for (std::int64_t j = 0; j < d_; ++j) scale[j] = 1.0 / std::sqrt(diag_[j]);
        if (cfg_.fit_intercept) scale[d_] = 1.0 / std::sqrt(diag_[P_]);
        std::vector<T> vs(static_cast<std::size_t>(m)), u(static_cast<std::size_t>(m));
        Rng rng(cfg_.seed + 1);
        for (auto& e : v) e = 0.5 + double(rng.next() >> 11) * 0x1.0p-53;  // positive start
        double lambda = 0.0;
        for (int it = 0; it < 12; ++it) {
            for (std::int64_t j = 0; j < m; ++j) vs[j] = T(scale[j] * v[j]);
            std::fill(u.begin(), u.end(), T(0));
            const double w_sum = over_sample([&](std::int64_t i, double sw) {
                double s = double(X_.dot(i, vs.data()));
                if (cfg_.fit_intercept) s += double(vs[std::size_t(d_)]);
                X_.axpy(i, T(sw * s), u.data());
                if (cfg_.fit_intercept) u[std::size_t(d_)] += T(sw * s);
            });
            if (!(w_sum > 0)) return 0.0;
            double vu = 0.0, vv = 0.0;
            std::vector<double> next_v(static_cast<std::size_t>(m));
            for (std::int64_t j = 0; j < m; ++j) {
                const double l2 = j < d_ ? pen_.l2() / diag_[j] : 0.0;
                next_v[j] = c * scale[j] * double(u[j]) / w_sum + l2 * v[j];
                vu += v[j] * next_v[j], vv += v[j] * v[j];
            }
            const double norm = std::sqrt(dot(next_v, next_v));
            if (!(norm > 0)) return 0.0;
            for (std::int64_t j = 0; j < m; ++j) v[j] = next_v[j] / norm;
            const double next = vu / vv;
            const bool settled = std::fabs(next - lambda) <= 1e-3 * next;
            lambda = next;
            if (settled) break;
        }
        return lambda;
    }

    static double dot(const std::vector<double>& a, const std::vector<double>& b) {
        double s = 0.0;
        for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
        return s;
    }
    void load(std::vector<double>& out) const {
        for (std::int64_t j = 0; j < P_; ++j) out[j] = double(m_.coef[j]);
        for (int k = 0; k < K_; ++k) out[P_ + k] = double(m_.intercept[k]);
    }
    void store(const std::vector<double>& in) {
        for (std::int64_t j = 0; j < P_; ++j) m_.coef[j] = T(in[j]);
        for (int k = 0; k < K_; ++k) m_.intercept[k] = T(in[P_ + k]);
    }

    double curvature_;          // the loss's curvature bound (scale, for log-link losses)
    // The smooth surrogate of absolute_error / quantile / hinge (see smoothed()): the Huber
    // part's factor h and width, the width to stop at, the linear part's weighted sums of
    // a(y) x, of a(y) and of c(y).
    double half_ = 0.5, width_ = 1.0, final_width_ = 0.0;
    std::vector<T> linear_sums_;
    std::vector<double> linear_intercept_;  // per output
    double linear_constant_ = 0.0;
    std::vector<double> diag_;  // D
    const std::int64_t P_, N_;  // weights; weights and intercepts
    double L_ = 1.0, L_bound_ = 1.0;  // the step's 1 / L; the global bound (raised by checks)
    struct Pair {
        std::vector<double> s, r;
        double rho = 0.0;
    };
    static constexpr std::size_t memory = 10;
    std::vector<Pair> pairs_;
    std::vector<double> dir_;  // the quasi-Newton direction
    double alpha_ = 1.0;
    int accepted_ = 0;  // points the quasi-Newton steps accepted (the start included)
    static constexpr double min_margin = 2.0;
    double margin_ = min_margin;      // L over the recent secant curvature
    std::array<double, 8> curvatures_{};
    std::size_t curvature_count_ = 0;
    // x_: the last step's result; x_prev_: the one before; y_: the point evaluated by this
    // pass; y_next_: by the next;
    // a_, ga_, fa_: the last accepted evaluated point, its smooth gradient and value.
    std::vector<double> x_, x_prev_, y_next_, y_, a_, ga_, g_;
    double fa_ = 0.0, theta_ = 1.0, last_objective_ = 0.0, reference_norm_ = 0.0;
    double penalty_at_y_ = 0.0;
    bool check_pending_ = false, started_ = false;
    std::int64_t iteration_ = 0;
};

}  // namespace fastdescent
