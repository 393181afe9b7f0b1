// The trainer's step-size schedule (fastdescent::Schedule) as _core.Schedule, and
// schedule_values, which tabulates it exactly as the trainer evaluates it (testing aid; the
// Python schedules' to_core() build these).
#include "common.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastdescent/schedules.hpp"

namespace fastdescent::bindings {
namespace {

#define FASTDESCENT_SCHEDULE_FIELDS(X)                                                   \
    X(kind) X(eta0) X(power_t) X(adaptive_divisor) X(alpha) X(optimal_init) X(gamma)     \
    X(step_size) X(milestones) X(T_max) X(eta_min) X(T_0) X(T_mult) X(total_steps)       \
    X(pct_start) X(anneal_strategy) X(div_factor) X(final_div_factor) X(three_phase)     \
    X(total_iters) X(power) X(mode) X(factor) X(patience) X(threshold) X(threshold_mode) \
    X(cooldown) X(min_lr) X(eps) X(best) X(num_bad_epochs) X(cooldown_counter)           \
    X(warmup_steps) X(warmup_start_factor)

py::dict schedule_to_dict(const Schedule& s) {
    py::dict d;
#define FASTDESCENT_TO_DICT(f) d[#f] = s.f;
    FASTDESCENT_SCHEDULE_FIELDS(FASTDESCENT_TO_DICT)
#undef FASTDESCENT_TO_DICT
    return d;
}

// Field-wise equality, NaN equal to NaN (an unset plateau `best` is NaN).
template <class T>
bool same(const T& a, const T& b) { return a == b; }
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool schedules_equal(const Schedule& a, const Schedule& b) {
    bool eq = true;
#define FASTDESCENT_SAME(f) eq = eq && same(a.f, b.f);
    FASTDESCENT_SCHEDULE_FIELDS(FASTDESCENT_SAME)
#undef FASTDESCENT_SAME
    return eq;
}

// Sets the fields named in `d` (TypeError on an unknown name).
void set_fields(Schedule& s, const py::dict& d) {
    std::size_t used = 0;
#define FASTDESCENT_FROM_DICT(f)                  \
    if (d.contains(#f)) {                         \
        s.f = d[#f].cast<decltype(s.f)>();        \
        ++used;                                   \
    }
    FASTDESCENT_SCHEDULE_FIELDS(FASTDESCENT_FROM_DICT)
#undef FASTDESCENT_FROM_DICT
    if (used != d.size()) {
        py::dict known = schedule_to_dict(Schedule{});
        for (auto item : d)
            if (!known.contains(item.first))
                throw py::type_error("Schedule has no field " + std::string(py::repr(item.first)));
    }
}

// Values of the updates t0, t0 + 1, ..., t0 + n - 1, on a copy of the schedule. After every
// `updates_per_epoch` updates, end_epoch gets the next metric (while there are any left).
// 'adaptive' returns its eta0 (the trainer, not the schedule, lowers it).
py::array_t<double> schedule_values(Schedule s, double t0, std::int64_t n, py::object metrics,
                                    std::int64_t updates_per_epoch) {
    s.validate();
    if (n < 0) throw py::value_error("n must be >= 0, got " + std::to_string(n));
    if (updates_per_epoch < 1)
        throw py::value_error("updates_per_epoch must be >= 1, got " + std::to_string(updates_per_epoch));
    std::vector<double> m;
    if (!metrics.is_none()) m = metrics.cast<std::vector<double>>();
    py::array_t<double> out(n);
    double* v = out.mutable_data();
    {
        py::gil_scoped_release release;
        std::size_t k = 0;
        std::int64_t in_epoch = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            v[i] = s.eta(t0 + double(i), s.eta0);
            if (++in_epoch == updates_per_epoch) {
                in_epoch = 0;
                if (k < m.size()) s.end_epoch(m[k++]);
            }
        }
    }
    return out;
}

}  // namespace

void bind_schedule(py::module_& m) {
    py::enum_<AnnealStrategy>(m, "AnnealStrategy", "OneCycleLR's annealing shape.")
        .value("cos", AnnealStrategy::cos)
        .value("linear", AnnealStrategy::linear);
    py::enum_<PlateauMode>(m, "PlateauMode",
                           "ReduceLROnPlateau: whether the metric should decrease or increase.")
        .value("min", PlateauMode::min)
        .value("max", PlateauMode::max);
    py::enum_<ThresholdMode>(m, "ThresholdMode",
                             "ReduceLROnPlateau: threshold relative to the best value, or absolute.")
        .value("rel", ThresholdMode::rel)
        .value("abs", ThresholdMode::abs);

    py::class_<Schedule> cls(m, "Schedule",
        "The trainer's step-size schedule (C++ fastdescent::Schedule): a kind and the parameters "
        "of every kind, evaluated natively per update. eta(t) with t = 1 for the first update "
        "equals the Python schedule's value(t - 1); fastdescent.schedules' to_core() builds one. "
        "Schedule(kind, **fields) sets any fields by name.");
    cls.def(py::init([](ScheduleKind kind, py::kwargs kw) {
                Schedule s;
                s.kind = kind;
                set_fields(s, kw);
                return s;
            }),
            py::arg("kind") = ScheduleKind::invscaling);
#define FASTDESCENT_BIND_FIELD(f) cls.def_readwrite(#f, &Schedule::f);
    FASTDESCENT_SCHEDULE_FIELDS(FASTDESCENT_BIND_FIELD)
#undef FASTDESCENT_BIND_FIELD
    cls.def("eta",
            [](const Schedule& s, double t, std::optional<double> current) {
                s.validate();
                return s.eta(t, current ? *current : s.eta0);
            },
            py::arg("t"), py::arg("current") = py::none(),
            "Step size of update t (1 for the first). `current` is the running value of "
            "'adaptive' (default: eta0); other kinds ignore it. Raises ValueError if the "
            "parameters are invalid.")
        .def("end_epoch", &Schedule::end_epoch, py::arg("metric"),
             "Record one epoch's metric: advances the plateau state machine (lowering eta0 after "
             "a plateau); a no-op for the other kinds.")
        .def("validate", &Schedule::validate,
             "Raise ValueError naming the first invalid parameter of this kind.")
        .def("to_dict", &schedule_to_dict, "All fields as a dict.")
        .def("__eq__", &schedules_equal)
        .def("__repr__",
             [](const Schedule& s) {
                 std::string out = "Schedule(";
                 bool first = true;
                 for (auto item : schedule_to_dict(s)) {
                     if (!first) out += ", ";
                     first = false;
                     out += std::string(py::str(item.first)) + "=" + std::string(py::repr(item.second));
                 }
                 return out + ")";
             })
        .def(py::pickle([](const Schedule& s) { return schedule_to_dict(s); },
                        [](const py::dict& d) {
                            Schedule s;
                            set_fields(s, d);
                            return s;
                        }));
    cls.attr("__hash__") = py::none();

    m.def("schedule_values", &schedule_values, py::arg("schedule"), py::arg("t0"), py::arg("n"),
          py::arg("metrics") = py::none(), py::arg("updates_per_epoch") = 1,
          "The step sizes of updates t0, t0 + 1, ..., t0 + n - 1 (t0 = 1 is the first update) as "
          "a float64 array, evaluated on a copy of the schedule. With `metrics`, end_epoch(metric) "
          "is called after every `updates_per_epoch` updates, one metric per epoch, while there "
          "are metrics left. 'adaptive' stays at eta0.");
}

}  // namespace fastdescent::bindings
