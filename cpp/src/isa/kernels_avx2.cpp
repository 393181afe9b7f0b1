// The dense kernels for avx2 (compiler flags set per file in CMakeLists.txt).
#define FASTDESCENT_ISA_NS avx2
#include "kernels_impl.hpp"
