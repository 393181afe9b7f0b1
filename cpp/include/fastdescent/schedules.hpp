// Step-size schedules. scikit-learn's: constant, optimal (1 / (alpha (t0 + t - 1)), Bottou's
// heuristic t0), invscaling (eta0 / t^power_t), adaptive (eta0, divided by 5 on a plateau) and
// the passive-aggressive steps pa1 / pa2 (Crammer et al. 2006), which the trainer computes per
// sample from the loss, with eta0 as the aggressiveness C.
#pragma once
#include <algorithm>
#include <cmath>

namespace fastdescent {

enum class ScheduleKind { constant, optimal, invscaling, adaptive, pa1, pa2 };

struct Schedule {
    ScheduleKind kind = ScheduleKind::invscaling;
    double eta0 = 0.01;
    double power_t = 0.25;
    double alpha = 1e-4;
    double optimal_init = 1.0;  // t0 of 'optimal', set by init_optimal()

    // Chooses t0 so that the first step of 'optimal' is about 1 / sqrt(alpha) divided by the
    // loss's derivative at a typical margin (scikit-learn's rule).
    template <class DerivAtTypicalMargin>
    void init_optimal(DerivAtTypicalMargin dloss) {
        double typw = std::sqrt(1.0 / std::sqrt(alpha));
        double initial_eta0 = typw / std::max(1.0, dloss(typw));
        optimal_init = 1.0 / (initial_eta0 * alpha);
    }

    // Step size at update count t (t starts at 1). `current` is the running value of the
    // adaptive schedule, which the trainer lowers on plateaus.
    double eta(double t, double current) const {
        switch (kind) {
            case ScheduleKind::optimal: return 1.0 / (alpha * (optimal_init + t - 1.0));
            case ScheduleKind::invscaling: return eta0 / std::pow(t, power_t);
            case ScheduleKind::adaptive: return current;
            case ScheduleKind::constant:
            case ScheduleKind::pa1:
            case ScheduleKind::pa2: break;
        }
        return eta0;
    }
};

}  // namespace fastdescent
