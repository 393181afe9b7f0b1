// Included first by every binding file: pybind11, and the checks that turn NumPy arrays into
// raw views without copying them.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "fastdescent/data.hpp"

namespace py = pybind11;

namespace fastdescent::bindings {
// The array as a typed NumPy array without conversion; raises TypeError naming `what` if its
// dtype is not T (the Python layer converts dtypes before calling, so this is a safety net).
template <class T>
py::array_t<T, 0> typed(const py::handle& obj, const char* what) {
    if (!py::isinstance<py::array_t<T, 0>>(obj) ||
        !py::dtype::of<T>().equal(py::reinterpret_borrow<py::array>(obj).dtype()))
        throw py::type_error(std::string(what) + " must be a NumPy array of dtype " +
                             std::string(py::str(py::dtype::of<T>())));
    auto a = py::reinterpret_borrow<py::array_t<T, 0>>(obj);
    // Misaligned elements (a view into a byte buffer at an odd offset) are undefined behaviour
    // to read as T in C++.
    bool aligned = reinterpret_cast<std::uintptr_t>(a.data()) % alignof(T) == 0;
    for (py::ssize_t k = 0; k < a.ndim(); ++k) aligned = aligned && a.strides(k) % py::ssize_t(alignof(T)) == 0;
    if (!aligned)
        throw py::value_error(std::string(what) + " is not aligned to its dtype; pass a copy "
                              "(numpy.require(a, requirements='A'))");
    return a;
}

// A 1-D C-contiguous array of T with `n` entries.
template <class T>
py::array_t<T, 0> vector_of(const py::handle& obj, std::int64_t n, const char* what) {
    auto a = typed<T>(obj, what);
    if (a.ndim() != 1 || a.shape(0) != n || (n > 1 && a.strides(0) != sizeof(T)))
        throw py::value_error(std::string(what) + " must be a contiguous 1-D array of length " +
                              std::to_string(n));
    return a;
}

// Writable buffer: never a temporary copy, or the caller would silently lose the update.
template <class T>
T* writable(py::array_t<T, 0>& a, const char* what) {
    if (!a.writeable()) throw py::value_error(std::string(what) + " is read-only");
    return a.mutable_data();
}

// Raises ValueError naming what makes a CSR structure unsafe to read (`context` says when it
// was found); returns whether a row stores a column twice.
template <class I>
bool checked_csr(const I* indptr, const I* indices, std::int64_t n_rows, std::int64_t nnz,
                 std::int64_t n_cols, const std::string& context, bool find_duplicates = true) {
    const CsrCheck c = check_csr(indptr, indices, n_rows, nnz, n_cols, find_duplicates);
    const char* fault = nullptr;
    switch (c.fault) {
        case CsrFault::none: return c.duplicates;
        case CsrFault::indptr_start: fault = "indptr[0] must be 0"; break;
        case CsrFault::indptr_end: fault = "indptr[-1] must equal the number of stored entries"; break;
        case CsrFault::indptr_decreasing: fault = "indptr must be non-decreasing"; break;
        case CsrFault::column_out_of_range:
            fault = "a column index is out of range [0, n_features)";
            break;
    }
    throw py::value_error("The sparse matrix is malformed" + context + ": " + fault + ".");
}

// How a dense X is stored: float64, float32, or float16 / bfloat16 (NumPy's and ml_dtypes'
// dtypes, by name), the last two read as float32.
enum class Storage { f64, f32, f16, bf16 };

inline Storage storage_of(const py::array& X) {
    if (X.dtype().equal(py::dtype::of<double>())) return Storage::f64;
    if (X.dtype().equal(py::dtype::of<float>())) return Storage::f32;
    const std::string name = py::str(X.dtype().attr("name"));
    if (name == "float16" && X.itemsize() == 2) return Storage::f16;
    if (name == "bfloat16" && X.itemsize() == 2) return Storage::bf16;
    throw py::type_error("X must be a NumPy array of dtype float64, float32, float16 or bfloat16, not " +
                         std::string(py::str(X.dtype())));
}

// X (2-D, contiguous columns, rows at a non-negative stride, aligned) as a view of S values.
template <class T, class S>
DenseRows<T, S> dense_rows(const py::array& X) {
    if (X.ndim() != 2) throw py::value_error("X must be 2-D");
    const std::int64_t n = X.shape(0), d = X.shape(1), size = std::int64_t(sizeof(S));
    if (d > 1 && X.strides(1) != size) throw py::value_error("X rows must be contiguous (C order or row-strided)");
    if (X.strides(0) < 0 || X.strides(0) % size != 0) throw py::value_error("X has an unsupported row stride");
    if (reinterpret_cast<std::uintptr_t>(X.data()) % alignof(S) != 0)
        throw py::value_error("X is not aligned to its dtype; pass a copy (numpy.require(X, requirements='A'))");
    const std::int64_t stride = n > 1 ? X.strides(0) / size : d;
    return DenseRows<T, S>{static_cast<const S*>(X.data()), n, d, stride};
}

// Calls f(rows) with a dense X as the trainer's view, computed in T: X stored as T, or (T =
// float) as float16 / bfloat16.
template <class T, class F>
auto with_dense_rows_as(const py::array& X, F&& f) {
    const Storage s = storage_of(X);
    if constexpr (std::is_same_v<T, float>) {
        if (s == Storage::f16) return f(dense_rows<float, Half>(X));
        if (s == Storage::bf16) return f(dense_rows<float, BFloat16>(X));
    }
    if (s != (std::is_same_v<T, float> ? Storage::f32 : Storage::f64))
        throw py::type_error(std::string("X must be a NumPy array of dtype ") +
                             (std::is_same_v<T, float> ? "float32 (or float16 / bfloat16)" : "float64"));
    return f(dense_rows<T, T>(X));
}

// The same, computed in float64 for float64 X and in float32 otherwise.
template <class F>
auto with_dense_rows(const py::array& X, F&& f) {
    if (storage_of(X) == Storage::f64) return f(dense_rows<double, double>(X));
    return with_dense_rows_as<float>(X, std::forward<F>(f));
}

}  // namespace fastdescent::bindings
