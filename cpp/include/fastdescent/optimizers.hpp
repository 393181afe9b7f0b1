// Parameter-update rules. The trainer hands an optimizer each parameter array (the coefficient
// matrix, then the intercepts) with its gradient once per update; the optimizer keeps whatever
// state it needs per array (its "slot").
//
// How an OptimizerSpec relates to what the trainer passes:
// - `lr` given to update() is the step size of this update, chosen by the trainer's schedule; it
//   plays the role of torch.optim's `lr` (Optax's `learning_rate`). It is not part of the spec.
//   Exceptions: Adagrad divides it by 1 + (t - 1) lr_decay; Adafactor with relative_step ignores
//   it and uses min(1e-2, 1 / sqrt(t)) (the paper's relative step size).
// - Each slot counts its own updates t (PyTorch keeps a step per parameter), so bias
//   corrections are right even when a slot is skipped (no intercept).
// - weight_decay: added to the gradient (L2) for sgd, adagrad, rmsprop, adam, nadam (unless
//   decoupled_weight_decay) and adamax; decoupled (w *= 1 - lr wd) for adamw and nadam with
//   decoupled_weight_decay; part of the update before the trust ratio for lamb; lr-scaled for
//   lion; not lr-scaled for adafactor (Optax's weight_decay_rate). The trainer's own penalty
//   (alpha) is separate and applies to every optimizer.
// - Adafactor factors slot 0 when update() gets its shape (the `rows` overload): a K x d
//   coefficient matrix is factored when min(K, d) >= min_dim_size_to_factor (Optax: 128).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fastdescent/simd.hpp"
#include "fastdescent/update_rules.hpp"

namespace fastdescent {

struct OptimizerSpec;

// An optimizer's state for one slot as plain named arrays and numbers (the names of PyTorch's
// state dicts, e.g. exp_avg), so that it can be saved between calls, pickled, or handed to
// another backend. size < 0: the slot was never used.
template <class T>
struct SlotState {
    std::int64_t size = -1;
    std::int64_t step = 0;
    std::vector<std::pair<std::string, std::vector<T>>> arrays;
    std::vector<std::pair<std::string, double>> scalars;
};

template <class T>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    // The hyperparameters of a stateful rule (null for plain SGD): the trainer's lazy sparse
    // updates read them to run the rule on the touched features only.
    virtual const OptimizerSpec* spec() const { return nullptr; }
    // Called once per update, before the per-array calls of that update.
    virtual void begin_step() {}
    // w <- update of w given its gradient g and the step size lr.
    virtual void update(int slot, T* w, const T* g, std::int64_t n, double lr) = 0;
    // The same for a row-major matrix of `rows` x (n / rows); only shape-aware rules use it.
    virtual void update(int slot, T* w, const T* g, std::int64_t n, double lr, std::int64_t rows) {
        (void)rows;
        update(slot, w, g, n, lr);
    }
    // The rule's step on some columns only of slot `slot`, a rows x (n / rows) matrix w: the
    // columns cols[0..m) take the step with gradients g (a rows x m matrix, used as scratch);
    // the other columns and their state do not change (torch.optim.SparseAdam's rule, for any
    // optimizer). Used by the lazy sparse mini-batches.
    virtual void update_columns(int slot, T* w, T* g, std::int64_t n, std::int64_t rows,
                                const std::int64_t* cols, std::int64_t m, double lr) {
        const std::int64_t width = n / rows;
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t k = 0; k < m; ++k) w[r * width + cols[k]] -= T(lr) * g[r * m + k];
        (void)slot;
    }
    // The state array `name` of slot `slot` (n parameters; created fresh if the slot is unused),
    // or null when the rule has no such array: the lazy sparse steps decay RMSprop's averages
    // over the steps a feature skipped.
    virtual T* state_array(int slot, std::int64_t n, const char* name) {
        (void)slot, (void)n, (void)name;
        return nullptr;
    }
    // The state of every slot, and back (throws std::invalid_argument naming what is missing or
    // has the wrong size). Plain SGD has none.
    virtual std::vector<SlotState<T>> state() const { return {}; }
    virtual void load_state(const std::vector<SlotState<T>>& slots) {
        for (const auto& s : slots)
            if (s.size >= 0) throw std::invalid_argument("this optimizer keeps no state");
    }
};

