// Function multi-versioning for plain loops the compiler can vectorise: one clone per ISA, picked by the
// loader. (The GEMM has hand-written micro-kernels instead; see gemm.h.)
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define HN_VECTORIZE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HN_VECTORIZE
#endif
