// Compiling one translation unit's SIMD code for an instruction set the build does not assume: the project
// is built without -march flags (one binary for every machine), so each per-ISA source file wraps its
// kernels in HN_TARGET_BEGIN("avx2,fma") ... HN_TARGET_END and is only called after run-time detection
// (isa.h). Inside the region every function, template instantiation and lambda is compiled for that ISA.
//
// Rules for a per-ISA file: include every ordinary header (standard library, core, gemm_kernels.h, ...)
// before HN_TARGET_BEGIN, so that no inline function shared with other files is compiled for the target;
// include only the simd_<isa>.h traits and the *_impl.h kernel templates inside it (those keep their
// definitions in an anonymous namespace, one copy per file).
#pragma once

// The instruction sets of the per-ISA files, as target strings.
#define HN_AVX2_TARGET "avx2,fma"
#define HN_AVX512_TARGET "avx512f,avx512bw,avx512dq,avx512vl,fma"

#define HN_PRAGMA_STR(x) #x
#define HN_PRAGMA(x) _Pragma(HN_PRAGMA_STR(x))

#if defined(__clang__)
#define HN_TARGET_BEGIN(isa) HN_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define HN_TARGET_END _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define HN_TARGET_BEGIN(isa) _Pragma("GCC push_options") HN_PRAGMA(GCC target(isa))
#define HN_TARGET_END _Pragma("GCC pop_options")
#else
#define HN_TARGET_BEGIN(isa)
#define HN_TARGET_END
#endif

// Vector helpers are always inlined into the kernels that use them (a call would spill the registers).
#define HN_SIMD_INLINE __attribute__((always_inline)) inline
