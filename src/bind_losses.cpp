// The per-sample losses of the trainer, evaluated elementwise: lets the tests check the C++
// kernels (overflow safety, derivatives) against NumPy references without running a fit.
#include "common.hpp"

#include "fastdescent/losses.hpp"

namespace fastdescent::bindings {
namespace {

py::tuple scalar_loss(LossKind kind, py::handle p, py::handle y, double loss_param, bool joint) {
    if (kind == LossKind::multinomial)
        throw py::value_error("multinomial is not a scalar loss; use softmax_cross_entropy");
    check_loss_param(kind, loss_param);
    auto p_a = typed<double>(p, "p");
    if (p_a.ndim() != 1) throw py::value_error("p must be 1-D");
    p_a = vector_of<double>(p, p_a.shape(0), "p");
    auto y_a = vector_of<double>(y, p_a.shape(0), "y");
    const std::int64_t n = p_a.shape(0);
    py::array_t<double> value(n), deriv(n);
    const double* pp = p_a.data();
    const double* yy = y_a.data();
    double* v = value.mutable_data();
    double* d = deriv.mutable_data();
    visit_scalar_loss(kind, loss_param, [&](auto L) {
        for (std::int64_t i = 0; i < n; ++i) {
            if (joint) {
                v[i] = value_and_deriv(L, pp[i], yy[i], d[i]);
            } else {
                v[i] = L.value(pp[i], yy[i]);
                d[i] = L.deriv(pp[i], yy[i]);
            }
        }
        return 0;
    });
    return py::make_tuple(value, deriv);
}

template <class Real>
py::tuple softmax_t(const py::array& scores, py::handle labels) {
    auto s = typed<Real>(scores, "scores");
    if (s.ndim() != 2 || !(s.flags() & py::array::c_style) || s.shape(1) < 1)
        throw py::value_error("scores must be a C-contiguous (n_samples, n_classes) array");
    const std::int64_t n = s.shape(0);
    const int K = int(s.shape(1));
    auto c = vector_of<std::int64_t>(labels, n, "labels");
    for (std::int64_t i = 0; i < n; ++i)
        if (c.data()[i] < 0 || c.data()[i] >= K)
            throw py::value_error("labels must be class indices in [0, n_classes)");
    py::array_t<double> loss(n);
    py::array_t<Real> grad({n, std::int64_t(K)});
    for (std::int64_t i = 0; i < n; ++i)
        loss.mutable_data()[i] = softmax_cross_entropy(s.data() + i * K, K, int(c.data()[i]),
                                                       grad.mutable_data() + i * K);
    return py::make_tuple(loss, grad);
}

}  // namespace

void bind_losses(py::module_& m) {
    m.def("loss_value_and_deriv", &scalar_loss, py::arg("loss"), py::arg("p"), py::arg("y"),
          py::arg("loss_param") = 0.1, py::arg("joint") = false,
          "Value and derivative d/dp of a scalar loss at float64 outputs p and targets y; "
          "joint=True uses the fused form the trainer calls.");
    m.def("loss_curvature_bound", &loss_curvature_bound, py::arg("loss"),
          "Largest second derivative of a loss in its score (the softmax Hessian's largest "
          "eigenvalue for multinomial); 0 for the losses that are not smooth.");
    m.def("softmax_cross_entropy",
          [](const py::array& scores, py::handle labels) {
              if (scores.dtype().equal(py::dtype::of<float>())) return softmax_t<float>(scores, labels);
              return softmax_t<double>(scores, labels);
          },
          py::arg("scores"), py::arg("labels"),
          "Per-row -log softmax(scores)[label] and its gradient with respect to the scores.");
}

}  // namespace fastdescent::bindings
