#include "common.hpp"

#include <Python.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fastdescent/mlp_trainer.hpp"
#include "optimizer_state.hpp"
#include "training.hpp"

namespace fastdescent::bindings {
namespace {

// SciPy's Fortran gemm from scipy.linalg.cython_blas, fetched once: the BLAS that every
// scikit-learn install already has, so the wheel ships none.
template <class T>
Gemm<T> scipy_gemm() {
    static FortranGemm<T> f = [] {
        py::gil_scoped_acquire gil;
        auto capi = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
        py::object capsule = capi[std::is_same_v<T, double> ? "dgemm" : "sgemm"];
        void* p = PyCapsule_GetPointer(capsule.ptr(), PyCapsule_GetName(capsule.ptr()));
        if (!p) throw py::error_already_set();
        return reinterpret_cast<FortranGemm<T>>(p);
    }();
    return Gemm<T>{f};
}

// A network's parameter arrays as the bindings receive them: lists of C-contiguous weight
// matrices (units[l] x units[l + 1]) and bias vectors of dtype T.
template <class T>
struct Layers {
    std::vector<py::array_t<T, 0>> coefs, intercepts;
    MlpParams<T> params;
    MlpSpec spec;
};

template <class T>
Layers<T> layers_of(py::handle coefs, py::handle intercepts, Activation hidden, MlpLoss loss,
                    bool write, const char* what) {
    Layers<T> out;
    auto cl = coefs.cast<py::list>(), il = intercepts.cast<py::list>();
    if (cl.size() < 1 || cl.size() != il.size())
        throw py::value_error(std::string(what) + ": coefs and intercepts need one entry per layer");
    for (std::size_t l = 0; l < cl.size(); ++l) {
        auto w = typed<T>(cl[l], "coefs");
        if (w.ndim() != 2 || !(w.flags() & py::array::c_style))
            throw py::value_error(std::string(what) + ": coefs[" + std::to_string(l) + "] must be a C-contiguous 2-D array");
        if (l == 0) out.spec.units.push_back(w.shape(0));
        else if (w.shape(0) != out.spec.units.back())
            throw py::value_error(std::string(what) + ": coefs[" + std::to_string(l) + "] does not fit the layer below");
        out.spec.units.push_back(w.shape(1));
        auto b = vector_of<T>(il[l], w.shape(1), "intercepts");
        out.params.coefs.push_back(write ? writable(w, "coefs") : const_cast<T*>(w.data()));
        out.params.intercepts.push_back(write ? writable(b, "intercepts") : const_cast<T*>(b.data()));
        out.coefs.push_back(w);
        out.intercepts.push_back(b);
    }
    out.spec.hidden = hidden;
    out.spec.loss = loss;
    try {
        out.spec.validate();
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string(what) + ": " + e.what());
    }
    return out;
}

// Calls f(rows, spans) with X as the trainer's view: a dense array with contiguous rows, or a
// CSR matrix given as (data, indices, indptr, n_cols) with int32 or int64 indices.
template <class T, class F>
py::object with_rows(py::handle X, F&& f) {
    if (py::isinstance<py::tuple>(X)) {
        auto t = X.cast<py::tuple>();
        if (t.size() != 4) throw py::value_error("a CSR X is (data, indices, indptr, n_cols)");
        const auto n_cols = t[3].cast<std::int64_t>();
        auto csr = [&](auto index) -> py::object {
            using I = decltype(index);
            auto ip = typed<I>(t[2], "indptr");
            if (ip.ndim() != 1 || ip.size() < 1) throw py::value_error("indptr must be 1-D and non-empty");
            ip = vector_of<I>(t[2], ip.size(), "indptr");
            auto ind = typed<I>(t[1], "indices");
            ind = vector_of<I>(t[1], ind.size(), "indices");
            auto dat = vector_of<T>(t[0], ind.size(), "data");
            const std::int64_t n = ip.size() - 1;
            checked_csr(ip.data(), ind.data(), n, ind.size(), n_cols, "");
            CsrRows<T, I> rows{dat.data(), ind.data(), ip.data(), n, n_cols};
            return f(rows, std::vector<Span>{span_of(dat, "data"), span_of(ind, "indices"), span_of(ip, "indptr")});
        };
        if (py::isinstance<py::array_t<std::int32_t, 0>>(t[1]) &&
            py::dtype::of<std::int32_t>().equal(t[1].cast<py::array>().dtype()))
            return csr(std::int32_t{});
        return csr(std::int64_t{});
    }
    const py::array Xa = py::reinterpret_borrow<py::array>(X);
    return with_dense_rows_as<T>(Xa, [&](const auto& rows) { return f(rows, std::vector<Span>{span_of(Xa, "X")}); });
}

// The rows' order for a shuffled epoch from permutation(n), a Python callable returning a
// permutation p of range(n): rows become rows[p], as scikit-learn's utils.shuffle reorders.
RowOrder python_order(py::handle permutation) {
    if (permutation.is_none()) return {};
    return [permutation](std::vector<std::int64_t>& rows) {
        py::gil_scoped_acquire gil;
        const std::int64_t n = std::int64_t(rows.size());
        auto p = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(
            permutation(n));
        if (!p || p.ndim() != 1 || p.shape(0) != n)
            throw py::value_error("the row permutation must be a 1-D array of the rows' count");
        std::vector<std::int64_t> next(rows.size());
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t k = p.data()[i];
            if (k < 0 || k >= n) throw py::value_error("the row permutation holds an index out of range");
            next[std::size_t(i)] = rows[std::size_t(k)];
        }
        rows.swap(next);
    };
}

