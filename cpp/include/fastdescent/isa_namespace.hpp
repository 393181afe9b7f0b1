// Every inline function that the per-ISA kernel files compile (simd.hpp, losses.hpp) lives in an
// inline namespace named after the instruction set. The same header compiled with -mavx2 in one
// file and without it in another then defines differently named symbols, so the linker can
// never merge an AVX2 copy into code that must run on any x86-64 CPU (an ODR violation that
// would crash older CPUs). Code outside cpp/src/isa/ always sees the baseline namespace.
#pragma once

#ifndef FASTDESCENT_ISA_NS
#define FASTDESCENT_ISA_NS baseline
#endif
