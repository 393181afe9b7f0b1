// Step-size schedules, evaluated once per update by the trainer (cheap: no allocation; O(1)
// but for multistep, O(log milestones), and cosine_restarts with T_mult > 1, at most 53 integer
// steps).
//
// scikit-learn's: constant, optimal (1 / (alpha (t0 + t - 1)), Bottou's heuristic t0),
// invscaling (eta0 / t^power_t), adaptive (eta0, divided on a plateau by adaptive_divisor, 5
// as scikit-learn: the trainer keeps that value and passes it as `current`) and the
// passive-aggressive steps pa1 / pa2 (Crammer et al. 2006), which the trainer computes per
// sample from the loss, with eta0 as the aggressiveness C.
//
// PyTorch's (torch.optim.lr_scheduler, closed forms, counted in updates): exponential, step,
// multistep, cosine (CosineAnnealingLR), cosine_restarts (CosineAnnealingWarmRestarts),
// onecycle (OneCycleLR, eta0 = max_lr), polynomial (PolynomialLR) and plateau
// (ReduceLROnPlateau: eta0 is its current step size, lowered by end_epoch(metric)).
//
// Any kind but pa1 / pa2 can be preceded by a linear warmup of warmup_steps updates.
//
// Every value equals fastdescent.schedules' `value(t - 1)` for the trainer's counter t (t = 1 for
// the first update; the Python schedules count from 0).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastdescent {

enum class ScheduleKind {
    constant, optimal, invscaling, adaptive, pa1, pa2,
    exponential, step, multistep, cosine, cosine_restarts, onecycle, polynomial, plateau
};

// OneCycleLR's annealing shape.
enum class AnnealStrategy { cos, linear };
// ReduceLROnPlateau: whether the metric should decrease (min) or increase (max), and whether
// `threshold` is relative to the best value or absolute.
enum class PlateauMode { min, max };
enum class ThresholdMode { rel, abs };

inline const char* schedule_kind_name(ScheduleKind k) {
    switch (k) {
        case ScheduleKind::constant: return "constant";
        case ScheduleKind::optimal: return "optimal";
        case ScheduleKind::invscaling: return "invscaling";
        case ScheduleKind::adaptive: return "adaptive";
        case ScheduleKind::pa1: return "pa1";
        case ScheduleKind::pa2: return "pa2";
        case ScheduleKind::exponential: return "exponential";
        case ScheduleKind::step: return "step";
        case ScheduleKind::multistep: return "multistep";
        case ScheduleKind::cosine: return "cosine";
        case ScheduleKind::cosine_restarts: return "cosine_restarts";
        case ScheduleKind::onecycle: return "onecycle";
        case ScheduleKind::polynomial: return "polynomial";
        case ScheduleKind::plateau: return "plateau";
    }
    return "?";
}

struct Schedule {
    ScheduleKind kind = ScheduleKind::invscaling;
    // Base step size: the constant / initial value; the peak max_lr of onecycle; the current
    // step size of plateau (end_epoch lowers it); C of pa1 / pa2.
    double eta0 = 0.01;
    double power_t = 0.25;      // invscaling
    double adaptive_divisor = 5.0;  // adaptive: the step is divided by this on a plateau
    // optimal: 1 / (alpha (optimal_init + t - 1)). optimal_init = 0 asks the trainer to take
    // alpha from the model and optimal_init from init_optimal() (scikit-learn's rule).
    double alpha = 1e-4;
    double optimal_init = 0.0;

    // exponential: eta0 gamma^s; step: eta0 gamma^(s / step_size); multistep: eta0 gamma^(number
    // of milestones <= s), where s = t - 1 counts the updates made before this one.
    double gamma = 0.1;
    std::int64_t step_size = 1;
    std::vector<double> milestones;  // sorted, non-decreasing; a repeated one counts twice

    // cosine: eta_min + (eta0 - eta_min) (1 + cos(pi s / T_max)) / 2 (the cosine goes on past
    // T_max); cosine_restarts: the same within cycles of T_0, T_0 T_mult, ... updates.
    std::int64_t T_max = 1;
    double eta_min = 0.0;
    std::int64_t T_0 = 1;
    std::int64_t T_mult = 1;

