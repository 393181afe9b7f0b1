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
};

}  // namespace fastdescent