// Rows per pass when a network reads all rows (prediction, L-BFGS): its scratch is sized to it.
constexpr std::int64_t chunk_rows = 4096;

// Calls f(start, rows, m) on consecutive chunks of the rows 0..n-1, at most `chunk` each.
template <class F>
void in_chunks(std::int64_t n, std::int64_t chunk, F&& f) {
    std::vector<std::int64_t> idx;
    for (std::int64_t start = 0; start < n; start += chunk) {
        const std::int64_t m = std::min(chunk, n - start);
        idx.resize(std::size_t(m));
        for (std::int64_t r = 0; r < m; ++r) idx[std::size_t(r)] = start + r;
        f(start, idx.data(), m);
    }
}

std::vector<std::int64_t> index_list(py::handle a, std::int64_t n_rows, const char* what) {
    auto v = vector_of<std::int64_t>(a, typed<std::int64_t>(a, what).size(), what);
    for (py::ssize_t k = 0; k < v.size(); ++k)
        if (v.data()[k] < 0 || v.data()[k] >= n_rows)
            throw py::value_error(std::string(what) + " holds a row out of range");
    return std::vector<std::int64_t>(v.data(), v.data() + v.size());
}

template <class T>
py::object train_t(py::handle X, py::handle Y, py::handle coefs, py::handle intercepts,
                   Activation hidden, MlpLoss loss, const MlpTrainConfig& cfg,
                   py::handle sample_weight, py::handle train_rows, py::handle val_rows, double t0,
                   py::handle epoch_callback, py::handle optimizer, py::handle optimizer_state,
                   py::handle cancel, py::handle permutation) {
    check_config(cfg.train, t0);
    auto layers = layers_of<T>(coefs, intercepts, hidden, loss, true, "train_mlp");
    return with_rows<T>(X, [&](const auto& rows, std::vector<Span> reads) -> py::object {
        const std::int64_t n = rows.n_rows, K = layers.spec.units.back();
        if (rows.n_cols != layers.spec.units[0])
            throw py::value_error("X has " + std::to_string(rows.n_cols) + " features, coefs[0] expects " +
                                  std::to_string(layers.spec.units[0]));
        auto Ya = vector_of<T>(Y, n * K, "Y");
        reads.push_back(span_of(Ya, "Y"));
        const T* sw = nullptr;  // (a default array_t is an empty array, not a null one)
        if (!sample_weight.is_none()) {
            auto a = vector_of<T>(sample_weight, n, "sample_weight");
            reads.push_back(span_of(a, "sample_weight"));
            sw = a.data();  // the caller's array outlives the call
        }
        auto train = index_list(train_rows, n, "train_rows");
        auto val = val_rows.is_none() ? std::vector<std::int64_t>{} : index_list(val_rows, n, "val_rows");
        std::vector<Span> writes;
        for (auto& w : layers.coefs) writes.push_back(span_of(w, "coefs"));
        for (auto& b : layers.intercepts) writes.push_back(span_of(b, "intercepts"));
        check_no_overlap(writes, reads);

        std::unique_ptr<Optimizer<T>> opt;
        if (!optimizer.is_none()) {
            auto spec = optimizer.cast<OptimizerSpec>();
            spec.validate();
            opt = make_optimizer<T>(spec, cfg.train.n_threads);
            load_optimizer_state(*opt, optimizer_state);
        }
        const std::int64_t batch = std::min<std::int64_t>(std::max<std::int64_t>(cfg.train.batch_size, 1),
                                                          std::int64_t(train.size()));
        TrainResult res;
        {
            py::gil_scoped_release release;
            // n_threads shards, or one per thread OpenMP allows: the shard count fixes the
            // results; how many threads run the shards does not.
            const int shards = cfg.train.n_threads > 0 ? cfg.train.n_threads : max_threads();
            ShardedNetwork<T> net(layers.spec, scipy_gemm<T>(), batch, shards);
            MlpTrainer<std::decay_t<decltype(rows)>> trainer(
                rows, Ya.data(), sw, std::move(train), std::move(val), net,
                layers.params, cfg, opt.get(), stop_check(cancel),
                epoch_hook<T>(epoch_callback, opt.get(), {}), python_order(permutation));
            res = trainer.run(t0);
        }
        if (res.interrupted) raise_interrupt();
        py::object out = py::cast(std::move(res));
        out.attr("optimizer_state") = opt ? py::object(state_to_python(opt->state())) : py::object(py::list());
        return out;
    });
}

