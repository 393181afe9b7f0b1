// The loss names, shared by every ISA's kernels and the bindings.
#pragma once

namespace fastdescent {

enum class LossKind {
    squared_error,
    huber,
    epsilon_insensitive,
    squared_epsilon_insensitive,
    log_loss,
    hinge,
    squared_hinge,
    modified_huber,
    perceptron,
    multinomial,  // softmax cross-entropy over K outputs; y holds the class index
    absolute_error,
    quantile,  // the pinball loss; the loss parameter is the quantile
    poisson,   // half deviances with the log link: the score is log(mean)
    gamma,
    tweedie,  // the loss parameter is the power, > 1 and not 2 (those are poisson and gamma)
};

// Targets per row of a model with K outputs: multinomial's class index, or one per output (a
// scalar loss with K outputs is K independent outputs: multi-output regression).
inline int target_width(LossKind kind, int K) { return kind == LossKind::multinomial ? 1 : K; }

// Losses whose score is the log of the predicted mean (predictions are exp(score)).
inline bool log_link(LossKind kind) {
    return kind == LossKind::poisson || kind == LossKind::gamma || kind == LossKind::tweedie;
}

}  // namespace fastdescent
