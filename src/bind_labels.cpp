// The classifiers' label work, one pass over y each with the GIL released: NumPy's unique sorts
// y and its where() branches on every entry, together a large part of a short fit's fixed cost.
#include "common.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace fastdescent::bindings {
namespace {

// Calls f(py::array_t<V>) with y as its integer (or bool) dtype; `floats` admits float32 and
// float64 too. TypeError for anything else.
template <class F>
auto with_label_type(const py::array& y, bool floats, F&& f) {
    if (y.ndim() != 1) throw py::value_error("y must be 1-D");
    const py::dtype dt = y.dtype();
    if (dt.equal(py::dtype::of<std::int64_t>())) return f(typed<std::int64_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::int32_t>())) return f(typed<std::int32_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::int16_t>())) return f(typed<std::int16_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::int8_t>())) return f(typed<std::int8_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::uint64_t>())) return f(typed<std::uint64_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::uint32_t>())) return f(typed<std::uint32_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::uint16_t>())) return f(typed<std::uint16_t>(y, "y"));
    if (dt.equal(py::dtype::of<std::uint8_t>())) return f(typed<std::uint8_t>(y, "y"));
    if (dt.equal(py::dtype::of<bool>())) return f(typed<bool>(y, "y"));
    if (floats && dt.equal(py::dtype::of<double>())) return f(typed<double>(y, "y"));
    if (floats && dt.equal(py::dtype::of<float>())) return f(typed<float>(y, "y"));
    throw py::type_error("y must have an integer or boolean dtype" +
                         std::string(floats ? " or be float32 / float64" : "") + ", got " +
                         std::string(py::str(dt)));
}

// The distinct values of an integer y in increasing order, in y's dtype; None when they span
// more than max_span consecutive integers (the caller then sorts).
template <class V>
py::object integer_classes(const py::array_t<V, 0>& y, std::int64_t max_span) {
    const auto v = y.template unchecked<1>();
    const std::int64_t n = v.shape(0);
    if (n == 0) return py::array_t<V>(0);
    std::vector<std::uint8_t> seen;
    V lo, hi;
    {
        py::gil_scoped_release release;
        lo = hi = v(0);
        for (std::int64_t i = 1; i < n; ++i) {
            lo = std::min(lo, v(i));
            hi = std::max(hi, v(i));
        }
        // In the unsigned 64-bit difference, any span of an integer type fits.
        const std::uint64_t span = std::uint64_t(hi) - std::uint64_t(lo);
        if (span >= std::uint64_t(max_span)) return py::none();
        seen.assign(span + 1, 0);
        seen.front() = seen.back() = 1;
        // The extremes are present: over a span of two values (binary labels) that is all.
        if (span > 1)
            for (std::int64_t i = 0; i < n; ++i) seen[std::uint64_t(v(i)) - std::uint64_t(lo)] = 1;
    }
    std::vector<V> values;
    for (std::size_t k = 0; k < seen.size(); ++k)
        if (seen[k]) values.push_back(V(std::uint64_t(lo) + k));
    py::array_t<V> out(py::ssize_t(values.size()));
    std::copy(values.begin(), values.end(), out.mutable_data());
    return out;
}

// Each y's index in the sorted `classes` (as numpy.searchsorted would give for values that are
// all present): a table over the classes' span when it is short, else a binary search.
// ValueError for a value not among the classes.
template <class V>
py::array_t<std::int64_t> class_codes(const py::array_t<V, 0>& y, const py::array& classes_obj) {
    const auto classes = typed<V>(classes_obj, "classes");
    const std::int64_t k = classes.size();
    const V* c = classes.data();
    const auto v = y.template unchecked<1>();
    const std::int64_t n = v.shape(0);
    py::array_t<std::int64_t> out(n);
    std::int64_t* o = out.mutable_data();
    if (n == 0) return out;
    if (k == 0 || !std::is_sorted(c, c + k))
        throw py::value_error("classes must be non-empty and sorted");
    bool missing = false;
    {
        py::gil_scoped_release release;
        const std::uint64_t span = std::uint64_t(c[k - 1]) - std::uint64_t(c[0]);
        if (span < std::uint64_t(std::max<std::int64_t>(n, 1 << 16))) {
            std::vector<std::int64_t> table(span + 1, -1);
            for (std::int64_t j = 0; j < k; ++j) table[std::uint64_t(c[j]) - std::uint64_t(c[0])] = j;
            for (std::int64_t i = 0; i < n; ++i) {
                const V x = v(i);
                const std::int64_t code = (x < c[0] || x > c[k - 1])
                                              ? -1
                                              : table[std::uint64_t(x) - std::uint64_t(c[0])];
                missing |= code < 0;
                o[i] = code;
            }
        } else {
            for (std::int64_t i = 0; i < n; ++i) {
                const V* at = std::lower_bound(c, c + k, v(i));
                missing |= at == c + k || *at != v(i);
                o[i] = at - c;
            }
        }
    }
    if (missing) throw py::value_error("y has a value that is not among the classes");
    return out;
}

// +1 where y equals `positive`, -1 elsewhere, in T.
template <class T, class V>
py::array binary_targets(const py::array_t<V, 0>& y, const py::object& positive) {
    const V p = positive.cast<V>();
    const auto v = y.template unchecked<1>();
    py::array_t<T> out(v.shape(0));
    T* o = out.mutable_data();
    py::gil_scoped_release release;
    // A table lookup, not a select or arithmetic, which compile to a branch that random
    // labels mispredict.
    const T values[2] = {T(-1), T(1)};
    for (std::int64_t i = 0; i < v.shape(0); ++i) o[i] = values[v(i) == p];
    return out;
}

}  // namespace

void bind_labels(py::module_& m) {
    m.def("integer_classes",
          [](py::array y, std::int64_t max_span) {
              return with_label_type(y, false, [&](const auto& a) {
                  return integer_classes(a, max_span);
              });
          },
          py::arg("y"), py::arg("max_span"),
          "The sorted distinct values of a 1-D integer or boolean y, in its dtype (two passes, "
          "no sort); None when they span max_span or more consecutive integers.");
    m.def("class_codes",
          [](py::array y, py::array classes) {
              return with_label_type(y, false, [&](const auto& a) { return class_codes(a, classes); });
          },
          py::arg("y"), py::arg("classes"),
          "The index of each entry of a 1-D integer or boolean y in the sorted array classes (of "
          "y's dtype), as int64; ValueError if a value is missing from classes.");
    m.def("binary_targets",
          [](py::array y, py::object positive, py::dtype dtype) -> py::array {
              const bool f64 = dtype.equal(py::dtype::of<double>());
              if (!f64 && !dtype.equal(py::dtype::of<float>()))
                  throw py::type_error("dtype must be float32 or float64");
              return with_label_type(y, true, [&](const auto& a) {
                  using V = typename std::decay_t<decltype(a)>::value_type;
                  return f64 ? binary_targets<double, V>(a, positive)
                             : binary_targets<float, V>(a, positive);
              });
          },
          py::arg("y"), py::arg("positive"), py::arg("dtype"),
          "+1 where a 1-D numeric y equals positive and -1 elsewhere, as a new array of dtype "
          "float32 or float64 (one pass, no branch per entry).");
}

}  // namespace fastdescent::bindings
