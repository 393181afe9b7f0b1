// What every training binding shares: the checks of a configuration and of the buffers a
// trainer writes, and what it hands the GIL-free trainers (the stop check for Ctrl-C and a
// cancel event, the epoch callback into Python, the KeyboardInterrupt after an interrupt).
#pragma once
#include "common.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastdescent/policy.hpp"
#include "fastdescent/strategies/strategy.hpp"
#include "optimizer_state.hpp"

namespace fastdescent::bindings {

// Settings the trainer would otherwise turn into NaN weights or an endless loop; the estimators
// check them too, this keeps direct callers of the bindings safe.
inline void check_config(const TrainConfig& cfg, double t0) {
    auto fail = [](const std::string& what) { throw py::value_error(what); };
    if (!(std::isfinite(cfg.alpha) && cfg.alpha >= 0)) fail("config.alpha must be a finite number >= 0");
    if (!(cfg.l1_ratio >= 0 && cfg.l1_ratio <= 1)) fail("config.l1_ratio must be in [0, 1]");
    try {
        check_loss_param(cfg.loss, cfg.loss_param);
    } catch (const std::invalid_argument& e) {
        fail(std::string("config.loss_param: ") + e.what());
    }
    if (!std::isfinite(cfg.intercept_decay)) fail("config.intercept_decay must be finite");
    if (!std::isfinite(cfg.intercept_linear)) fail("config.intercept_linear must be finite");
    if (std::isnan(cfg.tol)) fail("config.tol must not be NaN (-inf disables the test)");
    if (!(std::isfinite(cfg.clip_value) && std::isfinite(cfg.clip_norm)))
        fail("config.clip_value and config.clip_norm must be finite (0 disables)");
    if (!(std::isfinite(t0) && t0 >= 1)) fail("t0 must be a finite number >= 1 (the update count plus one)");
}

// Byte range an array spans (strides may be negative or zero).
struct Span {
    const char* lo;
    const char* hi;
    const char* what;
};
inline Span span_of(const py::array& a, const char* what) {
    const char* p = static_cast<const char*>(a.data());
    const char* lo = p;
    const char* hi = p + a.itemsize();
    if (a.size() == 0) return {p, p, what};
    for (py::ssize_t k = 0; k < a.ndim(); ++k) {
        const py::ssize_t extent = (a.shape(k) - 1) * a.strides(k);
        if (extent < 0) lo += extent;
        else hi += extent;
    }
    return {lo, hi, what};
}

// The buffers the trainer writes must not overlap each other or anything it reads: the result
// would silently depend on the order of reads and writes.
inline void check_no_overlap(const std::vector<Span>& written, const std::vector<Span>& read) {
    for (std::size_t i = 0; i < written.size(); ++i) {
        const Span& w = written[i];
        if (w.lo == w.hi) continue;
        auto clash = [&](const Span& o) { return o.lo != o.hi && w.lo < o.hi && o.lo < w.hi; };
        for (std::size_t j = i + 1; j < written.size(); ++j)
            if (clash(written[j]))
                throw py::value_error(std::string(w.what) + " shares memory with " + written[j].what +
                                      "; pass separate arrays");
        for (const Span& o : read)
            if (clash(o))
                throw py::value_error(std::string(w.what) + " shares memory with " + o.what +
                                      ", which training reads; pass separate arrays");
    }
}

// Polls for Ctrl-C from inside the GIL-free loop; the pending exception stays set on this thread.
// Signals reach only the main thread, so a fit on a worker thread also watches `cancel` (an
// object with is_set(), e.g. threading.Event) that the main thread sets when it is interrupted.
inline StopCheck stop_check(py::handle cancel) {
    return [cancel]() {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) return true;
        return !cancel.is_none() && py::bool_(cancel.attr("is_set")()).cast<bool>();
    };
}

// The epoch callback fn(epoch, objective, validation_score, eta, t, grad_norm, state) as the
// trainers call it (none when fn is None); `after` runs after each call.
template <class T>
EpochCallback epoch_hook(py::handle fn, const Optimizer<T>* o, std::function<void()> after) {
    if (fn.is_none()) return {};
    // A borrowed handle: the std::function is copied with the GIL released, which must not
    // touch reference counts. The caller keeps the callable alive for the call.
    return [fn, after, o](const EpochStats& s) {
        py::gil_scoped_acquire gil;
        // The optimizer's state at this epoch's end (for a checkpoint taken in a callback),
        // readable while the trainer waits for the callback and not after.
        auto open = std::make_shared<bool>(true);
        py::cpp_function state([o, open]() -> py::object {
            if (!*open)
                throw std::runtime_error("the optimizer state can be read only during its epoch callback");
            return o ? py::object(state_to_python(o->state())) : py::object(py::list());
        });
        bool stop;
        try {
            stop = py::bool_(fn(s.epoch, s.objective, s.validation_score, s.eta, s.t, s.grad_norm, state))
                       .cast<bool>();
        } catch (...) {
            *open = false;
            throw;
        }
        *open = false;
        if (after) after();
        return stop;
    };
}

// After a trainer returned interrupted: the pending KeyboardInterrupt (Ctrl-C), or a new one
// when `cancel` stopped it (the main thread is raising its own already).
[[noreturn]] inline void raise_interrupt() {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
}

}  // namespace fastdescent::bindings
