// The dense kernels for avx512 (compiler flags set per file in CMakeLists.txt).
#define FASTDESCENT_ISA_NS avx512
#include "kernels_impl.hpp"