    // onecycle (peak eta0): total_steps updates; from eta0 / div_factor up to eta0 in the first
    // pct_start of them, then down to eta0 / (div_factor final_div_factor) (three_phase: back to
    // eta0 / div_factor first). Past total_steps (where PyTorch raises) it stays at the minimum.
    std::int64_t total_steps = 1;
    double pct_start = 0.3;
    AnnealStrategy anneal_strategy = AnnealStrategy::cos;
    double div_factor = 25.0;
    double final_div_factor = 1e4;
    bool three_phase = false;

    // polynomial: eta0 (1 - min(s, total_iters) / total_iters)^power.
    std::int64_t total_iters = 5;
    double power = 1.0;

    // plateau (ReduceLROnPlateau) parameters ...
    PlateauMode mode = PlateauMode::min;
    double factor = 0.1;
    std::int64_t patience = 10;
    double threshold = 1e-4;
    ThresholdMode threshold_mode = ThresholdMode::rel;
    std::int64_t cooldown = 0;
    double min_lr = 0.0;
    double eps = 1e-8;
    // ... and state, advanced by end_epoch (with eta0). best = NaN: no metric seen yet
    // (PyTorch's +inf for mode min, -inf for mode max).
    double best = std::numeric_limits<double>::quiet_NaN();
    std::int64_t num_bad_epochs = 0;
    std::int64_t cooldown_counter = 0;

    // Linear warmup (LinearWarmup in fastdescent.schedules): for s < warmup_steps the step size
    // is base(0) * (warmup_start_factor + (1 - warmup_start_factor) s / warmup_steps), then
    // base(s - warmup_steps), where base is the kind's schedule (counted from 0).
    std::int64_t warmup_steps = 0;
    double warmup_start_factor = 1.0 / 3.0;

    // Chooses t0 so that the first step of 'optimal' is about 1 / sqrt(alpha) divided by the
    // loss's derivative at a typical margin (scikit-learn's rule).
    template <class DerivAtTypicalMargin>
    void init_optimal(DerivAtTypicalMargin dloss) {
        double typw = std::sqrt(1.0 / std::sqrt(alpha));
        double initial_eta0 = typw / std::max(1.0, dloss(typw));
        optimal_init = 1.0 / (initial_eta0 * alpha);
    }

    // Step size at update count t (t starts at 1). `current` is the running value of the
    // adaptive schedule, which the trainer lowers on plateaus; other kinds ignore it.
    double eta(double t, double current) const {
        if (warmup_steps > 0) {
            const double s = t - 1.0;
            const double w = double(warmup_steps);
            if (s < w) {
                const double f = warmup_start_factor + (1.0 - warmup_start_factor) * s / w;
                return base(1.0, current) * f;
            }
            return base(t - w, current);
        }
        return base(t, current);
    }

    // Once per epoch, with the epoch's metric: advances the plateau state machine (as
    // ReduceLROnPlateau.step), lowering eta0 after `patience` epochs without improvement.
    // A no-op for the other kinds.
    void end_epoch(double metric) {
        if (kind != ScheduleKind::plateau) return;
        if (is_better(metric)) {
            best = metric;
            num_bad_epochs = 0;
        } else {
            ++num_bad_epochs;
        }
        if (cooldown_counter > 0) {
            --cooldown_counter;
            num_bad_epochs = 0;
        }
        if (num_bad_epochs > patience) {
            double new_lr = std::max(eta0 * factor, min_lr);
            if (eta0 - new_lr > eps) eta0 = new_lr;
            cooldown_counter = cooldown;
            num_bad_epochs = 0;
        }
    }

