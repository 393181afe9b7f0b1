#include "common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastdescent::bindings {

void bind_info(py::module_& m) {
    m.def("build_info", [] {
        py::dict d;
        d["version"] = FASTDESCENT_VERSION;
        d["build_type"] = FASTDESCENT_BUILD_TYPE;
        d["cxx_flags"] = FASTDESCENT_CXX_FLAGS;
#ifdef _OPENMP
        d["openmp"] = true;
        d["openmp_max_threads"] = omp_get_max_threads();
#else
        d["openmp"] = false;
        d["openmp_max_threads"] = 1;
#endif
        d["compiler"] =
#if defined(__clang__)
            std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
            std::string("gcc ") + __VERSION__;
#else
            std::string("unknown");
#endif
        return d;
    }, "Build configuration of the compiled core.");
}

}  // namespace fastdescent::bindings
