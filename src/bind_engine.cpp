// The training policy for backends that run their own arithmetic (the Dask client, the GPU host
// loop): they compute loss and gradient sums, and these objects make the steps and the epoch
// decisions exactly as the in-memory trainer does.
#include "common.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastdescent/policy.hpp"
#include "fastdescent/step.hpp"
#include "optimizer_state.hpp"

namespace fastdescent::bindings {
namespace {

// GradientStep over NumPy parameter buffers of one dtype, owning its optimizer.
class PyGradientStep {
public:
    PyGradientStep(const TrainConfig& cfg, py::handle spec, const py::dtype& dtype, py::handle state)
        : cfg_(cfg), f32_(dtype.equal(py::dtype::of<float>())) {
        if (!f32_ && !dtype.equal(py::dtype::of<double>()))
            throw py::type_error("dtype must be float32 or float64");
        if (f32_) init<float>(spec, state, opt32_, step32_);
        else init<double>(spec, state, opt64_, step64_);
    }

    double apply(py::handle coef, py::handle intercept, py::handle grad, py::handle grad_b,
                 double batch_weight, double eta, double t, py::handle avg_coef,
                 py::handle avg_intercept, bool want_norm) {
        if (!(batch_weight > 0)) throw py::value_error("batch_weight must be > 0");
        if (f32_)
            return apply_t<float>(*step32_, coef, intercept, grad, grad_b, batch_weight, eta, t,
                                  avg_coef, avg_intercept, want_norm);
        return apply_t<double>(*step64_, coef, intercept, grad, grad_b, batch_weight, eta, t,
                               avg_coef, avg_intercept, want_norm);
    }

    // The step over any model's parameter arrays (the model seam: an MLP's layers).
    double apply_arrays(py::handle params, py::handle grads, py::handle penalized,
                        double batch_weight, double eta, double t, bool want_norm) {
        if (!(batch_weight > 0)) throw py::value_error("batch_weight must be > 0");
        return f32_ ? arrays_t<float>(*step32_, params, grads, penalized, batch_weight, eta, t, want_norm)
                    : arrays_t<double>(*step64_, params, grads, penalized, batch_weight, eta, t, want_norm);
    }

    // The penalty at coef, plus the intercepts' linear term when `intercept` is given.
    double penalty_value(py::handle coef, py::handle intercept) const {
        return f32_ ? penalty_t<float>(coef, intercept) : penalty_t<double>(coef, intercept);
    }
    template <class T>
    double penalty_t(py::handle coef, py::handle intercept) const {
        const Penalty p = Penalty::of(cfg_);
        auto a = typed<T>(coef, "coef");
        double v = p.value(contiguous(a, "coef"), a.size());
        if (!intercept.is_none()) {
            auto b = typed<T>(intercept, "intercept");
            v += p.intercept_value(contiguous(b, "intercept"), int(b.size()));
        }
        return v;
    }

    py::list state() const {
        if (f32_) return opt32_ ? state_to_python(opt32_->state()) : py::list();
        return opt64_ ? state_to_python(opt64_->state()) : py::list();
    }

private:
    template <class T>
    static const T* contiguous(const py::array_t<T, 0>& a, const char* what) {
        if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(what) + " must be C-contiguous");
        return a.data();
    }

    template <class T>
    void init(py::handle spec, py::handle state, std::unique_ptr<Optimizer<T>>& opt,
              std::unique_ptr<GradientStep<T>>& step) {
        if (!spec.is_none()) {
            auto s = spec.cast<OptimizerSpec>();
            s.validate();
            opt = make_optimizer<T>(s, cfg_.n_threads);
            load_optimizer_state(*opt, state);
        } else if (!state.is_none() && py::len(state) > 0) {
            throw py::value_error("optimizer_state needs an optimizer (plain SGD keeps no state)");
        }
        step = std::make_unique<GradientStep<T>>(cfg_, opt.get());
    }