    // Throws std::invalid_argument naming the first bad parameter of this kind.
    void validate() const {
        auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
        auto num = [](double v) { return std::to_string(v); };
        auto finite_nonneg = [&](const char* name, double v) {
            if (!(std::isfinite(v) && v >= 0))
                fail(std::string(name) + " must be a finite number >= 0, got " + num(v));
        };
        auto at_least = [&](const char* name, std::int64_t v, std::int64_t low) {
            if (v < low)
                fail(std::string(name) + " must be >= " + std::to_string(low) + ", got " +
                     std::to_string(v));
        };
        const std::string k = schedule_kind_name(kind);
        if (k == "?") fail("unknown schedule kind");
        finite_nonneg("eta0", eta0);
        at_least("warmup_steps", warmup_steps, 0);
        if (!(warmup_start_factor >= 0 && warmup_start_factor <= 1))
            fail("warmup_start_factor must be in [0, 1], got " + num(warmup_start_factor));
        switch (kind) {
            case ScheduleKind::constant: break;
            case ScheduleKind::adaptive:
                if (!(std::isfinite(adaptive_divisor) && adaptive_divisor > 1))
                    fail("adaptive_divisor must be > 1, got " + num(adaptive_divisor));
                break;
            case ScheduleKind::pa1:
            case ScheduleKind::pa2:
                if (warmup_steps > 0)
                    fail("a warmup does not apply to the passive-aggressive step '" + k +
                         "' (eta0 is its aggressiveness C, not a step size); set warmup_steps = 0");
                break;
            case ScheduleKind::optimal:
                if (!(std::isfinite(alpha) && alpha > 0))
                    fail("alpha must be > 0 for the 'optimal' schedule, got " + num(alpha));
                if (!(std::isfinite(optimal_init) && optimal_init > 0))
                    fail("optimal_init must be > 0 (0 is only a request to the trainer to "
                         "derive it from the model), got " + num(optimal_init));
                break;
            case ScheduleKind::invscaling:
                if (!std::isfinite(power_t)) fail("power_t must be finite, got " + num(power_t));
                break;
            case ScheduleKind::exponential: finite_nonneg("gamma", gamma); break;
            case ScheduleKind::step:
                finite_nonneg("gamma", gamma);
                at_least("step_size", step_size, 1);
                break;
            case ScheduleKind::multistep:
                finite_nonneg("gamma", gamma);
                for (std::size_t i = 0; i < milestones.size(); ++i) {
                    finite_nonneg("every milestone", milestones[i]);
                    if (i > 0 && milestones[i] < milestones[i - 1])
                        fail("milestones must be sorted in non-decreasing order");
                }
                break;
            case ScheduleKind::cosine:
                at_least("T_max", T_max, 1);
                finite_nonneg("eta_min", eta_min);
                break;
            case ScheduleKind::cosine_restarts:
                at_least("T_0", T_0, 1);
                at_least("T_mult", T_mult, 1);
                finite_nonneg("eta_min", eta_min);
                break;
            case ScheduleKind::onecycle:
                at_least("total_steps", total_steps, 1);
                if (!(pct_start >= 0 && pct_start <= 1))
                    fail("pct_start must be in [0, 1], got " + num(pct_start));
                if (!(std::isfinite(div_factor) && div_factor > 0))
                    fail("div_factor must be > 0, got " + num(div_factor));
                if (!(std::isfinite(final_div_factor) && final_div_factor > 0))
                    fail("final_div_factor must be > 0, got " + num(final_div_factor));
                if (anneal_strategy != AnnealStrategy::cos && anneal_strategy != AnnealStrategy::linear)
                    fail("anneal_strategy must be cos or linear");
                break;
            case ScheduleKind::polynomial:
                at_least("total_iters", total_iters, 1);
                finite_nonneg("power", power);
                break;
            case ScheduleKind::plateau:
                if (!(std::isfinite(factor) && factor < 1))
                    fail("factor must be < 1, got " + num(factor));
                at_least("patience", patience, 0);
                if (!std::isfinite(threshold)) fail("threshold must be finite, got " + num(threshold));
                at_least("cooldown", cooldown, 0);
                finite_nonneg("min_lr", min_lr);
                finite_nonneg("eps", eps);
                if (mode != PlateauMode::min && mode != PlateauMode::max)
                    fail("mode must be min or max");
                if (threshold_mode != ThresholdMode::rel && threshold_mode != ThresholdMode::abs)
                    fail("threshold_mode must be rel or abs");
                at_least("num_bad_epochs", num_bad_epochs, 0);
                at_least("cooldown_counter", cooldown_counter, 0);
                break;
        }
    }

private:
    static constexpr double pi = 3.141592653589793;  // == Python's math.pi

