#include "common.hpp"

#include "fastdescent/kernels.hpp"
#include "fastdescent/parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastdescent::bindings {

template <class T>
void def_elementwise(py::module_& m) {
    constexpr bool single = std::is_same_v<T, float>;
    using Array = py::array_t<T, py::array::c_style | (single ? 0 : py::array::forcecast)>;
    auto arg_x = single ? py::arg("x").noconvert() : py::arg("x");
    m.def("kernel_exp", [](const std::string& isa, Array x) {
        Array out(x.size());
        dense_kernels<T>(isa_from_name(isa.c_str())).exp(x.data(), out.mutable_data(), x.size());
        return out;
    }, py::arg("isa"), arg_x);
    m.def("kernel_log1p", [](const std::string& isa, Array x) {
        for (py::ssize_t i = 0; i < x.size(); ++i)
            if (!(x.data()[i] >= 0 && x.data()[i] <= 1)) throw py::value_error("kernel_log1p takes 0 <= x <= 1");
        Array out(x.size());
        dense_kernels<T>(isa_from_name(isa.c_str())).log1p(x.data(), out.mutable_data(), x.size());
        return out;
    }, py::arg("isa"), arg_x);
}

void bind_info(py::module_& m) {
    m.def("build_info", [] {
        py::dict d;
        d["version"] = FASTDESCENT_VERSION;
        d["build_type"] = FASTDESCENT_BUILD_TYPE;
        d["cxx_flags"] = FASTDESCENT_CXX_FLAGS;
#ifdef _OPENMP
        d["openmp"] = true;
#else
        d["openmp"] = false;
#endif
        d["openmp_max_threads"] = max_threads();
        py::list available;
        for (Isa isa : supported_isas()) available.append(isa_name(isa));
        d["isa"] = isa_name(active_isa());
        d["available_isas"] = available;
        py::list compiled;
        for (int k = 0; k < n_isas; ++k)
            if (isa_compiled(Isa(k))) compiled.append(isa_name(Isa(k)));
        d["compiled_isas"] = compiled;
        d["avx2_flags"] = FASTDESCENT_AVX2_FLAGS;
        d["avx512_flags"] = FASTDESCENT_AVX512_FLAGS;
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

    m.def("openmp_max_threads", [] { return max_threads(); },
          "Threads a fit may use: OpenMP's limit for the calling thread (what threadpoolctl "
          "limits), or 1 in a process forked after the core was loaded (GNU OpenMP's threads "
          "do not survive fork).");
    m.def("get_isa", [] { return std::string(isa_name(active_isa())); },
          "Instruction set of the dense kernels that new fits use.");
    m.def("set_isa", [](const std::string& name) { set_active_isa(isa_from_name(name.c_str())); },
          py::arg("name"),
          "Use the kernels compiled for 'baseline', 'avx2' or 'avx512' in later fits (ValueError "
          "if this CPU or build lacks them).");
    m.def("available_isas", [] {
        std::vector<std::string> out;
        for (Isa isa : supported_isas()) out.emplace_back(isa_name(isa));
        return out;
    }, "Instruction sets that are compiled in and that this CPU and OS support.");
    // The vectorized exp / log1p of one instruction set's kernels, for the tests: float32
    // arrays through the single-precision kernels, anything else as float64.
    def_elementwise<float>(m);
    def_elementwise<double>(m);
}

}  // namespace fastdescent::bindings
