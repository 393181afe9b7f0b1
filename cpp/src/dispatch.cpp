// Chooses the kernels' instruction set at run time (see kernels.hpp).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fastdescent/kernels.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define FASTDESCENT_X86_CPUID 1
#endif

namespace fastdescent {

// One per kernels_<isa>.cpp that CMake compiled (FASTDESCENT_BUILD_<ISA> says which).
void kernel_tables_baseline(KernelTables&);
#ifdef FASTDESCENT_BUILD_AVX2
void kernel_tables_avx2(KernelTables&);
#endif
#ifdef FASTDESCENT_BUILD_AVX512
void kernel_tables_avx512(KernelTables&);
#endif

namespace {

#ifdef FASTDESCENT_X86_CPUID
// The register state the OS saves on a context switch (XCR0); AVX registers are unusable
// unless the OS has enabled them, whatever cpuid says.
unsigned long long os_saved_state() {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<unsigned long long>(edx) << 32) | eax;
}

struct CpuFeatures {
    bool avx2_fma = false;  // with F16C
    bool avx512 = false;  // F, DQ, BW and VL: what -mavx512f -mavx512dq -mavx512bw -mavx512vl use
};

CpuFeatures detect() {
    CpuFeatures f;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
    const bool f16c = c & (1u << 29);  // float16 conversions (every AVX2 CPU has them)
    if (!osxsave || !avx) return f;
    const unsigned long long xcr0 = os_saved_state();
    const bool ymm_saved = (xcr0 & 0x6) == 0x6;      // SSE and AVX state
    const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;    // plus opmask and both ZMM halves
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = b & (1u << 5);
    const bool avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));
    f.avx2_fma = ymm_saved && avx2 && fma && f16c;
    f.avx512 = f.avx2_fma && zmm_saved && avx512;
    return f;
}
#endif

struct Tables {
    KernelTables isa[n_isas];
    bool supported[n_isas] = {};

    Tables() {
        kernel_tables_baseline(isa[0]);
        supported[0] = true;
#ifdef FASTDESCENT_X86_CPUID
        const CpuFeatures cpu = detect();
        // A builder is compiled with its ISA's flags, so the compiler may use that ISA's
        // instructions in it too: call it only on a CPU that has them.
#ifdef FASTDESCENT_BUILD_AVX2
        supported[1] = cpu.avx2_fma;
        if (supported[1]) kernel_tables_avx2(isa[1]);
#endif
#ifdef FASTDESCENT_BUILD_AVX512
        supported[2] = cpu.avx512;
        if (supported[2]) kernel_tables_avx512(isa[2]);
#endif
#endif
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

Isa best_supported() {
    for (int k = n_isas - 1; k > 0; --k)
        if (tables().supported[k]) return Isa(k);
    return Isa::baseline;
}

// The FASTDESCENT_ISA environment variable, or the best supported set.
Isa initial_isa() {
    const char* env = std::getenv("FASTDESCENT_ISA");
    if (env == nullptr || *env == '\0') return best_supported();
    const Isa isa = isa_from_name(env);
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("FASTDESCENT_ISA=") + env +
                                    " is not supported on this machine (CPU or build); unset it "
                                    "or choose one of fastdescent.show_config()['available_isas']");
    return isa;
}

std::atomic<int>& active_slot() {
    static std::atomic<int> slot{int(initial_isa())};
    return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::baseline: return "baseline";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "unknown";
}

Isa isa_from_name(const char* name) {
    for (int k = 0; k < n_isas; ++k)
        if (std::strcmp(name, isa_name(Isa(k))) == 0) return Isa(k);
    throw std::invalid_argument(std::string("unknown instruction set '") + name +
                                "'; expected 'baseline', 'avx2' or 'avx512'");
}

bool isa_compiled(Isa isa) {
    switch (isa) {
        case Isa::baseline: return true;
        case Isa::avx2:
#ifdef FASTDESCENT_BUILD_AVX2
            return true;
#else
            return false;
#endif
        case Isa::avx512:
#ifdef FASTDESCENT_BUILD_AVX512
            return true;
#else
            return false;
#endif
    }
    return false;
}

bool isa_supported(Isa isa) {
    const int k = int(isa);
    return k >= 0 && k < n_isas && tables().supported[k];
}

std::vector<Isa> supported_isas() {
    std::vector<Isa> out;
    for (int k = 0; k < n_isas; ++k)
        if (tables().supported[k]) out.push_back(Isa(k));
    return out;
}

Isa active_isa() { return Isa(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("instruction set '") + isa_name(isa) +
                                    "' is not supported on this machine (CPU or build)");
    active_slot().store(int(isa), std::memory_order_relaxed);
}

namespace {
const KernelTables& tables_of(Isa isa) {
    if (!isa_supported(isa)) set_active_isa(isa);  // throws with the reason
    return tables().isa[int(isa)];
}
}  // namespace

template <>
const DenseKernels<float>& dense_kernels<float>(Isa isa) { return tables_of(isa).f32; }
template <>
const DenseKernels<double>& dense_kernels<double>(Isa isa) { return tables_of(isa).f64; }
template <>
const DenseKernels<float, Half>& dense_kernels<float, Half>(Isa isa) { return tables_of(isa).f16; }
template <>
const DenseKernels<float, BFloat16>& dense_kernels<float, BFloat16>(Isa isa) { return tables_of(isa).bf16; }

template <>
const DenseKernels<float>& dense_kernels<float>() { return tables().isa[int(active_isa())].f32; }
template <>
const DenseKernels<double>& dense_kernels<double>() { return tables().isa[int(active_isa())].f64; }
template <>
const DenseKernels<float, Half>& dense_kernels<float, Half>() { return tables().isa[int(active_isa())].f16; }
template <>
const DenseKernels<float, BFloat16>& dense_kernels<float, BFloat16>() {
    return tables().isa[int(active_isa())].bf16;
}

}  // namespace fastdescent
