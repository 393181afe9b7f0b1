#include "common.hpp"

namespace fastdescent::bindings {
void bind_train(py::module_& m);
void bind_info(py::module_& m);
void bind_optim(py::module_& m);
void bind_schedule(py::module_& m);
void bind_gradient(py::module_& m);
void bind_losses(py::module_& m);
void bind_engine(py::module_& m);
void bind_mlp(py::module_& m);
void bind_labels(py::module_& m);
}  // namespace fastdescent::bindings

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastdescent's compiled core (internal; use the fastdescent package)";
    fastdescent::bindings::bind_train(m);
    fastdescent::bindings::bind_info(m);
    fastdescent::bindings::bind_optim(m);
    fastdescent::bindings::bind_schedule(m);
    fastdescent::bindings::bind_gradient(m);
    fastdescent::bindings::bind_losses(m);
    fastdescent::bindings::bind_engine(m);
    fastdescent::bindings::bind_mlp(m);
    fastdescent::bindings::bind_labels(m);
}