// w <- w - lr * g
template <class T>
class PlainSgd final : public Optimizer<T> {
public:
    using Optimizer<T>::update;
    void update(int, T* w, const T* g, std::int64_t n, double lr) override {
        axpy(static_cast<T>(-lr), g, w, n);
    }
};

// The optimizer registry: every rule once, as (kind, class). The kind enum, make_optimizer,
// the compiled module's OptimizerKind and optimizer_registry() (names, state arrays) all follow
// from this list; a rule's defaults and checks live in OptimizerSpec::for_kind / validate.
#define FASTDESCENT_OPTIMIZERS(X) \
    X(sgd, Sgd)                   \
    X(adagrad, Adagrad)           \
    X(rmsprop, RmsProp)           \
    X(adam, Adam)                 \
    X(adamw, Adam)                \
    X(nadam, NAdam)               \
    X(adamax, Adamax)             \
    X(lamb, Lamb)                 \
    X(adafactor, Adafactor)       \
    X(lion, Lion)

enum class OptimizerKind {
#define FASTDESCENT_KIND(kind, cls) kind,
    FASTDESCENT_OPTIMIZERS(FASTDESCENT_KIND)
#undef FASTDESCENT_KIND
};

// Every hyperparameter of every rule; a rule reads the ones it has. for_kind() gives the
// defaults of torch.optim (sgd ... adamax) or Optax (lamb, adafactor, lion; Lion's weight decay
// defaults to 0 here).
struct OptimizerSpec {
    OptimizerKind kind = OptimizerKind::sgd;
    double weight_decay = 0.0;
    double momentum = 0.0;    // sgd, rmsprop; adafactor: EMA of updates (0: off)
    double dampening = 0.0;   // sgd
    bool nesterov = false;    // sgd
    bool scaled_velocity = false;  // sgd: scikit-learn's MLP form (see sgd_update)
    double lr_decay = 0.0;    // adagrad
    double initial_accumulator_value = 0.0;  // adagrad
    double alpha = 0.99;      // rmsprop smoothing constant
    bool centered = false;    // rmsprop
    double beta1 = 0.9;       // adam, adamw, nadam, adamax, lamb, lion
    double beta2 = 0.999;
    double eps = 1e-8;        // adagrad 1e-10, lamb 1e-6, adafactor 1e-30 (added to g^2)
    bool amsgrad = false;     // adam, adamw
    bool eps_before_bias_correction = false;  // adam: scikit-learn's MLP form (see adam_update)
    double momentum_decay = 4e-3;         // nadam
    bool decoupled_weight_decay = false;  // nadam
    double decay_rate = 0.8;              // adafactor
    double clipping_threshold = 1.0;      // adafactor; inf: no update clipping
    bool multiply_by_parameter_scale = true;  // adafactor
    double eps_scale = 1e-3;                  // adafactor: floor of RMS(w)
    std::int64_t min_dim_size_to_factor = 128;  // adafactor
    bool factored = true;                     // adafactor
    bool relative_step = false;               // adafactor: lr_t = min(1e-2, 1 / sqrt(t))

    static OptimizerSpec for_kind(OptimizerKind kind) {
        OptimizerSpec s;
        s.kind = kind;
        switch (kind) {
            case OptimizerKind::adagrad: s.eps = 1e-10; break;
            case OptimizerKind::adamw: s.weight_decay = 1e-2; break;
            case OptimizerKind::lamb: s.eps = 1e-6; break;
            case OptimizerKind::adafactor: s.eps = 1e-30; break;
            case OptimizerKind::lion: s.beta2 = 0.99; break;
            default: break;
        }
        return s;
    }