// The network's output activations for every row of X, written to out (n x n_outputs).
template <class T>
py::object forward_t(py::handle X, py::handle coefs, py::handle intercepts, Activation hidden,
                     MlpLoss loss, py::handle out) {
    auto layers = layers_of<T>(coefs, intercepts, hidden, loss, false, "mlp_forward");
    return with_rows<T>(X, [&](const auto& rows, std::vector<Span>) -> py::object {
        const std::int64_t n = rows.n_rows, K = layers.spec.units.back();
        if (rows.n_cols != layers.spec.units[0]) throw py::value_error("X has the wrong number of features");
        auto oa = typed<T>(out, "out");
        if (oa.size() != n * K || !(oa.flags() & py::array::c_style))
            throw py::value_error("out must be C-contiguous with n_samples x n_outputs entries");
        T* o = writable(oa, "out");
        py::gil_scoped_release release;
        MlpNetwork<T> net(layers.spec, scipy_gemm<T>(), std::min<std::int64_t>(n, chunk_rows));
        in_chunks(n, net.max_rows(), [&](std::int64_t start, const std::int64_t* idx, std::int64_t m) {
            const T* a = net.forward(rows, idx, m, layers.params);
            std::copy(a, a + m * K, o + start * K);
        });
        return py::none();
    });
}

// scikit-learn's MLP objective over all rows and its gradient (written to the grad lists):
// the weighted mean loss plus alpha / (2 sum w) ||W||^2. For L-BFGS.
template <class T>
py::object loss_gradient_t(py::handle X, py::handle Y, py::handle sample_weight, py::handle coefs,
                           py::handle intercepts, py::handle grad_coefs, py::handle grad_intercepts,
                           Activation hidden, MlpLoss loss, double alpha) {
    auto layers = layers_of<T>(coefs, intercepts, hidden, loss, false, "mlp_loss_gradient");
    auto grads = layers_of<T>(grad_coefs, grad_intercepts, hidden, loss, true, "mlp_loss_gradient");
    if (grads.spec.units != layers.spec.units) throw py::value_error("the gradient lists must match the layers");
    if (!(alpha >= 0)) throw py::value_error("alpha must be >= 0");
    return with_rows<T>(X, [&](const auto& rows, std::vector<Span>) -> py::object {
        const std::int64_t n = rows.n_rows, K = layers.spec.units.back();
        if (rows.n_cols != layers.spec.units[0]) throw py::value_error("X has the wrong number of features");
        auto Ya = vector_of<T>(Y, n * K, "Y");
        const T* sw = sample_weight.is_none() ? nullptr : vector_of<T>(sample_weight, n, "sample_weight").data();
        if (n == 0) throw py::value_error("X has no rows");
        double total = 0.0, weight = 0.0;
        {
            py::gil_scoped_release release;
            MlpNetwork<T> net(layers.spec, scipy_gemm<T>(), std::min<std::int64_t>(n, chunk_rows));
            in_chunks(n, net.max_rows(), [&](std::int64_t start, const std::int64_t* idx, std::int64_t m) {
                net.forward(rows, idx, m, layers.params);
                total += net.backward(rows, idx, m, Ya.data(), sw, layers.params, grads.params, start > 0);
            });
            for (std::int64_t i = 0; i < n; ++i) weight += sw ? double(sw[i]) : 1.0;
            if (!(weight > 0)) throw std::invalid_argument("the rows have a total sample weight of zero");
            const auto& u = layers.spec.units;
            double squares = 0.0;
            for (int l = 0; l < layers.spec.layers(); ++l) {
                const std::int64_t size = u[l] * u[l + 1];
                squares += squared_norm(layers.params.coefs[l], size);
                axpy(T(alpha), layers.params.coefs[l], grads.params.coefs[l], size);
                scale(T(1.0 / weight), grads.params.coefs[l], size);
                scale(T(1.0 / weight), grads.params.intercepts[l], u[l + 1]);
            }
            total += 0.5 * alpha * squares;
        }
        return py::float_(total / weight);
    });
}