    template <class T>
    double apply_t(GradientStep<T>& step, py::handle coef, py::handle intercept, py::handle grad,
                   py::handle grad_b, double batch_weight, double eta, double t, py::handle avg_coef,
                   py::handle avg_intercept, bool want_norm) {
        auto c = typed<T>(coef, "coef");
        if (c.ndim() != 2 || !(c.flags() & py::array::c_style))
            throw py::value_error("coef must be a C-contiguous (n_outputs, n_features) array");
        const int K = int(c.shape(0));
        const std::int64_t d = c.shape(1);
        auto b = vector_of<T>(intercept, K, "intercept");
        auto g = typed<T>(grad, "grad");
        if (g.size() != K * d || !(g.flags() & py::array::c_style))
            throw py::value_error("grad must be C-contiguous with the shape of coef");
        auto gb = vector_of<T>(grad_b, K, "grad_b");
        Model<T> m{writable(c, "coef"), writable(b, "intercept"), nullptr, nullptr, K, d};
        py::array_t<T, 0> ac, ai;
        if (cfg_.average > 0) {
            if (avg_coef.is_none() || avg_intercept.is_none())
                throw py::value_error("averaging needs average_coef and average_intercept");
            ac = typed<T>(avg_coef, "average_coef");
            if (ac.size() != K * d || !(ac.flags() & py::array::c_style))
                throw py::value_error("average_coef must be C-contiguous with the shape of coef");
            ai = vector_of<T>(avg_intercept, K, "average_intercept");
            m.average_coef = writable(ac, "average_coef");
            m.average_intercept = writable(ai, "average_intercept");
        }
        return step.apply(m, writable(g, "grad"), writable(gb, "grad_b"), batch_weight, eta, t, want_norm);
    }

    template <class T>
    double arrays_t(GradientStep<T>& step, py::handle params, py::handle grads,
                    py::handle penalized, double batch_weight, double eta, double t, bool want_norm) {
        auto ps = py::reinterpret_borrow<py::sequence>(params);
        auto gs = py::reinterpret_borrow<py::sequence>(grads);
        auto pen = py::reinterpret_borrow<py::sequence>(penalized);
        if (py::len(ps) != py::len(gs) || py::len(ps) != py::len(pen))
            throw py::value_error("params, grads and penalized must have the same length");
        if (cfg_.average > 0) throw py::value_error("apply_arrays does not average (average=0)");
        std::vector<py::array_t<T, 0>> keep;
        std::vector<ParamArray<T>> arrays;
        for (std::size_t k = 0; k < py::len(ps); ++k) {
            const std::string name = "params[" + std::to_string(k) + "]";
            auto w = typed<T>(ps[k], name.c_str());
            auto g = typed<T>(gs[k], "grads");
            if (!(w.flags() & py::array::c_style) || !(g.flags() & py::array::c_style) || g.size() != w.size())
                throw py::value_error(name + " and its gradient must be C-contiguous and of one size");
            ParamArray<T> a{writable(w, "params"), writable(g, "grads"), std::int64_t(w.size())};
            a.rows = w.ndim() == 2 ? w.shape(0) : 1;
            a.penalized = pen[k].cast<bool>();
            arrays.push_back(a);
            keep.push_back(w);
            keep.push_back(g);
        }
        return step.apply(arrays.data(), int(arrays.size()), batch_weight, eta, t, want_norm);
    }

    TrainConfig cfg_;
    bool f32_;
    std::unique_ptr<Optimizer<float>> opt32_;
    std::unique_ptr<Optimizer<double>> opt64_;
    std::unique_ptr<GradientStep<float>> step32_;
    std::unique_ptr<GradientStep<double>> step64_;
};

EpochCallback python_callback(py::handle fn) {
    if (fn.is_none()) return nullptr;
    py::object f = py::reinterpret_borrow<py::object>(fn);
    return [f](const EpochStats& s) {
        py::gil_scoped_acquire gil;
        return py::bool_(f(s.epoch, s.objective, s.validation_score, s.eta, s.t, s.grad_norm)).cast<bool>();
    };
}

}  // namespace