    // Throws std::invalid_argument naming the first bad hyperparameter (torch.optim's checks).
    void validate() const {
        auto fail = [](const std::string& what, double v) {
            throw std::invalid_argument("Invalid " + what + ": " + std::to_string(v));
        };
        auto ok = [](double v) { return v == v; };  // not NaN
        if (!ok(weight_decay) || weight_decay < 0) fail("weight_decay value", weight_decay);
        if (!ok(momentum) || momentum < 0) fail("momentum value", momentum);
        if (!ok(eps) || eps < 0) fail("epsilon value", eps);
        if (!ok(beta1) || beta1 < 0 || beta1 >= 1) fail("beta parameter at index 0", beta1);
        if (!ok(beta2) || beta2 < 0 || beta2 >= 1) fail("beta parameter at index 1", beta2);
        switch (kind) {
            case OptimizerKind::sgd:
                if (nesterov && (momentum <= 0 || dampening != 0))
                    throw std::invalid_argument("Nesterov momentum requires a momentum and zero dampening");
                break;
            case OptimizerKind::adagrad:
                if (lr_decay < 0) fail("lr_decay value", lr_decay);
                if (initial_accumulator_value < 0) fail("initial_accumulator_value value", initial_accumulator_value);
                break;
            case OptimizerKind::rmsprop:
                if (!ok(alpha) || alpha < 0) fail("alpha value", alpha);
                break;
            case OptimizerKind::nadam:
                if (momentum_decay < 0) fail("momentum_decay value", momentum_decay);
                break;
            case OptimizerKind::adafactor:
                if (!(decay_rate > 0)) fail("decay_rate value", decay_rate);
                if (!(clipping_threshold > 0)) fail("clipping_threshold value", clipping_threshold);
                if (eps_scale < 0) fail("eps_scale value", eps_scale);
                if (momentum >= 1) fail("momentum value", momentum);
                break;
            default: break;
        }
    }

    AdafactorParams adafactor_params() const {
        AdafactorParams p;
        p.decay_rate = decay_rate;
        p.eps = eps;
        p.clipping_threshold = clipping_threshold;
        p.multiply_by_parameter_scale = multiply_by_parameter_scale;
        p.eps_scale = eps_scale;
        p.momentum = momentum;
        p.weight_decay = weight_decay;
        return p;
    }
};

namespace detail {

struct SlotBase {
    std::int64_t n = -1;  // size of the array, fixed on first use
    std::int64_t step = 0;
};

// Per-slot state, created on first use of a slot; counts the slot's updates.
template <class Slot>
class Slots {
public:
    template <class Init>
    Slot& next(int slot, std::int64_t n, Init&& init) {
        if (slot < 0) throw std::invalid_argument("optimizer slot must be >= 0");
        if (std::size_t(slot) >= slots_.size()) slots_.resize(std::size_t(slot) + 1);
        Slot& s = slots_[std::size_t(slot)];
        if (s.n < 0) {
            s.n = n;
            init(s);
        } else if (s.n != n) {
            throw std::invalid_argument("optimizer slot " + std::to_string(slot) + " holds state for " +
                                        std::to_string(s.n) + " parameters, got " + std::to_string(n));
        }
        ++s.step;
        return s;
    }
    // The slot's state without counting an update.
    template <class Init>
    Slot& get(int slot, std::int64_t n, Init&& init) {
        Slot& s = next(slot, n, std::forward<Init>(init));
        --s.step;
        return s;
    }
    const std::vector<Slot>& all() const { return slots_; }
    std::vector<Slot>& all() { return slots_; }

private:
    std::vector<Slot> slots_;
};

// The named arrays and numbers of a slot state, visited by State::fields / State::scalars.
struct NoScalars {
    template <class F>
    void scalars(F&&) {}
};

template <class T>
T* data_or_null(std::vector<T>& v) {
    return v.empty() ? nullptr : v.data();
}

template <class T>
std::vector<T> filled(std::int64_t n, double value) {
    return std::vector<T>(std::size_t(n), T(value));
}

}  // namespace detail

// Shared by the stateful rules: the spec and the thread count.
template <class T>
class SpecOptimizer : public Optimizer<T> {
public:
    SpecOptimizer(const OptimizerSpec& spec, int n_threads) : spec_(spec), n_threads_(n_threads) {
        spec_.validate();
    }
    const OptimizerSpec* spec() const override { return &spec_; }
    using Optimizer<T>::update;

protected:
    OptimizerSpec spec_;
    int n_threads_;
};

namespace detail {
template <class D, class = void>
struct has_column_rule : std::true_type {};
template <class D>
struct has_column_rule<D, std::void_t<decltype(D::no_column_rule)>> : std::false_type {};
}  // namespace detail

// A rule whose per-slot State lists its arrays (fields) and numbers (scalars) and whose
// Derived::init(State&) sizes a fresh state from st.size (and the scalars): state() and
// load_state() follow from those, for every rule alike.
template <class T, class State, class Derived>
class StatefulOptimizer : public SpecOptimizer<T> {
public:
    using SpecOptimizer<T>::SpecOptimizer;
    using state_type = State;
    using Optimizer<T>::update;

