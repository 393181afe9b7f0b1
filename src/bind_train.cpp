#include "common.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "fastdescent/trainer.hpp"
#include "optimizer_state.hpp"
#include "training.hpp"

namespace fastdescent::bindings {
namespace {

// Threads for a pass over n x d entries: one per 4M entries at most (below
// that, waking threads costs more than it saves).
int pass_threads(int n_threads, std::int64_t n, std::int64_t d) {
    return int(std::max<std::int64_t>(1, std::min<std::int64_t>(resolve_threads(n_threads), (n * d) >> 22)));
}

// Whether all entries are finite: one read of the array, rows split across threads (the
// single-threaded NumPy check is the slowest step of validating a large X), through the
// kernels of the active instruction set. S: the stored type, T: the type it is computed in.
template <class T, class S>
bool rows_finite(const py::array& a, int n_threads) {
    const std::int64_t n_rows = a.ndim() == 2 ? a.shape(0) : 1;
    const std::int64_t n_cols = a.ndim() == 2 ? a.shape(1) : (a.ndim() == 1 ? a.shape(0) : 0);
    if (a.ndim() >= 1 && a.ndim() <= 2 && n_rows * n_cols == 0) return true;  // any strides
    if (a.ndim() < 1 || a.ndim() > 2 || (n_cols > 1 && a.strides(a.ndim() - 1) != sizeof(S)) ||
        (a.ndim() == 2 && n_rows > 1 && (a.strides(0) < 0 || a.strides(0) % sizeof(S) != 0)) ||
        reinterpret_cast<std::uintptr_t>(a.data()) % alignof(S) != 0)
        throw py::value_error("a must be 1-D contiguous or 2-D with contiguous rows");
    const S* data = static_cast<const S*>(a.data());
    const std::int64_t stride = a.ndim() == 2 ? a.strides(0) / std::int64_t(sizeof(S)) : 0;
    const auto check = dense_kernels<T, S>().all_finite;
    py::gil_scoped_release release;
    n_threads = pass_threads(n_threads, n_rows, n_cols);
    std::atomic<bool> finite{true};  // every thread stops once one has found a value that is not
    for_thread_ranges(n_threads, n_rows, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi && finite.load(std::memory_order_relaxed); ++i)
            if (!check(data + i * stride, n_cols)) finite.store(false, std::memory_order_relaxed);
    });
    return finite.load();
}

// X @ coef.T + intercept for a dense X of any storage, computed in T (the dtype of coef).
template <class T, class S>
py::array_t<T> linear_scores(const DenseRows<T, S>& X, const py::array& coef, const py::array& intercept,
                             int n_threads) {
    auto c = typed<T>(coef, "coef");
    if (c.ndim() != 2 || c.shape(1) != X.n_cols || !(c.flags() & py::array::c_style))
        throw py::value_error("coef must be a C-contiguous (n_outputs, n_features) array");
    const std::int64_t K = c.shape(0), d = X.n_cols, n = X.n_rows;
    auto b = vector_of<T>(intercept, K, "intercept");
    py::array_t<T> out({n, K});
    const T* w = c.data();
    const T* b0 = b.data();
    T* o = out.mutable_data();
    py::gil_scoped_release release;
    const int threads = pass_threads(n_threads, n, d * K);
    for_thread_ranges(threads, n, [&](std::int64_t lo, std::int64_t hi) {
        for (std::int64_t i = lo; i < hi; ++i)
            for (std::int64_t k = 0; k < K; ++k) o[i * K + k] = X.dot(i, w + k * d) + b0[k];
    });
    return out;
}

