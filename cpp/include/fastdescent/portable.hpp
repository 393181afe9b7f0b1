// Compiler built-ins behind small helpers, so that the core also compiles with MSVC (and
// clang-cl), where the GNU built-ins do not exist.
#pragma once

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#endif

// Compiles a function for AVX-512, AVX2 and the baseline, the copy picked once at load time
// from the CPU (GCC's function multiversioning; other compilers build the baseline only). For
// compute-bound loops outside the dispatched kernels: an optimizer's update of parameters that
// stay in cache (a network's) is bound by its square roots and divisions, not by memory.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define FASTDESCENT_ISA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTDESCENT_ISA_CLONES
#endif

namespace fastdescent {

// Hint that the cache line holding p is read soon: into every cache level (Locality 3) or into
// L2 and below (Locality 2), as GCC's __builtin_prefetch(p, 0, locality). A no-op where the
// compiler offers no prefetch. Always inlined: GCC finds a function that only prefetches free
// of side effects and deletes calls to it that were not inlined early, prefetch included.
template <int Locality = 3>
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
inline void prefetch_read(const void* p) {
    static_assert(Locality == 2 || Locality == 3, "locality 2 or 3");
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, Locality);
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    _mm_prefetch(static_cast<const char*>(p), Locality == 3 ? _MM_HINT_T0 : _MM_HINT_T1);
#else
    (void)p;
#endif
}

}  // namespace fastdescent