    std::vector<SlotState<T>> state() const override {
        std::vector<SlotState<T>> out;
        for (const State& st : slots_.all()) {
            SlotState<T> o;
            o.size = st.n;
            o.step = st.step;
            State& s = const_cast<State&>(st);  // fields() hands out references; only read here
            s.fields([&](const char* name, std::vector<T>& v) {
                if (!v.empty()) o.arrays.emplace_back(name, v);
            });
            s.scalars([&](const char* name, auto& v) { o.scalars.emplace_back(name, double(v)); });
            out.push_back(std::move(o));
        }
        return out;
    }

    void load_state(const std::vector<SlotState<T>>& in) override {
        std::vector<State> slots(in.size());
        for (std::size_t k = 0; k < in.size(); ++k) {
            const SlotState<T>& src = in[k];
            State& st = slots[k];
            if (src.size < 0) continue;
            const std::string where = "optimizer state of slot " + std::to_string(k) + ": ";
            if (src.step < 0) throw std::invalid_argument(where + "step must be >= 0");
            st.n = src.size;
            st.step = src.step;
            std::size_t used = 0;
            st.scalars([&](const char* name, auto& v) {
                for (const auto& kv : src.scalars)
                    if (kv.first == name) {
                        v = static_cast<std::remove_reference_t<decltype(v)>>(kv.second);
                        ++used;
                        return;
                    }
                throw std::invalid_argument(where + "missing '" + name + "'");
            });
            if (used != src.scalars.size()) throw std::invalid_argument(where + "unexpected numbers");
            static_cast<Derived*>(this)->init(st);
            used = 0;
            st.fields([&](const char* name, std::vector<T>& v) {
                if (v.empty()) return;
                for (const auto& kv : src.arrays)
                    if (kv.first == name) {
                        if (kv.second.size() != v.size())
                            throw std::invalid_argument(where + "'" + name + "' has " +
                                                        std::to_string(kv.second.size()) +
                                                        " entries, expected " + std::to_string(v.size()));
                        v = kv.second;
                        ++used;
                        return;
                    }
                throw std::invalid_argument(where + "missing '" + name + "'");
            });
            if (used != src.arrays.size())
                throw std::invalid_argument(where + "arrays that these hyperparameters do not use");
        }
        slots_.all() = std::move(slots);
    }

    T* state_array(int slot, std::int64_t n, const char* name) override {
        Derived& rule = static_cast<Derived&>(*this);
        State& st = slots_.get(slot, n, [&](State& fresh) { rule.init(fresh); });
        T* found = nullptr;
        st.fields([&](const char* field, std::vector<T>& v) {
            if (std::string(field) == name && !v.empty()) found = v.data();
        });
        return found;
    }

    // Gathers the columns' weights and state into compact arrays, runs the rule (Derived::apply)
    // on them as on a rows x m matrix, and scatters the results back. A rule whose state couples
    // the columns says why it has no such step in Derived::no_column_rule.
    void update_columns(int slot, T* w, T* g, std::int64_t n, std::int64_t rows,
                        const std::int64_t* cols, std::int64_t m, double lr) override {
        if constexpr (!detail::has_column_rule<Derived>::value) {
            throw std::invalid_argument(Derived::no_column_rule);
        } else {
            update_columns_of(slot, w, g, n, rows, cols, m, lr);
        }
    }

protected:
    // The compact state, weights and the views of the full state live between calls: the
    // lazy step runs once per mini-batch and allocates nothing once they have grown.
    void update_columns_of(int slot, T* w, T* g, std::int64_t n, std::int64_t rows,
                           const std::int64_t* cols, std::int64_t m, double lr) {
        Derived& rule = static_cast<Derived&>(*this);
        State& full = slots_.next(slot, n, [&](State& st) { rule.init(st); });
        const std::int64_t width = n / rows;
        auto gather = [&](const T* from, std::vector<T>& to) {
            to.resize(std::size_t(rows * m));
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t k = 0; k < m; ++k) to[std::size_t(r * m + k)] = from[r * width + cols[k]];
        };
        auto scatter = [&](const std::vector<T>& from, T* to) {
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t k = 0; k < m; ++k) to[r * width + cols[k]] = from[std::size_t(r * m + k)];
        };
        State& compact = compact_;
        compact.n = rows * m;
        compact.step = full.step;
        full_arrays_.clear();
        full.fields([&](const char*, std::vector<T>& v) { full_arrays_.push_back(&v); });
        std::size_t i = 0;
        compact.fields([&](const char*, std::vector<T>& v) {
            if (!full_arrays_[i]->empty()) gather(full_arrays_[i]->data(), v);
            ++i;
        });
        // Numbers (NAdam's mu_product) go in and come back.
        auto copy_numbers = [](State& from, State& to) {
            std::vector<double> numbers;
            from.scalars([&](const char*, auto& v) { numbers.push_back(double(v)); });
            std::size_t j = 0;
            to.scalars([&](const char*, auto& v) {
                v = static_cast<std::remove_reference_t<decltype(v)>>(numbers[j++]);
            });
        };
        copy_numbers(full, compact);
        gather(w, weights_);
        rule.apply(compact, weights_.data(), g, rows * m, lr);
        scatter(weights_, w);
        i = 0;
        compact.fields([&](const char*, std::vector<T>& v) {
            if (!v.empty()) scatter(v, full_arrays_[i]->data());
            ++i;
        });
        copy_numbers(compact, full);
    }

    detail::Slots<State> slots_;
    State compact_;
    std::vector<T> weights_;
    std::vector<std::vector<T>*> full_arrays_;
};

