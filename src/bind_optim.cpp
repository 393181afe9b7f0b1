#include "common.hpp"

#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "fastdescent/clipping.hpp"
#include "fastdescent/optimizers.hpp"
#include "fastdescent/update_rules.hpp"

namespace fastdescent::bindings {
namespace {

std::string dtype_name(const py::array& a) { return std::string(py::str(a.dtype())); }

py::array as_array(py::handle obj, const std::string& what) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(what + " must be a NumPy array, got " +
                             std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    return py::reinterpret_borrow<py::array>(obj);
}

// The arrays of one kernel call: checked against the parameter's dtype and size, and against
// overlapping each other (a kernel writing into an array it also reads element-wise elsewhere
// would compute garbage).
class ArraySet {
public:
    ArraySet(py::handle param, const char* what = "param") : n_(0) {
        param_ = as_array(param, what);
        n_ = param_.size();
    }

    std::int64_t size() const { return n_; }
    const py::array& param() const { return param_; }

    template <class T>
    T* get(py::handle obj, const std::string& what, bool write) {
        py::array a = as_array(obj, what);
        if (!a.dtype().equal(py::dtype::of<T>()))
            throw py::type_error(what + " has dtype " + dtype_name(a) + " but param has dtype " +
                                 dtype_name(param_) + "; all arrays of a step must share the "
                                 "parameter's dtype");
        return checked<T>(a, n_, what, write);
    }

    // An array of its own length (Adafactor's row and column statistics).
    template <class T>
    T* get_sized(py::handle obj, std::int64_t n, const std::string& what) {
        py::array a = as_array(obj, what);
        if (!a.dtype().equal(py::dtype::of<T>()))
            throw py::type_error(what + " has dtype " + dtype_name(a) + " but param has dtype " +
                                 dtype_name(param_));
        return checked<T>(a, n, what, true);
    }

    template <class T>
    T* get_optional(py::handle obj, bool needed, const std::string& what, const std::string& why) {
        if (!needed) return nullptr;
        if (obj.is_none()) throw py::value_error(what + " is required " + why);
        return get<T>(obj, what, true);
    }

private:
    template <class T>
    T* checked(py::array& a, std::int64_t n, const std::string& what, bool write) {
        if (!(a.flags() & py::array::c_style))
            throw py::value_error(what + " must be C-contiguous (use numpy.ascontiguousarray)");
        if (a.size() != n)
            throw py::value_error(what + " has " + std::to_string(a.size()) + " elements, expected " +
                                  std::to_string(n));
        if (write && !a.writeable())
            throw py::value_error(what + " is read-only; it is updated in place, so pass a writable array");
        if (reinterpret_cast<std::uintptr_t>(a.data()) % alignof(T) != 0)
            throw py::value_error(what + " is not aligned to its dtype; pass a copy");
        const char* lo = static_cast<const char*>(a.data());
        const char* hi = lo + a.nbytes();
        for (const auto& r : ranges_)
            if (lo < r.hi && r.lo < hi && a.nbytes() > 0)
                throw py::value_error(what + " shares memory with " + r.what +
                                      "; pass separate arrays");
        ranges_.push_back({lo, hi, what});
        return write ? static_cast<T*>(a.mutable_data()) : const_cast<T*>(static_cast<const T*>(a.data()));
    }