template <class T, class Rows>
py::object run(const Rows& X, std::vector<Span> reads, py::handle y, py::handle coef,
                py::handle intercept, const TrainConfig& cfg, py::handle sample_weight,
                py::handle class_weight, py::handle validation_mask, py::handle average_coef,
                py::handle average_intercept, double t0, py::handle epoch_callback,
                py::handle optimizer, py::handle optimizer_state, py::handle cancel,
                std::function<void()> after_callback = {}) {
    check_config(cfg, t0);
    const std::int64_t n = X.n_rows;
    auto coef_a = typed<T>(coef, "coef");
    if (coef_a.ndim() != 2 || coef_a.shape(1) != X.n_cols ||
        !(coef_a.flags() & py::array::c_style))
        throw py::value_error("coef must be a C-contiguous (n_outputs, n_features) array");
    const int K = int(coef_a.shape(0));
    if (K < 1) throw py::value_error("the model needs at least one output (coef has no rows)");
    // A scalar loss with K outputs reads K targets per row (multi-output regression, y row-major).
    auto y_a = vector_of<T>(y, n * target_width(cfg.loss, K), "y");
    auto intercept_a = vector_of<T>(intercept, K, "intercept");

    Targets<T> tg;
    tg.y = y_a.data();
    py::array_t<T, 0> sw_a;
    if (!sample_weight.is_none()) {
        sw_a = vector_of<T>(sample_weight, n, "sample_weight");
        tg.sample_weight = sw_a.data();
    }
    py::array_t<double, 0> cw_a;
    if (!class_weight.is_none()) {
        cw_a = typed<double>(class_weight, "class_weight");
        cw_a = vector_of<double>(class_weight, cw_a.size(), "class_weight");
        tg.class_weight = cw_a.data();
        tg.n_class_weight = int(cw_a.size());
        const int needed = cfg.loss == LossKind::multinomial ? K : 2;
        if (tg.n_class_weight != needed)
            throw py::value_error("class_weight must have " + std::to_string(needed) + " entries");
    }
    py::array_t<std::uint8_t, 0> mask_a;
    if (!validation_mask.is_none()) {
        mask_a = vector_of<std::uint8_t>(validation_mask, n, "validation_mask");
        tg.validation_mask = mask_a.data();
    }
    if (cfg.loss == LossKind::multinomial) {
        for (std::int64_t i = 0; i < n; ++i) {
            T c = tg.y[i];
            if (!(c >= 0 && c < K && c == std::floor(c)))
                throw py::value_error("multinomial targets must be class indices in [0, n_outputs)");
        }
    }

    Model<T> model{writable(coef_a, "coef"), writable(intercept_a, "intercept"), nullptr, nullptr,
                   K, X.n_cols};
    py::array_t<T, 0> avg_coef_a, avg_int_a;
    if (!average_coef.is_none()) {
        avg_coef_a = typed<T>(average_coef, "average_coef");
        if (avg_coef_a.size() != K * X.n_cols || !(avg_coef_a.flags() & py::array::c_style))
            throw py::value_error("average_coef must be C-contiguous with the shape of coef");
        avg_int_a = vector_of<T>(average_intercept, K, "average_intercept");
        model.average_coef = writable(avg_coef_a, "average_coef");
        model.average_intercept = writable(avg_int_a, "average_intercept");
    }
    reads.push_back(span_of(y_a, "y"));
    if (sw_a) reads.push_back(span_of(sw_a, "sample_weight"));
    if (cw_a) reads.push_back(span_of(cw_a, "class_weight"));
    if (mask_a) reads.push_back(span_of(mask_a, "validation_mask"));
    std::vector<Span> writes{span_of(coef_a, "coef"), span_of(intercept_a, "intercept")};
    if (avg_coef_a) {
        writes.push_back(span_of(avg_coef_a, "average_coef"));
        writes.push_back(span_of(avg_int_a, "average_intercept"));
    }
    check_no_overlap(writes, reads);

    std::unique_ptr<Optimizer<T>> opt;
    if (!optimizer.is_none()) {
        auto spec = optimizer.cast<OptimizerSpec>();
        spec.validate();
        opt = make_optimizer<T>(spec, cfg.n_threads);
        load_optimizer_state(*opt, optimizer_state);
    } else if (!optimizer_state.is_none() && py::len(optimizer_state) > 0) {
        throw py::value_error("optimizer_state needs an optimizer (plain SGD keeps no state)");
    }
    EpochCallback on_epoch = epoch_hook(epoch_callback, opt.get(), after_callback);
    TrainResult res;
    {
        py::gil_scoped_release release;
        res = train(X, tg, model, cfg, opt.get(), t0, stop_check(cancel), on_epoch);
    }
    if (res.interrupted) raise_interrupt();
    py::object out = py::cast(std::move(res));
    // The optimizer's state after training, as plain arrays (optimizer_state of the next call).
    out.attr("optimizer_state") = opt ? py::object(state_to_python(opt->state())) : py::object(py::list());
    return out;
}

