// Loss and gradient sums of a block of rows at given parameters (fastdescent/gradient.hpp), for
// data-parallel training: each worker sums over its rows, the caller adds the sums up. Also the
// step-size preparation the trainer does before its first update ('optimal').
#include "common.hpp"

#include <cmath>
#include <string>
#include <tuple>

#include "fastdescent/gradient.hpp"
#include "fastdescent/schedules.hpp"

namespace fastdescent::bindings {
namespace {

template <class T, class Rows>
py::tuple sums(const Rows& X, py::handle y, py::handle coef, py::handle intercept, LossKind loss,
               double loss_param, py::handle sample_weight, py::handle class_weight,
               bool one_vs_rest, py::handle rows, int n_threads) {
    const std::int64_t n = X.n_rows;
    GradientInput<T> in;
    auto y_a = vector_of<T>(y, n, "y");
    in.y = y_a.data();
    auto coef_a = typed<T>(coef, "coef");
    if (coef_a.ndim() != 2 || coef_a.shape(1) != X.n_cols || !(coef_a.flags() & py::array::c_style))
        throw py::value_error("coef must be a C-contiguous (n_outputs, n_features) array");
    const int K = int(coef_a.shape(0));
    auto intercept_a = vector_of<T>(intercept, K, "intercept");
    in.coef = coef_a.data();
    in.intercept = intercept_a.data();
    in.K = K;
    in.loss = loss;
    in.loss_param = loss_param;
    try {
        check_loss_param(loss, loss_param);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string("loss_param: ") + e.what());
    }
    in.mode = loss == LossKind::multinomial ? OutputMode::multinomial
              : one_vs_rest                 ? OutputMode::one_vs_rest
                                            : OutputMode::single;
    if (in.mode == OutputMode::multinomial && K < 2)
        throw py::value_error("multinomial loss needs at least two outputs");
    if (in.mode == OutputMode::single && K != 1)
        throw py::value_error("a scalar loss trains one output; use one_vs_rest=True for several");
    if (one_vs_rest && loss == LossKind::multinomial)
        throw py::value_error("one_vs_rest needs a scalar loss, not multinomial");
    py::array_t<T, 0> sw_a;
    if (!sample_weight.is_none()) {
        sw_a = vector_of<T>(sample_weight, n, "sample_weight");
        in.sample_weight = sw_a.data();
    }
    py::array_t<double, 0> cw_a;
    if (!class_weight.is_none()) {
        const std::int64_t needed = in.mode == OutputMode::single ? 2 : K;
        cw_a = vector_of<double>(class_weight, needed, "class_weight");
        in.class_weight = cw_a.data();
    }
    if (log_link(loss)) {
        for (std::int64_t i = 0; i < n; ++i)
            if (!valid_target(loss, loss_param, double(in.y[i])))
                throw py::value_error("y holds a value outside the loss's range");
    }
    if (in.mode != OutputMode::single) {
        for (std::int64_t i = 0; i < n; ++i) {
            const T c = in.y[i];
            if (!(c >= 0 && c < K && c == std::floor(c)))
                throw py::value_error("targets must be class indices in [0, n_outputs)");
        }
    }
    py::array_t<std::int64_t, 0> rows_a;
    in.n_rows = n;
    if (!rows.is_none()) {
        rows_a = typed<std::int64_t>(rows, "rows");
        rows_a = vector_of<std::int64_t>(rows, rows_a.size(), "rows");
        in.rows = rows_a.data();
        in.n_rows = rows_a.size();
        for (std::int64_t r = 0; r < in.n_rows; ++r)
            if (in.rows[r] < 0 || in.rows[r] >= n) throw py::value_error("a row index is out of range");
    }
    const int n_problems = in.mode == OutputMode::one_vs_rest ? K : 1;
    py::array_t<double> loss_out(n_problems), weight_out(n_problems);
    py::array_t<T> grad_out({py::ssize_t(K), py::ssize_t(X.n_cols)}), grad_b_out(K);
    double* lo = loss_out.mutable_data();
    double* wo = weight_out.mutable_data();
    T* go = grad_out.mutable_data();
    T* gbo = grad_b_out.mutable_data();
    {
        py::gil_scoped_release release;
        loss_gradient_sums(X, in, n_threads, lo, wo, go, gbo);
    }
    return py::make_tuple(loss_out, weight_out, grad_out, grad_b_out);
}

template <class T>
py::tuple dense_t(py::array X, py::handle y, py::handle coef, py::handle intercept, LossKind loss,
                  double loss_param, py::handle sw, py::handle cw, bool ovr, py::handle rows, int nt) {
    return with_dense_rows_as<T>(X, [&](const auto& view) {
        return sums<T>(view, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
    });
}

template <class T, class I>
py::tuple csr_t(py::array data, py::array indices, py::array indptr, std::int64_t n_cols,
                py::handle y, py::handle coef, py::handle intercept, LossKind loss, double loss_param,
                py::handle sw, py::handle cw, bool ovr, py::handle rows, int nt) {
    auto ip = typed<I>(indptr, "indptr");
    if (ip.ndim() != 1 || ip.size() < 1) throw py::value_error("indptr must be 1-D and non-empty");
    ip = vector_of<I>(indptr, ip.size(), "indptr");
    const std::int64_t n = ip.size() - 1;
    auto ind = vector_of<I>(indices, indices.size(), "indices");
    auto dat = vector_of<T>(data, indices.size(), "data");
    checked_csr(ip.data(), ind.data(), n, ind.size(), n_cols, "", false);  // reading needs bounds only
    CsrRows<T, I> view{dat.data(), ind.data(), ip.data(), n, n_cols};
    return sums<T>(view, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
}

}  // namespace

void bind_gradient(py::module_& m) {
    const char* doc =
        "(loss, weight, coef_grad, intercept_grad): sums over the rows of X (or X[rows], in that "
        "order) at the parameters coef (K x d) and intercept (K) of w_i * loss_i, of w_i, and of "
        "w_i times the loss gradient, with w_i the sample weight times the class weight. loss and "
        "weight have one entry per problem: K with one_vs_rest (y holds class indices, output k "
        "is class k against the rest), else 1. The batched trainer's fused pass, GIL released; "
        "arrays must already have the dtype of X, nothing is copied.";
    m.def("loss_gradient_dense",
          [](py::array X, py::handle y, py::handle coef, py::handle intercept, LossKind loss,
             double loss_param, py::handle sw, py::handle cw, bool ovr, py::handle rows, int nt) {
              if (storage_of(X) == Storage::f64)
                  return dense_t<double>(X, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
              return dense_t<float>(X, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
          },
          py::arg("X"), py::arg("y"), py::arg("coef"), py::arg("intercept"), py::arg("loss"),
          py::arg("loss_param") = 0.1, py::arg("sample_weight") = py::none(),
          py::arg("class_weight") = py::none(), py::arg("one_vs_rest") = false,
          py::arg("rows") = py::none(), py::arg("n_threads") = 1, doc);
    m.def("loss_gradient_csr",
          [](py::array data, py::array indices, py::array indptr, std::int64_t n_cols,
             py::handle y, py::handle coef, py::handle intercept, LossKind loss, double loss_param,
             py::handle sw, py::handle cw, bool ovr, py::handle rows, int nt) {
              const bool f32 = data.dtype().equal(py::dtype::of<float>());
              const bool i32 = indices.dtype().equal(py::dtype::of<std::int32_t>());
              if (f32 && i32)
                  return csr_t<float, std::int32_t>(data, indices, indptr, n_cols, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
              if (f32)
                  return csr_t<float, std::int64_t>(data, indices, indptr, n_cols, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
              if (i32)
                  return csr_t<double, std::int32_t>(data, indices, indptr, n_cols, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
              return csr_t<double, std::int64_t>(data, indices, indptr, n_cols, y, coef, intercept, loss, loss_param, sw, cw, ovr, rows, nt);
          },
          py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("n_cols"), py::arg("y"),
          py::arg("coef"), py::arg("intercept"), py::arg("loss"), py::arg("loss_param") = 0.1,
          py::arg("sample_weight") = py::none(), py::arg("class_weight") = py::none(),
          py::arg("one_vs_rest") = false, py::arg("rows") = py::none(), py::arg("n_threads") = 1,
          doc);
}

}  // namespace fastdescent::bindings
