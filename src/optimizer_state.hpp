// An optimizer's state between C++ and Python: a list with one entry per slot (None for a slot
// never used), each a dict of plain values, {"size": n, "step": k, "exp_avg": array, ...}.
#pragma once
#include "common.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "fastdescent/optimizers.hpp"

namespace fastdescent::bindings {

template <class T>
py::list state_to_python(const std::vector<SlotState<T>>& slots) {
    py::list out;
    for (const auto& s : slots) {
        if (s.size < 0) {
            out.append(py::none());
            continue;
        }
        py::dict d;
        d["size"] = s.size;
        d["step"] = s.step;
        for (const auto& kv : s.arrays) d[py::str(kv.first)] = py::array_t<T>(py::ssize_t(kv.second.size()), kv.second.data());
        for (const auto& kv : s.scalars) d[py::str(kv.first)] = kv.second;
        out.append(std::move(d));
    }
    return out;
}

// Raises ValueError / TypeError naming the slot and the entry that is wrong.
template <class T>
std::vector<SlotState<T>> state_from_python(py::handle obj) {
    if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj))
        throw py::type_error("optimizer_state must be a list with one dict (or None) per slot");
    std::vector<SlotState<T>> slots;
    std::size_t k = 0;
    for (py::handle item : py::reinterpret_borrow<py::sequence>(obj)) {
        const std::string where = "optimizer_state[" + std::to_string(k++) + "]";
        SlotState<T> s;
        if (!item.is_none()) {
            if (!py::isinstance<py::dict>(item)) throw py::type_error(where + " must be a dict or None");
            auto d = py::reinterpret_borrow<py::dict>(item);
            if (!d.contains("size") || !d.contains("step"))
                throw py::value_error(where + " needs the keys 'size' and 'step'");
            s.size = d["size"].cast<std::int64_t>();
            s.step = d["step"].cast<std::int64_t>();
            if (s.size < 0 || s.step < 0) throw py::value_error(where + ": size and step must be >= 0");
            for (auto kv : d) {
                const std::string key = py::str(kv.first);
                if (key == "size" || key == "step") continue;
                if (py::isinstance<py::array>(kv.second)) {
                    auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(kv.second);
                    if (!a || a.ndim() != 1) throw py::value_error(where + "['" + key + "'] must be a 1-D array");
                    s.arrays.emplace_back(key, std::vector<T>(a.data(), a.data() + a.size()));
                } else {
                    s.scalars.emplace_back(key, kv.second.cast<double>());
                }
            }
        }
        slots.push_back(std::move(s));
    }
    return slots;
}

// Loads `state` (a Python list, or None for a fresh optimizer) into opt; ValueError on a mismatch.
template <class T>
void load_optimizer_state(Optimizer<T>& opt, py::handle state) {
    if (state.is_none()) return;
    auto slots = state_from_python<T>(state);
    try {
        opt.load_state(slots);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

}  // namespace fastdescent::bindings
