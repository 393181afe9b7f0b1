// Parameter-update rules. The trainer hands an optimizer each parameter array (the coefficient
// matrix, then the intercepts) with its gradient once per update; the optimizer keeps whatever
// state it needs per array (its "slot").
#pragma once
#include <cstdint>

#include "fastdescent/simd.hpp"

namespace fastdescent {

template <class T>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    // Called once per update, before the per-array calls of that update.
    virtual void begin_step() {}
    // w <- update of w given its gradient g and the step size lr.
    virtual void update(int slot, T* w, const T* g, std::int64_t n, double lr) = 0;
};

// w <- w - lr * g
template <class T>
class PlainSgd final : public Optimizer<T> {
public:
    void update(int, T* w, const T* g, std::int64_t n, double lr) override {
        axpy(static_cast<T>(-lr), g, w, n);
    }
};

}  // namespace fastdescent