template <class T, class I>
py::object train_csr_t(py::array data, py::array indices, py::array indptr, std::int64_t n_cols,
                        py::handle y, py::handle coef, py::handle intercept,
                        const TrainConfig& cfg, py::handle sw, py::handle cw, py::handle mask,
                        py::handle avg_coef, py::handle avg_int, double t0, py::handle cb, py::handle opt,
                        py::handle opt_state, py::handle cancel) {
    auto ip = typed<I>(indptr, "indptr");
    if (ip.ndim() != 1 || ip.size() < 1) throw py::value_error("indptr must be 1-D and non-empty");
    ip = vector_of<I>(indptr, ip.size(), "indptr");  // read as a plain C array below
    const std::int64_t n = ip.size() - 1;
    auto ind = vector_of<I>(indices, indices.size(), "indices");
    auto dat = vector_of<T>(data, indices.size(), "data");
    const I* p = ip.data();
    const I* idx = ind.data();
    const std::int64_t nnz = ind.size();
    // Reading the rows needs their bounds only (the estimators sum duplicate entries first).
    checked_csr(p, idx, n, nnz, n_cols, "", false);
    // A callback that runs user code between epochs (TrainConfig::hook_runs_user_code) could
    // rewrite the index arrays in place: they are checked again after each call, before the
    // next epoch reads them (a read of the indices per epoch, as long as the epoch itself on
    // small data: skipped when the callback only records).
    std::function<void()> recheck;
    if (cfg.hook_runs_user_code)
        recheck = [p, idx, n, nnz, n_cols] {
            checked_csr(p, idx, n, nnz, n_cols, " (its index arrays were changed during the fit)", false);
        };
    CsrRows<T, I> rows{dat.data(), idx, p, n, n_cols};
    return run<T>(rows, {span_of(dat, "data"), span_of(ind, "indices"), span_of(ip, "indptr")}, y,
                  coef, intercept, cfg, sw, cw, mask, avg_coef, avg_int, t0, cb, opt, opt_state, cancel,
                  recheck);
}

template <class I>
bool check_csr_arrays(py::array indices, py::array indptr, std::int64_t n_cols) {
    auto ip = vector_of<I>(indptr, indptr.size(), "indptr");
    if (ip.size() < 1) throw py::value_error("indptr must be 1-D and non-empty");
    auto ind = vector_of<I>(indices, indices.size(), "indices");
    if (n_cols < 0) throw py::value_error("n_cols must be >= 0");
    const I* p = ip.data();
    const I* idx = ind.data();
    const std::int64_t n = ip.size() - 1, nnz = ind.size();
    py::gil_scoped_release release;
    return checked_csr(p, idx, n, nnz, n_cols, "");
}

}  // namespace