    struct Range {
        const char* lo;
        const char* hi;
        std::string what;
    };
    py::array param_;
    std::int64_t n_;
    std::vector<Range> ranges_;
};

// Calls f(T{}) for the parameter's dtype.
template <class F>
decltype(auto) dispatch(const py::array& param, F&& f) {
    if (param.dtype().equal(py::dtype::of<float>())) return f(float{});
    if (param.dtype().equal(py::dtype::of<double>())) return f(double{});
    throw py::type_error("param must have dtype float32 or float64, got " + dtype_name(param));
}

void check_step(std::int64_t step) {
    if (step < 1) throw py::value_error("step must be >= 1 (the 1-based number of this update), got " + std::to_string(step));
}

// A gradient array as the GIL-free code sees it.
struct GradView {
    void* data;
    std::int64_t n;
    bool f32;
};

// Raw views of one array or a sequence of arrays, checked while the GIL is held; `arrays`
// keeps them alive while the views are used.
std::vector<GradView> gradient_views(py::handle grads, std::vector<py::array>& arrays) {
    if (py::isinstance<py::array>(grads)) {
        arrays.push_back(py::reinterpret_borrow<py::array>(grads));
    } else {
        if (!py::isinstance<py::sequence>(grads) || py::isinstance<py::str>(grads))
            throw py::type_error("grads must be a NumPy array or a sequence of NumPy arrays");
        std::size_t k = 0;
        for (py::handle h : py::reinterpret_borrow<py::sequence>(grads))
            arrays.push_back(as_array(h, "grads[" + std::to_string(k++) + "]"));
    }
    std::vector<GradView> views;
    for (std::size_t k = 0; k < arrays.size(); ++k) {
        py::array& a = arrays[k];
        const std::string what = "grads[" + std::to_string(k) + "]";
        const bool f32 = a.dtype().equal(py::dtype::of<float>());
        if (!f32 && !a.dtype().equal(py::dtype::of<double>()))
            throw py::type_error(what + " must have dtype float32 or float64, got " + dtype_name(a));
        if (!(a.flags() & py::array::c_style)) throw py::value_error(what + " must be C-contiguous");
        if (reinterpret_cast<std::uintptr_t>(a.data()) % (f32 ? alignof(float) : alignof(double)) != 0)
            throw py::value_error(what + " is not aligned to its dtype; pass a copy");
        if (!a.writeable()) throw py::value_error(what + " is read-only; it is clipped in place");
        views.push_back({a.mutable_data(), std::int64_t(a.size()), f32});
    }
    return views;
}

template <class T>
std::unique_ptr<Optimizer<T>> make(const OptimizerSpec& spec, int n_threads) {
    try {
        return make_optimizer<T>(spec, n_threads);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

// A stateful C++ optimizer (what the trainer uses), for Python-side tests and experiments.
class CoreOptimizer {
public:
    CoreOptimizer(const OptimizerSpec& spec, py::object dtype, int n_threads) {
        py::dtype dt = py::dtype::from_args(dtype);
        if (dt.equal(py::dtype::of<float>())) f32_ = make<float>(spec, n_threads);
        else if (dt.equal(py::dtype::of<double>())) f64_ = make<double>(spec, n_threads);
        else throw py::type_error("dtype must be float32 or float64");
    }

    void begin_step() {
        if (f32_) f32_->begin_step();
        else f64_->begin_step();
    }

    void update(int slot, py::handle param, py::handle grad, double lr, py::object rows) {
        ArraySet arrays(param);
        const py::array& p = arrays.param();
        std::int64_t r = 1;
        if (!rows.is_none()) r = rows.cast<std::int64_t>();
        else if (p.ndim() == 2) r = p.shape(0);
        auto run = [&](auto& opt, auto tag) {
            using T = decltype(tag);
            if (!opt) throw py::type_error("param has dtype " + dtype_name(p) + ", not this optimizer's dtype");
            T* w = arrays.get<T>(param, "param", true);
            const T* g = arrays.get<T>(grad, "grad", false);
            py::gil_scoped_release release;
            opt->update(slot, w, g, arrays.size(), lr, r);
        };
        try {
            if (p.dtype().equal(py::dtype::of<float>())) run(f32_, float{});
            else if (p.dtype().equal(py::dtype::of<double>())) run(f64_, double{});
            else throw py::type_error("param must have dtype float32 or float64, got " + dtype_name(p));
        } catch (const std::invalid_argument& e) {
            throw py::value_error(e.what());
        }
    }

private:
    std::unique_ptr<Optimizer<float>> f32_;
    std::unique_ptr<Optimizer<double>> f64_;
};

// Every spec field once: bound as a read-write attribute and pickled.
#define FASTDESCENT_SPEC_FIELDS(X)                                                        \
    X(kind) X(weight_decay) X(momentum) X(dampening) X(nesterov) X(lr_decay)              \
    X(initial_accumulator_value) X(alpha) X(centered) X(beta1) X(beta2) X(eps) X(amsgrad) \
    X(momentum_decay) X(decoupled_weight_decay) X(decay_rate) X(clipping_threshold)       \
    X(multiply_by_parameter_scale) X(eps_scale) X(min_dim_size_to_factor) X(factored)     \
    X(relative_step) X(scaled_velocity) X(eps_before_bias_correction)

py::dict spec_to_dict(const OptimizerSpec& s) {
    py::dict d;
#define FASTDESCENT_TO_DICT(f) d[#f] = s.f;
    FASTDESCENT_SPEC_FIELDS(FASTDESCENT_TO_DICT)
#undef FASTDESCENT_TO_DICT
    return d;
}

OptimizerSpec spec_from_dict(const py::dict& d) {
    OptimizerSpec s;
#define FASTDESCENT_FROM_DICT(f) \
    if (d.contains(#f)) s.f = d[#f].cast<decltype(s.f)>();
    FASTDESCENT_SPEC_FIELDS(FASTDESCENT_FROM_DICT)
#undef FASTDESCENT_FROM_DICT
    return s;
}

}  // namespace

void bind_optim(py::module_& m) {
    py::enum_<OptimizerKind> kinds(m, "OptimizerKind", "The update rule of an OptimizerSpec.");
    for (const OptimizerInfo& info : optimizer_registry()) kinds.value(info.name.c_str(), info.kind);
    m.def("optimizer_registry",
          []() {
              py::list out;
              for (const OptimizerInfo& info : optimizer_registry()) {
                  py::dict d;
                  d["name"] = info.name;
                  d["kind"] = info.kind;
                  d["state"] = info.state;
                  d["defaults"] = OptimizerSpec::for_kind(info.kind);
                  out.append(std::move(d));
              }
              return out;
          },
          "Every registered optimizer: its name, kind, state array names (per parameter array, "
          "as optimizer_state and fastdescent.optim name them) and default OptimizerSpec.");

    py::class_<OptimizerSpec> spec(m, "OptimizerSpec",
        "An update rule and all its hyperparameters, for the C++ trainer. The step size is not "
        "part of it: the trainer's schedule supplies it. OptimizerSpec(kind) starts from the "
        "defaults of torch.optim (Optax for lamb, adafactor, lion).");
    spec.def(py::init([](OptimizerKind kind) { return OptimizerSpec::for_kind(kind); }),
             py::arg("kind") = OptimizerKind::sgd);
#define FASTDESCENT_BIND_FIELD(f) spec.def_readwrite(#f, &OptimizerSpec::f);
    FASTDESCENT_SPEC_FIELDS(FASTDESCENT_BIND_FIELD)
#undef FASTDESCENT_BIND_FIELD
    spec.def("validate",
             [](const OptimizerSpec& s) {
                 try {
                     s.validate();
                 } catch (const std::invalid_argument& e) {
                     throw py::value_error(e.what());
                 }
             },
             "Raise ValueError naming the first invalid hyperparameter.")
        .def("to_dict", &spec_to_dict, "All fields as a dict.")
        .def("__eq__", [](const OptimizerSpec& a, const OptimizerSpec& b) {
            return spec_to_dict(a).equal(spec_to_dict(b));
        })
        .def("__repr__", [](const OptimizerSpec& s) {
            std::string out = "OptimizerSpec(";
            bool first = true;
            for (auto item : spec_to_dict(s)) {
                if (!first) out += ", ";
                first = false;
                out += std::string(py::str(item.first)) + "=" + std::string(py::repr(item.second));
            }
            return out + ")";
        })
        .def(py::pickle([](const OptimizerSpec& s) { return spec_to_dict(s); },
                        [](const py::dict& d) { return spec_from_dict(d); }));
    spec.attr("__hash__") = py::none();

    py::class_<CoreOptimizer>(m, "CoreOptimizer",
        "The stateful C++ optimizer that the trainer builds from a spec (testing aid).")
        .def(py::init<const OptimizerSpec&, py::object, int>(), py::arg("spec"),
             py::arg("dtype"), py::arg("n_threads") = -1)
        .def("begin_step", &CoreOptimizer::begin_step)
        .def("update", &CoreOptimizer::update, py::arg("slot"), py::arg("param"), py::arg("grad"),
             py::arg("lr"), py::arg("rows") = py::none(),
             "Update param in place; `rows` (default: param.shape[0] for 2-D) is the matrix shape "
             "that Adafactor factors.");

    // The stateless kernels: arrays are updated in place, every state array has the parameter's
    // dtype and size and is C-contiguous; the GIL is released while the kernel runs.
    m.def("sgd_step",
          [](py::handle param, py::handle grad, py::handle momentum_buffer, std::int64_t step,
             double lr, double momentum, double dampening, bool nesterov, double weight_decay,
             int n_threads) {
              check_step(step);
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* buf = a.get_optional<T>(momentum_buffer, momentum != 0, "momentum_buffer",
                                             "when momentum != 0");
                  py::gil_scoped_release release;
                  sgd_update(w, g, buf, a.size(), step, lr, momentum, dampening, nesterov,
                             weight_decay, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("step"),
          py::arg("lr"), py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
          py::arg("nesterov") = false, py::arg("weight_decay") = 0.0, py::arg("n_threads") = -1,
          "torch.optim.SGD's update. On step 1 the momentum buffer is set to the gradient.");

    m.def("adagrad_step",
          [](py::handle param, py::handle grad, py::handle state_sum, std::int64_t step, double lr,
             double lr_decay, double weight_decay, double eps, int n_threads) {
              check_step(step);
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* s = a.get<T>(state_sum, "state_sum", true);
                  py::gil_scoped_release release;
                  adagrad_update(w, g, s, a.size(), step, lr, lr_decay, weight_decay, eps, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("state_sum"), py::arg("step"), py::arg("lr"),
          py::arg("lr_decay") = 0.0, py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10,
          py::arg("n_threads") = -1, "torch.optim.Adagrad's update.");

    m.def("rmsprop_step",
          [](py::handle param, py::handle grad, py::handle square_avg, py::handle grad_avg,
             py::handle momentum_buffer, double lr, double alpha, double eps, double weight_decay,
             double momentum, bool centered, int n_threads) {
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* sq = a.get<T>(square_avg, "square_avg", true);
                  T* ga = a.get_optional<T>(grad_avg, centered, "grad_avg", "when centered");
                  T* buf = a.get_optional<T>(momentum_buffer, momentum > 0, "momentum_buffer",
                                             "when momentum > 0");
                  py::gil_scoped_release release;
                  rmsprop_update(w, g, sq, ga, buf, a.size(), lr, alpha, eps, weight_decay,
                                 momentum, centered, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("grad_avg"),
          py::arg("momentum_buffer"), py::arg("lr"), py::arg("alpha") = 0.99,
          py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0,
          py::arg("centered") = false, py::arg("n_threads") = -1, "torch.optim.RMSprop's update.");

    m.def("adam_step",
          [](py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_avg_sq,
             py::handle max_exp_avg_sq, std::int64_t step, double lr, double beta1, double beta2,
             double eps, double weight_decay, bool amsgrad, bool decoupled, int n_threads) {
              check_step(step);
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* m1 = a.get<T>(exp_avg, "exp_avg", true);
                  T* m2 = a.get<T>(exp_avg_sq, "exp_avg_sq", true);
                  T* vmax = a.get_optional<T>(max_exp_avg_sq, amsgrad, "max_exp_avg_sq", "when amsgrad");
                  py::gil_scoped_release release;
                  adam_update(w, g, m1, m2, vmax, a.size(), step, lr, beta1, beta2, eps,
                              weight_decay, amsgrad, decoupled, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
          py::arg("max_exp_avg_sq"), py::arg("step"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9,
          py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
          py::arg("amsgrad") = false, py::arg("decoupled") = false, py::arg("n_threads") = -1,
          "torch.optim.Adam's update; decoupled=True gives AdamW's.");

    m.def("nadam_step",
          [](py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_avg_sq,
             std::int64_t step, double mu_product, double lr, double beta1, double beta2,
             double eps, double weight_decay, double momentum_decay, bool decoupled,
             int n_threads) {
              check_step(step);
              ArraySet a(param);
              return dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* m1 = a.get<T>(exp_avg, "exp_avg", true);
                  T* m2 = a.get<T>(exp_avg_sq, "exp_avg_sq", true);
                  double mp = mu_product;
                  {
                      py::gil_scoped_release release;
                      nadam_update(w, g, m1, m2, a.size(), step, mp, lr, beta1, beta2, eps,
                                   weight_decay, momentum_decay, decoupled, n_threads);
                  }
                  return mp;
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
          py::arg("step"), py::arg("mu_product"), py::arg("lr") = 2e-3, py::arg("beta1") = 0.9,
          py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
          py::arg("momentum_decay") = 4e-3, py::arg("decoupled") = false,
          py::arg("n_threads") = -1,
          "torch.optim.NAdam's update. mu_product is the product of the momentum coefficients "
          "before this step (1.0 at first); returns it including this step.");

    m.def("adamax_step",
          [](py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_inf,
             std::int64_t step, double lr, double beta1, double beta2, double eps,
             double weight_decay, int n_threads) {
              check_step(step);
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* m1 = a.get<T>(exp_avg, "exp_avg", true);
                  T* u = a.get<T>(exp_inf, "exp_inf", true);
                  py::gil_scoped_release release;
                  adamax_update(w, g, m1, u, a.size(), step, lr, beta1, beta2, eps, weight_decay,
                                n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_inf"),
          py::arg("step"), py::arg("lr") = 2e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
          py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("n_threads") = -1,
          "torch.optim.Adamax's update.");

    m.def("lamb_step",
          [](py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_avg_sq,
             std::int64_t step, double lr, double beta1, double beta2, double eps,
             double weight_decay, int n_threads) {
              check_step(step);
              ArraySet a(param);
              return dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* m1 = a.get<T>(exp_avg, "exp_avg", true);
                  T* m2 = a.get<T>(exp_avg_sq, "exp_avg_sq", true);
                  py::gil_scoped_release release;
                  return lamb_update(w, g, m1, m2, a.size(), step, lr, beta1, beta2, eps,
                                     weight_decay, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"),
          py::arg("step"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
          py::arg("eps") = 1e-6, py::arg("weight_decay") = 0.0, py::arg("n_threads") = -1,
          "optax.lamb's update on one array; returns the trust ratio used.");

    m.def("adafactor_step",
          [](py::handle param, py::handle grad, py::handle v_row, py::handle v_col, py::handle v,
             py::handle momentum_buffer, std::int64_t step, double lr, double decay_rate,
             double eps, double clipping_threshold, bool multiply_by_parameter_scale,
             double eps_scale, double momentum, double weight_decay, int n_threads) {
              check_step(step);
              ArraySet a(param);
              AdafactorParams p;
              p.decay_rate = decay_rate;
              p.eps = eps;
              p.clipping_threshold = clipping_threshold;
              p.multiply_by_parameter_scale = multiply_by_parameter_scale;
              p.eps_scale = eps_scale;
              p.momentum = momentum;
              p.weight_decay = weight_decay;
              const bool factored = !v_row.is_none() || !v_col.is_none();
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  const py::array& pa = a.param();
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  std::int64_t rows = 1, cols = a.size();
                  T *vr = nullptr, *vc = nullptr, *vv = nullptr;
                  if (factored) {
                      if (pa.ndim() != 2)
                          throw py::value_error("factored second moments (v_row, v_col) need a 2-D param");
                      if (v_row.is_none() || v_col.is_none())
                          throw py::value_error("pass both v_row and v_col, or v alone");
                      if (!v.is_none()) throw py::value_error("pass v_row and v_col, or v, not both");
                      rows = pa.shape(0);
                      cols = pa.shape(1);
                      vr = a.get_sized<T>(v_row, rows, "v_row");
                      vc = a.get_sized<T>(v_col, cols, "v_col");
                  } else {
                      if (v.is_none()) throw py::value_error("v is required when v_row and v_col are None");
                      vv = a.get<T>(v, "v", true);
                  }
                  T* buf = a.get_optional<T>(momentum_buffer, momentum != 0, "momentum_buffer",
                                             "when momentum != 0");
                  py::gil_scoped_release release;
                  adafactor_update(w, g, rows, cols, vr, vc, vv, buf, step, lr, p, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("v_row"), py::arg("v_col"), py::arg("v"),
          py::arg("momentum_buffer"), py::arg("step"), py::arg("lr"), py::arg("decay_rate") = 0.8,
          py::arg("eps") = 1e-30, py::arg("clipping_threshold") = 1.0,
          py::arg("multiply_by_parameter_scale") = true, py::arg("eps_scale") = 1e-3,
          py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0, py::arg("n_threads") = -1,
          "optax.adafactor's update on one array: factored (v_row of length rows, v_col of "
          "length cols, 2-D param) or not (v of the param's size).");

    m.def("lion_step",
          [](py::handle param, py::handle grad, py::handle exp_avg, double lr, double beta1,
             double beta2, double weight_decay, int n_threads) {
              ArraySet a(param);
              dispatch(a.param(), [&](auto tag) {
                  using T = decltype(tag);
                  T* w = a.get<T>(param, "param", true);
                  const T* g = a.get<T>(grad, "grad", false);
                  T* m1 = a.get<T>(exp_avg, "exp_avg", true);
                  py::gil_scoped_release release;
                  lion_update(w, g, m1, a.size(), lr, beta1, beta2, weight_decay, n_threads);
              });
          },
          py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("lr") = 1e-4,
          py::arg("beta1") = 0.9, py::arg("beta2") = 0.99, py::arg("weight_decay") = 0.0,
          py::arg("n_threads") = -1, "optax.lion's update.");

    m.def("clip_grad_value",
          [](py::handle grads, double clip_value, int n_threads) {
              if (!(clip_value >= 0)) throw py::value_error("clip_value must be >= 0, got " + std::to_string(clip_value));
              std::vector<py::array> arrays;
              auto views = gradient_views(grads, arrays);
              py::gil_scoped_release release;
              for (const auto& v : views) {
                  if (v.f32) clip_by_value(static_cast<float*>(v.data), v.n, clip_value, n_threads);
                  else clip_by_value(static_cast<double*>(v.data), v.n, clip_value, n_threads);
              }
          },
          py::arg("grads"), py::arg("clip_value"), py::arg("n_threads") = -1,
          "Clamp every gradient entry into [-clip_value, clip_value], in place.");

    m.def("clip_grad_norm",
          [](py::handle grads, double max_norm, double norm_type, bool error_if_nonfinite,
             int n_threads) {
              if (!(norm_type > 0)) throw py::value_error("norm_type must be > 0 (or inf), got " + std::to_string(norm_type));
              std::vector<py::array> arrays;
              auto views = gradient_views(grads, arrays);
              double total;
              {
                  py::gil_scoped_release release;
                  double acc = 0;
                  for (const auto& v : views) {
                      double s = v.f32 ? norm_power_sum(static_cast<const float*>(v.data), v.n, norm_type, n_threads)
                                       : norm_power_sum(static_cast<const double*>(v.data), v.n, norm_type, n_threads);
                      if (std::isinf(norm_type)) acc = (std::isnan(s) || std::isnan(acc)) ? s + acc : std::max(acc, s);
                      else acc += s;
                  }
                  total = norm_from_power_sum(acc, norm_type);
              }
              if (error_if_nonfinite && !std::isfinite(total)) {
                  // torch raises RuntimeError here
                  const std::string msg =
                      "The total norm of order " + std::string(py::repr(py::float_(norm_type))) +
                      " for gradients is non-finite, so it cannot be clipped. To disable this "
                      "error and scale the gradients by the non-finite norm anyway, set "
                      "error_if_nonfinite=False";
                  PyErr_SetString(PyExc_RuntimeError, msg.c_str());
                  throw py::error_already_set();
              }
              const double coef = clip_norm_coefficient(total, max_norm);
              if (!(coef >= 1.0)) {
                  py::gil_scoped_release release;
                  for (const auto& v : views) {
                      if (v.f32) scale_in_place(static_cast<float*>(v.data), v.n, coef, n_threads);
                      else scale_in_place(static_cast<double*>(v.data), v.n, coef, n_threads);
                  }
              }
              return total;
          },
          py::arg("grads"), py::arg("max_norm"), py::arg("norm_type") = 2.0,
          py::arg("error_if_nonfinite") = false, py::arg("n_threads") = -1,
          "torch.nn.utils.clip_grad_norm_ on NumPy arrays: returns the total norm and scales "
          "every array by max_norm / (total + 1e-6) when that is below 1.");
}

}  // namespace fastdescent::bindings