bool is_float32(py::handle coefs) {
    auto cl = coefs.cast<py::list>();
    if (cl.size() < 1) throw py::value_error("coefs needs one weight matrix per layer");
    return py::dtype::of<float>().equal(cl[0].cast<py::array>().dtype());
}

}  // namespace

void bind_mlp(py::module_& m) {
    py::enum_<Activation>(m, "Activation", "A layer's activation function.")
        .value("identity", Activation::identity)
        .value("logistic", Activation::logistic)
        .value("tanh", Activation::tanh)
        .value("relu", Activation::relu)
        .value("softmax", Activation::softmax)
        .value("exp", Activation::exp);
    py::enum_<MlpLoss>(m, "MlpLoss", "An MLP's loss, which fixes its output activation.")
        .value("squared_error", MlpLoss::squared_error)
        .value("poisson", MlpLoss::poisson)
        .value("log_loss", MlpLoss::log_loss)
        .value("binary_log_loss", MlpLoss::binary_log_loss);
    py::class_<MlpTrainConfig>(m, "MlpTrainConfig", "How an MLP trains: the TrainConfig of its epochs and scikit-learn's per-epoch schedule.")
        .def(py::init<>())
        .def_readwrite("train", &MlpTrainConfig::train)
        .def_readwrite("schedule_in_samples", &MlpTrainConfig::schedule_in_samples)
        .def_readwrite("samples_seen", &MlpTrainConfig::samples_seen)
        .def_readwrite("fresh_schedule", &MlpTrainConfig::fresh_schedule);

    m.def("train_mlp",
          [](py::handle X, py::handle Y, py::handle coefs, py::handle intercepts, Activation hidden,
             MlpLoss loss, const MlpTrainConfig& cfg, py::handle train_rows, py::handle val_rows,
             py::handle sw, double t0, py::handle cb, py::handle opt, py::handle opt_state,
             py::handle cancel, py::handle permutation) {
              auto f = is_float32(coefs) ? &train_t<float> : &train_t<double>;
              return f(X, Y, coefs, intercepts, hidden, loss, cfg, sw, train_rows, val_rows, t0, cb,
                       opt, opt_state, cancel, permutation);
          },
          "Trains an MLP in place: mini-batch epochs over train_rows (early stopping scores "
          "val_rows). X is a dense array or (data, indices, indptr, n_cols); Y holds n_outputs "
          "targets per row; permutation(n), when given, shuffles the rows each epoch (rows "
          "become rows[permutation(n)]). Returns a TrainResult with optimizer_state.",
          py::arg("X"), py::arg("Y"), py::arg("coefs"), py::arg("intercepts"), py::arg("hidden"),
          py::arg("loss"), py::arg("config"), py::arg("train_rows"),
          py::arg("val_rows") = py::none(), py::arg("sample_weight") = py::none(), py::arg("t0") = 1.0,
          py::arg("epoch_callback") = py::none(), py::arg("optimizer") = py::none(),
          py::arg("optimizer_state") = py::none(), py::arg("cancel") = py::none(),
          py::arg("permutation") = py::none());
    m.def("mlp_forward",
          [](py::handle X, py::handle coefs, py::handle intercepts, Activation hidden, MlpLoss loss,
             py::handle out) {
              auto f = is_float32(coefs) ? &forward_t<float> : &forward_t<double>;
              return f(X, coefs, intercepts, hidden, loss, out);
          },
          "Writes the MLP's output activations for every row of X to out.", py::arg("X"),
          py::arg("coefs"), py::arg("intercepts"), py::arg("hidden"), py::arg("loss"), py::arg("out"));
    m.def("mlp_loss_gradient",
          [](py::handle X, py::handle Y, py::handle sw, py::handle coefs, py::handle intercepts,
             py::handle gc, py::handle gi, Activation hidden, MlpLoss loss, double alpha) {
              auto f = is_float32(coefs) ? &loss_gradient_t<float> : &loss_gradient_t<double>;
              return f(X, Y, sw, coefs, intercepts, gc, gi, hidden, loss, alpha);
          },
          "scikit-learn's MLP objective on all rows; its gradient goes to grad_coefs and "
          "grad_intercepts.",
          py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("coefs"),
          py::arg("intercepts"), py::arg("grad_coefs"), py::arg("grad_intercepts"),
          py::arg("hidden"), py::arg("loss"), py::arg("alpha"));
}

}  // namespace fastdescent::bindings
