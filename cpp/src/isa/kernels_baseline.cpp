// The dense kernels for baseline (compiler flags set per file in CMakeLists.txt).
#define FASTDESCENT_ISA_NS baseline
#include "kernels_impl.hpp"