namespace detail {
template <class T>
struct SgdState : SlotBase, NoScalars {
    std::vector<T> momentum_buffer;
    template <class F>
    void fields(F&& f) { f("momentum_buffer", momentum_buffer); }
};
template <class T>
struct AdagradState : SlotBase, NoScalars {
    std::vector<T> sum;
    template <class F>
    void fields(F&& f) { f("sum", sum); }
};
template <class T>
struct RmsPropState : SlotBase, NoScalars {
    std::vector<T> square_avg, grad_avg, momentum_buffer;
    template <class F>
    void fields(F&& f) {
        f("square_avg", square_avg);
        f("grad_avg", grad_avg);
        f("momentum_buffer", momentum_buffer);
    }
};
template <class T>
struct AdamState : SlotBase, NoScalars {
    std::vector<T> exp_avg, exp_avg_sq, max_exp_avg_sq;
    template <class F>
    void fields(F&& f) {
        f("exp_avg", exp_avg);
        f("exp_avg_sq", exp_avg_sq);
        f("max_exp_avg_sq", max_exp_avg_sq);
    }
};
template <class T>
struct NAdamState : SlotBase {
    std::vector<T> exp_avg, exp_avg_sq;
    double mu_product = 1.0;
    template <class F>
    void fields(F&& f) {
        f("exp_avg", exp_avg);
        f("exp_avg_sq", exp_avg_sq);
    }
    template <class F>
    void scalars(F&& f) { f("mu_product", mu_product); }
};
template <class T>
struct LambState : SlotBase, NoScalars {
    std::vector<T> exp_avg, exp_avg_sq;
    template <class F>
    void fields(F&& f) {
        f("exp_avg", exp_avg);
        f("exp_avg_sq", exp_avg_sq);
    }
};
template <class T>
struct AdamaxState : SlotBase, NoScalars {
    std::vector<T> exp_avg, exp_inf;
    template <class F>
    void fields(F&& f) {
        f("exp_avg", exp_avg);
        f("exp_inf", exp_inf);
    }
};
template <class T>
struct AdafactorState : SlotBase {
    std::int64_t rows = 1;
    std::vector<T> v_row, v_col, v, momentum_buffer;
    template <class F>
    void fields(F&& f) {
        f("v_row", v_row);
        f("v_col", v_col);
        f("v", v);
        f("momentum_buffer", momentum_buffer);
    }
    template <class F>
    void scalars(F&& f) { f("rows", rows); }
};
template <class T>
struct LionState : SlotBase, NoScalars {
    std::vector<T> exp_avg;
    template <class F>
    void fields(F&& f) { f("exp_avg", exp_avg); }
};
}  // namespace detail

template <class T>
class Sgd final : public StatefulOptimizer<T, detail::SgdState<T>, Sgd<T>> {
public:
    using StatefulOptimizer<T, detail::SgdState<T>, Sgd<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::SgdState<T>& st) const {
        if (this->spec_.momentum != 0) st.momentum_buffer = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        sgd_update(w, g, detail::data_or_null(s.momentum_buffer), n, s.step, lr, p.momentum,
                   p.dampening, p.nesterov, p.weight_decay, this->n_threads_, p.scaled_velocity);
    }
};