    // The kind's value at 1-based count u (no warmup).
    double base(double u, double current) const {
        switch (kind) {
            case ScheduleKind::optimal: return 1.0 / (alpha * (optimal_init + u - 1.0));
            case ScheduleKind::invscaling: return eta0 / std::pow(u, power_t);
            case ScheduleKind::adaptive: return current;
            case ScheduleKind::constant:
            case ScheduleKind::pa1:
            case ScheduleKind::pa2:
            case ScheduleKind::plateau: return eta0;
            default: break;
        }
        // Updates made before this one, an exact integer (clamped to what a double holds).
        const double s = std::min(std::max(u - 1.0, 0.0), 9007199254740992.0);
        switch (kind) {
            case ScheduleKind::exponential: return eta0 * std::pow(gamma, s);
            case ScheduleKind::step: {
                const std::int64_t n = std::int64_t(s) / std::max<std::int64_t>(step_size, 1);
                return n == 0 ? eta0 : eta0 * std::pow(gamma, double(n));
            }
            case ScheduleKind::multistep: {
                const auto n = std::upper_bound(milestones.begin(), milestones.end(), s) - milestones.begin();
                return n == 0 ? eta0 : eta0 * std::pow(gamma, double(n));
            }
            case ScheduleKind::cosine:
                return eta_min + (eta0 - eta_min) * (1.0 + std::cos(pi * s / double(T_max))) / 2.0;
            case ScheduleKind::cosine_restarts: return cosine_restarts_value(s);
            case ScheduleKind::onecycle: return onecycle_value(s);
            case ScheduleKind::polynomial: {
                const double frac = std::min(double(total_iters), s) / double(total_iters);
                return eta0 * (power == 1.0 ? 1.0 - frac : std::pow(1.0 - frac, power));
            }
            default: break;
        }
        return eta0;
    }

    // fastdescent.schedules' walk over the cycles, in integers: at most 53 steps (the cycles
    // at least double and counts stay below 2^53), about one nanosecond each; cheaper than the
    // logarithms of a closed form for any realistic count.
    double cosine_restarts_value(double s) const {
        const std::int64_t first = std::max<std::int64_t>(T_0, 1);  // validate() rejects < 1
        std::int64_t t_cur = std::int64_t(s), t_i = first;
        if (T_mult <= 1) {
            t_cur %= first;
        } else {
            const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / T_mult;
            while (t_cur >= t_i) {
                t_cur -= t_i;
                if (t_i > limit) {  // the next cycle is longer than any count: t_cur stays in it
                    t_i = std::numeric_limits<std::int64_t>::max();
                    break;
                }
                t_i *= T_mult;
            }
        }
        return eta_min + (eta0 - eta_min) * (1.0 + std::cos(pi * double(t_cur) / double(t_i))) / 2.0;
    }

    double anneal(double start, double end, double pct) const {
        if (anneal_strategy == AnnealStrategy::cos)
            return end + (start - end) / 2.0 * (std::cos(pi * pct) + 1.0);
        return (end - start) * pct + start;
    }

    // OneCycleLR's phases, as fastdescent.schedules.OneCycleLR._phases; a phase of zero length
    // (where Python would divide by zero) counts as finished.
    double onecycle_value(double s) const {
        const double initial = eta0 / div_factor;
        const double minimum = initial / final_div_factor;
        const double n = double(total_steps);
        if (s > n) return minimum;
        const double rise_end = pct_start * n - 1.0;
        const double last_end = n - 1.0;
        auto phase = [&](double start_step, double end_step, double from, double to) {
            double len = end_step - start_step;
            return anneal(from, to, len == 0.0 ? 1.0 : (s - start_step) / len);
        };
        if (s <= rise_end) return phase(0.0, rise_end, initial, eta0);
        if (three_phase) {
            const double fall_end = 2.0 * pct_start * n - 2.0;
            if (s <= fall_end) return phase(rise_end, fall_end, eta0, initial);
            return phase(fall_end, last_end, initial, minimum);
        }
        return phase(rise_end, last_end, eta0, minimum);
    }

    bool is_better(double a) const {
        double b = best;
        if (std::isnan(b))
            b = mode == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                         : -std::numeric_limits<double>::infinity();
        if (mode == PlateauMode::min)
            return a < (threshold_mode == ThresholdMode::rel ? b * (1.0 - threshold) : b - threshold);
        return a > (threshold_mode == ThresholdMode::rel ? b * (threshold + 1.0) : b + threshold);
    }
};

}  // namespace fastdescent
