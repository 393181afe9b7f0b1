// Runtime dispatch of the hot dense kernels over instruction sets.
//
// The kernels are compiled several times, once per instruction set (cpp/src/isa/: baseline
// x86-64, AVX2+FMA, AVX-512), each copy in its own namespace. At run time the best set that the
// CPU and the operating system support is chosen once; FASTDESCENT_ISA=baseline|avx2|avx512 in
// the environment, or set_active_isa(), picks another (for tests and comparisons). The trainer
// reaches the kernels through a table of function pointers, so nothing outside cpp/src/isa/ is
// compiled with instructions that an older CPU lacks.
#pragma once
#include <cstdint>
#include <vector>

#include "fastdescent/half.hpp"
#include "fastdescent/loss_kind.hpp"

namespace fastdescent {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };
constexpr int n_isas = 3;

const char* isa_name(Isa isa);
// Parses "baseline" / "avx2" / "avx512"; throws std::invalid_argument otherwise.
Isa isa_from_name(const char* name);
// Compiled into this build (only baseline on non-x86 targets or compilers without the flags).
bool isa_compiled(Isa isa);
// Compiled and usable here: the CPU has the instructions and the OS saves their registers.
bool isa_supported(Isa isa);
std::vector<Isa> supported_isas();
// The set in use: the best supported one, unless FASTDESCENT_ISA or set_active_isa chose another.
Isa active_isa();
// Throws std::invalid_argument if `isa` is not supported here.
void set_active_isa(Isa isa);

// A block of dense rows X[rows[r]] (r < m) and what the fused gradient needs to know about them.
// X is stored as S (T, or float16 / bfloat16 for T = float) and computed in T.
template <class T, class S = T>
struct DenseBlock {
    const S* X;
    std::int64_t row_stride, d;
    const std::int64_t* rows;  // row ids, m of them
    std::int64_t m;
    std::int64_t m_next;  // rows[m : m + m_next] are the next block's, fetched ahead
    const T* y;            // indexed by row id
    const double* weight;  // per block position: sample weight times class weight
    LossKind loss;         // a scalar loss, or multinomial (softmax over K outputs)
    double loss_param;  // see TrainConfig::loss_param
    int K;                 // outputs: 1, or the classes of a multinomial loss
    const T* w;            // K x d, row-major
    const T* intercept;    // K
    double* scratch;  // room for 2 * m * K doubles
    bool* non_finite = nullptr;  // when set: becomes true if a score of the block is not finite
};

template <class T, class S = T>
struct DenseKernels {
    T (*dot)(const S* a, const T* b, std::int64_t n);
    void (*axpy)(T a, const S* x, T* y, std::int64_t n);  // y += a * x
    // One fused pass over a block: scores, loss derivatives, then grad += sum_r weight_r *
    // dloss_r * x_r and *grad_b += sum_r weight_r * dloss_r. Returns sum_r weight_r * loss_r.
    double (*block_gradient)(const DenseBlock<T, S>& block, T* grad, T* grad_b);
    // The same for softmax cross-entropy over K outputs: grad is K x d, grad_b K.
    double (*block_gradient_softmax)(const DenseBlock<T, S>& block, T* grad, T* grad_b);
    // The same for a scalar loss on each of K outputs (targets y[row K + k]).
    double (*block_gradient_outputs)(const DenseBlock<T, S>& block, T* grad, T* grad_b);
    // Whether the n stored values at x are all finite (a row's check, widened in registers).
    bool (*all_finite)(const S* x, std::int64_t n);
    // Element-wise exp and log1p as the log_loss kernel evaluates them, in the precision of T
    // (exposed for tests).
    void (*exp)(const T* x, T* out, std::int64_t n);
    void (*log1p)(const T* x, T* out, std::int64_t n);
};

// One instruction set's kernels, for each storage of X.
struct KernelTables {
    DenseKernels<float> f32;
    DenseKernels<double> f64;
    DenseKernels<float, Half> f16;
    DenseKernels<float, BFloat16> bf16;
};

// The kernels of the active instruction set, or of a given supported one, for X stored as S.
template <class T, class S = T>
const DenseKernels<T, S>& dense_kernels();
template <class T, class S = T>
const DenseKernels<T, S>& dense_kernels(Isa isa);
template <> const DenseKernels<float>& dense_kernels<float>();
template <> const DenseKernels<double>& dense_kernels<double>();
template <> const DenseKernels<float, Half>& dense_kernels<float, Half>();
template <> const DenseKernels<float, BFloat16>& dense_kernels<float, BFloat16>();
template <> const DenseKernels<float>& dense_kernels<float>(Isa isa);
template <> const DenseKernels<double>& dense_kernels<double>(Isa isa);
template <> const DenseKernels<float, Half>& dense_kernels<float, Half>(Isa isa);
template <> const DenseKernels<float, BFloat16>& dense_kernels<float, BFloat16>(Isa isa);

}  // namespace fastdescent