template <class T>
class Adagrad final : public StatefulOptimizer<T, detail::AdagradState<T>, Adagrad<T>> {
public:
    using StatefulOptimizer<T, detail::AdagradState<T>, Adagrad<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::AdagradState<T>& st) const {
        st.sum = detail::filled<T>(st.n, this->spec_.initial_accumulator_value);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        adagrad_update(w, g, s.sum.data(), n, s.step, lr, p.lr_decay, p.weight_decay, p.eps,
                       this->n_threads_);
    }
};

template <class T>
class RmsProp final : public StatefulOptimizer<T, detail::RmsPropState<T>, RmsProp<T>> {
public:
    using StatefulOptimizer<T, detail::RmsPropState<T>, RmsProp<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::RmsPropState<T>& st) const {
        const auto& p = this->spec_;
        st.square_avg = detail::filled<T>(st.n, 0.0);
        if (p.centered) st.grad_avg = detail::filled<T>(st.n, 0.0);
        if (p.momentum > 0) st.momentum_buffer = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        rmsprop_update(w, g, s.square_avg.data(), detail::data_or_null(s.grad_avg),
                       detail::data_or_null(s.momentum_buffer), n, lr, p.alpha, p.eps,
                       p.weight_decay, p.momentum, p.centered, this->n_threads_);
    }
};

// Adam, or AdamW when the spec's kind is adamw.
template <class T>
class Adam final : public StatefulOptimizer<T, detail::AdamState<T>, Adam<T>> {
public:
    using StatefulOptimizer<T, detail::AdamState<T>, Adam<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::AdamState<T>& st) const {
        st.exp_avg = detail::filled<T>(st.n, 0.0);
        st.exp_avg_sq = detail::filled<T>(st.n, 0.0);
        if (this->spec_.amsgrad) st.max_exp_avg_sq = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        adam_update(w, g, s.exp_avg.data(), s.exp_avg_sq.data(),
                    detail::data_or_null(s.max_exp_avg_sq), n, s.step, lr, p.beta1, p.beta2,
                    p.eps, p.weight_decay, p.amsgrad, p.kind == OptimizerKind::adamw,
                    this->n_threads_, p.eps_before_bias_correction);
    }
};

template <class T>
class NAdam final : public StatefulOptimizer<T, detail::NAdamState<T>, NAdam<T>> {
public:
    using StatefulOptimizer<T, detail::NAdamState<T>, NAdam<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::NAdamState<T>& st) const {
        st.exp_avg = detail::filled<T>(st.n, 0.0);
        st.exp_avg_sq = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        nadam_update(w, g, s.exp_avg.data(), s.exp_avg_sq.data(), n, s.step, s.mu_product, lr,
                     p.beta1, p.beta2, p.eps, p.weight_decay, p.momentum_decay,
                     p.decoupled_weight_decay, this->n_threads_);
    }
};

template <class T>
class Adamax final : public StatefulOptimizer<T, detail::AdamaxState<T>, Adamax<T>> {
public:
    using StatefulOptimizer<T, detail::AdamaxState<T>, Adamax<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::AdamaxState<T>& st) const {
        st.exp_avg = detail::filled<T>(st.n, 0.0);
        st.exp_inf = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        adamax_update(w, g, s.exp_avg.data(), s.exp_inf.data(), n, s.step, lr, p.beta1, p.beta2,
                      p.eps, p.weight_decay, this->n_threads_);
    }
};

// LAMB: the trust ratio is taken per slot (the whole coefficient matrix, the intercepts).
template <class T>
class Lamb final : public StatefulOptimizer<T, detail::LambState<T>, Lamb<T>> {
public:
    using StatefulOptimizer<T, detail::LambState<T>, Lamb<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::LambState<T>& st) const {
        st.exp_avg = detail::filled<T>(st.n, 0.0);
        st.exp_avg_sq = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        lamb_update(w, g, s.exp_avg.data(), s.exp_avg_sq.data(), n, s.step, lr, p.beta1, p.beta2,
                    p.eps, p.weight_decay, this->n_threads_);
    }
};