void bind_train(py::module_& m) {
    py::enum_<LossKind>(m, "LossKind")
        .value("squared_error", LossKind::squared_error)
        .value("huber", LossKind::huber)
        .value("epsilon_insensitive", LossKind::epsilon_insensitive)
        .value("squared_epsilon_insensitive", LossKind::squared_epsilon_insensitive)
        .value("log_loss", LossKind::log_loss)
        .value("hinge", LossKind::hinge)
        .value("squared_hinge", LossKind::squared_hinge)
        .value("modified_huber", LossKind::modified_huber)
        .value("perceptron", LossKind::perceptron)
        .value("multinomial", LossKind::multinomial)
        .value("absolute_error", LossKind::absolute_error)
        .value("quantile", LossKind::quantile)
        .value("poisson", LossKind::poisson)
        .value("gamma", LossKind::gamma)
        .value("tweedie", LossKind::tweedie);
    py::enum_<PenaltyKind>(m, "PenaltyKind")
        .value("none", PenaltyKind::none)
        .value("l2", PenaltyKind::l2)
        .value("l1", PenaltyKind::l1)
        .value("elasticnet", PenaltyKind::elasticnet);
    py::enum_<ScheduleKind>(m, "ScheduleKind")
        .value("constant", ScheduleKind::constant)
        .value("optimal", ScheduleKind::optimal)
        .value("invscaling", ScheduleKind::invscaling)
        .value("adaptive", ScheduleKind::adaptive)
        .value("pa1", ScheduleKind::pa1)
        .value("pa2", ScheduleKind::pa2)
        .value("exponential", ScheduleKind::exponential)
        .value("step", ScheduleKind::step)
        .value("multistep", ScheduleKind::multistep)
        .value("cosine", ScheduleKind::cosine)
        .value("cosine_restarts", ScheduleKind::cosine_restarts)
        .value("onecycle", ScheduleKind::onecycle)
        .value("polynomial", ScheduleKind::polynomial)
        .value("plateau", ScheduleKind::plateau);

    py::class_<TrainConfig>(m, "TrainConfig")
        .def(py::init<>())
        .def_readwrite("loss", &TrainConfig::loss)
        .def_readwrite("loss_param", &TrainConfig::loss_param)
        .def_readwrite("penalty", &TrainConfig::penalty)
        .def_readwrite("alpha", &TrainConfig::alpha)
        .def_readwrite("l1_ratio", &TrainConfig::l1_ratio)
        .def_readwrite("schedule", &TrainConfig::schedule)
        .def_readwrite("classification", &TrainConfig::classification)
        .def_readwrite("fit_intercept", &TrainConfig::fit_intercept)
        .def_readwrite("intercept_decay", &TrainConfig::intercept_decay)
        .def_readwrite("intercept_linear", &TrainConfig::intercept_linear)
        .def_readwrite("max_iter", &TrainConfig::max_iter)
        .def_readwrite("tol", &TrainConfig::tol)
        .def_readwrite("n_iter_no_change", &TrainConfig::n_iter_no_change)
        .def_readwrite("early_stopping", &TrainConfig::early_stopping)
        .def_readwrite("shuffle", &TrainConfig::shuffle)
        .def_readwrite("seed", &TrainConfig::seed)
        .def_readwrite("batch_size", &TrainConfig::batch_size)
        .def_readwrite("average", &TrainConfig::average)
        .def_readwrite("clip_value", &TrainConfig::clip_value)
        .def_readwrite("clip_norm", &TrainConfig::clip_norm)
        .def_readwrite("n_threads", &TrainConfig::n_threads)
        .def_readwrite("sparse_lazy", &TrainConfig::sparse_lazy)
        .def_readwrite("solver", &TrainConfig::solver)
        .def_readwrite("solver_tol", &TrainConfig::solver_tol)
        .def_readwrite("explosion_diverges", &TrainConfig::explosion_diverges)
        .def_readwrite("running_objective", &TrainConfig::running_objective)
        .def_readwrite("check_input", &TrainConfig::check_input)
        .def_readwrite("hook_runs_user_code", &TrainConfig::hook_runs_user_code);

    py::class_<TrainResult>(m, "TrainResult", py::dynamic_attr())
        .def_readonly("n_iter", &TrainResult::n_iter)
        .def_readonly("t", &TrainResult::t)
        .def_readonly("strategy", &TrainResult::strategy)
        .def_readonly("loss_curve", &TrainResult::loss_curve)
        .def_readonly("validation_scores", &TrainResult::validation_scores)
        .def_readonly("last_eta", &TrainResult::last_eta)
        .def_readonly("diverged", &TrainResult::diverged)
        .def_readonly("stopped_by_callback", &TrainResult::stopped_by_callback)
        .def_readonly("non_finite_input", &TrainResult::non_finite_input);

    m.def("all_finite",
          [](py::array a, int n_threads) {
              switch (storage_of(a)) {
                  case Storage::f64: return rows_finite<double, double>(a, n_threads);
                  case Storage::f32: return rows_finite<float, float>(a, n_threads);
                  case Storage::f16: return rows_finite<float, Half>(a, n_threads);
                  case Storage::bf16: return rows_finite<float, BFloat16>(a, n_threads);
              }
              return false;
          },
          py::arg("a"), py::arg("n_threads") = 1,
          "Whether every entry of a float64/float32/float16/bfloat16 array (1-D contiguous, or 2-D "
          "with contiguous rows) is finite; rows split over n_threads threads, GIL released.");
    m.def("linear_scores",
          [](py::array X, py::array coef, py::array intercept, int n_threads) -> py::array {
              if (coef.dtype().equal(py::dtype::of<double>()))
                  return with_dense_rows_as<double>(X, [&](const auto& rows) {
                      return linear_scores(rows, coef, intercept, n_threads);
                  });
              return with_dense_rows_as<float>(X, [&](const auto& rows) {
                  return linear_scores(rows, coef, intercept, n_threads);
              });
          },
          py::arg("X"), py::arg("coef"), py::arg("intercept"), py::arg("n_threads") = 1,
          "X @ coef.T + intercept, shape (n_samples, n_outputs), in coef's dtype, for a dense X "
          "read as stored (a float16 or bfloat16 X needs float32 coef: no upcast copy of X); "
          "rows split over n_threads threads, GIL released.");
    m.def("row_squared_norms",
          [](py::array X, int n_threads) {
              return with_dense_rows(X, [&](const auto& rows) {
                  py::array_t<double> out(rows.n_rows);
                  double* o = out.mutable_data();
                  py::gil_scoped_release release;
                  const int threads = pass_threads(n_threads, rows.n_rows, rows.n_cols);
                  for_thread_ranges(threads, rows.n_rows, [&](std::int64_t lo, std::int64_t hi) {
                      for (std::int64_t i = lo; i < hi; ++i) o[i] = rows.row_squared_norm(i);
                  });
                  return out;
              });
          },
          py::arg("X"), py::arg("n_threads") = 1,
          "Squared norm of each row of a dense X read as stored, in float64 (no overflow for "
          "float16 X); rows split over n_threads threads, GIL released.");

    m.def("check_csr",
          [](py::array indices, py::array indptr, std::int64_t n_cols) {
              if (indices.dtype().equal(py::dtype::of<std::int32_t>()))
                  return check_csr_arrays<std::int32_t>(indices, indptr, n_cols);
              return check_csr_arrays<std::int64_t>(indices, indptr, n_cols);
          },
          py::arg("indices"), py::arg("indptr"), py::arg("n_cols"),
          "Checks a CSR structure in one pass (GIL released): ValueError when indptr does not "
          "start at 0, decreases or does not end at len(indices), or a column index is outside "
          "[0, n_cols). Returns whether some row stores a column twice. indices and indptr: "
          "contiguous, both int32 or both int64.");

    const char* doc =
        "Train a linear model in place on the rows of X (GIL released). Arrays must already have "
        "the dtype of X (float32 for a float16 or bfloat16 X, read as stored); nothing is copied. optimizer_state (a list from a previous result's "
        "optimizer_state) continues the optimizer from that state; the result's optimizer_state "
        "is the state after training.";
    m.def("train_dense",
          [](py::array X, py::handle y, py::handle coef, py::handle intercept,
             const TrainConfig& cfg, py::handle sw, py::handle cw, py::handle mask,
             py::handle avg_coef, py::handle avg_int, double t0, py::handle cb, py::handle opt,
             py::handle opt_state, py::handle cancel) {
              return with_dense_rows(X, [&](const auto& rows) {
                  using T = typename std::decay_t<decltype(rows)>::value_type;
                  return run<T>(rows, {span_of(X, "X")}, y, coef, intercept, cfg, sw, cw, mask,
                                avg_coef, avg_int, t0, cb, opt, opt_state, cancel);
              });
          },
          py::arg("X"), py::arg("y"), py::arg("coef"), py::arg("intercept"), py::arg("config"),
          py::arg("sample_weight") = py::none(), py::arg("class_weight") = py::none(),
          py::arg("validation_mask") = py::none(), py::arg("average_coef") = py::none(),
          py::arg("average_intercept") = py::none(), py::arg("t0") = 1.0,
          py::arg("epoch_callback") = py::none(), py::arg("optimizer") = py::none(),
          py::arg("optimizer_state") = py::none(), py::arg("cancel") = py::none(), doc);
    m.def("train_csr",
          [](py::array data, py::array indices, py::array indptr, std::int64_t n_cols,
             py::handle y, py::handle coef, py::handle intercept, const TrainConfig& cfg,
             py::handle sw, py::handle cw, py::handle mask, py::handle avg_coef,
             py::handle avg_int, double t0, py::handle cb, py::handle opt, py::handle opt_state,
             py::handle cancel) {
              const bool f32 = data.dtype().equal(py::dtype::of<float>());
              const bool i32 = indices.dtype().equal(py::dtype::of<std::int32_t>());
              if (f32 && i32)
                  return train_csr_t<float, std::int32_t>(data, indices, indptr, n_cols, y, coef, intercept, cfg, sw, cw, mask, avg_coef, avg_int, t0, cb, opt, opt_state, cancel);
              if (f32)
                  return train_csr_t<float, std::int64_t>(data, indices, indptr, n_cols, y, coef, intercept, cfg, sw, cw, mask, avg_coef, avg_int, t0, cb, opt, opt_state, cancel);
              if (i32)
                  return train_csr_t<double, std::int32_t>(data, indices, indptr, n_cols, y, coef, intercept, cfg, sw, cw, mask, avg_coef, avg_int, t0, cb, opt, opt_state, cancel);
              return train_csr_t<double, std::int64_t>(data, indices, indptr, n_cols, y, coef, intercept, cfg, sw, cw, mask, avg_coef, avg_int, t0, cb, opt, opt_state, cancel);
          },
          py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("n_cols"), py::arg("y"),
          py::arg("coef"), py::arg("intercept"), py::arg("config"),
          py::arg("sample_weight") = py::none(), py::arg("class_weight") = py::none(),
          py::arg("validation_mask") = py::none(), py::arg("average_coef") = py::none(),
          py::arg("average_intercept") = py::none(), py::arg("t0") = 1.0,
          py::arg("epoch_callback") = py::none(), py::arg("optimizer") = py::none(),
          py::arg("optimizer_state") = py::none(), py::arg("cancel") = py::none(), doc);
    m.def("shuffled_order", &shuffled_order, py::arg("rows"), py::arg("seed"), py::arg("epochs"),
          "Row order after `epochs` shuffles with `seed`, as the trainer visits them.");
}

}  // namespace fastdescent::bindings