void bind_engine(py::module_& m) {
    py::class_<ValidationSums>(m, "ValidationSums",
                               "Sums over validation rows from which the validation score follows.")
        .def(py::init<>())
        .def_readwrite("weight", &ValidationSums::weight)
        .def_readwrite("hit", &ValidationSums::hit)
        .def_readwrite("wy", &ValidationSums::wy)
        .def_readwrite("wyy", &ValidationSums::wyy)
        .def_readwrite("sse", &ValidationSums::sse)
        .def_readwrite("deviance", &ValidationSums::deviance)
        .def_readwrite("constant", &ValidationSums::constant)
        .def("add_deviance", &ValidationSums::add_deviance, py::arg("loss"), py::arg("loss_param"),
             py::arg("p"), py::arg("y"), py::arg("weight"),
             "Adds a validation row of a log-link loss (its deviance at score p and its constant).")
        .def("score", &ValidationSums::score, py::arg("classification"),
             py::arg("loss") = LossKind::squared_error, py::arg("loss_param") = 0.0,
             "Weighted accuracy (classification), weighted R^2, or weighted D^2 of the half "
             "deviance for a log-link loss.");

    py::class_<EpochPolicy>(m, "EpochPolicy",
                            "The epoch-level decisions of a fit (objective, stopping, adaptive "
                            "schedule, reduce-on-plateau, divergence, epoch callback), as the "
                            "in-memory trainer makes them, for backends that run their own updates.")
        .def(py::init([](const TrainConfig& cfg, double t0, py::handle cb) {
                 return new EpochPolicy(cfg, t0, python_callback(cb));
             }),
             py::arg("config"), py::arg("t0") = 1.0, py::arg("epoch_callback") = py::none())
        .def("eta", &EpochPolicy::eta, py::arg("t"), "Step size of the update with count t.")
        .def("end_epoch", &EpochPolicy::end_epoch, py::arg("sumloss"), py::arg("train_weight"),
             py::arg("penalty"), py::arg("finite"), py::arg("validation_score"),
             py::arg("last_eta"), py::arg("t"), py::arg("grad_norm"),
             py::arg("running_penalty") = std::numeric_limits<double>::quiet_NaN(),
             "Ends an epoch; True when training stops.")
        .def_property_readonly("schedule", &EpochPolicy::schedule)
        .def_property_readonly("eta_adaptive", &EpochPolicy::eta_adaptive)
        .def_property_readonly("result", [](const EpochPolicy& p) { return p.result(); });

    py::class_<PyGradientStep>(m, "GradientStep",
                               "The step from a batch's gradient sums (mean, L2, clipping, the "
                               "optimizer's rule, L1 proximal step, averaging), as the in-memory "
                               "trainer takes it, over NumPy parameter buffers.")
        .def(py::init<const TrainConfig&, py::handle, const py::dtype&, py::handle>(),
             py::arg("config"), py::arg("optimizer"), py::arg("dtype"),
             py::arg("optimizer_state") = py::none())
        .def("apply", &PyGradientStep::apply, py::arg("coef"), py::arg("intercept"),
             py::arg("grad"), py::arg("grad_b"), py::arg("batch_weight"), py::arg("eta"),
             py::arg("t"), py::arg("average_coef") = py::none(),
             py::arg("average_intercept") = py::none(), py::arg("want_norm") = false,
             "One update in place; grad and grad_b are used as scratch. Returns the gradient "
             "norm when want_norm, else NaN.")
        .def("apply_arrays", &PyGradientStep::apply_arrays, py::arg("params"), py::arg("grads"),
             py::arg("penalized"), py::arg("batch_weight"), py::arg("eta"), py::arg("t"),
             py::arg("want_norm") = false,
             "One update of any model's parameter arrays in place (array k is the optimizer's "
             "slot k; the penalty applies where penalized[k]); grads are used as scratch.")
        .def("penalty_value", &PyGradientStep::penalty_value, py::arg("coef"),
             py::arg("intercept") = py::none())
        .def("optimizer_state", &PyGradientStep::state);

    py::class_<Penalty>(m, "Penalty",
                        "The configuration's penalty alpha * ((1 - l1_ratio) / 2 ||W||^2 + "
                        "l1_ratio ||W||_1), for backends that apply it themselves (the GPU).")
        .def(py::init(&Penalty::of), py::arg("config"))
        .def_property_readonly("l2", &Penalty::l2, "L2 gradient factor (0 without an L2 part).")
        .def_property_readonly("l1", &Penalty::l1, "L1 step per unit step size (0 without).")
        .def_readonly("intercept_linear", &Penalty::intercept_linear,
                      "c of the objective's linear term c * sum(intercepts) (0 without).")
        .def("value_from_sums", &Penalty::value_from_sums, py::arg("squared"), py::arg("absolute"),
             "The objective's penalty term from ||W||^2 and ||W||_1 summed elsewhere.");
}

}  // namespace fastdescent::bindings