template <class T>
class Adafactor final : public StatefulOptimizer<T, detail::AdafactorState<T>, Adafactor<T>> {
public:
    using StatefulOptimizer<T, detail::AdafactorState<T>, Adafactor<T>>::StatefulOptimizer;
    // st.rows is set: the slot is a st.rows x (st.n / st.rows) matrix.
    void init(detail::AdafactorState<T>& st) const {
        const auto& p = this->spec_;
        if (st.rows < 1 || st.n % st.rows != 0)
            throw std::invalid_argument("Adafactor: " + std::to_string(st.n) +
                                        " parameters do not form a matrix of " +
                                        std::to_string(st.rows) + " rows");
        const std::int64_t cols = st.n / st.rows;
        if (factors(p, st.rows, cols)) {
            st.v_row = detail::filled<T>(st.rows, 0.0);
            st.v_col = detail::filled<T>(cols, 0.0);
        } else {
            st.v = detail::filled<T>(st.n, 0.0);
        }
        if (p.momentum != 0) st.momentum_buffer = detail::filled<T>(st.n, 0.0);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        update(slot, w, g, n, lr, 1);
    }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr, std::int64_t rows) override {
        const auto& p = this->spec_;
        auto& s = this->slots_.next(slot, n, [&](auto& st) {
            st.rows = rows;
            init(st);
        });
        if (s.rows != rows)
            throw std::invalid_argument("Adafactor: slot " + std::to_string(slot) +
                                        " changed its number of rows");
        const std::int64_t cols = n / rows;
        const double step_size = p.relative_step ? std::min(1e-2, 1.0 / std::sqrt(double(s.step))) : lr;
        adafactor_update(w, g, rows, cols, detail::data_or_null(s.v_row),
                         detail::data_or_null(s.v_col), detail::data_or_null(s.v),
                         detail::data_or_null(s.momentum_buffer), s.step, step_size,
                         p.adafactor_params(), this->n_threads_);
    }

    static constexpr const char* no_column_rule =
        "Adafactor has no lazy sparse rule: its factored second moments span every column; use "
        "sparse_updates='exact'";

    // Optax's rule for a 2-D array: factor when its smaller side reaches min_dim_size_to_factor.
    static bool factors(const OptimizerSpec& p, std::int64_t rows, std::int64_t cols) {
        return p.factored && rows >= 2 && cols >= 2 &&
               std::min(rows, cols) >= p.min_dim_size_to_factor;
    }
};

template <class T>
class Lion final : public StatefulOptimizer<T, detail::LionState<T>, Lion<T>> {
public:
    using StatefulOptimizer<T, detail::LionState<T>, Lion<T>>::StatefulOptimizer;
    using Optimizer<T>::update;
    void init(detail::LionState<T>& st) const { st.exp_avg = detail::filled<T>(st.n, 0.0); }
    void update(int slot, T* w, const T* g, std::int64_t n, double lr) override {
        apply(this->slots_.next(slot, n, [&](auto& st) { init(st); }), w, g, n, lr);
    }
    template <class State>
    void apply(State& s, T* w, const T* g, std::int64_t n, double lr) {
        const auto& p = this->spec_;
        lion_update(w, g, s.exp_avg.data(), n, lr, p.beta1, p.beta2, p.weight_decay,
                    this->n_threads_);
    }
};

// The stateful optimizer a spec describes; n_threads <= 0 uses all threads. Throws
// std::invalid_argument on a bad hyperparameter.
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerSpec& spec, int n_threads) {
    switch (spec.kind) {
#define FASTDESCENT_MAKE(kind, cls) \
    case OptimizerKind::kind: return std::make_unique<cls<T>>(spec, n_threads);
        FASTDESCENT_OPTIMIZERS(FASTDESCENT_MAKE)
#undef FASTDESCENT_MAKE
    }
    throw std::invalid_argument("unknown optimizer kind");
}

// What the registry says of a rule: its kind, its name and the names of its state arrays per
// parameter array (those the hyperparameters switch on, in the order of State::fields).
struct OptimizerInfo {
    OptimizerKind kind;
    std::string name;
    std::vector<std::string> state;
};

template <class Rule>
std::vector<std::string> state_names() {
    std::vector<std::string> names;
    typename Rule::state_type st;
    st.fields([&](const char* name, auto&) { names.emplace_back(name); });
    return names;
}

inline std::vector<OptimizerInfo> optimizer_registry() {
    return {
#define FASTDESCENT_INFO(kind, cls) OptimizerInfo{OptimizerKind::kind, #kind, state_names<cls<double>>()},
        FASTDESCENT_OPTIMIZERS(FASTDESCENT_INFO)
#undef FASTDESCENT_INFO
    };
}

}  // namespace fastdescent
